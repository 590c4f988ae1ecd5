// SPDX-License-Identifier: Apache-2.0
/*
 * The qcow2 backend on a crafted image in a memfd: the header parser and
 * the table checks at open, then reads, writes, write-zeroes, discards and
 * flushes at offsets the input picks, in one buffer or split in three.
 * It must refuse the image or answer each request, inside the file, never
 * crash, loop or allocate without bound.  Backing files are refused (the
 * chain is opened at its deepest), so nothing outside the memfd is read.
 *
 * Input: OPS_BYTES bytes of requests, then the image.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "backends/qcow2.h"
#include "disk.h"
#include "fuzz.h"
#include "log.h"

#define NR_OPS    6
#define OP_BYTES  5                    /* op, offset (2 bytes, in sectors), length (2) */
/* The op byte: its low 3 bits pick the op, then: */
#define OP_OUTSIDE 0x08                /* leave the offset outside the disk */
#define OP_SPLIT   0x10                /* three segments rather than one */
#define OPS_BYTES (NR_OPS * OP_BYTES)
#define MAX_LEN   (64 * 1024)

static int fd;
static u8 buf[MAX_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct log_config quiet = log_default_config;

	quiet.level = LOG_OFF;
	log_set(&quiet);
	fd = memfd_create("fuzz-qcow2", 0);
	return fd < 0 ? -1 : 0;
}

static const enum disk_op ops_by_code[] = {
	DISK_READ, DISK_WRITE, DISK_WRITE_ZEROES, DISK_FLUSH, DISK_DISCARD, DISK_READ, DISK_WRITE,
	DISK_DISCARD,
};

static void run_op(struct disk *d, struct fuzz_in *ops)
{
	unsigned int op = (unsigned int)fz_take(ops, 1);
	u64 size = disk_size(d);
	u64 off = fz_take(ops, 2) * 512, len = (fz_take(ops, 2) % (MAX_LEN / 512) + 1) * 512;
	struct iovec iov[3] = { { buf, len } };
	unsigned int nr_iov = 1;
	struct disk_req r;

	/* Offsets wrap into the disk so most requests reach the tables; a few stay outside. */
	if (size && off >= size && !(op & OP_OUTSIDE))
		off %= size;
	/* Segments of odd sizes: the mapping slices them at cluster ends. */
	if ((op & OP_SPLIT) && len > 1024) {
		iov[0].iov_len = 100;
		iov[1] = (struct iovec){ buf + 100, len - 1000 };
		iov[2] = (struct iovec){ buf + len - 900, 900 };
		nr_iov = 3;
	}
	r = (struct disk_req){ .op = ops_by_code[op & 7], .offset = off, .len = len, .iov = iov,
			       .nr_iov = nr_iov };
	disk_submit(d, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in ops = { data, MIN(size, (size_t)OPS_BYTES) };
	const u8 *img = data + ops.n;
	size_t img_len = size - ops.n;
	struct disk *d;
	int copy;

	if (ftruncate(fd, 0) || pwrite(fd, img, img_len, 0) != (ssize_t)img_len)
		return 0;
	copy = dup(fd);
	if (copy < 0)
		return 0;
	/* Writable: the allocation path is hostile ground too.  Takes @copy. */
	if (qcow2_open_fd(copy, img_len, "fuzz.qcow2", ops.n && (data[0] & 0x80), QCOW2_MAX_CHAIN - 1,
			  &d))
		return 0;
	for (int i = 0; i < NR_OPS; i++)
		run_op(d, &ops);
	disk_close(d);
	return 0;
}
