// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock against a fake driver on its three queues, with real unix
 * sockets for the host side.  There is no event loop: each test calls the
 * handlers the loop would (an accept, a socket ready) where a host program
 * acted, and asserts on what the guest and the host program see.
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
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "device.h"
#include "fake_driver.h"
#include "fc_config.h"
#include "state.h"
#include "test.h"
#include "virtio_vsock.h"
#include "vmm.h"

#define RX_RING  (FAKE_RAM_BASE + 0x0000)
#define TX_RING  (FAKE_RAM_BASE + 0x4000)
#define EVT_RING (FAKE_RAM_BASE + 0x8000)
#define RX_BUF(i) (FAKE_BUF + (u64)(i) * 0x1000)
#define RX_BUF_LEN 0x1000
#define TX_BUF   (FAKE_BUF + 0x40000)   /* room for a header and 64 KiB */
#define GUEST_CID 3
#define GUEST_PORT 40000

struct vsock_env {
	struct fake_driver rx, tx, evt;
	struct virtio_vsock *vs;
	char dir[48];
	char path[80];
	u64 rx_gpa[64];      /* by descriptor head */
};

static void no_interrupt(void *opaque)
{
}

static void env_setup(struct vsock_env *e)
{
	struct fake_driver *queues[] = { &e->rx, &e->tx, &e->evt };

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/arkvm-vsock-XXXXXX");
	if (!mkdtemp(e->dir))
		abort();
	snprintf(e->path, sizeof(e->path), "%s/v.sock", e->dir);
	fake_driver_init(&e->rx, 64);
	fake_driver_init_queue(&e->tx, &e->rx, TX_RING, 64);
	fake_driver_init_queue(&e->evt, &e->rx, EVT_RING, 64);
	e->vs = calloc(1, sizeof(*e->vs));
	if (!e->vs || virtio_vsock_init(e->vs, GUEST_CID, e->path, &e->rx.mem, NULL))
		abort();
	e->vs->vdev.interrupt = no_interrupt;
	fake_bring_up_queues(&e->vs->vdev, 0, queues, 3);
}

static void env_teardown(struct vsock_env *e)
{
	char cmd[96];

	virtio_vsock_close(e->vs);
	free(e->vs);
	fake_driver_free(&e->evt);
	fake_driver_free(&e->tx);
	fake_driver_free(&e->rx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", e->dir);
	if (system(cmd))
		perror("rm");
}

static void kick(struct vsock_env *e, unsigned int q)
{
	virtio_mmio_ops.write(&e->vs->vdev, VIRTIO_MMIO_QUEUE_NOTIFY, q, 4);
}

/* Gives the device @n receive buffers. */
static void post_rx(struct vsock_env *e, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		u16 head = e->rx.next_desc;
		struct fake_seg seg = { RX_BUF(head), RX_BUF_LEN, true };

		e->rx_gpa[fake_post(&e->rx, &seg, 1, false)] = RX_BUF(head);
	}
	kick(e, 0);
}

/* The guest sends one packet: header and @len bytes of @data, in one buffer. */
static void send_raw(struct vsock_env *e, const struct virtio_vsock_hdr *h, const void *data,
		     u32 len, u32 buf_len)
{
	struct fake_seg seg = { TX_BUF, buf_len, false };

	memcpy(fake_hva(&e->tx, TX_BUF), h, sizeof(*h));
	if (len)
		memcpy((u8 *)fake_hva(&e->tx, TX_BUF) + sizeof(*h), data, len);
	fake_post(&e->tx, &seg, 1, false);
	kick(e, 1);
}

static struct virtio_vsock_hdr guest_hdr(u32 host_port, u16 op, u32 len, u32 buf_alloc,
					 u32 fwd_cnt)
{
	return (struct virtio_vsock_hdr){
		.src_cid = htole64(GUEST_CID), .dst_cid = htole64(VSOCK_HOST_CID),
		.src_port = htole32(GUEST_PORT), .dst_port = htole32(host_port),
		.len = htole32(len), .type = htole16(VIRTIO_VSOCK_TYPE_STREAM), .op = htole16(op),
		.buf_alloc = htole32(buf_alloc), .fwd_cnt = htole32(fwd_cnt),
	};
}

static void send_op(struct vsock_env *e, u32 host_port, u16 op, u32 flags, u32 buf_alloc,
		    u32 fwd_cnt)
{
	struct virtio_vsock_hdr h = guest_hdr(host_port, op, 0, buf_alloc, fwd_cnt);

	h.flags = htole32(flags);
	send_raw(e, &h, NULL, 0, sizeof(h));
}

static void send_data(struct vsock_env *e, u32 host_port, const void *data, u32 len,
		      u32 fwd_cnt)
{
	struct virtio_vsock_hdr h = guest_hdr(host_port, VIRTIO_VSOCK_OP_RW, len, 4096, fwd_cnt);

	send_raw(e, &h, data, len, (u32)sizeof(h) + len);
}

/* The next packet the guest received: true with its header and payload. */
static bool recv_pkt(struct vsock_env *e, struct virtio_vsock_hdr *h, void *data, u32 size)
{
	u32 id, len;
	u8 *buf;

	if (!fake_used(&e->rx, &id, &len))
		return false;
	buf = fake_hva(&e->rx, e->rx_gpa[id]);
	memcpy(h, buf, sizeof(*h));
	if (len != sizeof(*h) + le32toh(h->len) || le32toh(h->len) > size)
		return false;
	memcpy(data, buf + sizeof(*h), le32toh(h->len));
	return true;
}

/* A host program listening for the guest's connections to @port. */
static int host_listen(struct vsock_env *e, u32 port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", e->path, port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8))
		abort();
	return fd;
}

static int host_connect(struct vsock_env *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	return fd;
}

static void test_request_nobody_listens_gets_rst(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	u8 data[16];

	env_setup(&e);
	CHECK_EQ(le64toh(e.vs->config.guest_cid), GUEST_CID);
	post_rx(&e, 4);
	send_op(&e, 1234, VIRTIO_VSOCK_OP_REQUEST, 0, 4096, 0);
	CHECK(recv_pkt(&e, &h, data, sizeof(data)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
	CHECK_EQ(le32toh(h.src_port), 1234);
	CHECK_EQ(le32toh(h.dst_port), GUEST_PORT);
	CHECK_EQ(le64toh(h.dst_cid), GUEST_CID);
	CHECK_EQ(le64toh(h.src_cid), VSOCK_HOST_CID);
	env_teardown(&e);
}

/* The guest connects to a listening host port: RESPONSE, and the host program's socket. */
static int guest_connects(struct vsock_env *e, u32 port, u32 buf_alloc, int *lfd)
{
	struct virtio_vsock_hdr h;
	u8 data[16];

	*lfd = host_listen(e, port);
	send_op(e, port, VIRTIO_VSOCK_OP_REQUEST, 0, buf_alloc, 0);
	if (!recv_pkt(e, &h, data, sizeof(data)) || le16toh(h.op) != VIRTIO_VSOCK_OP_RESPONSE ||
	    le32toh(h.buf_alloc) != VSOCK_BUF_ALLOC)
		return -1;
	return accept4(*lfd, NULL, NULL, SOCK_NONBLOCK);
}

static void test_guest_connect_relays_both_ways(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[16] = { 0 };
	int lfd, fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = guest_connects(&e, 5000, 4096, &lfd);
	CHECK(fd >= 0);
	send_data(&e, 5000, "hello", 5, 0);
	CHECK_EQ(read(fd, got, sizeof(got)), 5);
	CHECK(!memcmp(got, "hello", 5));
	CHECK_EQ(write(fd, "world", 5), 5);
	virtio_vsock_host_ready(e.vs, 5000, GUEST_PORT, EPOLLIN);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	CHECK_EQ(le32toh(h.len), 5);
	CHECK(!memcmp(got, "world", 5));
	/* Firecracker's vsock metrics: rx is to the guest, tx from it. */
	CHECK_EQ(e.vs->metrics.tx_bytes_count.total, 5);
	CHECK_EQ(e.vs->metrics.tx_packets_count.total, 2);   /* REQUEST, RW */
	CHECK_EQ(e.vs->metrics.rx_bytes_count.total, 5);
	CHECK_EQ(e.vs->metrics.rx_packets_count.total, 2);   /* RESPONSE, RW */
	CHECK_EQ(e.vs->metrics.conns_added.total, 1);
	close(fd);
	close(lfd);
	env_teardown(&e);
}

/* The guest said it has room for 10 bytes: it gets 10, then more as it frees room. */
static void test_credit_bounds_what_the_guest_gets(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char big[100], got[128];
	int lfd, fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = guest_connects(&e, 5001, 10, &lfd);
	CHECK(fd >= 0);
	memset(big, 'x', sizeof(big));
	CHECK_EQ(write(fd, big, sizeof(big)), sizeof(big));
	virtio_vsock_host_ready(e.vs, 5001, GUEST_PORT, EPOLLIN);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le32toh(h.len), 10);
	virtio_vsock_host_ready(e.vs, 5001, GUEST_PORT, EPOLLIN);
	CHECK(!recv_pkt(&e, &h, got, sizeof(got)));   /* no credit: nothing */
	/* The guest's application read them: a credit update brings 10 more. */
	send_op(&e, 5001, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 10, 10);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	CHECK_EQ(le32toh(h.len), 10);
	CHECK(!recv_pkt(&e, &h, got, sizeof(got)));
	close(fd);
	close(lfd);
	env_teardown(&e);
}

/* No receive buffer: the host's bytes wait in its socket until one comes. */
static void test_host_data_waits_for_receive_buffers(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[16];
	int lfd, fd;

	env_setup(&e);
	post_rx(&e, 1);
	fd = guest_connects(&e, 5002, 4096, &lfd);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "late", 4), 4);
	virtio_vsock_host_ready(e.vs, 5002, GUEST_PORT, EPOLLIN);
	CHECK(!recv_pkt(&e, &h, got, sizeof(got)));
	post_rx(&e, 1);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le32toh(h.len), 4);
	CHECK(!memcmp(got, "late", 4));
	close(fd);
	close(lfd);
	env_teardown(&e);
}

/* A guest that sends past the 256 KiB arkvm gave it, to a host that reads nothing. */
static void test_guest_past_our_credit_gets_rst(void)
{
	static u8 chunk[VSOCK_MAX_PKT];
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[16];
	bool rst = false;
	int lfd, fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = guest_connects(&e, 5003, 4096, &lfd);
	CHECK(fd >= 0);
	for (unsigned int i = 0; i < 16 && !rst; i++) {
		send_data(&e, 5003, chunk, sizeof(chunk), 0);
		while (recv_pkt(&e, &h, got, sizeof(got)))
			rst |= le16toh(h.op) == VIRTIO_VSOCK_OP_RST;
	}
	CHECK(rst);
	/* The host program sees its connection end after what was forwarded. */
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		CHECK(n >= 0);
		if (!n)
			break;
	}
	close(fd);
	close(lfd);
	env_teardown(&e);
}

static void test_host_connect_handshake(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[32] = { 0 };
	u32 local;
	int fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = host_connect(&e);
	virtio_vsock_accept(e.vs);
	CHECK_EQ(write(fd, "CONNECT 52\n", 11), 11);
	virtio_vsock_host_ready(e.vs, 0, 0, EPOLLIN);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	CHECK_EQ(le32toh(h.dst_port), 52);
	local = le32toh(h.src_port);
	/* The guest accepts: the host program hears which port it got. */
	h = guest_hdr(local, VIRTIO_VSOCK_OP_RESPONSE, 0, 4096, 0);
	h.src_port = htole32(52);
	send_raw(&e, &h, NULL, 0, sizeof(h));
	snprintf(got, sizeof(got), "OK %u\n", local);
	{
		char line[32] = { 0 };

		CHECK_EQ(read(fd, line, sizeof(line)), strlen(got));
		CHECK(!strcmp(line, got));
	}
	close(fd);
	env_teardown(&e);
}

/*
 * Port 0 is a port like any other to connect to; the new connection must
 * not find itself while it picks its local port (it looped: fuzzing).
 */
static void test_host_connect_to_port_zero(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[32];
	int fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = host_connect(&e);
	virtio_vsock_accept(e.vs);
	CHECK_EQ(write(fd, "CONNECT 0\n", 10), 10);
	virtio_vsock_host_ready(e.vs, 0, 0, EPOLLIN);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	CHECK_EQ(le32toh(h.dst_port), 0);
	close(fd);
	env_teardown(&e);
}

static void test_host_connect_refused_by_guest(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[32];
	int fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = host_connect(&e);
	virtio_vsock_accept(e.vs);
	CHECK_EQ(write(fd, "CONNECT 53\n", 11), 11);
	virtio_vsock_host_ready(e.vs, 0, 0, EPOLLIN);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	h = guest_hdr(le32toh(h.src_port), VIRTIO_VSOCK_OP_RST, 0, 0, 0);
	h.src_port = htole32(53);
	send_raw(&e, &h, NULL, 0, sizeof(h));
	CHECK_EQ(read(fd, got, sizeof(got)), 0);  /* closed, no OK */
	close(fd);
	env_teardown(&e);
}

/*
 * A host program waits at most VSOCK_CONNECT_TIMEOUT_NS for its CONNECT
 * line's answer, and has as long to write the line: then its socket
 * closes, and the guest hears a RST for the request it never answered.
 * A connection already made is not timed.
 */
static void test_unanswered_connect_times_out(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[32];
	int fd, idle, lfd, made;
	u64 t0;

	env_setup(&e);
	post_rx(&e, 8);
	made = guest_connects(&e, 5010, 4096, &lfd);
	CHECK(made >= 0);
	fd = host_connect(&e);
	virtio_vsock_accept(e.vs);
	CHECK_EQ(write(fd, "CONNECT 54\n", 11), 11);
	virtio_vsock_host_ready(e.vs, 0, 0, EPOLLIN);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_REQUEST);
	idle = host_connect(&e);                  /* never writes its line */
	virtio_vsock_accept(e.vs);
	CHECK_EQ(e.vs->nr_conns, 3);
	t0 = vsock_now_ns();
	virtio_vsock_expire(e.vs, t0);            /* too early: nothing happens */
	CHECK_EQ(e.vs->nr_conns, 3);
	virtio_vsock_expire(e.vs, t0 + VSOCK_CONNECT_TIMEOUT_NS + 1);
	CHECK_EQ(e.vs->nr_conns, 1);              /* the one made stays */
	CHECK_EQ(read(fd, got, sizeof(got)), 0);
	CHECK_EQ(read(idle, got, sizeof(got)), 0);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
	CHECK_EQ(le32toh(h.dst_port), 54);
	CHECK_EQ(e.vs->metrics.conns_killed.total, 2);
	close(idle);
	close(fd);
	close(made);
	close(lfd);
	env_teardown(&e);
}

static void test_bad_connect_line_is_closed(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[32];
	int fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = host_connect(&e);
	virtio_vsock_accept(e.vs);
	CHECK_EQ(write(fd, "CONNECT x\n", 10), 10);
	virtio_vsock_host_ready(e.vs, 0, 0, EPOLLIN);
	CHECK(!recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(read(fd, got, sizeof(got)), 0);
	close(fd);
	env_teardown(&e);
}

static void test_packet_for_no_connection_gets_rst(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[16];

	env_setup(&e);
	post_rx(&e, 4);
	send_data(&e, 7000, "x", 1, 0);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
	/* A RST is never answered. */
	send_op(&e, 7000, VIRTIO_VSOCK_OP_RST, 0, 0, 0);
	CHECK(!recv_pkt(&e, &h, got, sizeof(got)));
	env_teardown(&e);
}

static void test_malformed_headers_are_refused(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[16];
	int lfd = -1;

	env_setup(&e);
	post_rx(&e, 8);
	lfd = host_listen(&e, 6000);
	/* Not a stream: the guest's socket hears RST, nothing connects. */
	h = guest_hdr(6000, VIRTIO_VSOCK_OP_REQUEST, 0, 4096, 0);
	h.type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
	send_raw(&e, &h, NULL, 0, sizeof(h));
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
	/* Another guest's CID, or not to the host: dropped, unanswered. */
	h = guest_hdr(6000, VIRTIO_VSOCK_OP_REQUEST, 0, 4096, 0);
	h.src_cid = htole64(GUEST_CID + 1);
	send_raw(&e, &h, NULL, 0, sizeof(h));
	h = guest_hdr(6000, VIRTIO_VSOCK_OP_REQUEST, 0, 4096, 0);
	h.dst_cid = htole64(GUEST_CID + 1);
	send_raw(&e, &h, NULL, 0, sizeof(h));
	/* A length past the buffer. */
	h = guest_hdr(6000, VIRTIO_VSOCK_OP_RW, 100, 4096, 0);
	send_raw(&e, &h, NULL, 0, sizeof(h) + 10);
	CHECK(!recv_pkt(&e, &h, got, sizeof(got)));
	CHECK(accept4(lfd, NULL, NULL, 0) < 0 && errno == EAGAIN);
	CHECK(!(e.vs->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET));
	CHECK_EQ(e.vs->bad_packets, 4);
	/* A buffer shorter than a header is a broken driver: the device needs a reset. */
	send_raw(&e, &h, NULL, 0, 20);
	CHECK(e.vs->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	close(lfd);
	env_teardown(&e);
}

/*
 * A good packet, then a broken one, in one kick: the device fails at the
 * second, and must not touch the rings it just gave up (found by fuzzing).
 */
static void test_failure_mid_batch_touches_no_ring(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h = guest_hdr(7000, VIRTIO_VSOCK_OP_RST, 0, 0, 0);
	struct fake_seg good = { TX_BUF, sizeof(h), false }, bad = { TX_BUF, 20, false };

	env_setup(&e);
	memcpy(fake_hva(&e.tx, TX_BUF), &h, sizeof(h));
	fake_post(&e.tx, &good, 1, false);
	fake_post(&e.tx, &bad, 1, false);
	kick(&e, 1);
	CHECK(e.vs->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	env_teardown(&e);
}

/* Half-closes pass through; when both sides are done the guest gets RST. */
static void test_half_close_both_ways(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[16];
	int lfd, fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = guest_connects(&e, 5004, 4096, &lfd);
	CHECK(fd >= 0);
	send_data(&e, 5004, "bye", 3, 0);
	send_op(&e, 5004, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 4096, 0);
	CHECK_EQ(read(fd, got, sizeof(got)), 3);
	CHECK_EQ(read(fd, got, sizeof(got)), 0);  /* the guest's EOF */
	CHECK(!recv_pkt(&e, &h, got, sizeof(got)) || le16toh(h.op) == VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	/* The host still writes, then shuts its side. */
	CHECK_EQ(write(fd, "ok", 2), 2);
	CHECK_EQ(shutdown(fd, SHUT_WR), 0);
	virtio_vsock_host_ready(e.vs, 5004, GUEST_PORT, EPOLLIN);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RW);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_SHUTDOWN);
	CHECK_EQ(le32toh(h.flags), VIRTIO_VSOCK_SHUTDOWN_SEND);
	CHECK(recv_pkt(&e, &h, got, sizeof(got)));
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
	CHECK_EQ(e.vs->nr_conns, 0);
	close(fd);
	close(lfd);
	env_teardown(&e);
}

/*
 * The guest sends more than the host program has read yet, then closes:
 * it gets its RST at once, and the host still receives every byte, then EOF.
 */
static void test_guest_close_keeps_unsent_bytes(void)
{
	static u8 chunk[60000], got[65536];
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	size_t total = 0;
	bool eof = false;
	int lfd, fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = guest_connects(&e, 5007, 4096, &lfd);
	CHECK(fd >= 0);
	for (int i = 0; i < 4; i++)
		send_data(&e, 5007, chunk, sizeof(chunk), 0);
	send_op(&e, 5007, VIRTIO_VSOCK_OP_SHUTDOWN,
		VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, 4096, 0);
	while (recv_pkt(&e, &h, got, sizeof(got)) && le16toh(h.op) == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
		;
	CHECK_EQ(le16toh(h.op), VIRTIO_VSOCK_OP_RST);
	for (int i = 0; i < 1000 && !eof; i++) {
		ssize_t n = read(fd, got, sizeof(got));

		if (n > 0)
			total += (size_t)n;
		eof = !n;
		virtio_vsock_host_ready(e.vs, 5007, GUEST_PORT, EPOLLOUT);
	}
	CHECK(eof);
	CHECK_EQ(total, 4 * sizeof(chunk));
	CHECK_EQ(e.vs->nr_conns, 0);
	close(fd);
	close(lfd);
	env_teardown(&e);
}

/* A driver reset forgets every connection: the host programs see them end. */
static void test_reset_closes_connections(void)
{
	struct vsock_env e;
	char got[16];
	int lfd, fd;

	env_setup(&e);
	post_rx(&e, 8);
	fd = guest_connects(&e, 5005, 4096, &lfd);
	CHECK(fd >= 0);
	virtio_mmio_ops.write(&e.vs->vdev, VIRTIO_MMIO_STATUS, 0, 4);
	virtio_vsock_accept(e.vs);   /* the I/O thread's next look closes them */
	CHECK_EQ(e.vs->nr_conns, 0);
	CHECK_EQ(read(fd, got, sizeof(got)), 0);
	close(fd);
	close(lfd);
	env_teardown(&e);
}

/* The table holds 1023 connections: the next REQUEST is refused with RST. */
static void test_connection_table_is_bounded(void)
{
	struct vsock_env e;
	struct virtio_vsock_hdr h;
	char got[16];
	int lfd;

	env_setup(&e);
	lfd = host_listen(&e, 5006);
	CHECK(!listen(lfd, VSOCK_MAX_CONNS + 8));
	for (u32 i = 0; i <= VSOCK_MAX_CONNS; i++) {
		h = guest_hdr(5006, VIRTIO_VSOCK_OP_REQUEST, 0, 4096, 0);
		h.src_port = htole32(GUEST_PORT + i);
		post_rx(&e, 1);
		send_raw(&e, &h, NULL, 0, sizeof(h));
		CHECK(recv_pkt(&e, &h, got, sizeof(got)));
		CHECK_EQ(le16toh(h.op), i < VSOCK_MAX_CONNS ? VIRTIO_VSOCK_OP_RESPONSE
							    : VIRTIO_VSOCK_OP_RST);
	}
	CHECK_EQ(e.vs->nr_conns, VSOCK_MAX_CONNS);
	close(lfd);
	env_teardown(&e);
}

static void test_existing_socket_path_is_refused(void)
{
	struct vsock_env e;
	struct virtio_vsock *other = calloc(1, sizeof(*other));

	env_setup(&e);
	CHECK(other);
	CHECK_EQ(virtio_vsock_init(other, 4, e.path, &e.rx.mem, NULL), -EEXIST);
	free(other);
	env_teardown(&e);
}

/* A restored device tells the guest its connections are gone, once it runs. */
static void test_restore_sends_transport_reset(void)
{
	struct vsock_env e;
	struct device dev = { .cls = &virtio_vsock_class };
	struct fake_seg seg = { FAKE_BUF + 0x80000, 4, true };
	struct virtio_vsock_event ev;
	u32 id, len;

	env_setup(&e);
	dev.priv = e.vs;
	fake_post(&e.evt, &seg, 1, false);
	CHECK_EQ(virtio_vsock_class.quiesce(&dev), 0);
	CHECK_EQ(virtio_vsock_class.restore(&dev, NULL), 0);
	CHECK(!fake_used(&e.evt, &id, &len));     /* not while paused */
	virtio_vsock_class.resume(&dev);
	CHECK(fake_used(&e.evt, &id, &len));
	CHECK_EQ(len, sizeof(ev));
	memcpy(&ev, fake_hva(&e.evt, FAKE_BUF + 0x80000), sizeof(ev));
	CHECK_EQ(le32toh(ev.id), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	env_teardown(&e);
}

/*
 * A VM restored to run at once is never paused and resumed: its fresh
 * device tells the guest at restore, or an agent's stream from before
 * the snapshot would stay open in the guest with nothing behind it.
 */
static void test_restore_running_sends_transport_reset_at_once(void)
{
	struct vsock_env e;
	struct device dev = { .cls = &virtio_vsock_class };
	struct fake_seg seg = { FAKE_BUF + 0x80000, 4, true };
	u32 id, len;

	env_setup(&e);
	dev.priv = e.vs;
	fake_post(&e.evt, &seg, 1, false);
	CHECK_EQ(virtio_vsock_class.restore(&dev, NULL), 0);
	CHECK(fake_used(&e.evt, &id, &len));
	CHECK_EQ(len, sizeof(struct virtio_vsock_event));
	env_teardown(&e);
}

/* The host's next port travels: new connections never take a pre-snapshot one's. */
static void test_restore_keeps_next_port(void)
{
	struct vsock_env e;
	struct device dev = { .cls = &virtio_vsock_class };
	struct state_writer w;
	struct state_reader r;
	u32 first;

	env_setup(&e);
	dev.priv = e.vs;
	first = e.vs->next_local_port;           /* a fresh device's: the range's first */
	e.vs->next_local_port = first + 7;
	state_writer_init(&w);
	CHECK_EQ(virtio_vsock_class.save(&dev, &w), 0);
	e.vs->next_local_port = first;
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(virtio_vsock_class.restore(&dev, &r), 0);
	CHECK_EQ(e.vs->next_local_port, first + 7);
	/* A port below the host's range is no state of ours. */
	memset(w.data, 0, w.len);
	state_reader_init(&r, w.data, w.len);
	CHECK(virtio_vsock_class.restore(&dev, &r) < 0);
	state_writer_free(&w);
	env_teardown(&e);
}

/* The vsock settings travel with a snapshot's config. */
static void test_config_saved_with_snapshot(void)
{
	struct vm_config a, b;
	struct state_writer w;
	struct state_reader r;

	vm_config_init(&a);
	a.vsock = (struct vsock_config){ .enabled = true, .cid = 9 };
	strcpy(a.vsock.uds_path, "/run/v.sock");
	state_writer_init(&w);
	vm_config_save(&a, &w);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(vm_config_restore(&b, &r), 0);
	CHECK(b.vsock.enabled);
	CHECK_EQ(b.vsock.cid, 9);
	CHECK(!strcmp(b.vsock.uds_path, "/run/v.sock"));
	/* One from before vsock (so before the balloon's and the shares' after it): none. */
	state_reader_init(&r, w.data, w.len - 4 - (1 + 4 + 1 + 1 + 4) -
				       (1 + 4 + 2 + strlen("/run/v.sock")));
	CHECK_EQ(vm_config_restore(&b, &r), 0);
	CHECK(!b.vsock.enabled);
	state_writer_free(&w);
}

static void test_cli_vsock(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--vsock", "cid=7,socket=/tmp/v.sock"),
		 CLI_RUN);
	CHECK(cfg.vsock.enabled);
	CHECK_EQ(cfg.vsock.cid, 7);
	CHECK(!strcmp(cfg.vsock.uds_path, "/tmp/v.sock"));
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--vsock", "cid=2,socket=/tmp/v") < 0);
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--vsock", "cid=3") < 0);
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--vsock", "cid=3,socket=/v,x=1") < 0);
	CHECK(PARSE(&cfg, "arkvm", "run", "--kernel", "K") == CLI_RUN && !cfg.vsock.enabled);
}

/* One API request, the way the server hands it over: its status and body. */
static int api_call(struct vmm *vmm, enum http_method m, const char *path, const char *body,
		    char *out, size_t size)
{
	struct http_request req = { .method = m, .keep_alive = true };
	char *reply;
	int status;

	snprintf(req.path, sizeof(req.path), "%s", path);
	req.body = (char *)body;
	req.body_len = strlen(body);
	status = api_handle(vmm, &req, &reply);
	snprintf(out, size, "%s", reply ? reply : "");
	free(reply);
	return status;
}

/* Firecracker's PUT /vsock, before the start, and the config file's "vsock". */
static void test_firecracker_vsock(void)
{
	struct vmm *vmm = vmm_alloc();
	struct fc_error err;
	char out[4096];

	CHECK(vmm);
	CHECK_EQ(api_call(vmm, HTTP_PUT, "/vsock", "{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\"}",
			  out, sizeof(out)), 204);
	CHECK(vmm->cfg->vsock.enabled);
	CHECK_EQ(vmm->cfg->vsock.cid, 3);
	CHECK(!strcmp(vmm->cfg->vsock.uds_path, "/tmp/v.sock"));
	CHECK_EQ(api_call(vmm, HTTP_GET, "/vm/config", "", out, sizeof(out)), 200);
	CHECK(strstr(out, "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\"}"));
	/* Refused, and nothing changed: CID 2 is the host's, fields are required. */
	CHECK_EQ(api_call(vmm, HTTP_PUT, "/vsock", "{\"guest_cid\":2,\"uds_path\":\"/v\"}", out,
			  sizeof(out)), 400);
	CHECK(strstr(out, "guest_cid"));
	CHECK_EQ(api_call(vmm, HTTP_PUT, "/vsock", "{\"guest_cid\":5}", out, sizeof(out)), 400);
	CHECK(strstr(out, "uds_path"));
	CHECK_EQ(api_call(vmm, HTTP_PUT, "/vsock", "{\"guest_cid\":5,\"uds_path\":\"/v\",\"x\":1}",
			  out, sizeof(out)), 400);
	CHECK_EQ(vmm->cfg->vsock.cid, 3);
	/* The config file. */
	CHECK_EQ(fc_load_config(vmm->cfg, &vmm->opts,
				"{\"boot-source\":{\"kernel_image_path\":\"k\"},"
				"\"vsock\":{\"guest_cid\":9,\"uds_path\":\"/run/x\",\"vsock_id\":\"v\"}}",
				&err), 0);
	CHECK_EQ(vmm->cfg->vsock.cid, 9);
	CHECK(!strcmp(vmm->cfg->vsock.uds_path, "/run/x"));
	vmm_free(vmm);
}

TEST_SUITE(virtio_vsock,
	   TEST(test_firecracker_vsock),
	   TEST(test_cli_vsock),
	   TEST(test_request_nobody_listens_gets_rst),
	   TEST(test_guest_connect_relays_both_ways),
	   TEST(test_credit_bounds_what_the_guest_gets),
	   TEST(test_host_data_waits_for_receive_buffers),
	   TEST(test_guest_past_our_credit_gets_rst),
	   TEST(test_host_connect_handshake),
	   TEST(test_host_connect_to_port_zero),
	   TEST(test_host_connect_refused_by_guest),
	   TEST(test_unanswered_connect_times_out),
	   TEST(test_bad_connect_line_is_closed),
	   TEST(test_packet_for_no_connection_gets_rst),
	   TEST(test_malformed_headers_are_refused),
	   TEST(test_failure_mid_batch_touches_no_ring),
	   TEST(test_half_close_both_ways),
	   TEST(test_guest_close_keeps_unsent_bytes),
	   TEST(test_reset_closes_connections),
	   TEST(test_connection_table_is_bounded),
	   TEST(test_existing_socket_path_is_refused),
	   TEST(test_restore_sends_transport_reset),
	   TEST(test_restore_running_sends_transport_reset_at_once),
	   TEST(test_restore_keeps_next_port),
	   TEST(test_config_saved_with_snapshot));
