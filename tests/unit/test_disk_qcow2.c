// SPDX-License-Identifier: Apache-2.0
/*
 * The qcow2 backend against images made by qemu-img, the reference: what
 * arkvm reads matches `qemu-img convert -O raw`, and after arkvm writes,
 * `qemu-img check` is clean and `qemu-img compare` matches what was
 * written.  Without qemu-img (Debian's qemu-utils) these cases say so and
 * check nothing.  Hostile images are qemu-img's, patched.
 */
#define _FILE_OFFSET_BITS 64
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/qcow2.h"
#include "disk.h"
#include "fake_disk.h"
#include "disk_qcow2.h"
#include "test.h"

#define IMG_SIZE (4ULL << 20)

static char dir[64];

static __printf(1, 2) int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	/* In the test's directory: backing paths are relative. */
	return system(cmd);
}

/* A fresh directory, or false (and a note) without qemu-img. */
static bool setup(void)
{
	if (system("qemu-img --version >/dev/null 2>&1")) {
		printf("  note: no qemu-img (apt install qemu-utils): checked nothing\n");
		return false;
	}
	strcpy(dir, "/tmp/arkvm-qcow2-XXXXXX");
	return mkdtemp(dir) != NULL;
}

/* QCOW2_KEEP=1 keeps the images, to look at a failure. */
static void teardown(void)
{
	if (getenv("QCOW2_KEEP"))
		return;
	sh("rm -rf %s", dir);
}

static u8 pattern(u64 i)
{
	return (u8)((i >> 9) * 7 + (i & 511) + 1);
}

/* ref.raw: patterned, with runs of zeros qemu-img leaves unallocated. */
static int make_ref(const char *name)
{
	char path[128];
	u8 *buf = malloc(IMG_SIZE);
	int fd, ret = -EIO;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (!buf || fd < 0)
		goto out;
	for (u64 i = 0; i < IMG_SIZE; i++)
		buf[i] = pattern(i);
	memset(buf + SZ_1M, 0, SZ_1M);
	memset(buf + 3 * SZ_1M, 0, SZ_4K);
	if (write(fd, buf, IMG_SIZE) == (ssize_t)IMG_SIZE)
		ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* Completions of the io_uring path: tests count them. */
static unsigned int completed;

static void count_completion(struct disk *d, struct disk_req *r)
{
	completed++;
}

/* Opened with the io_uring path when @async (and the kernel has it), else served in the submit. */
static int open_img_io(const char *name, bool readonly, bool async, struct disk **d)
{
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = disk_qcow2_open(path, readonly, d);
	if (!ret) {
		(*d)->complete = count_completion;
		(*d)->async = async && (*d)->async;
	}
	return ret;
}

/* Most cases check the mapping and metadata paths: every request served in the submit. */
static int open_img(const char *name, bool readonly, struct disk **d)
{
	return open_img_io(name, readonly, false, d);
}

/* Does the whole disk @d read as the raw file @name, in chunks that straddle clusters? */
static bool reads_as(struct disk *d, const char *name)
{
	u64 chunk = 3 * SZ_4K + 512, size = disk_size(d);
	u8 *got = malloc(chunk), *want = malloc(chunk);
	char path[128];
	bool same = true;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	for (u64 off = 0; same && off < size; off += chunk) {
		u64 n = MIN(chunk, size - off);

		same = fd >= 0 && got && want && disk_rw_wait(d, DISK_READ, off, got, n) == 0 &&
		       pread(fd, want, n, (off_t)off) == (ssize_t)n && !memcmp(got, want, n);
		if (!same)
			printf("  differs in [0x%llx, +0x%llx)\n", (unsigned long long)off,
			       (unsigned long long)n);
	}
	if (fd >= 0)
		close(fd);
	free(got);
	free(want);
	return same;
}

static void test_qcow2_probe(void)
{
	char path[128];

	if (!setup())
		return;
	CHECK_EQ(make_ref("ref.raw"), 0);
	CHECK(!sh("cd %s && qemu-img create -q -f qcow2 a.qcow2 1M", dir));
	snprintf(path, sizeof(path), "%s/a.qcow2", dir);
	CHECK_EQ(disk_qcow2_probe(path), 1);
	snprintf(path, sizeof(path), "%s/ref.raw", dir);
	CHECK_EQ(disk_qcow2_probe(path), 0);
	snprintf(path, sizeof(path), "%s/none", dir);
	CHECK_EQ(disk_qcow2_probe(path), -ENOENT);
	teardown();
}

/* Versions 2 and 3, clusters of 512 B, 64 KiB and 2 MiB, plain and compressed. */
static void test_qcow2_reads_match_qemu(void)
{
	static const char *const compat[] = { "0.10", "1.1" };
	static const unsigned int clusters[] = { 512, 65536, 2097152 };
	struct disk *d;

	if (!setup())
		return;
	CHECK_EQ(make_ref("ref.raw"), 0);
	for (unsigned int v = 0; v < 2; v++) {
		for (unsigned int c = 0; c < ARRAY_SIZE(clusters); c++) {
			for (int z = 0; z < 2; z++) {
				CHECK(!sh("cd %s && qemu-img convert %s -O qcow2 -o compat=%s,cluster_size=%u ref.raw t.qcow2",
					    dir, z ? "-c" : "", compat[v], clusters[c]));
				CHECK_EQ(open_img("t.qcow2", true, &d), 0);
				CHECK_EQ(disk_size(d), IMG_SIZE);
				if (!reads_as(d, "ref.raw"))
					printf("  compat=%s cluster_size=%u%s\n", compat[v], clusters[c],
					       z ? " compressed" : "");
				CHECK(reads_as(d, "ref.raw"));
				disk_close(d);
			}
		}
	}
	teardown();
}

/*
 * raw <- qcow2 <- qcow2, named relative to each other; v3 zero clusters
 * hide the backing file.  What arkvm reads is what qemu-img converts.
 */
static void test_qcow2_backing_chain_and_zero_clusters(void)
{
	struct disk *d;

	if (!setup())
		return;
	CHECK_EQ(make_ref("base.raw"), 0);
	CHECK(!sh("cd %s && mkdir sub && qemu-img create -q -f qcow2 -b ../base.raw -F raw sub/mid.qcow2 && "
		    "qemu-io -c 'write -P 0x11 64k 64k' -c 'write -z 256k 64k' sub/mid.qcow2 >/dev/null && "
		    "qemu-img create -q -f qcow2 -o cluster_size=4096 -b sub/mid.qcow2 -F qcow2 top.qcow2 && "
		    "qemu-io -c 'write -P 0x22 100k 6k' -c 'write -z 2M 8k' top.qcow2 >/dev/null && "
		    "qemu-img convert -O raw top.qcow2 expect.raw", dir));
	CHECK_EQ(open_img("top.qcow2", true, &d), 0);
	CHECK(reads_as(d, "expect.raw"));
	disk_close(d);
	teardown();
}

/*
 * The backing format comes from the header's extension: a raw backing
 * file that holds a qcow2 header is read as raw bytes, never followed.
 */
static void test_qcow2_backing_format_not_probed(void)
{
	struct disk *d;
	u8 buf[512];

	if (!setup())
		return;
	CHECK(!sh("cd %s && qemu-img create -q -f qcow2 -b /etc/passwd -F raw evil.img 1M && "
		    "qemu-img create -q -f qcow2 -b evil.img -F raw top.qcow2 1M", dir));
	CHECK_EQ(open_img("top.qcow2", true, &d), 0);
	CHECK_EQ(disk_rw_wait(d, DISK_READ, 0, buf, sizeof(buf)), 0);
	CHECK(!memcmp(buf, "QFI\xfb", 4));
	disk_close(d);
	teardown();
}

static int check_clean(const char *img)
{
	return sh("cd %s && qemu-img check -q %s", dir, img);
}

/* Writes here and in expect.raw alike. */
static int write_both(struct disk *d, u64 off, u64 len, u8 fill)
{
	char path[128];
	u8 *buf = malloc(len);
	int fd, ret;

	snprintf(path, sizeof(path), "%s/expect.raw", dir);
	fd = open(path, O_WRONLY);
	if (!buf || fd < 0) {
		free(buf);
		return -EIO;
	}
	for (u64 i = 0; i < len; i++)
		buf[i] = (u8)(fill + i / 512);
	ret = disk_rw_wait(d, DISK_WRITE, off, buf, len);
	if (!ret && pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
		ret = -EIO;
	close(fd);
	free(buf);
	return ret;
}

/* Partial, straddling, whole and many-cluster writes on @img, compared and checked. */
static void write_pattern(const char *img)
{
	struct disk *d;
	struct disk_req flush = { .op = DISK_FLUSH };
	struct disk_req zeroes = { .op = DISK_WRITE_ZEROES, .offset = 40960, .len = 8192 };

	CHECK(!sh("cd %s && qemu-img convert -O raw %s expect.raw", dir, img));
	CHECK_EQ(open_img(img, false, &d), 0);
	CHECK_EQ(write_both(d, 512, 1024, 0x40), 0);             /* in a cluster */
	CHECK_EQ(write_both(d, 65536 - 512, 4096, 0x50), 0);     /* across two */
	CHECK_EQ(write_both(d, SZ_1M + 512, 1536, 0x60), 0);     /* where the base is zeros */
	CHECK_EQ(write_both(d, 2 * SZ_1M, SZ_1M, 0x70), 0);      /* many clusters, refcount blocks */
	CHECK_EQ(write_both(d, 512, 512, 0x80), 0);              /* again, in place */
	CHECK_EQ(write_both(d, IMG_SIZE - 512, 512, 0x90), 0);   /* the last sector */
	CHECK_EQ(disk_submit(d, &zeroes), DISK_DONE);
	CHECK_EQ(zeroes.result, 0);
	CHECK(!sh("cd %s && dd if=/dev/zero of=expect.raw bs=4096 seek=10 count=2 conv=notrunc status=none", dir));
	CHECK_EQ(disk_submit(d, &flush), DISK_DONE);
	CHECK_EQ(flush.result, 0);
	CHECK(reads_as(d, "expect.raw"));
	disk_close(d);
	CHECK_EQ(check_clean(img), 0);
	CHECK(!sh("cd %s && qemu-img compare -q -f qcow2 -F raw %s expect.raw", dir, img));
}

static void test_qcow2_writes_check_clean(void)
{
	static const char *const opts[] = {
		"compat=0.10,cluster_size=512",
		"compat=1.1,cluster_size=65536",
		"compat=1.1,cluster_size=2097152",
		"compat=1.1,cluster_size=512,refcount_bits=1",
		"compat=1.1,cluster_size=4096,refcount_bits=64",
		"compat=1.1,cluster_size=1024,refcount_bits=4",
	};

	if (!setup())
		return;
	CHECK_EQ(make_ref("ref.raw"), 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(opts); i++) {
		printf("  %s\n", opts[i]);
		CHECK(!sh("cd %s && qemu-img create -q -f qcow2 -o %s e.qcow2 4M", dir, opts[i]));
		write_pattern("e.qcow2");
		CHECK(!test_failed());
		CHECK(!sh("cd %s && qemu-img convert -O qcow2 -o %s ref.raw p.qcow2", dir, opts[i]));
		write_pattern("p.qcow2");
		CHECK(!test_failed());
		CHECK(!sh("cd %s && qemu-img convert -c -O qcow2 -o %s ref.raw c.qcow2", dir, opts[i]));
		write_pattern("c.qcow2");
		CHECK(!test_failed());
	}
	/* Over a backing file: copy-on-write keeps the rest of each cluster. */
	CHECK(!sh("cd %s && qemu-img create -q -f qcow2 -b ref.raw -F raw o.qcow2 && "
		    "qemu-img create -q -f qcow2 -o cluster_size=4096 -b o.qcow2 -F qcow2 o2.qcow2", dir));
	write_pattern("o.qcow2");
	CHECK(!test_failed());
	write_pattern("o2.qcow2");
	CHECK(!test_failed());
	CHECK(!sh("cd %s && qemu-io -c 'read -P 0x40 512 512' -c 'read -P 0x80 512 512' o.qcow2 | grep -q 'read 512/512'",
		    dir));
	teardown();
}

static void test_qcow2_readonly_and_locked(void)
{
	struct disk *d, *other;
	u8 buf[512] = { 0 };

	if (!setup())
		return;
	CHECK(!sh("cd %s && qemu-img create -q -f qcow2 a.qcow2 1M", dir));
	CHECK_EQ(open_img("a.qcow2", true, &d), 0);
	CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 0, buf, sizeof(buf)), -EROFS);
	CHECK_EQ(disk_rw_wait(d, DISK_READ, SZ_1M - 256, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ(open_img("a.qcow2", false, &other), -EBUSY);
	disk_close(d);
	CHECK_EQ(open_img("a.qcow2", false, &d), 0);
	CHECK_EQ(open_img("a.qcow2", true, &other), -EBUSY);
	disk_close(d);
	teardown();
}

static u64 img_get(int fd, u64 off, unsigned int bytes)
{
	u64 v = 0;

	if (pread(fd, &v, bytes, (off_t)off) != (ssize_t)bytes)
		return ~0ULL;
	return bytes == 8 ? be64toh(v) : be32toh((u32)v);
}

static void img_put(int fd, u64 off, unsigned int bytes, u64 v)
{
	u64 be64 = htobe64(v);
	u32 be32 = htobe32((u32)v);

	if (pwrite(fd, bytes == 8 ? (void *)&be64 : (void *)&be32, bytes, (off_t)off) != bytes)
		abort();
}

enum patch { L1_PAST_EOF, L1_HUGE, CLUSTER_BITS_30, REFCOUNT_ORDER_7, BACKING_PAST_HEADER,
	     TABLES_OVERLAP, UNKNOWN_INCOMPAT, DIRTY, L2_OUTSIDE, COMPRESSED_PAST_EOF, NR_PATCHES };

/* h.qcow2, from c.qcow2 (v3, 64 KiB, compressed), with one thing broken. */
static void patch_image(enum patch p)
{
	char path[128];
	int fd;
	u64 l2, e;

	CHECK(!sh("cd %s && cp c.qcow2 h.qcow2", dir));
	snprintf(path, sizeof(path), "%s/h.qcow2", dir);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	l2 = img_get(fd, img_get(fd, 40, 8), 8) & 0x00fffffffffffe00ULL;
	e = img_get(fd, l2, 8);
	switch (p) {
	case L1_PAST_EOF: img_put(fd, 40, 8, 1ULL << 40); break;
	case L1_HUGE: img_put(fd, 36, 4, 0x7fffffff); break;
	case CLUSTER_BITS_30: img_put(fd, 20, 4, 30); break;
	case REFCOUNT_ORDER_7: img_put(fd, 96, 4, 7); break;
	case BACKING_PAST_HEADER: img_put(fd, 8, 8, 65536 + 8); img_put(fd, 16, 4, 8); break;
	case TABLES_OVERLAP: img_put(fd, 48, 8, img_get(fd, 40, 8)); break;
	case UNKNOWN_INCOMPAT: img_put(fd, 72, 8, 1ULL << 40); break;
	case DIRTY: img_put(fd, 72, 8, 1); break;
	case L2_OUTSIDE: img_put(fd, l2, 8, (1ULL << 40) | (1ULL << 63)); break;
	/* All sector-count bits set (64 KiB clusters: bits 54-61). */
	case COMPRESSED_PAST_EOF: img_put(fd, l2, 8, e | (0xffULL << 54)); break;
	default: break;
	}
	close(fd);
	CHECK(e & (1ULL << 62));   /* c.qcow2's first cluster is compressed */
}

/* Crafted images are refused at open, or their bad clusters answer -EIO; never a crash. */
static void test_qcow2_hostile_images(void)
{
	struct disk *d;
	u8 *buf = malloc(SZ_64K);

	if (!setup())
		return;
	CHECK(buf);
	CHECK_EQ(make_ref("ref.raw"), 0);
	CHECK(!sh("cd %s && qemu-img convert -c -O qcow2 -o compat=1.1 ref.raw c.qcow2", dir));
	for (int p = 0; p < NR_PATCHES; p++) {
		int ret;

		patch_image((enum patch)p);
		CHECK(!test_failed());
		ret = open_img("h.qcow2", false, &d);
		if (p == L2_OUTSIDE || p == COMPRESSED_PAST_EOF) {
			CHECK_EQ(ret, 0);
			CHECK_EQ(disk_rw_wait(d, DISK_READ, 0, buf, SZ_64K), -EIO);
			CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 512, buf, 512), -EIO);
			CHECK_EQ(disk_rw_wait(d, DISK_READ, SZ_64K, buf, SZ_64K), 0); /* the rest still reads */
			disk_close(d);
		} else {
			if (ret == 0)
				printf("  patch %d opened\n", p);
			CHECK(ret < 0);
		}
	}
	free(buf);
	teardown();
}


/* Image fields the layout tests patch. */
struct layout {
	u64 l1, rt, rb0, l2, data0;
};

static struct layout read_layout(int fd)
{
	struct layout l;

	l.l1 = img_get(fd, 40, 8);
	l.rt = img_get(fd, 48, 8);
	l.rb0 = img_get(fd, l.rt, 8);
	l.l2 = img_get(fd, l.l1, 8) & 0x00fffffffffffe00ULL;
	l.data0 = img_get(fd, l.l2, 8) & 0x00fffffffffffe00ULL;
	return l;
}

enum overlap { RB_ON_L1, RB_ON_RT, RB_UNALIGNED, RB_TWICE, RB_PAST_EOF, L2_ON_L1, L2_ON_RT,
	       L2_ON_RB, L2_TWICE, L2_UNALIGNED, NR_OVERLAPS };

/* h.qcow2, from p.qcow2 (v3, 4 KiB clusters, allocated), with a table misplaced. */
static void patch_overlap(enum overlap o)
{
	char path[128];
	struct layout l;
	int fd;

	CHECK(!sh("cd %s && cp p.qcow2 h.qcow2", dir));
	snprintf(path, sizeof(path), "%s/h.qcow2", dir);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	l = read_layout(fd);
	CHECK(l.rb0 && l.l2);
	switch (o) {
	case RB_ON_L1: img_put(fd, l.rt, 8, l.l1); break;
	case RB_ON_RT: img_put(fd, l.rt, 8, l.rt); break;
	case RB_UNALIGNED: img_put(fd, l.rt, 8, 512); break;
	case RB_TWICE: img_put(fd, l.rt + 8, 8, l.rb0); break;
	case RB_PAST_EOF: img_put(fd, l.rt + 8, 8, 1ULL << 40); break;
	case L2_ON_L1: img_put(fd, l.l1, 8, l.l1 | (1ULL << 63)); break;
	case L2_ON_RT: img_put(fd, l.l1, 8, l.rt | (1ULL << 63)); break;
	case L2_ON_RB: img_put(fd, l.l1, 8, l.rb0 | (1ULL << 63)); break;
	case L2_TWICE: img_put(fd, l.l1 + 8, 8, l.l2 | (1ULL << 63)); break;
	case L2_UNALIGNED: img_put(fd, l.l1, 8, (l.l2 + 512) | (1ULL << 63)); break;
	default: break;
	}
	close(fd);
}

/* Tables that share a cluster with each other or the header are refused at open. */
static void test_qcow2_overlapping_tables_refused(void)
{
	struct disk *d;

	if (!setup())
		return;
	CHECK_EQ(make_ref("ref.raw"), 0);
	/* 4 KiB clusters over 4 MiB: two L1 entries (L2_TWICE uses the second). */
	CHECK(!sh("cd %s && qemu-img convert -O qcow2 -o compat=1.1,cluster_size=4096 ref.raw p.qcow2", dir));
	for (int o = 0; o < NR_OVERLAPS; o++) {
		int ret;

		patch_overlap((enum overlap)o);
		CHECK(!test_failed());
		ret = open_img("h.qcow2", false, &d);
		if (ret == 0) {
			printf("  overlap %d opened\n", o);
			disk_close(d);
		}
		CHECK(ret < 0);
		ret = open_img("h.qcow2", true, &d);
		if (ret == 0)
			disk_close(d);
		CHECK(ret < 0);
	}
	teardown();
}

/*
 * A data cluster entry naming an L2 table or a refcount block: the guest's
 * write there is refused, and the metadata keeps its bytes.
 */
static void test_qcow2_data_on_metadata_refused(void)
{
	static const char *const target[] = { "L2 table", "refcount block", "L1 table" };
	u8 *buf = malloc(4096), *before = malloc(4096), *after = malloc(4096);
	char path[128];
	struct disk *d;

	if (!setup())
		return;
	CHECK(buf && before && after);
	CHECK_EQ(make_ref("ref.raw"), 0);
	CHECK(!sh("cd %s && qemu-img convert -O qcow2 -o compat=1.1,cluster_size=4096 ref.raw p.qcow2", dir));
	snprintf(path, sizeof(path), "%s/h.qcow2", dir);
	for (unsigned int t = 0; t < ARRAY_SIZE(target); t++) {
		struct layout l;
		u64 victim;
		int fd;

		CHECK(!sh("cd %s && cp p.qcow2 h.qcow2", dir));
		fd = open(path, O_RDWR);
		CHECK(fd >= 0);
		l = read_layout(fd);
		victim = t == 0 ? l.l2 : t == 1 ? l.rb0 : l.l1;
		/* Guest cluster 1 now claims the victim as its data, ours alone (COPIED). */
		img_put(fd, l.l2 + 8, 8, victim | (1ULL << 63));
		CHECK_EQ(pread(fd, before, 4096, (off_t)victim), 4096);
		close(fd);
		CHECK_EQ(open_img("h.qcow2", false, &d), 0);
		memset(buf, 0x5a, 4096);
		if (disk_rw_wait(d, DISK_WRITE, 4096, buf, 4096) != -EIO)
			printf("  a write went to the %s\n", target[t]);
		CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 4096, buf, 4096), -EIO);
		CHECK_EQ(disk_rw_wait(d, DISK_WRITE, 4096 + 512, buf, 512), -EIO);
		CHECK_EQ(disk_rw_wait(d, DISK_READ, 4096, buf, 4096), -EIO);
		CHECK_EQ(disk_rw_wait(d, DISK_READ, 0, buf, 4096), 0);   /* the rest still works */
		disk_close(d);
		fd = open(path, O_RDONLY);
		CHECK_EQ(pread(fd, after, 4096, (off_t)victim), 4096);
		close(fd);
		CHECK(!memcmp(before, after, 4096));
	}
	free(buf);
	free(before);
	free(after);
	teardown();
}

static int zero_req(struct disk *d, enum disk_op op, u64 off, u64 len)
{
	struct disk_req r = { .op = op, .offset = off, .len = len };

	if (disk_submit(d, &r) != DISK_DONE)
		return -EINPROGRESS;
	return r.result;
}

/* expect.raw reads zeros in [off, off + len). */
static void zero_expect(u64 off, u64 len)
{
	CHECK(!sh("cd %s && fallocate -p -o %llu -l %llu expect.raw", dir, (unsigned long long)off,
		    (unsigned long long)len));
}

/* "allocated-clusters" of qemu-img check's report on @img. */
static long allocated_clusters(const char *img)
{
	char cmd[256];
	long n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "cd %s && qemu-img check --output=json %s | sed -n 's/.*\"allocated-clusters\": \\([0-9]*\\).*/\\1/p'",
		 dir, img);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	pclose(f);
	return n;
}

/*
 * 512-byte clusters with 64-bit refcounts: one refcount table cluster
 * covers 2 MiB of file.  Past that the table grows, and the image stays
 * clean and reads back what was written.
 */
static void test_qcow2_refcount_table_grows(void)
{
	struct disk *d;
	char path[128];
	u64 rt_before, rt_after;
	int fd;

	if (!setup())
		return;
	snprintf(path, sizeof(path), "%s/g.qcow2", dir);
	CHECK(!sh("cd %s && qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 g.qcow2 16M && "
		    "qemu-io -c 'write -P 0x33 0 1792k' g.qcow2 >/dev/null && "
		    "qemu-img convert -O raw g.qcow2 expect.raw", dir));
	fd = open(path, O_RDONLY);
	rt_before = img_get(fd, 48, 8);
	close(fd);
	CHECK_EQ(open_img("g.qcow2", false, &d), 0);
	/* Big runs, small ones and partial sectors: about 6 MiB of file. */
	CHECK_EQ(write_both(d, 2 * SZ_1M, 3 * SZ_1M, 0x10), 0);
	for (u64 off = 6 * SZ_1M; off < 8 * SZ_1M; off += 8192)
		CHECK_EQ(write_both(d, off + 512, 1024, 0x20), 0);
	CHECK_EQ(write_both(d, 12 * SZ_1M, SZ_1M, 0x30), 0);
	CHECK(reads_as(d, "expect.raw"));
	disk_close(d);
	fd = open(path, O_RDONLY);
	rt_after = img_get(fd, 48, 8);
	close(fd);
	CHECK(rt_after != rt_before);
	CHECK_EQ(check_clean("g.qcow2"), 0);
	CHECK(!sh("cd %s && qemu-img compare -q -f qcow2 -F raw g.qcow2 expect.raw", dir));
	teardown();
}

/*
 * DISCARD and WRITE_ZEROES on @img: whole clusters become zero clusters
 * (or unallocated) and give their data clusters back; partial clusters
 * are written (WRITE_ZEROES) or left (DISCARD).  @discard_zeroes: whether
 * a discarded range reads as zeros (not on v2 over a backing file).
 */
static void zero_pattern(const char *img, bool discard_zeroes)
{
	struct disk *d;
	long before, after;

	CHECK(!sh("cd %s && qemu-img convert -O raw %s expect.raw", dir, img));
	CHECK_EQ(open_img(img, false, &d), 0);
	CHECK_EQ(write_both(d, 0, SZ_1M, 0x40), 0);
	disk_close(d);
	before = allocated_clusters(img);
	CHECK_EQ(open_img(img, false, &d), 0);
	/* Whole clusters, and a partial start and end (64 KiB clusters). */
	CHECK_EQ(zero_req(d, DISK_WRITE_ZEROES, 4096, 3 * SZ_64K), 0);
	zero_expect(4096, 3 * SZ_64K);
	CHECK_EQ(zero_req(d, DISK_DISCARD, 5 * SZ_64K + 512, 4 * SZ_64K), 0);
	if (discard_zeroes)
		zero_expect(6 * SZ_64K, 3 * SZ_64K);
	/* Over clusters never written, and over the backing file past the written part. */
	CHECK_EQ(zero_req(d, DISK_WRITE_ZEROES, 2 * SZ_1M, SZ_1M + 4096), 0);
	zero_expect(2 * SZ_1M, SZ_1M + 4096);
	CHECK_EQ(zero_req(d, DISK_DISCARD, IMG_SIZE - SZ_64K, SZ_64K), 0);
	if (discard_zeroes)
		zero_expect(IMG_SIZE - SZ_64K, SZ_64K);
	CHECK(reads_as(d, "expect.raw"));
	/* Written again after: new clusters, the old ones reusable. */
	CHECK_EQ(write_both(d, 2 * SZ_64K, 4096, 0x50), 0);
	CHECK(reads_as(d, "expect.raw"));
	disk_close(d);
	after = allocated_clusters(img);
	if (discard_zeroes && after >= before)
		printf("  %s: %ld clusters allocated before, %ld after\n", img, before, after);
	CHECK(!discard_zeroes || after < before);
	CHECK_EQ(check_clean(img), 0);
	CHECK(!sh("cd %s && qemu-img compare -q -f qcow2 -F raw %s expect.raw", dir, img));
}

static void test_qcow2_discard_and_write_zeroes(void)
{
	if (!setup())
		return;
	CHECK_EQ(make_ref("ref.raw"), 0);
	CHECK(!sh("cd %s && qemu-img create -q -f qcow2 -b ref.raw -F raw v3b.qcow2 && "
		    "qemu-img create -q -f qcow2 -o compat=0.10 -b ref.raw -F raw v2b.qcow2 && "
		    "qemu-img convert -O qcow2 -o compat=0.10 ref.raw v2.qcow2 && "
		    "qemu-img convert -O qcow2 ref.raw v3.qcow2 && "
		    "qemu-img convert -c -O qcow2 ref.raw v3c.qcow2", dir));
	zero_pattern("v3b.qcow2", true);
	CHECK(!test_failed());
	zero_pattern("v2b.qcow2", false);
	CHECK(!test_failed());
	zero_pattern("v2.qcow2", true);
	CHECK(!test_failed());
	zero_pattern("v3.qcow2", true);
	CHECK(!test_failed());
	zero_pattern("v3c.qcow2", true);
	teardown();
}

/* Allocating writes over a backing file, in place, zeroes, discards, a flush. */
static void crash_workload(struct disk *d, u64 base)
{
	static u8 buf[3 * SZ_64K];
	struct disk_req flush = { .op = DISK_FLUSH };

	memset(buf, 0x77, sizeof(buf));
	disk_rw_wait(d, DISK_WRITE, base + 512, buf, 1024);              /* copy-on-write of one cluster */
	disk_rw_wait(d, DISK_WRITE, base + SZ_64K, buf, 5 * 4096 + 512);  /* a run and a tail */
	disk_rw_wait(d, DISK_WRITE, base + 512, buf, 512);                /* in place */
	zero_req(d, DISK_WRITE_ZEROES, base + SZ_64K, 2 * 4096);
	zero_req(d, DISK_DISCARD, base + SZ_64K + 2 * 4096, 4096);
	disk_rw_wait(d, DISK_WRITE, base + SZ_1M, buf, sizeof(buf));      /* a new L2 table */
	disk_submit(d, &flush);
}

/*
 * @img, killed after each of its workload's writes and syncs in turn:
 * qemu-img check finds leaks at worst (status 3), never corruption (2).
 */
static void kill_at_every_write(const char *img, u64 base, bool grows)
{
	char path[128];
	u64 writes, rt;
	struct disk *d;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, img);
	fd = open(path, O_RDONLY);
	rt = img_get(fd, 48, 8);
	close(fd);
	CHECK(!sh("cd %s && cp %s orig.qcow2", dir, img));
	CHECK_EQ(open_img(img, false, &d), 0);
	writes = qcow2_test_writes(d);
	crash_workload(d, base);
	writes = qcow2_test_writes(d) - writes;
	disk_close(d);
	CHECK_EQ(check_clean(img), 0);
	fd = open(path, O_RDONLY);
	CHECK_EQ(img_get(fd, 48, 8) != rt, grows);   /* the refcount table moved when it grew */
	close(fd);
	CHECK(writes > 10);
	for (u64 n = 1; n <= writes; n++) {
		int status;
		pid_t pid;

		CHECK(!sh("cd %s && cp orig.qcow2 k.qcow2", dir));
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			if (open_img("k.qcow2", false, &d))
				_exit(1);
			qcow2_test_exit_after(d, n);
			crash_workload(d, base);
			_exit(2);   /* the hook did not fire */
		}
		CHECK_EQ(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			printf("  writer killed after write %llu: status 0x%x\n", (unsigned long long)n, status);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		status = sh("cd %s && qemu-img check -q k.qcow2 >/dev/null 2>&1", dir);
		if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3))
			printf("  %s killed after write %llu of %llu: qemu-img check says %d\n", img,
			       (unsigned long long)n, (unsigned long long)writes, WEXITSTATUS(status));
		CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3));
	}
}

static void test_qcow2_killed_anywhere_leaks_at_worst(void)
{
	if (!setup())
		return;
	CHECK_EQ(make_ref("base.raw"), 0);
	CHECK(!sh("cd %s && qemu-img create -q -f qcow2 -o cluster_size=4096 -b base.raw -F raw o.qcow2 && "
		    "qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=64 g.qcow2 8M && "
		    "qemu-io -c 'write -P 0x33 0 3900k' g.qcow2 >/dev/null", dir));
	kill_at_every_write("o.qcow2", 0, false);
	CHECK(!test_failed());
	/* A file 40 KiB short of what its refcount table covers: the workload outgrows it. */
	kill_at_every_write("g.qcow2", 6 * SZ_1M, true);
	teardown();
}

/*
 * A clean close leaves the header as it was, but for the autoclear bits a
 * writer clears (it keeps none of what they vouch for); never dirty.  Runs
 * of allocated clusters are read and written through split buffers.
 */
static void test_qcow2_clean_close_and_split_buffers(void)
{
	u8 before[512], after[512], *buf = malloc(3 * SZ_64K), *got = malloc(3 * SZ_64K);
	struct iovec iov[3];
	struct disk_req r;
	char path[128];
	struct disk *d;
	int fd;

	if (!setup())
		return;
	CHECK(buf && got);
	CHECK_EQ(make_ref("ref.raw"), 0);
	CHECK(!sh("cd %s && qemu-img convert -O qcow2 ref.raw p.qcow2 && cp ref.raw expect.raw", dir));
	snprintf(path, sizeof(path), "%s/p.qcow2", dir);
	fd = open(path, O_RDWR);
	img_put(fd, 88, 8, 1);   /* autoclear: bitmaps */
	CHECK_EQ(pread(fd, before, sizeof(before), 0), (ssize_t)sizeof(before));
	close(fd);
	CHECK_EQ(open_img("p.qcow2", false, &d), 0);
	for (u64 i = 0; i < 3 * SZ_64K; i++)
		buf[i] = (u8)(i * 13 + 5);
	iov[0] = (struct iovec){ buf, 100 };
	iov[1] = (struct iovec){ buf + 100, 2 * SZ_64K };
	iov[2] = (struct iovec){ buf + 100 + 2 * SZ_64K, SZ_64K - 100 };
	r = (struct disk_req){ .op = DISK_WRITE, .offset = SZ_64K - 512, .len = 3 * SZ_64K,
			       .iov = iov, .nr_iov = 3 };
	CHECK_EQ(disk_submit(d, &r), DISK_DONE);
	CHECK_EQ(r.result, 0);
	fd = open(path, O_RDONLY);
	CHECK_EQ(img_get(fd, 72, 8) & 1, 0);   /* not dirty while open */
	close(fd);
	fd = open(strcat(strcpy(path, dir), "/expect.raw"), O_WRONLY);
	CHECK_EQ(pwrite(fd, buf, 3 * SZ_64K, SZ_64K - 512), (ssize_t)(3 * SZ_64K));
	close(fd);
	iov[0] = (struct iovec){ got, 7 };
	iov[1] = (struct iovec){ got + 7, SZ_64K };
	iov[2] = (struct iovec){ got + 7 + SZ_64K, 2 * SZ_64K - 7 };
	r = (struct disk_req){ .op = DISK_READ, .offset = SZ_64K - 512, .len = 3 * SZ_64K,
			       .iov = iov, .nr_iov = 3 };
	CHECK_EQ(disk_submit(d, &r), DISK_DONE);
	CHECK_EQ(r.result, 0);
	CHECK(!memcmp(buf, got, 3 * SZ_64K));
	disk_close(d);
	snprintf(path, sizeof(path), "%s/p.qcow2", dir);
	fd = open(path, O_RDONLY);
	CHECK_EQ(pread(fd, after, sizeof(after), 0), (ssize_t)sizeof(after));
	close(fd);
	memset(before + 88, 0, 8);   /* what a writer changes: the autoclear bits */
	CHECK(!memcmp(before, after, sizeof(before)));
	CHECK_EQ(check_clean("p.qcow2"), 0);
	CHECK(!sh("cd %s && qemu-img compare -q -f qcow2 -F raw p.qcow2 expect.raw", dir));
	free(buf);
	free(got);
	teardown();
}

/*
 * Requests that lie in allocated clusters go through io_uring and complete
 * later; the rest are served in the submit, and both agree with qemu-img.
 */
static void test_qcow2_io_uring_path(void)
{
	struct disk_req flush = { .op = DISK_FLUSH };
	struct disk *d;

	if (!setup())
		return;
	CHECK_EQ(make_ref("ref.raw"), 0);
	CHECK(!sh("cd %s && qemu-img convert -O qcow2 ref.raw p.qcow2 && "
		  "qemu-img convert -O raw p.qcow2 expect.raw", dir));
	CHECK_EQ(open_img_io("p.qcow2", false, true, &d), 0);
	if (!d->async) {
		printf("  note: no restricted io_uring here: checked the synchronous path only\n");
		disk_close(d);
		teardown();
		return;
	}
	CHECK(d->event_fd >= 0);
	completed = 0;
	CHECK_EQ(write_both(d, 3 * SZ_64K + 512, 2 * SZ_64K, 0x30), 0);   /* allocated: queued */
	CHECK(completed >= 1);
	CHECK_EQ(write_both(d, SZ_1M + 4096, 4096, 0x31), 0);   /* zeros qemu-img left out: served */
	CHECK_EQ(disk_submit(d, &flush), DISK_DONE);
	CHECK_EQ(flush.result, 0);
	completed = 0;
	CHECK(reads_as(d, "expect.raw"));
	CHECK(completed > 0);
	disk_close(d);
	CHECK_EQ(check_clean("p.qcow2"), 0);
	CHECK(!sh("cd %s && qemu-img compare -q -f qcow2 -F raw p.qcow2 expect.raw", dir));
	teardown();
}

TEST_SUITE(disk_qcow2,
	   TEST(test_qcow2_probe),
	   TEST(test_qcow2_reads_match_qemu),
	   TEST(test_qcow2_backing_chain_and_zero_clusters),
	   TEST(test_qcow2_backing_format_not_probed),
	   TEST(test_qcow2_writes_check_clean),
	   TEST(test_qcow2_readonly_and_locked),
	   TEST(test_qcow2_hostile_images),
	   TEST(test_qcow2_overlapping_tables_refused),
	   TEST(test_qcow2_data_on_metadata_refused),
	   TEST(test_qcow2_refcount_table_grows),
	   TEST(test_qcow2_discard_and_write_zeroes),
	   TEST(test_qcow2_killed_anywhere_leaks_at_worst),
	   TEST(test_qcow2_clean_close_and_split_buffers),
	   TEST(test_qcow2_io_uring_path));
