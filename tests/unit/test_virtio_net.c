// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net against a fake driver, with a SOCK_SEQPACKET socketpair in
 * place of the tap: both keep packet boundaries, and the test holds the
 * other end, as the host's network stack would.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/net_tap.h"
#include "fake_driver.h"
#include "test.h"
#include "virtio_devices.h"

#define RX_RING (FAKE_RAM_BASE + 0x0000)
#define TX_RING (FAKE_RAM_BASE + 0x4000)
#define BUF(i)  (FAKE_BUF + (u64)(i) * 0x1000)
#define HDR_LEN 12

struct net_env {
	struct fake_driver rx, tx;
	struct virtio_net net;
	struct event_loop loop;
	int host;                /* our end of the "tap" */
	unsigned int interrupts;
};

static void count_interrupt(void *opaque)
{
	((struct net_env *)opaque)->interrupts++;
}

static const u8 test_mac[6] = { 0x02, 1, 2, 3, 4, 5 };

/* The socketpair and the driver's RAM; returns the device's end. */
static int net_env_init(struct net_env *e)
{
	int sv[2];

	memset(e, 0, sizeof(*e));
	socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv);
	e->host = sv[1];
	event_loop_init(&e->loop);
	fake_driver_init(&e->rx, 8);
	fake_driver_init_queue(&e->tx, &e->rx, TX_RING, 8);
	return sv[0];
}

static void net_bring_up(struct net_env *e, u64 features)
{
	struct fake_driver *queues[] = { &e->rx, &e->tx };

	e->net.vdev.interrupt = count_interrupt;
	e->net.vdev.interrupt_opaque = e;
	fake_bring_up_queues(&e->net.vdev, features, queues, 2);
}

static void net_setup(struct net_env *e, u64 features)
{
	int fd = net_env_init(e);

	CHECK_EQ(virtio_net_init(&e->net, fd, "test0", test_mac, &e->rx.mem, &e->loop), 0);
	net_bring_up(e, features);
}

/* The same on a socket backend that can do only @caps. */
static void net_setup_caps(struct net_env *e, u64 features, u32 caps)
{
	struct net_backend be;
	int fd = net_env_init(e);

	CHECK_EQ(net_socket_backend(&be, fd, "test0", caps), 0);
	CHECK_EQ(virtio_net_attach(&e->net, &be, test_mac, &e->rx.mem, &e->loop), 0);
	net_bring_up(e, features);
}

static void net_teardown(struct net_env *e)
{
	virtio_net_close(&e->net);
	close(e->host);
	event_loop_destroy(&e->loop);
	fake_driver_free(&e->tx);
	fake_driver_free(&e->rx);
}

static void kick(struct net_env *e, unsigned int q)
{
	virtio_mmio_ops.write(&e->net.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, q, 4);
}

static void tap_readable(struct net_env *e)
{
	e->net.tap_src.ready(&e->net.tap_src, EPOLLIN);
}

static void post_rx(struct net_env *e, unsigned int i, u32 len)
{
	struct fake_seg seg = { BUF(i), len, true };

	fake_post(&e->rx, &seg, 1, false);
}

static u16 num_buffers(struct net_env *e, unsigned int i)
{
	u16 v;

	memcpy(&v, (u8 *)fake_hva(&e->rx, BUF(i)) + 10, 2);
	return le16toh(v);
}

static void test_config(void)
{
	struct net_env e;
	u8 mac[6], again[6];

	net_setup(&e, 0);
	CHECK_EQ(e.net.vdev.status, 0x0f);
	CHECK_EQ(virtio_mmio_ops.read(&e.net.vdev, VIRTIO_MMIO_DEVICE_ID, 4), 1);
	CHECK_EQ(virtio_mmio_ops.read(&e.net.vdev, VIRTIO_MMIO_CONFIG + 5, 1), 5);   /* mac[5] */
	CHECK_EQ(virtio_mmio_ops.read(&e.net.vdev, VIRTIO_MMIO_CONFIG + 6, 2), 1);   /* link up */
	net_teardown(&e);

	virtio_net_default_mac("tap0", mac);
	virtio_net_default_mac("tap0", again);
	CHECK(!memcmp(mac, again, 6));
	CHECK_EQ(mac[0], 0x02);        /* locally administered unicast */
	virtio_net_default_mac("tap1", again);
	CHECK(memcmp(mac, again, 6));
}

static void test_tx_packet_reaches_tap(void)
{
	struct net_env e;
	u8 pkt[HDR_LEN + 100], got[256];
	struct fake_seg segs[] = { { BUF(0), HDR_LEN, false }, { BUF(1), 100, false } };
	u32 id, len;

	net_setup(&e, 0);
	for (unsigned int i = 0; i < sizeof(pkt); i++)
		pkt[i] = (u8)(i * 7);
	memcpy(fake_hva(&e.tx, BUF(0)), pkt, HDR_LEN);
	memcpy(fake_hva(&e.tx, BUF(1)), pkt + HDR_LEN, 100);
	fake_post(&e.tx, segs, 2, false);
	kick(&e, 1);
	CHECK_EQ(read(e.host, got, sizeof(got)), (ssize_t)sizeof(pkt));
	CHECK(!memcmp(got, pkt, sizeof(pkt)));
	CHECK(fake_used(&e.tx, &id, &len));
	CHECK_EQ(len, 0);
	CHECK_EQ(e.interrupts, 1);
	CHECK_EQ(e.net.tx_packets, 1);
	net_teardown(&e);
}

static void test_rx_merges_buffers(void)
{
	struct net_env e;
	u8 pkt[1500];
	u32 id, len;

	/* MTU-sized frames need 1530 bytes: two 1 KiB buffers. */
	net_setup(&e, 1ULL << VIRTIO_NET_F_MRG_RXBUF);
	for (unsigned int i = 0; i < sizeof(pkt); i++)
		pkt[i] = (u8)i;
	memset(pkt, 0, HDR_LEN);
	post_rx(&e, 0, 1024);
	post_rx(&e, 1, 1024);
	post_rx(&e, 2, 1024);
	kick(&e, 0);
	CHECK_EQ(write(e.host, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	tap_readable(&e);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK_EQ(id, 0);
	CHECK_EQ(len, 1024);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK_EQ(id, 1);
	CHECK_EQ(len, 1500 - 1024);
	CHECK(!fake_used(&e.rx, &id, &len));
	CHECK_EQ(num_buffers(&e, 0), 2);
	CHECK(!memcmp((u8 *)fake_hva(&e.rx, BUF(0)) + HDR_LEN, pkt + HDR_LEN, 1024 - HDR_LEN));
	CHECK(!memcmp(fake_hva(&e.rx, BUF(1)), pkt + 1024, 1500 - 1024));
	CHECK(e.interrupts >= 1);
	CHECK_EQ(e.net.rx_packets, 1);
	net_teardown(&e);
}

static void test_rx_one_chain_per_packet(void)
{
	struct net_env e;
	u8 pkt[HDR_LEN + 60] = { 0 };
	u32 id, len;

	net_setup(&e, 0);
	post_rx(&e, 0, 2048);
	post_rx(&e, 1, 2048);
	kick(&e, 0);
	CHECK_EQ(write(e.host, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	CHECK_EQ(write(e.host, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	tap_readable(&e);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK_EQ(len, sizeof(pkt));
	CHECK_EQ(num_buffers(&e, 0), 1);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK_EQ(id, 1);
	CHECK_EQ(num_buffers(&e, 1), 1);
	net_teardown(&e);
}

static void test_rx_waits_for_buffers(void)
{
	struct net_env e;
	u8 pkt[HDR_LEN + 60] = { 0 };
	u32 id, len;

	net_setup(&e, 0);
	CHECK_EQ(write(e.host, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	tap_readable(&e);
	/* No buffers: the tap is left alone until the guest posts some. */
	CHECK(!e.net.tap_polled);
	CHECK(!fake_used(&e.rx, &id, &len));
	post_rx(&e, 0, 2048);
	post_rx(&e, 1, 2048);
	kick(&e, 0);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK_EQ(len, sizeof(pkt));
	/* A buffer is left: the tap is polled for the next packet. */
	CHECK(e.net.tap_polled);
	net_teardown(&e);
}

static void test_malformed_chains_need_reset(void)
{
	struct net_env e;
	struct fake_seg shortpkt = { BUF(0), 4, false };
	struct fake_seg readable = { BUF(1), 2048, false };
	u8 pkt[HDR_LEN + 60] = { 0 };

	/* A packet without its header. */
	net_setup(&e, 0);
	fake_post(&e.tx, &shortpkt, 1, false);
	kick(&e, 1);
	CHECK(e.net.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	net_teardown(&e);

	/* A receive buffer the device could only read. */
	net_setup(&e, 0);
	fake_post(&e.rx, &readable, 1, false);
	CHECK_EQ(write(e.host, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	kick(&e, 0);
	CHECK(e.net.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* The tap is not read for a broken device. */
	tap_readable(&e);
	CHECK(!e.net.tap_polled);
	net_teardown(&e);
}

static void test_gso_needs_checksum(void)
{
	struct net_env e;

	net_setup(&e, 1ULL << VIRTIO_NET_F_GUEST_TSO4);
	CHECK(!(e.net.vdev.status & VIRTIO_CONFIG_S_FEATURES_OK));
	net_teardown(&e);
}

static u64 offered(struct net_env *e)
{
	u64 f;

	virtio_mmio_ops.write(&e->net.vdev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1, 4);
	f = (u64)virtio_mmio_ops.read(&e->net.vdev, VIRTIO_MMIO_DEVICE_FEATURES, 4) << 32;
	virtio_mmio_ops.write(&e->net.vdev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0, 4);
	return f | virtio_mmio_ops.read(&e->net.vdev, VIRTIO_MMIO_DEVICE_FEATURES, 4);
}

#define NF(bit) (1ULL << VIRTIO_NET_F_##bit)
#define ALL_OFFLOADS (NF(CSUM) | NF(GUEST_CSUM) | NF(GUEST_TSO4) | NF(GUEST_TSO6) |      \
		      NF(GUEST_ECN) | NF(GUEST_UFO) | NF(HOST_TSO4) | NF(HOST_TSO6) |       \
		      NF(HOST_ECN) | NF(HOST_UFO) | NF(CTRL_GUEST_OFFLOADS))

/* The device offers what its backend can do: no capability, no feature. */
static void test_features_follow_backend(void)
{
	struct net_env e;
	struct net_backend be;

	net_setup(&e, 0); /* a tap's capabilities */
	CHECK((offered(&e) & (NF(CSUM) | NF(GUEST_CSUM) | NF(HOST_TSO4) | NF(GUEST_TSO4))) ==
	      (NF(CSUM) | NF(GUEST_CSUM) | NF(HOST_TSO4) | NF(GUEST_TSO4)));
	net_teardown(&e);

	/* The header but no offloads. */
	net_setup_caps(&e, 0, NET_CAP_VNET_HDR | NET_CAP_MRG_RXBUF);
	CHECK(!(offered(&e) & ALL_OFFLOADS));
	CHECK(offered(&e) & NF(MRG_RXBUF));
	CHECK(offered(&e) & NF(MAC));
	net_teardown(&e);

	/* Checksums but no segmentation. */
	net_setup_caps(&e, 0, NET_CAP_VNET_HDR | NET_CAP_CSUM);
	CHECK_EQ(offered(&e) & ALL_OFFLOADS, NF(CSUM) | NF(GUEST_CSUM));
	CHECK(!(offered(&e) & NF(MRG_RXBUF)));
	net_teardown(&e);

	/* Frames without the header (passt): nothing to carry offloads in. */
	net_setup_caps(&e, 0, NET_CAP_MRG_RXBUF);
	CHECK(!(offered(&e) & ALL_OFFLOADS));
	net_teardown(&e);
	CHECK_EQ(net_socket_backend(&be, -1, "x", NET_CAP_CSUM | NET_CAP_GSO), -EINVAL);

	/* A driver that asks for an offload not offered does not get it. */
	net_setup_caps(&e, NF(GUEST_CSUM) | NF(CSUM), NET_CAP_VNET_HDR);
	CHECK(!(e.net.vdev.accepted & (NF(GUEST_CSUM) | NF(CSUM))));
	net_teardown(&e);
}

/*
 * A backend without the virtio-net header sees bare frames: the guest's
 * header is dropped on transmit, and on receive the device writes a plain
 * one (no offload, num_buffers) before the frame.
 */
static void test_frames_without_header(void)
{
	struct net_env e;
	struct fake_seg segs[] = { { BUF(0), HDR_LEN, false }, { BUF(1), 60, false } };
	u8 frame[60], got[256], hdr[HDR_LEN];
	u32 id, len;

	for (unsigned int i = 0; i < sizeof(frame); i++)
		frame[i] = (u8)(i + 1);
	net_setup_caps(&e, NF(MRG_RXBUF), NET_CAP_MRG_RXBUF);
	memset(fake_hva(&e.tx, BUF(0)), 0, HDR_LEN);
	memcpy(fake_hva(&e.tx, BUF(1)), frame, sizeof(frame));
	fake_post(&e.tx, segs, 2, false);
	kick(&e, 1);
	CHECK_EQ(read(e.host, got, sizeof(got)), (ssize_t)sizeof(frame));
	CHECK(!memcmp(got, frame, sizeof(frame)));
	CHECK_EQ(e.net.tx_packets, 1);

	/* The header lands at the start of a buffer, the frame right after it. */
	post_rx(&e, 2, 1024);
	post_rx(&e, 3, 1024);
	kick(&e, 0);
	memset(fake_hva(&e.rx, BUF(2)), 0xee, HDR_LEN);
	CHECK_EQ(write(e.host, frame, sizeof(frame)), (ssize_t)sizeof(frame));
	tap_readable(&e);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK_EQ(len, HDR_LEN + sizeof(frame));
	memcpy(hdr, fake_hva(&e.rx, BUF(2)), HDR_LEN);
	CHECK_EQ(hdr[0], 0);                         /* flags: no checksum to finish */
	CHECK_EQ(hdr[1], VIRTIO_NET_HDR_GSO_NONE);
	CHECK_EQ(num_buffers(&e, 2), 1);
	CHECK(!memcmp((u8 *)fake_hva(&e.rx, BUF(2)) + HDR_LEN, frame, sizeof(frame)));
	CHECK_EQ(e.net.rx_packets, 1);
	net_teardown(&e);
}

/*
 * Pause: after virtio_net_quiesce() nothing the backend sends reaches the
 * guest's buffers and nothing the guest posts is sent, even if the loop
 * still reports the socket readable; virtio_net_resume() then serves both.
 */
static void test_quiesce_holds_packets(void)
{
	struct net_env e;
	struct fake_seg segs[] = { { BUF(4), HDR_LEN + 40, false } };
	u8 pkt[HDR_LEN + 60], got[256];
	u32 id, len;

	for (unsigned int i = 0; i < sizeof(pkt); i++)
		pkt[i] = (u8)(i * 3);
	memset(pkt, 0, HDR_LEN);
	net_setup(&e, 0);
	post_rx(&e, 0, 2048);
	post_rx(&e, 1, 2048);
	kick(&e, 0);
	CHECK(e.net.tap_polled);

	CHECK_EQ(virtio_net_quiesce(&e.net), 0);
	CHECK(!e.net.tap_polled);
	CHECK_EQ(write(e.host, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	tap_readable(&e);
	kick(&e, 0);
	memset(fake_hva(&e.tx, BUF(4)), 0x5a, HDR_LEN + 40);
	fake_post(&e.tx, segs, 1, false);
	kick(&e, 1);
	CHECK(!fake_used(&e.rx, &id, &len));
	CHECK(!fake_used(&e.tx, &id, &len));
	CHECK_EQ(read(e.host, got, sizeof(got)), -1);
	CHECK_EQ(e.net.rx_packets + e.net.tx_packets, 0);
	CHECK_EQ(virtio_net_quiesce(&e.net), 0); /* again: no change */

	virtio_net_resume(&e.net);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK_EQ(id, 0);
	CHECK_EQ(len, sizeof(pkt));
	CHECK(!memcmp((u8 *)fake_hva(&e.rx, BUF(0)) + HDR_LEN, pkt + HDR_LEN,
		      sizeof(pkt) - HDR_LEN));
	CHECK(fake_used(&e.tx, &id, &len));
	CHECK_EQ(read(e.host, got, sizeof(got)), HDR_LEN + 40);
	CHECK_EQ(got[HDR_LEN], 0x5a);
	/* A buffer is left: the socket is polled again for the next packet. */
	CHECK(e.net.tap_polled);
	virtio_net_resume(&e.net); /* again: no change */
	CHECK(e.net.tap_polled);
	net_teardown(&e);
}

/*
 * --stats on a vhost-net NIC counts packets from the tap's sysfs counters:
 * loopback's stand in for a tap's (a packet to 127.0.0.1 counts once each
 * way). A tap with no counters gives no figure rather than a wrong one.
 */
static void test_vhost_counts_from_the_tap(void)
{
	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct tap_counters c;
	socklen_t len = sizeof(lo);
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
	u64 moved[2];
	char byte = 1;

	if (access("/sys/class/net/lo/statistics/rx_packets", R_OK)) {
		printf("      (no /sys/class/net/lo here: nothing to count)\n");
		close(rx);
		close(tx);
		return;
	}
	CHECK(!bind(rx, (struct sockaddr *)&lo, sizeof(lo)));
	CHECK(!getsockname(rx, (struct sockaddr *)&lo, &len));
	tap_counters_init(&c);
	tap_counters_start(&c, "lo");
	CHECK(c.start[0] >= 0 && c.start[1] >= 0);
	CHECK_EQ(sendto(tx, &byte, 1, 0, (struct sockaddr *)&lo, sizeof(lo)), 1);
	CHECK_EQ(recv(rx, &byte, 1, 0), 1);
	CHECK(tap_counters_read(&c, moved));
	CHECK(moved[0] >= 1 && moved[1] >= 1);
	/* Read once: the end's descriptors are spent. */
	CHECK(!tap_counters_read(&c, moved));
	tap_counters_close(&c);
	CHECK_EQ(c.end_fd[0], -1);

	tap_counters_start(&c, "arkvm-none0");
	CHECK(!tap_counters_read(&c, moved));
	tap_counters_close(&c);
	close(rx);
	close(tx);
}

TEST_SUITE(virtio_net,
	   TEST(test_config),
	   TEST(test_tx_packet_reaches_tap),
	   TEST(test_rx_merges_buffers),
	   TEST(test_rx_one_chain_per_packet),
	   TEST(test_rx_waits_for_buffers),
	   TEST(test_malformed_chains_need_reset),
	   TEST(test_gso_needs_checksum),
	   TEST(test_features_follow_backend),
	   TEST(test_frames_without_header),
	   TEST(test_quiesce_holds_packets),
	   TEST(test_vhost_counts_from_the_tap));
