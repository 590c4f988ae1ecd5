// SPDX-License-Identifier: Apache-2.0
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fake_disk.h"
#include "fake_driver.h"
#include "test.h"
#include "virtio_devices.h"

#define DISK_SECTORS 64
#define HDR  (FAKE_BUF)
#define DATA (FAKE_BUF + 0x1000)
#define STAT (FAKE_BUF + 0x3000)

struct blk_env {
	struct fake_driver drv;
	struct virtio_blk blk;
	struct event_loop loop;       /* blk_setup_async(): io_uring's completions */
	char path[64];
	unsigned int interrupts;
};

static void count_interrupt(void *opaque)
{
	((struct blk_env *)opaque)->interrupts++;
}

static void count_plain(void *opaque)
{
	(*(unsigned int *)opaque)++;
}

static int blk_open(struct blk_env *e, bool readonly, const char *serial, bool async)
{
	struct disk_config cfg = { .readonly = readonly };
	char sector[512];
	int fd, ret;

	memset(e, 0, sizeof(*e));
	strcpy(e->path, "/tmp/arkvm-blk-XXXXXX");
	fd = mkstemp(e->path);
	for (int i = 0; i < DISK_SECTORS; i++) {
		memset(sector, 'A' + i % 26, sizeof(sector));
		if (write(fd, sector, sizeof(sector)) != (ssize_t)sizeof(sector))
			return -EIO;
	}
	close(fd);
	snprintf(cfg.path, sizeof(cfg.path), "%s", e->path);
	if (serial)
		snprintf(cfg.serial, sizeof(cfg.serial), "%s", serial);
	fake_driver_init(&e->drv, 8);
	e->loop.epoll_fd = -1;
	if (async && event_loop_init(&e->loop))
		return -EIO;
	ret = virtio_blk_open(&e->blk, &cfg, 0, &e->drv.mem, async ? &e->loop : NULL);
	if (ret)
		return ret;
	e->blk.vdev.interrupt = count_interrupt;
	e->blk.vdev.interrupt_opaque = e;
	fake_bring_up(&e->blk.vdev, FAKE_DESC, 0);
	return 0;
}

/* Requests are waited for before the kick returns. */
static int blk_setup(struct blk_env *e, bool readonly, const char *serial)
{
	return blk_open(e, readonly, serial, false);
}

static void blk_teardown(struct blk_env *e)
{
	virtio_blk_close(&e->blk);
	if (e->loop.epoll_fd >= 0)
		event_loop_destroy(&e->loop);
	unlink(e->path);
	fake_driver_free(&e->drv);
}

/* Posts header + optional data + status; returns the status byte the device wrote. */
static u8 blk_request(struct blk_env *e, u32 type, u64 sector, u32 data_len, bool data_write,
		      u32 *used_len)
{
	struct virtio_blk_outhdr *h = fake_hva(&e->drv, HDR);
	struct fake_seg segs[3] = { { HDR, sizeof(*h), false } };
	unsigned int n = 1;
	u32 id;

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	if (data_len)
		segs[n++] = (struct fake_seg){ DATA, data_len, data_write };
	segs[n++] = (struct fake_seg){ STAT, 1, true };
	*(u8 *)fake_hva(&e->drv, STAT) = 0xff;
	fake_post(&e->drv, segs, n, false);
	virtio_dev_queue_notify(&e->blk.vdev, 0);
	*used_len = fake_used(&e->drv, &id, used_len) ? *used_len : 0xdead;
	return *(u8 *)fake_hva(&e->drv, STAT);
}

static void test_read(void)
{
	struct blk_env e;
	u32 len;

	CHECK_EQ(blk_setup(&e, false, NULL), 0);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_IN, 2, 1024, true, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1025);
	CHECK_EQ(((u8 *)fake_hva(&e.drv, DATA))[0], 'C');
	CHECK_EQ(((u8 *)fake_hva(&e.drv, DATA))[1023], 'D');
	CHECK_EQ(e.interrupts, 1);
	blk_teardown(&e);
}

static void test_write_reaches_file(void)
{
	struct blk_env e;
	char buf[512];
	u32 len;
	int fd;

	CHECK_EQ(blk_setup(&e, false, NULL), 0);
	memset(fake_hva(&e.drv, DATA), 'z', 512);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_OUT, 63, 512, false, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 1);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_FLUSH, 0, 0, false, &len), VIRTIO_BLK_S_OK);
	fd = open(e.path, O_RDONLY);
	CHECK(pread(fd, buf, 512, 63 * 512) == 512);
	close(fd);
	CHECK(buf[0] == 'z' && buf[511] == 'z');
	blk_teardown(&e);
}

/* Two requests posted at once (a ring of 8 holds two 3-part chains): one batch, one interrupt. */
static void test_batch_one_interrupt(void)
{
	struct blk_env e;
	struct virtio_blk_outhdr *h;
	u32 id, len, seen = 0;

	CHECK_EQ(blk_setup(&e, false, NULL), 0);
	for (u32 i = 0; i < 2; i++) {
		u64 hdr = HDR + 0x100 + i * 0x20, stat = STAT + 0x10 + i;
		struct fake_seg segs[3] = {
			{ hdr, sizeof(*h), false },
			{ DATA + i * 0x200, 512, i != 1 },
			{ stat, 1, true },
		};

		h = fake_hva(&e.drv, hdr);
		h->type = htole32(i == 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);
		h->sector = htole64(10 + i);
		*(u8 *)fake_hva(&e.drv, stat) = 0xff;
		fake_post(&e.drv, segs, 3, false);
	}
	virtio_dev_queue_notify(&e.blk.vdev, 0);
	while (fake_used(&e.drv, &id, &len))
		seen++;
	CHECK_EQ(seen, 2);
	CHECK_EQ(e.interrupts, 1);
	for (u32 i = 0; i < 2; i++)
		CHECK_EQ(*(u8 *)fake_hva(&e.drv, STAT + 0x10 + i), VIRTIO_BLK_S_OK);
	CHECK_EQ(((u8 *)fake_hva(&e.drv, DATA))[0], 'K');          /* sector 10 */
	blk_teardown(&e);
}

/* Without io_uring (an old kernel, a filtering container) the same works. */
static void test_plain_io_without_uring(void)
{
	struct blk_env e;
	u32 len;

	CHECK_EQ(blk_setup(&e, false, NULL), 0);
	e.blk.disk->async = false;
	memset(fake_hva(&e.drv, DATA), 'q', 512);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_OUT, 5, 512, false, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_FLUSH, 0, 0, false, &len), VIRTIO_BLK_S_OK);
	memset(fake_hva(&e.drv, DATA), 0, 512);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_IN, 5, 512, true, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 513);
	CHECK_EQ(((u8 *)fake_hva(&e.drv, DATA))[511], 'q');
	blk_teardown(&e);
}

static void test_out_of_range_refused(void)
{
	struct blk_env e;
	char buf[512];
	u32 len;
	int fd;

	CHECK_EQ(blk_setup(&e, false, NULL), 0);
	memset(fake_hva(&e.drv, DATA), 'q', 1024);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_OUT, 63, 1024, false, &len), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_IN, 64, 512, true, &len), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_IN, ~0ULL, 512, true, &len), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_OUT, (~0ULL >> 9), 1024, false, &len),
		 VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_IN, 0, 100, true, &len), VIRTIO_BLK_S_IOERR);
	fd = open(e.path, O_RDONLY);
	CHECK(pread(fd, buf, 512, 63 * 512) == 512);
	close(fd);
	CHECK_EQ(buf[0], 'A' + 63 % 26); /* untouched */
	blk_teardown(&e);
}

static void test_get_id_and_unsupported(void)
{
	struct blk_env e;
	u32 len;

	CHECK_EQ(blk_setup(&e, false, "serial-xyz"), 0);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_GET_ID, 0, 20, true, &len), VIRTIO_BLK_S_OK);
	CHECK(!memcmp(fake_hva(&e.drv, DATA), "serial-xyz", 10));
	CHECK_EQ(blk_request(&e, 0x1234, 0, 0, false, &len), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(le64toh(e.blk.config.capacity), DISK_SECTORS);
	blk_teardown(&e);
}

static void test_readonly(void)
{
	struct blk_env e;
	u32 len;

	CHECK_EQ(blk_setup(&e, true, NULL), 0);
	CHECK(e.blk.vdev.offered & (1ULL << VIRTIO_BLK_F_RO));
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_OUT, 0, 512, false, &len), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_IN, 0, 512, true, &len), VIRTIO_BLK_S_OK);
	blk_teardown(&e);
}

static void test_malformed_chain_needs_reset(void)
{
	struct blk_env e;
	const struct fake_seg only_header = { HDR, 16, false };
	u32 id, len;

	CHECK_EQ(blk_setup(&e, false, NULL), 0);
	fake_post(&e.drv, &only_header, 1, false); /* nowhere to put a status */
	virtio_dev_queue_notify(&e.blk.vdev, 0);
	CHECK(e.blk.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(!fake_used(&e.drv, &id, &len));
	CHECK_EQ(e.interrupts, 1); /* the config-change interrupt */
	blk_teardown(&e);
}

static void test_exclusive_lock(void)
{
	struct blk_env e;
	struct virtio_blk second;
	struct disk_config cfg = { 0 };

	CHECK_EQ(blk_setup(&e, false, NULL), 0);
	snprintf(cfg.path, sizeof(cfg.path), "%s", e.path);
	CHECK_EQ(virtio_blk_open(&second, &cfg, 1, &e.drv.mem, NULL), -EBUSY);
	cfg.readonly = true;
	CHECK_EQ(virtio_blk_open(&second, &cfg, 1, &e.drv.mem, NULL), -EBUSY);
	blk_teardown(&e);
}

/*
 * A read over 512 segments of 64 bytes (the whole disk), more than a
 * 256-entry queue could carry: with a 1024-entry queue it is one request,
 * served whole, as seg_max (1022) promises.
 */
static void test_long_chain_one_request(void)
{
	static struct fake_seg segs[514];
	struct blk_env e;
	struct virtio_blk_outhdr *h;
	u64 data = FAKE_BUF + 0x20000;
	u32 id, len;
	bool right = true;

	CHECK_EQ(blk_setup(&e, false, NULL), 0);
	CHECK_EQ(virtio_mmio_ops.read(&e.blk.vdev, VIRTIO_MMIO_CONFIG +
				      offsetof(struct virtio_blk_config, seg_max), 4), 1022);
	/* A driver that takes the whole queue the device offers. */
	virtio_mmio_ops.write(&e.blk.vdev, VIRTIO_MMIO_STATUS, 0, 4);
	fake_driver_free(&e.drv);
	fake_driver_init(&e.drv, 1024);
	e.drv.ring = FAKE_RAM_BASE + 0x80000;
	fake_bring_up_queues(&e.blk.vdev, 1ULL << VIRTIO_RING_F_INDIRECT_DESC,
			     (struct fake_driver *const[]){ &e.drv }, 1);
	h = fake_hva(&e.drv, HDR);
	h->type = htole32(VIRTIO_BLK_T_IN);
	h->sector = 0;
	segs[0] = (struct fake_seg){ HDR, sizeof(*h), false };
	for (u32 i = 0; i < 512; i++)
		segs[1 + i] = (struct fake_seg){ data + i * 64, 64, true };
	segs[513] = (struct fake_seg){ STAT, 1, true };
	fake_post(&e.drv, segs, 514, true);
	virtio_dev_queue_notify(&e.blk.vdev, 0);
	CHECK(fake_used(&e.drv, &id, &len));
	CHECK_EQ(len, 64 * 512 + 1);
	CHECK_EQ(*(u8 *)fake_hva(&e.drv, STAT), VIRTIO_BLK_S_OK);
	for (u32 i = 0; i < 64 * 512; i++)
		right &= ((u8 *)fake_hva(&e.drv, data))[i] == 'A' + (i / 512) % 26;
	CHECK(right);
	CHECK_EQ(e.blk.vdev.stats.used, 1);
	blk_teardown(&e);
}

/* The descriptor of this process's io_uring ring (one disk open), or -1. */
static int find_uring_fd(void)
{
	char path[64], link[64];

	for (int fd = 3; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = 0;
			if (strstr(link, "io_uring"))
				return fd;
		}
	}
	return -1;
}

/*
 * io_uring breaks after set-up (here its descriptor is swapped for
 * /dev/null, so every submission fails): the request it refused is served
 * the plain way, and so are later ones.
 */
static void test_uring_breaking_falls_back(void)
{
	struct blk_env e;
	int ring_fd, null_fd;
	u32 len;

	CHECK_EQ(blk_setup(&e, false, NULL), 0);
	if (!e.blk.disk->async) {
		blk_teardown(&e); /* no io_uring here: nothing to break */
		return;
	}
	ring_fd = find_uring_fd();
	CHECK(ring_fd >= 0);
	null_fd = open("/dev/null", O_RDONLY);
	CHECK(null_fd >= 0 && dup2(null_fd, ring_fd) == ring_fd);
	close(null_fd);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_IN, 2, 512, true, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(len, 513);
	CHECK_EQ(((u8 *)fake_hva(&e.drv, DATA))[0], 'C');
	CHECK(!e.blk.disk->async);
	memset(fake_hva(&e.drv, DATA), 'f', 512);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_OUT, 7, 512, false, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_FLUSH, 0, 0, false, &len), VIRTIO_BLK_S_OK);
	memset(fake_hva(&e.drv, DATA), 0, 512);
	CHECK_EQ(blk_request(&e, VIRTIO_BLK_T_IN, 7, 512, true, &len), VIRTIO_BLK_S_OK);
	CHECK_EQ(((u8 *)fake_hva(&e.drv, DATA))[511], 'f');
	blk_teardown(&e);
}

/* Runs the loop until @n used entries are back (5 s at most); how many came. */
static unsigned int blk_pump(struct blk_env *e, unsigned int n, u32 *ids)
{
	unsigned int got = 0;
	u32 len;

	for (int round = 0; got < n && round < 50; round++) {
		while (got < n && fake_used(&e->drv, &ids[got], &len))
			got++;
		if (got < n)
			event_loop_run_once(&e->loop, 100);
	}
	return got;
}

/*
 * With an event loop the kick only starts the requests; io_uring's
 * eventfd brings the completions back.  A write, a flush and a read of
 * what was written, posted at once.
 */
static void test_async_completions_on_loop(void)
{
	struct blk_env e;
	struct virtio_blk_outhdr *h;
	u32 ids[3];
	static const u32 types[3] = { VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_IN };

	CHECK_EQ(blk_open(&e, false, NULL, true), 0);
	memset(fake_hva(&e.drv, DATA), 'w', 512);
	memset(fake_hva(&e.drv, DATA + 0x200), 0, 512);
	for (u32 i = 0; i < 3; i++) {
		u64 hdr = HDR + i * 0x20, stat = STAT + i;
		struct fake_seg segs[3] = { { hdr, sizeof(*h), false } };
		unsigned int n = 1;

		h = fake_hva(&e.drv, hdr);
		h->type = htole32(types[i]);
		h->sector = htole64(20);
		if (types[i] != VIRTIO_BLK_T_FLUSH)
			segs[n++] = (struct fake_seg){ DATA + (i ? 0x200 : 0), 512,
						       types[i] == VIRTIO_BLK_T_IN };
		segs[n++] = (struct fake_seg){ stat, 1, true };
		*(u8 *)fake_hva(&e.drv, stat) = 0xff;
		fake_post(&e.drv, segs, n, false);
		/* One at a time: the read must not overtake the write. */
		virtio_dev_queue_notify(&e.blk.vdev, 0);
		CHECK_EQ(blk_pump(&e, 1, &ids[i]), 1);
	}
	for (u32 i = 0; i < 3; i++)
		CHECK_EQ(*(u8 *)fake_hva(&e.drv, STAT + i), VIRTIO_BLK_S_OK);
	CHECK_EQ(((u8 *)fake_hva(&e.drv, DATA + 0x200))[511], 'w');
	CHECK(e.interrupts >= 1 && e.interrupts <= 3);
	blk_teardown(&e);
}

/*
 * The driver resets the device while a flush may be in flight: the reset
 * waits for it, so its status byte is written before the reset returns,
 * it is never returned into the new rings, and the device serves them as
 * usual.  (Before, the flush could complete into the new driver's pages.)
 */
static void test_async_reset_in_flight(void)
{
	struct blk_env e;
	u32 ids[2];
	u8 *data;

	CHECK_EQ(blk_open(&e, false, NULL, true), 0);
	data = fake_hva(&e.drv, DATA);
	memset(data, 'r', 512);
	{
		struct virtio_blk_outhdr *h = fake_hva(&e.drv, HDR);
		struct fake_seg segs[2] = { { HDR, sizeof(*h), false }, { STAT, 1, true } };

		h->type = htole32(VIRTIO_BLK_T_FLUSH);
		h->sector = 0;
		*(u8 *)fake_hva(&e.drv, STAT) = 0xff;
		fake_post(&e.drv, segs, 2, false);
		virtio_dev_queue_notify(&e.blk.vdev, 0);
	}
	virtio_mmio_ops.write(&e.blk.vdev, VIRTIO_MMIO_STATUS, 0, 4);
	CHECK_EQ(*(u8 *)fake_hva(&e.drv, STAT), VIRTIO_BLK_S_OK);
	/* A new driver: fresh rings, then a read. */
	memset(fake_hva(&e.drv, FAKE_DESC), 0, 0x3000);
	e.drv.avail_idx = e.drv.next_desc = e.drv.used_seen = 0;
	fake_bring_up(&e.blk.vdev, FAKE_DESC, 0);
	{
		struct virtio_blk_outhdr *h = fake_hva(&e.drv, HDR);
		struct fake_seg segs[3] = { { HDR, sizeof(*h), false }, { DATA, 512, true },
					    { STAT, 1, true } };

		h->type = htole32(VIRTIO_BLK_T_IN);
		h->sector = htole64(3);
		*(u8 *)fake_hva(&e.drv, STAT) = 0xff;
		fake_post(&e.drv, segs, 3, false);
		virtio_dev_queue_notify(&e.blk.vdev, 0);
	}
	CHECK_EQ(blk_pump(&e, 1, ids), 1);
	CHECK_EQ(ids[0], 0);
	CHECK_EQ(data[0], 'D');   /* sector 3 */
	CHECK_EQ(*(u8 *)fake_hva(&e.drv, STAT), VIRTIO_BLK_S_OK);
	CHECK_EQ(blk_pump(&e, 1, ids + 1), 0);  /* nothing else */
	blk_teardown(&e);
}

/*
 * The driver resets the device while a read is on the disk.  The reset
 * waits for it: once the reset returns, the driver owns its pages again,
 * so the read's data and status have landed before, and nothing lands
 * after.  The read is never returned into the new rings.
 */
static void test_reset_waits_for_io_in_flight(void)
{
	struct blk_threads t;
	pthread_t vcpu;
	bool submitted, early, landed, served = false, clean = false;
	u8 *data, *stat;
	u32 id = ~0u, len, used = 0;

	CHECK_EQ(threads_start(&t, 64), 0);
	data = fake_hva(&t.drv, DATA);
	stat = fake_hva(&t.drv, STAT);
	memset(data, 0, 512);
	threads_post_read(&t, HDR, 3, DATA, STAT);
	threads_kick(&t);
	submitted = fake_disk_wait_submitted(t.disk, 1);
	pthread_create(&vcpu, NULL, threads_reset, &t);
	early = threads_wait(&t, &t.reset_returned, 200);
	fake_disk_release(t.disk, 1);
	pthread_join(vcpu, NULL);
	landed = data[0] == 'D' && *stat == VIRTIO_BLK_S_OK;
	if (!submitted || early || !landed)
		goto out;
	/* The driver reuses its pages at once. */
	memset(data, 0x5a, 512);
	*stat = 0x5a;

	/* A new driver: fresh rings, then a read elsewhere. */
	memset(fake_hva(&t.drv, FAKE_DESC), 0, 0x3000);
	t.drv.avail_idx = t.drv.next_desc = t.drv.used_seen = 0;
	fake_bring_up(&t.blk.vdev, FAKE_DESC, 0);
	threads_post_read(&t, HDR + 0x100, 4, DATA + 0x200, STAT + 1);
	threads_kick(&t);
	if (!fake_disk_wait_submitted(t.disk, 2))
		goto out;
	fake_disk_release(t.disk, 1);
	served = threads_wait_interrupts(&t, 1);
	while (fake_used(&t.drv, &id, &len))
		used++;
	clean = ((u8 *)fake_hva(&t.drv, DATA + 0x200))[0] == 'E' &&
		data[0] == 0x5a && *stat == 0x5a;   /* the old read never came back */
out:
	threads_stop(&t);
	CHECK(submitted);
	CHECK(!early);
	CHECK(landed);
	CHECK(served);
	CHECK_EQ(used, 1);
	CHECK_EQ(id, 0);
	CHECK(clean);
}

static int call_quiesce(struct blk_threads *t)
{
	return virtio_blk_quiesce(&t->blk);
}

static int call_resume(struct blk_threads *t)
{
	virtio_blk_resume(&t->blk);
	return 0;
}

/* A kick, as the queue's ioeventfd would bring it. */
static int call_kick(struct blk_threads *t)
{
	virtio_dev_queue_notify(&t->blk.vdev, 0);
	return 0;
}

/* Counts the used entries; the last one's id in *@id. */
static unsigned int threads_used(struct blk_threads *t, u32 *id)
{
	unsigned int n = 0;
	u32 len;

	while (fake_used(&t->drv, id, &len))
		n++;
	return n;
}

/*
 * Quiesce with a read on the disk: it returns only once the read has
 * completed and gone back to the guest (used entry, interrupt).
 */
static void test_quiesce_completes_in_flight(void)
{
	struct blk_threads t;
	bool submitted, early, done = false;
	int ret = -1;
	u32 id = ~0u;
	unsigned int used = 0, irqs;

	CHECK_EQ(threads_start(&t, 64), 0);
	threads_post_read(&t, HDR, 5, DATA, STAT);
	threads_kick(&t);
	submitted = fake_disk_wait_submitted(t.disk, 1);
	early = threads_call(&t, call_quiesce, 200, &ret);
	fake_disk_release(t.disk, 1);
	if (!early)
		done = threads_call_done(&t, &ret);
	if (done)
		used = threads_used(&t, &id);
	pthread_mutex_lock(&t.lock);
	irqs = t.interrupts;
	pthread_mutex_unlock(&t.lock);
	threads_stop(&t);
	CHECK(submitted);
	CHECK(!early);
	CHECK(done);
	CHECK_EQ(ret, 0);
	CHECK_EQ(used, 1);
	CHECK_EQ(id, 0);
	CHECK_EQ(irqs, 1);
}

/* A kick while quiesced takes nothing; resume serves what was queued. */
static void test_kick_during_quiesce_waits_for_resume(void)
{
	struct blk_threads t;
	bool ok;
	int ret = -1, quiesced = -1;
	u32 id = ~0u;
	unsigned int submitted_quiesced, used_quiesced = 0, used = 0;
	u8 status;

	CHECK_EQ(threads_start(&t, 64), 0);
	ok = threads_call(&t, call_quiesce, 5000, &quiesced);
	threads_post_read(&t, HDR, 6, DATA, STAT);
	ok = ok && threads_call(&t, call_kick, 5000, &ret);
	pthread_mutex_lock(&t.disk->lock);
	submitted_quiesced = t.disk->submitted;
	pthread_mutex_unlock(&t.disk->lock);
	used_quiesced = threads_used(&t, &id);
	ok = ok && threads_call(&t, call_resume, 5000, &ret);
	ok = ok && fake_disk_wait_submitted(t.disk, 1);
	if (ok) {
		fake_disk_release(t.disk, 1);
		ok = threads_wait_interrupts(&t, 1);
	}
	if (ok)
		used = threads_used(&t, &id);
	status = *(u8 *)fake_hva(&t.drv, STAT);
	threads_stop(&t);
	CHECK(ok);
	CHECK_EQ(quiesced, 0);
	CHECK_EQ(submitted_quiesced, 0);
	CHECK_EQ(used_quiesced, 0);
	CHECK_EQ(used, 1);
	CHECK_EQ(id, 0);
	CHECK_EQ(status, VIRTIO_BLK_S_OK);
}

/*
 * Resets racing completions, over and over: the I/O thread completes
 * reads as fast as the disk gives them back while this thread resets the
 * device.  Whenever a reset returns, every request the disk was given has
 * completed.  (For ThreadSanitizer as much as for the checks.)  Each kick
 * is served before this thread goes on, so the I/O thread never reads
 * rings this thread is rewriting for the next round.
 */
static void test_reset_races_completions(void)
{
	struct blk_threads t;
	unsigned int bad = 0, submitted, completed;
	int ret;

	CHECK_EQ(threads_start(&t, 64), 0);
	pthread_mutex_lock(&t.disk->lock);
	t.disk->auto_release = true;
	pthread_mutex_unlock(&t.disk->lock);
	for (unsigned int round = 0; round < 50; round++) {
		threads_post_read(&t, HDR, round % DISK_SECTORS, DATA, STAT);
		threads_post_read(&t, HDR + 0x20, (round + 1) % DISK_SECTORS, DATA + 0x200,
				  STAT + 1);
		if (!threads_call(&t, call_kick, 5000, &ret))
			bad++;
		virtio_mmio_ops.write(&t.blk.vdev, VIRTIO_MMIO_STATUS, 0, 4);
		pthread_mutex_lock(&t.disk->lock);
		submitted = t.disk->submitted;
		completed = t.disk->completed;
		pthread_mutex_unlock(&t.disk->lock);
		bad += submitted != completed;
		memset(fake_hva(&t.drv, FAKE_DESC), 0, 0x3000);
		t.drv.avail_idx = t.drv.next_desc = t.drv.used_seen = 0;
		fake_bring_up(&t.blk.vdev, FAKE_DESC, 0);
	}
	threads_stop(&t);
	CHECK_EQ(bad, 0);
}

static void test_rng_fills_buffers(void)
{
	struct fake_driver drv;
	struct virtio_rng rng;
	const struct fake_seg seg = { DATA, 64, true };
	unsigned int irqs = 0;
	u32 id, len;

	fake_driver_init(&drv, 8);
	memset(&rng, 0, sizeof(rng));
	virtio_rng_init(&rng, &drv.mem, NULL, NULL);
	rng.vdev.interrupt = count_plain;
	rng.vdev.interrupt_opaque = &irqs;
	fake_bring_up(&rng.vdev, FAKE_DESC, 0);
	memset(fake_hva(&drv, DATA), 0, 64);
	fake_post(&drv, &seg, 1, false);
	virtio_dev_queue_notify(&rng.vdev, 0);
	CHECK(fake_used(&drv, &id, &len));
	CHECK_EQ(len, 64);
	CHECK(memcmp(fake_hva(&drv, DATA), (char[64]){ 0 }, 64));
	CHECK_EQ(irqs, 1);
	virtio_rng_close(&rng);
	fake_driver_free(&drv);
}

TEST_SUITE(virtio_blk,
	   TEST(test_read),
	   TEST(test_write_reaches_file),
	   TEST(test_batch_one_interrupt),
	   TEST(test_plain_io_without_uring),
	   TEST(test_out_of_range_refused),
	   TEST(test_get_id_and_unsupported),
	   TEST(test_readonly),
	   TEST(test_malformed_chain_needs_reset),
	   TEST(test_exclusive_lock),
	   TEST(test_long_chain_one_request),
	   TEST(test_uring_breaking_falls_back),
	   TEST(test_async_completions_on_loop),
	   TEST(test_async_reset_in_flight),
	   TEST(test_reset_waits_for_io_in_flight),
	   TEST(test_quiesce_completes_in_flight),
	   TEST(test_kick_during_quiesce_waits_for_resume),
	   TEST(test_reset_races_completions),
	   TEST(test_rng_fills_buffers));
