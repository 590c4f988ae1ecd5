// SPDX-License-Identifier: Apache-2.0
/*
 * Rate limits as the guest meets them: virtio-blk, virtio-net and
 * virtio-rng hold back what the limiter refuses and serve it when the
 * limiter's timer fires; the options and the checks that set them.  The
 * limiters run on a clock the test sets, and the test fires their timers
 * by hand, except where the real timer on a real loop is the point.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "fake_driver.h"
#include "test.h"
#include "virtio_devices.h"

#define MS 1000000ULL

static u64 fake_now = 1000 * MS;

static u64 fake_clock(void)
{
	return fake_now;
}

static void count_irq(void *opaque)
{
	(*(unsigned int *)opaque)++;
}

/* The limiter's timer fires (by hand) once the clock moved on by @ms. */
static void timer_fires(struct rate_limiter *rl, u64 ms)
{
	fake_now += ms * MS;
	rl->timer.ready(&rl->timer, EPOLLIN);
}

/* --- virtio-blk ------------------------------------------------------------ */

#define HDR(i)  (FAKE_BUF + (u64)(i) * 0x40)
#define STAT(i) (FAKE_BUF + 0x800 + (u64)(i))
#define DATA(i) (FAKE_BUF + 0x1000 + (u64)(i) * 0x200)

struct blk_env {
	struct fake_driver drv;
	struct virtio_blk blk;
	char path[2][64];
	unsigned int irqs;
};

/* An image of @sectors sectors, each filled with @fill. */
static int make_image(char *path, unsigned int sectors, char fill)
{
	char sector[512];
	int fd;

	strcpy(path, "/tmp/arkvm-rl-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	memset(sector, fill, sizeof(sector));
	for (unsigned int i = 0; i < sectors; i++)
		if (write(fd, sector, sizeof(sector)) != (ssize_t)sizeof(sector))
			return -EIO;
	close(fd);
	return 0;
}

/* A disk of 'a's, limited by @rl on the test's clock; requests complete in the kick. */
static int blk_env_open(struct blk_env *e, const struct rate_limiter_config *rl)
{
	struct disk_config cfg = { 0 };
	int ret;

	memset(e, 0, sizeof(*e));
	ret = make_image(e->path[0], 64, 'a');
	if (!ret)
		ret = make_image(e->path[1], 128, 'b');
	if (ret)
		return ret;
	snprintf(cfg.path, sizeof(cfg.path), "%s", e->path[0]);
	fake_driver_init(&e->drv, 16);
	ret = virtio_blk_open(&e->blk, &cfg, 0, &e->drv.mem, NULL);
	if (ret)
		return ret;
	e->blk.rl.clock = fake_clock;
	virtio_blk_set_limits(&e->blk, rl);
	e->blk.vdev.interrupt = count_irq;
	e->blk.vdev.interrupt_opaque = &e->irqs;
	fake_bring_up_queues(&e->blk.vdev, 0, (struct fake_driver *const[]){ &e->drv }, 1);
	return 0;
}

static void blk_env_close(struct blk_env *e)
{
	virtio_blk_close(&e->blk);
	unlink(e->path[0]);
	unlink(e->path[1]);
	fake_driver_free(&e->drv);
}

/* Posts request @i: a one-sector read of @sector, or a flush. */
static void blk_post(struct blk_env *e, unsigned int i, u32 type, u64 sector)
{
	struct virtio_blk_outhdr *h = fake_hva(&e->drv, HDR(i));
	struct fake_seg segs[3] = { { HDR(i), sizeof(*h), false } };
	unsigned int n = 1;

	h->type = htole32(type);
	h->ioprio = 0;
	h->sector = htole64(sector);
	if (type == VIRTIO_BLK_T_IN)
		segs[n++] = (struct fake_seg){ DATA(i), 512, true };
	segs[n++] = (struct fake_seg){ STAT(i), 1, true };
	*(u8 *)fake_hva(&e->drv, STAT(i)) = 0xff;
	fake_post(&e->drv, segs, n, false);
}

static unsigned int blk_used(struct blk_env *e)
{
	unsigned int n = 0;
	u32 id, len;

	while (fake_used(&e->drv, &id, &len))
		n++;
	return n;
}

static u8 blk_status(struct blk_env *e, unsigned int i)
{
	return *(u8 *)fake_hva(&e->drv, STAT(i));
}

/* 2 ops a second: the third request stays in the ring until the timer. */
static void test_blk_ops_limited_then_timer(void)
{
	const struct rate_limiter_config rl = { .ops = { .size = 2, .refill_time_ms = 1000 } };
	struct blk_env e;

	CHECK_EQ(blk_env_open(&e, &rl), 0);
	for (unsigned int i = 0; i < 3; i++)
		blk_post(&e, i, VIRTIO_BLK_T_IN, i);
	virtio_dev_queue_notify(&e.blk.vdev, 0);
	CHECK_EQ(blk_used(&e), 2);
	CHECK_EQ(blk_status(&e, 2), 0xff);        /* not answered, not failed */
	CHECK(rate_limiter_blocked(&e.blk.rl));
	/* The guest kicks again: nothing more until the tokens are back. */
	virtio_dev_queue_notify(&e.blk.vdev, 0);
	CHECK_EQ(blk_used(&e), 0);
	timer_fires(&e.blk.rl, 500);
	CHECK_EQ(blk_used(&e), 1);
	CHECK_EQ(blk_status(&e, 2), VIRTIO_BLK_S_OK);
	CHECK_EQ(((u8 *)fake_hva(&e.drv, DATA(2)))[0], 'a');
	CHECK(!(e.blk.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET));
	blk_env_close(&e);
}

/* 1 KiB a second: reads take their bytes, a flush only its op. */
static void test_blk_bytes_limited_flush_is_an_op(void)
{
	const struct rate_limiter_config rl = { .bandwidth = { .size = 1024, .refill_time_ms = 1000 } };
	struct blk_env e;

	CHECK_EQ(blk_env_open(&e, &rl), 0);
	blk_post(&e, 0, VIRTIO_BLK_T_IN, 0);
	blk_post(&e, 1, VIRTIO_BLK_T_IN, 1);
	blk_post(&e, 2, VIRTIO_BLK_T_FLUSH, 0);
	blk_post(&e, 3, VIRTIO_BLK_T_IN, 3);
	virtio_dev_queue_notify(&e.blk.vdev, 0);
	CHECK_EQ(blk_used(&e), 3);
	CHECK_EQ(blk_status(&e, 2), VIRTIO_BLK_S_OK);
	CHECK_EQ(blk_status(&e, 3), 0xff);
	timer_fires(&e.blk.rl, 500);
	CHECK_EQ(blk_used(&e), 1);
	CHECK_EQ(blk_status(&e, 3), VIRTIO_BLK_S_OK);
	blk_env_close(&e);
}

/* cache=unsafe offers no flush; writeback (the default) does. */
static void test_blk_cache_unsafe_no_flush(void)
{
	static const enum disk_cache modes[2] = { DISK_CACHE_UNSAFE, DISK_CACHE_WRITEBACK };
	struct fake_driver drv;
	struct virtio_blk b;
	char path[64];

	fake_driver_init(&drv, 8);
	for (unsigned int i = 0; i < 2; i++) {
		struct disk_config cfg = { .cache = modes[i] };
		bool flush;

		/* A file each: a closed image's lock may outlive it a moment (io_uring). */
		CHECK_EQ(make_image(path, 8, 'a'), 0);
		snprintf(cfg.path, sizeof(cfg.path), "%s", path);
		CHECK_EQ(virtio_blk_open(&b, &cfg, 0, &drv.mem, NULL), 0);
		flush = virtio_dev_offered(&b.vdev) & (1ULL << VIRTIO_BLK_F_FLUSH);
		virtio_blk_close(&b);
		unlink(path);
		CHECK_EQ(flush, modes[i] == DISK_CACHE_WRITEBACK);
	}
	fake_driver_free(&drv);
}

/* PATCH /drives: another image (its size told to the guest), other limits. */
static void test_blk_update_swaps_path_and_limits(void)
{
	const struct rate_limiter_config one_op = { .ops = { .size = 1, .refill_time_ms = 1000 } };
	const struct rate_limiter_config none = { 0 };
	struct disk_config swap = { .path = "/nonexistent/arkvm-rl" };
	struct blk_env e;
	u32 gen;

	CHECK_EQ(blk_env_open(&e, &one_op), 0);
	blk_post(&e, 0, VIRTIO_BLK_T_IN, 0);
	blk_post(&e, 1, VIRTIO_BLK_T_IN, 1);
	virtio_dev_queue_notify(&e.blk.vdev, 0);
	CHECK_EQ(blk_used(&e), 1);
	/* A file that cannot be opened: refused, the old one kept. */
	CHECK_EQ(virtio_blk_replace_disk(&e.blk, &swap), -ENOENT);
	CHECK_EQ(le64toh(e.blk.config.capacity), 64);
	gen = atomic_load(&e.blk.vdev.config_generation);
	e.irqs = 0;
	snprintf(swap.path, sizeof(swap.path), "%s", e.path[1]);
	CHECK_EQ(virtio_blk_replace_disk(&e.blk, &swap), 0);
	CHECK_EQ(le64toh(e.blk.config.capacity), 128);
	CHECK(atomic_load(&e.blk.vdev.config_generation) != gen);
	CHECK(atomic_load(&e.blk.vdev.isr) & VIRTIO_ISR_CONFIG);
	CHECK(e.irqs >= 1);
	/* Still limited: the waiting request is not served by the swap. */
	CHECK_EQ(blk_used(&e), 0);
	/* No limit now: it is served at once, from the new image. */
	virtio_blk_set_limits(&e.blk, &none);
	CHECK_EQ(blk_used(&e), 1);
	CHECK_EQ(blk_status(&e, 1), VIRTIO_BLK_S_OK);
	CHECK_EQ(((u8 *)fake_hva(&e.drv, DATA(1)))[0], 'b');
	blk_post(&e, 2, VIRTIO_BLK_T_IN, 100);   /* past the old image's end */
	virtio_dev_queue_notify(&e.blk.vdev, 0);
	CHECK_EQ(blk_used(&e), 1);
	CHECK_EQ(blk_status(&e, 2), VIRTIO_BLK_S_OK);
	blk_env_close(&e);
}

/* --- virtio-net -------------------------------------------------------------- */

#define RX_RING (FAKE_RAM_BASE + 0x0000)
#define TX_RING (FAKE_RAM_BASE + 0x4000)
#define BUF(i)  (FAKE_BUF + (u64)(i) * 0x1000)
#define NET_HDR 12

struct net_env {
	struct fake_driver rx, tx;
	struct virtio_net net;
	struct event_loop loop;
	int host;
	unsigned int irqs;
};

static void net_env_open(struct net_env *e, const struct rate_limiter_config *rx,
			 const struct rate_limiter_config *tx, bool fake_time)
{
	static const u8 mac[6] = { 0x02, 1, 2, 3, 4, 5 };
	struct fake_driver *queues[] = { &e->rx, &e->tx };
	int sv[2];

	memset(e, 0, sizeof(*e));
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv);
	e->host = sv[1];
	event_loop_init(&e->loop);
	fake_driver_init(&e->rx, 8);
	fake_driver_init_queue(&e->tx, &e->rx, TX_RING, 8);
	virtio_net_init(&e->net, sv[0], "test0", mac, &e->rx.mem, &e->loop);
	if (fake_time)
		e->net.rx_rl.clock = e->net.tx_rl.clock = fake_clock;
	virtio_net_set_limits(&e->net, rx, tx);
	e->net.vdev.interrupt = count_irq;
	e->net.vdev.interrupt_opaque = &e->irqs;
	fake_bring_up_queues(&e->net.vdev, 0, queues, 2);
}

static void net_env_close(struct net_env *e)
{
	virtio_net_close(&e->net);
	close(e->host);
	event_loop_destroy(&e->loop);
	fake_driver_free(&e->tx);
	fake_driver_free(&e->rx);
}

/* A packet of @len frame bytes from the guest, in buffer @i. */
static void post_tx(struct net_env *e, unsigned int i, u32 len)
{
	struct fake_seg seg = { BUF(i), NET_HDR + len, false };

	memset(fake_hva(&e->tx, BUF(i)), 0, NET_HDR);
	memset((u8 *)fake_hva(&e->tx, BUF(i)) + NET_HDR, (int)i, len);
	fake_post(&e->tx, &seg, 1, false);
}

static void post_rx(struct net_env *e, unsigned int i)
{
	struct fake_seg seg = { BUF(i), 2048, true };

	fake_post(&e->rx, &seg, 1, false);
}

static void kick(struct net_env *e, unsigned int q)
{
	virtio_mmio_ops.write(&e->net.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, q, 4);
}

static unsigned int host_packets(struct net_env *e)
{
	u8 buf[4096];
	unsigned int n = 0;

	while (read(e->host, buf, sizeof(buf)) > 0)
		n++;
	return n;
}

/* 100 bytes a second out: the second 60-byte frame waits in the ring. */
static void test_net_tx_limited(void)
{
	const struct rate_limiter_config tx = { .bandwidth = { .size = 100, .refill_time_ms = 1000 } };
	const struct rate_limiter_config none = { 0 };
	struct net_env e;
	u32 id, len;

	net_env_open(&e, &none, &tx, true);
	post_tx(&e, 0, 60);
	post_tx(&e, 1, 60);
	kick(&e, 1);
	CHECK_EQ(host_packets(&e), 1);
	CHECK(fake_used(&e.tx, &id, &len));
	CHECK(!fake_used(&e.tx, &id, &len));
	CHECK(rate_limiter_blocked(&e.net.tx_rl));
	timer_fires(&e.net.tx_rl, 200);
	CHECK_EQ(host_packets(&e), 1);
	CHECK(fake_used(&e.tx, &id, &len));
	CHECK_EQ(e.net.tx_packets, 2);
	net_env_close(&e);
}

/* 1 packet a second in: the second waits in the tap, which is not polled meanwhile. */
static void test_net_rx_limited(void)
{
	const struct rate_limiter_config rx = { .ops = { .size = 1, .refill_time_ms = 1000 } };
	const struct rate_limiter_config none = { 0 };
	u8 pkt[NET_HDR + 60] = { 0 };
	struct net_env e;
	u32 id, len;

	net_env_open(&e, &rx, &none, true);
	post_rx(&e, 0);
	post_rx(&e, 1);
	kick(&e, 0);
	CHECK_EQ(write(e.host, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	CHECK_EQ(write(e.host, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	e.net.tap_src.ready(&e.net.tap_src, EPOLLIN);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK(!fake_used(&e.rx, &id, &len));
	CHECK(!e.net.tap_polled);
	timer_fires(&e.net.rx_rl, 1000);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK_EQ(len, sizeof(pkt));
	CHECK_EQ(e.net.rx_packets, 2);
	net_env_close(&e);
}

/* The real timer on the device's loop brings a limited queue back. */
static void test_net_timer_on_loop(void)
{
	const struct rate_limiter_config tx = { .ops = { .size = 1, .refill_time_ms = 20 } };
	const struct rate_limiter_config none = { 0 };
	struct net_env e;
	unsigned int got = 0;

	net_env_open(&e, &none, &tx, false);
	for (unsigned int i = 0; i < 3; i++)
		post_tx(&e, i, 60);
	kick(&e, 1);
	got = host_packets(&e);
	CHECK(got < 3);
	for (int round = 0; round < 100 && got < 3; round++) {
		event_loop_run_once(&e.loop, 100);
		got += host_packets(&e);
	}
	CHECK_EQ(got, 3);
	CHECK_EQ(e.net.tx_packets, 3);
	net_env_close(&e);
}

/* --- virtio-rng -------------------------------------------------------------- */

static void test_rng_limited(void)
{
	const struct rate_limiter_config rl = { .bandwidth = { .size = 64, .refill_time_ms = 1000 } };
	const struct fake_seg a = { FAKE_BUF, 64, true }, b = { FAKE_BUF + 64, 64, true };
	struct fake_driver drv;
	struct virtio_rng rng;
	unsigned int irqs = 0;
	u32 id, len;

	fake_driver_init(&drv, 8);
	memset(&rng, 0, sizeof(rng));
	CHECK_EQ(virtio_rng_init(&rng, &drv.mem, &rl, NULL), 0);
	rng.rl.clock = fake_clock;
	rate_limiter_set(&rng.rl, &rl);
	rng.vdev.interrupt = count_irq;
	rng.vdev.interrupt_opaque = &irqs;
	fake_bring_up(&rng.vdev, FAKE_DESC, 0);
	fake_post(&drv, &a, 1, false);
	fake_post(&drv, &b, 1, false);
	virtio_dev_queue_notify(&rng.vdev, 0);
	CHECK(fake_used(&drv, &id, &len));
	CHECK_EQ(len, 64);
	CHECK(!fake_used(&drv, &id, &len));
	timer_fires(&rng.rl, 1000);
	CHECK(fake_used(&drv, &id, &len));
	CHECK_EQ(len, 64);
	virtio_rng_close(&rng);
	fake_driver_free(&drv);
}

/* --- options and validation ---------------------------------------------------- */

static bool per_second(const struct token_bucket_config *tb, u64 n)
{
	return tb->size == n && tb->refill_time_ms == 1000 && !tb->one_time_burst;
}

static void test_cli_rate_options(void)
{
	static struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "k",
		       "--disk", "a.img,bw=10M,iops=500,cache=unsafe",
		       "--disk", "b.img,bw=4096",
		       "--net", "tap=t0,rx-bw=1K,tx-bw=2000,rx-pps=10,tx-pps=20",
		       "--rng-bw", "64K"), 0);
	CHECK(per_second(&cfg.disks[0].rl.bandwidth, 10ULL << 20));
	CHECK(per_second(&cfg.disks[0].rl.ops, 500));
	CHECK_EQ(cfg.disks[0].cache, DISK_CACHE_UNSAFE);
	CHECK(per_second(&cfg.disks[1].rl.bandwidth, 4096));   /* a bare number is bytes */
	CHECK(!token_bucket_config_set(&cfg.disks[1].rl.ops));
	CHECK_EQ(cfg.disks[1].cache, DISK_CACHE_WRITEBACK);
	CHECK(per_second(&cfg.nets[0].rx_rl.bandwidth, 1024));
	CHECK(per_second(&cfg.nets[0].tx_rl.bandwidth, 2000));
	CHECK(per_second(&cfg.nets[0].rx_rl.ops, 10));
	CHECK(per_second(&cfg.nets[0].tx_rl.ops, 20));
	CHECK(per_second(&cfg.rng_rl.bandwidth, 64 * 1024));

	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--disk", "a.img,bw=0"));
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--disk", "a.img,bw=1X"));
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--disk", "a.img,iops=1K"));
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--disk", "a.img,cache=none"));
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--disk", "a.img,format=vmdk"));
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--disk", "a.img,ephemeral,readonly"));
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--disk", "a.qcow2,format=qcow2",
		       "--disk", "b.img,ephemeral", "--disk", "c.img,format=raw"), 0);
	CHECK(cfg.disks[0].format == DISK_FORMAT_QCOW2 && !cfg.disks[0].ephemeral);
	CHECK(cfg.disks[1].format == DISK_FORMAT_AUTO && cfg.disks[1].ephemeral);
	CHECK_EQ(cfg.disks[2].format, DISK_FORMAT_RAW);
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--net", "tap=t0,rx-bw="));
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--rng-bw", "-1"));
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "k", "--net", "tap=t0,vhost,tx-bw=1M"));
}

#define REFUSED(cfg, want_field, want_text)                                    \
	do {                                                                   \
		struct vm_config_error __e = { 0 };                            \
		CHECK_EQ(vm_config_validate(cfg, &__e), -EINVAL);              \
		CHECK(__e.field && !strcmp(__e.field, want_field));            \
		CHECK(strstr(__e.msg, want_text));                             \
	} while (0)

static void test_validation_refusals(void)
{
	static struct vm_config cfg;
	struct token_bucket_config *tb;
	struct vm_config_error err;

	vm_config_init(&cfg);
	VM_CONFIG_SET(cfg.kernel, "k");
	VM_CONFIG_SET(vm_config_add_disk(&cfg)->path, "a.img");
	tb = &cfg.disks[0].rl.bandwidth;
	*tb = (struct token_bucket_config){ .size = 1000 };
	REFUSED(&cfg, "disk", "refill_time");
	*tb = (struct token_bucket_config){ .refill_time_ms = 1000 };
	REFUSED(&cfg, "disk", "size");
	*tb = (struct token_bucket_config){ .size = 1, .refill_time_ms = RL_MAX_REFILL_MS + 1 };
	REFUSED(&cfg, "disk", "hour");
	*tb = (struct token_bucket_config){ .size = RL_MAX_SIZE + 1, .refill_time_ms = 1 };
	REFUSED(&cfg, "disk", "size");
	*tb = (struct token_bucket_config){ .one_time_burst = 5 };
	REFUSED(&cfg, "disk", "one_time_burst");
	*tb = (struct token_bucket_config){ .size = 1, .refill_time_ms = RL_MAX_REFILL_MS,
					    .one_time_burst = UINT64_MAX };
	CHECK_EQ(vm_config_validate(&cfg, &err), 0);
	*tb = (struct token_bucket_config){ 0 };
	CHECK_EQ(vm_config_validate(&cfg, &err), 0);

	VM_CONFIG_SET(vm_config_add_net(&cfg)->tap, "tap0");
	cfg.nets[0].vhost = true;
	cfg.nets[0].tx_rl.ops = (struct token_bucket_config){ .size = 10, .refill_time_ms = 1000 };
	REFUSED(&cfg, "net", "not vhost");
	cfg.nets[0].vhost = false;
	CHECK_EQ(vm_config_validate(&cfg, &err), 0);
	cfg.nets[0].rx_rl.ops.size = 3;
	REFUSED(&cfg, "net", "rx rate limiter");

	cfg.nets[0].rx_rl.ops.size = 0;
	cfg.rng_rl.bandwidth.refill_time_ms = 7;
	REFUSED(&cfg, "rng-bw", "size");
}

TEST_SUITE(rl_devices,
	   TEST(test_blk_ops_limited_then_timer),
	   TEST(test_blk_bytes_limited_flush_is_an_op),
	   TEST(test_blk_cache_unsafe_no_flush),
	   TEST(test_blk_update_swaps_path_and_limits),
	   TEST(test_net_tx_limited),
	   TEST(test_net_rx_limited),
	   TEST(test_net_timer_on_loop),
	   TEST(test_rng_limited),
	   TEST(test_cli_rate_options),
	   TEST(test_validation_refusals));
