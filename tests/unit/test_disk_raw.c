// SPDX-License-Identifier: Apache-2.0
/* The raw disk backend against a temporary file, through include/disk.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/disk_raw.h"
#include "disk.h"
#include "test.h"

#define SECTORS 16

struct raw_env {
	struct disk *d;
	char path[64];
	struct disk_req *done[8];     /* what d->complete was given, in order */
	unsigned int nr_done;
};

static void raw_completed(struct disk *d, struct disk_req *r)
{
	struct raw_env *e = d->opaque;

	if (e->nr_done < 8)
		e->done[e->nr_done] = r;
	e->nr_done++;
}

/* A SECTORS-sector file, sector i filled with 'a' + i, opened as a raw disk. */
static int raw_setup(struct raw_env *e, bool readonly)
{
	char sector[512];
	int fd;

	memset(e, 0, sizeof(*e));
	strcpy(e->path, "/tmp/arkvm-raw-XXXXXX");
	fd = mkstemp(e->path);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < SECTORS; i++) {
		memset(sector, 'a' + i, sizeof(sector));
		if (write(fd, sector, sizeof(sector)) != (ssize_t)sizeof(sector)) {
			close(fd);
			return -EIO;
		}
	}
	close(fd);
	if (disk_raw_open(e->path, readonly, &e->d))
		return -EIO;
	e->d->complete = raw_completed;
	e->d->opaque = e;
	return 0;
}

static void raw_teardown(struct raw_env *e)
{
	disk_close(e->d);
	unlink(e->path);
}

/* Submits @r and sees it through: its result, or -EINPROGRESS if it never came back. */
static int raw_do(struct raw_env *e, struct disk_req *r)
{
	unsigned int before = e->nr_done;
	int ret = disk_submit(e->d, r);

	if (ret == DISK_DONE)
		return r->result;
	if (ret != DISK_QUEUED)
		return ret;
	disk_kick(e->d);
	while (e->nr_done == before && e->d->nr_queued)
		if (!disk_reap(e->d, true))
			break;
	if (e->nr_done != before + 1 || e->done[before] != r)
		return -EINPROGRESS;
	return r->result;
}

static int raw_read(struct raw_env *e, u64 off, void *buf, u64 len)
{
	struct iovec iov = { buf, len };
	struct disk_req r = { .op = DISK_READ, .offset = off, .len = len, .iov = &iov,
			      .nr_iov = 1 };

	return raw_do(e, &r);
}

static int raw_write(struct raw_env *e, u64 off, void *buf, u64 len)
{
	struct iovec iov = { buf, len };
	struct disk_req r = { .op = DISK_WRITE, .offset = off, .len = len, .iov = &iov,
			      .nr_iov = 1 };

	return raw_do(e, &r);
}

static void test_raw_size_read_write_flush(void)
{
	struct raw_env e;
	struct disk_req flush = { .op = DISK_FLUSH };
	char buf[1024], file[512];
	int fd;

	CHECK_EQ(raw_setup(&e, false), 0);
	CHECK_EQ(disk_size(e.d), SECTORS * 512);
	CHECK(!e.d->readonly);
	CHECK_EQ(raw_read(&e, 512, buf, sizeof(buf)), 0);
	CHECK(buf[0] == 'b' && buf[511] == 'b' && buf[512] == 'c' && buf[1023] == 'c');
	memset(buf, 'W', 512);
	CHECK_EQ(raw_write(&e, 3 * 512, buf, 512), 0);
	CHECK_EQ(raw_do(&e, &flush), 0);
	fd = open(e.path, O_RDONLY);
	CHECK(pread(fd, file, 512, 3 * 512) == 512);
	close(fd);
	CHECK(file[0] == 'W' && file[511] == 'W');
	CHECK_EQ(e.d->nr_queued, 0);
	raw_teardown(&e);
}

/* Several reads queued at once come back, each once, through one kick. */
static void test_raw_batch_completes_each_once(void)
{
	struct raw_env e;
	char bufs[4][512];
	struct iovec iov[4];
	struct disk_req r[4];
	unsigned int queued = 0;

	CHECK_EQ(raw_setup(&e, false), 0);
	for (int i = 0; i < 4; i++) {
		iov[i] = (struct iovec){ bufs[i], 512 };
		r[i] = (struct disk_req){ .op = DISK_READ, .offset = (u64)i * 512, .len = 512,
					  .iov = &iov[i], .nr_iov = 1, .result = 1 };
		if (disk_submit(e.d, &r[i]) == DISK_QUEUED)
			queued++;
	}
	disk_kick(e.d);
	while (e.nr_done < queued && disk_reap(e.d, true))
		;
	CHECK_EQ(e.nr_done, queued);
	CHECK_EQ(e.d->nr_queued, 0);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(r[i].result, 0);
		CHECK_EQ(bufs[i][0], 'a' + i);
	}
	raw_teardown(&e);
}

/* Without io_uring every request is done in its submit. */
static void test_raw_synchronous(void)
{
	struct raw_env e;
	char buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	struct disk_req r = { .op = DISK_READ, .offset = 512 * 7, .len = 512, .iov = &iov,
			      .nr_iov = 1 };

	CHECK_EQ(raw_setup(&e, false), 0);
	e.d->async = false;
	CHECK_EQ(disk_submit(e.d, &r), DISK_DONE);
	CHECK_EQ(r.result, 0);
	CHECK_EQ(buf[100], 'h');
	CHECK_EQ(e.nr_done, 0);
	raw_teardown(&e);
}

static void test_raw_discard_and_write_zeroes(void)
{
	struct raw_env e;
	struct disk_req zero = { .op = DISK_WRITE_ZEROES, .offset = 512, .len = 1024 };
	struct disk_req discard = { .op = DISK_DISCARD, .offset = 4096, .len = 4096 };
	struct disk_req unmap = { .op = DISK_WRITE_ZEROES, .offset = 0, .len = 512, .unmap = true };
	char buf[1536];

	CHECK_EQ(raw_setup(&e, false), 0);
	CHECK_EQ(raw_do(&e, &zero), 0);
	CHECK_EQ(raw_read(&e, 512, buf, 1536), 0);
	CHECK(buf[0] == 0 && buf[1023] == 0 && buf[1024] == 'd');
	/* A hole reads back as zeroes, where the filesystem can punch one. */
	if (raw_do(&e, &discard) == 0) {
		CHECK_EQ(raw_read(&e, 4096, buf, 512), 0);
		CHECK(buf[0] == 0 && buf[511] == 0);
	}
	if (raw_do(&e, &unmap) == 0) {
		CHECK_EQ(raw_read(&e, 0, buf, 512), 0);
		CHECK_EQ(buf[7], 0);
	}
	CHECK_EQ(disk_size(e.d), SECTORS * 512); /* never shrinks or grows */
	raw_teardown(&e);
}

/*
 * d->written: what a snapshot asks of an ephemeral disk.  A read or a
 * flush changes nothing; a write, a discard or a write-zeroes may.
 */
static void test_raw_written_flag(void)
{
	struct disk_req flush = { .op = DISK_FLUSH };
	struct disk_req discard = { .op = DISK_DISCARD, .offset = 0, .len = 512 };
	struct disk_req zero = { .op = DISK_WRITE_ZEROES, .offset = 0, .len = 512 };
	struct raw_env e;
	char buf[512];

	CHECK_EQ(raw_setup(&e, false), 0);
	CHECK(!e.d->written);
	CHECK_EQ(raw_read(&e, 0, buf, sizeof(buf)), 0);
	CHECK_EQ(raw_do(&e, &flush), 0);
	CHECK(!e.d->written);
	CHECK_EQ(raw_write(&e, 0, buf, sizeof(buf)), 0);
	CHECK(e.d->written);
	raw_teardown(&e);

	CHECK_EQ(raw_setup(&e, false), 0);
	raw_do(&e, &discard); /* refused where the file system cannot punch: asked all the same */
	CHECK(e.d->written);
	raw_teardown(&e);

	CHECK_EQ(raw_setup(&e, false), 0);
	CHECK_EQ(raw_do(&e, &zero), 0);
	CHECK(e.d->written);
	raw_teardown(&e);
}

static void test_raw_refuses_outside_and_readonly(void)
{
	struct raw_env e;
	struct disk_req discard = { .op = DISK_DISCARD, .offset = 0, .len = 512 };
	char buf[1024];

	CHECK_EQ(raw_setup(&e, false), 0);
	CHECK_EQ(raw_read(&e, (SECTORS - 1) * 512, buf, 1024), -EINVAL);
	CHECK_EQ(raw_read(&e, ~0ULL - 511, buf, 1024), -EINVAL);
	raw_teardown(&e);

	CHECK_EQ(raw_setup(&e, true), 0);
	CHECK(e.d->readonly);
	memset(buf, 'X', 512);
	CHECK_EQ(raw_write(&e, 0, buf, 512), -EROFS);
	CHECK_EQ(raw_do(&e, &discard), -EROFS);
	CHECK_EQ(raw_read(&e, 0, buf, 512), 0);
	CHECK_EQ(buf[0], 'a');
	raw_teardown(&e);
}

/* Never two writers: exclusive for read-write, shared for read-only. */
static void test_raw_locks_the_image(void)
{
	struct raw_env e;
	struct disk *other = NULL;

	CHECK_EQ(raw_setup(&e, false), 0);
	CHECK_EQ(disk_raw_open(e.path, false, &other), -EBUSY);
	CHECK_EQ(disk_raw_open(e.path, true, &other), -EBUSY);
	raw_teardown(&e);

	CHECK_EQ(raw_setup(&e, true), 0);
	CHECK_EQ(disk_raw_open(e.path, true, &other), 0);
	disk_close(other);
	CHECK_EQ(disk_raw_open(e.path, false, &other), -EBUSY);
	raw_teardown(&e);
	CHECK_EQ(disk_raw_open("/nonexistent/arkvm-disk", false, &other), -ENOENT);
}

/* Runs one SQE of the test's on @ring: its result. */
static int ring_run(struct io_uring *ring, struct io_uring_sqe *sqe)
{
	struct io_uring_cqe *cqe;
	int ret;

	io_uring_sqe_set_data(sqe, NULL); /* the backend would skip it */
	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/*
 * io_uring's work is done by the kernel outside the I/O thread's seccomp
 * filter, so the ring itself is restricted: reads, writes and flushes of
 * the registered disk file only.  Opening a file, or reading one that was
 * not registered, is refused with EACCES.
 */
static void test_raw_ring_restricted(void)
{
	struct raw_env e;
	struct io_uring *ring;
	struct io_uring_sqe *sqe;
	char buf[512];
	struct iovec iov = { buf, sizeof(buf) };
	int zero, ret;

	CHECK_EQ(raw_setup(&e, false), 0);
	ring = disk_raw_ring(e.d);
	if (!ring) {
		printf("  note: no restricted io_uring on this kernel: checked nothing\n");
		raw_teardown(&e);
		return;
	}
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_openat(sqe, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC, 0);
	ret = ring_run(ring, sqe);
	if (ret >= 0)
		close(ret);
	CHECK_EQ(ret, -EACCES);

	zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	CHECK(zero >= 0);
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_readv(sqe, zero, &iov, 1, 0);
	ret = ring_run(ring, sqe);
	close(zero);
	CHECK_EQ(ret, -EACCES);

	/* What the backend does is allowed: a read of the disk, by its fixed index. */
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_readv(sqe, 0, &iov, 1, 512);
	sqe->flags |= IOSQE_FIXED_FILE;
	CHECK_EQ(ring_run(ring, sqe), 512);
	CHECK_EQ(buf[0], 'b');
	raw_teardown(&e);
}

TEST_SUITE(disk_raw,
	   TEST(test_raw_size_read_write_flush),
	   TEST(test_raw_batch_completes_each_once),
	   TEST(test_raw_synchronous),
	   TEST(test_raw_discard_and_write_zeroes),
	   TEST(test_raw_written_flag),
	   TEST(test_raw_refuses_outside_and_readonly),
	   TEST(test_raw_locks_the_image),
	   TEST(test_raw_ring_restricted));
