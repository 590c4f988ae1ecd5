// SPDX-License-Identifier: Apache-2.0
/*
 * The passt backend against a fake passt: the test holds the other end
 * of a SOCK_STREAM socketpair and speaks passt's framing (each frame
 * behind a 4-byte big-endian length) by hand.  Then virtio-net on it
 * (the link going down when passt goes), --net's parsing, and passt's
 * start-up: a fake passt on PATH, and the real one when it is installed.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_mmio.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/net_passt.h"
#include "cli.h"
#include "state.h"
#include "fake_driver.h"
#include "net_backend.h"
#include "test.h"
#include "virtio_devices.h"

#define RX_RING (FAKE_RAM_BASE + 0x0000)
#define TX_RING (FAKE_RAM_BASE + 0x4000)
#define BUF(i)  (FAKE_BUF + (u64)(i) * 0x1000)
#define HDR_LEN 12

/* A backend on one end of a socketpair; *@peer is fake passt's end. */
static int passt_pair(struct net_backend *be, int *peer)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return -errno;
	*peer = sv[1];
	return net_passt_backend(be, sv[0], -1, -1);
}

/* passt's framing of @len bytes of @frame into @out: 4 + @len bytes. */
static size_t frame_it(u8 *out, const u8 *frame, u32 len)
{
	u32 be_len = htobe32(len);

	memcpy(out, &be_len, 4);
	memcpy(out + 4, frame, len);
	return 4 + (size_t)len;
}

static ssize_t recv_into(struct net_backend *be, u8 *buf, size_t len)
{
	struct iovec iov = { buf, len };

	return be->ops->recv(be, &iov, 1);
}

static void fill(u8 *p, size_t len, u8 seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (u8)(seed + i * 13);
}

static void test_rx_frames_in_order(void)
{
	struct net_backend be;
	u8 a[60], b[1514], wire[2 * 1600], got[2048];
	size_t n;
	int peer;

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	CHECK_EQ(passt_pair(&be, &peer), 0);
	CHECK(!(be.caps & NET_CAP_VNET_HDR));
	CHECK(be.caps & NET_CAP_MRG_RXBUF);
	CHECK_EQ(recv_into(&be, got, sizeof(got)), -EAGAIN);
	n = frame_it(wire, a, sizeof(a));
	n += frame_it(wire + n, b, sizeof(b));
	CHECK_EQ(write(peer, wire, n), (ssize_t)n);
	CHECK_EQ(recv_into(&be, got, sizeof(got)), (ssize_t)sizeof(a));
	CHECK(!memcmp(got, a, sizeof(a)));
	CHECK_EQ(recv_into(&be, got, sizeof(got)), (ssize_t)sizeof(b));
	CHECK(!memcmp(got, b, sizeof(b)));
	CHECK_EQ(recv_into(&be, got, sizeof(got)), -EAGAIN);
	be.ops->close(&be);
	close(peer);
}

/*
 * Two frames written in two pieces, cut at every byte of the stream:
 * the lengths and the frames themselves arrive in parts, and each frame
 * comes out whole, once, when its last byte is in.
 */
static void test_rx_split_at_every_byte(void)
{
	u8 a[70], b[90], wire[200], got[256];
	size_t n;

	fill(a, sizeof(a), 3);
	fill(b, sizeof(b), 4);
	n = frame_it(wire, a, sizeof(a));
	n += frame_it(wire + n, b, sizeof(b));
	for (size_t cut = 0; cut <= n; cut++) {
		struct net_backend be;
		unsigned int frames = 0;
		ssize_t got_len;
		int peer;

		CHECK_EQ(passt_pair(&be, &peer), 0);
		CHECK_EQ(write(peer, wire, cut), (ssize_t)cut);
		while ((got_len = recv_into(&be, got, sizeof(got))) > 0) {
			CHECK_EQ(got_len, frames ? sizeof(b) : sizeof(a));
			CHECK(!memcmp(got, frames ? b : a, (size_t)got_len));
			frames++;
		}
		CHECK_EQ(got_len, -EAGAIN);
		CHECK_EQ(frames, cut >= 4 + sizeof(a) + 4 + sizeof(b) ? 2u : cut >= 4 + sizeof(a));
		CHECK_EQ(write(peer, wire + cut, n - cut), (ssize_t)(n - cut));
		while ((got_len = recv_into(&be, got, sizeof(got))) > 0) {
			CHECK_EQ(got_len, frames ? sizeof(b) : sizeof(a));
			CHECK(!memcmp(got, frames ? b : a, (size_t)got_len));
			frames++;
		}
		CHECK_EQ(frames, 2);
		be.ops->close(&be);
		close(peer);
	}
}

/* A frame longer than the guest's buffers is dropped and counted; the next one comes. */
static void test_rx_oversize_dropped(void)
{
	struct net_backend be;
	u8 big[3000], small[64], wire[3200], got[1500];
	size_t n;
	int peer;

	fill(big, sizeof(big), 5);
	fill(small, sizeof(small), 6);
	CHECK_EQ(passt_pair(&be, &peer), 0);
	n = frame_it(wire, big, sizeof(big));
	n += frame_it(wire + n, small, sizeof(small));
	CHECK_EQ(write(peer, wire, n), (ssize_t)n);
	CHECK_EQ(recv_into(&be, got, sizeof(got)), (ssize_t)sizeof(small));
	CHECK(!memcmp(got, small, sizeof(small)));
	CHECK_EQ(be.ops->dropped(&be), 1);
	be.ops->close(&be);
	close(peer);
}

/* A length over 64 KiB: not passt's stream; the connection closes, as if passt went. */
static void test_rx_huge_length_closes(void)
{
	struct net_backend be;
	u32 huge = htobe32(65537);
	u8 got[64];
	int peer;

	CHECK_EQ(passt_pair(&be, &peer), 0);
	CHECK_EQ(write(peer, &huge, 4), 4);
	CHECK_EQ(recv_into(&be, got, sizeof(got)), 0);
	CHECK_EQ(recv_into(&be, got, sizeof(got)), 0);     /* and stays gone */
	CHECK_EQ(read(peer, got, sizeof(got)), 0);          /* passt sees its end close */
	be.ops->close(&be);
	close(peer);

	/* 64 KiB itself is allowed. */
	CHECK_EQ(passt_pair(&be, &peer), 0);
	huge = htobe32(65536);
	CHECK_EQ(write(peer, &huge, 4), 4);
	CHECK_EQ(recv_into(&be, got, sizeof(got)), -EAGAIN);
	be.ops->close(&be);
	close(peer);
}

static void test_rx_peer_gone(void)
{
	struct net_backend be;
	u8 frame[60], wire[64], got[64];
	int peer;

	fill(frame, sizeof(frame), 7);
	CHECK_EQ(passt_pair(&be, &peer), 0);
	frame_it(wire, frame, sizeof(frame));
	CHECK_EQ(write(peer, wire, 10), 10); /* half a frame, then passt dies */
	close(peer);
	CHECK_EQ(recv_into(&be, got, sizeof(got)), 0);
	CHECK_EQ(be.ops->send(&be, &(struct iovec){ frame, sizeof(frame) }, 1), -EPIPE);
	be.ops->close(&be);
}

static void test_tx_framing(void)
{
	struct net_backend be;
	u8 frame[100], got[256], runt[10];
	struct iovec iov[2] = { { frame, 30 }, { frame + 30, 70 } };
	u32 len;
	int peer;

	fill(frame, sizeof(frame), 8);
	CHECK_EQ(passt_pair(&be, &peer), 0);
	CHECK_EQ(be.ops->send(&be, iov, 2), (ssize_t)sizeof(frame));
	CHECK_EQ(read(peer, got, sizeof(got)), 4 + (ssize_t)sizeof(frame));
	memcpy(&len, got, 4);
	CHECK_EQ(be32toh(len), sizeof(frame));
	CHECK(!memcmp(got + 4, frame, sizeof(frame)));
	/* Shorter than an Ethernet header: refused, nothing written. */
	CHECK_EQ(be.ops->send(&be, &(struct iovec){ runt, sizeof(runt) }, 1), -EMSGSIZE);
	CHECK_EQ(read(peer, got, sizeof(got)), -1);
	be.ops->close(&be);
	close(peer);
}

struct drain {
	int fd;
	size_t want, got;
	u8 *buf;
};

static void *drain_thread(void *opaque)
{
	struct drain *d = opaque;
	struct pollfd pfd = { .fd = d->fd, .events = POLLIN };

	while (d->got < d->want) {
		ssize_t n = read(d->fd, d->buf + d->got, d->want - d->got);

		if (n > 0)
			d->got += (size_t)n;
		else if (n < 0 && errno == EAGAIN)
			poll(&pfd, 1, -1);
		else
			break;
	}
	return NULL;
}

/*
 * A frame larger than the socket takes at once: the backend waits for
 * room and sends the rest, so passt reads the length and the whole frame
 * and then the next frame's length, in step.
 */
static void test_tx_short_write_keeps_framing(void)
{
	static u8 frame[60000], got[2 * (4 + 60000)];
	struct net_backend be;
	struct drain d = { .buf = got, .want = sizeof(got) };
	int sndbuf = 4096, peer;
	pthread_t t;
	u32 len;

	fill(frame, sizeof(frame), 9);
	CHECK_EQ(passt_pair(&be, &peer), 0);
	CHECK(!setsockopt(be.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)));
	d.fd = peer;
	CHECK(!pthread_create(&t, NULL, drain_thread, &d));
	CHECK_EQ(be.ops->send(&be, &(struct iovec){ frame, sizeof(frame) }, 1),
		 (ssize_t)sizeof(frame));
	CHECK_EQ(be.ops->send(&be, &(struct iovec){ frame, sizeof(frame) }, 1),
		 (ssize_t)sizeof(frame));
	pthread_join(t, NULL);
	CHECK_EQ(d.got, sizeof(got));
	for (unsigned int i = 0; i < 2; i++) {
		const u8 *p = got + i * (4 + sizeof(frame));

		memcpy(&len, p, 4);
		CHECK_EQ(be32toh(len), sizeof(frame));
		CHECK(!memcmp(p + 4, frame, sizeof(frame)));
	}
	be.ops->close(&be);
	close(peer);
}

/* --- virtio-net on passt ---------------------------------------------------------- */

struct passt_env {
	struct fake_driver rx, tx;
	struct virtio_net net;
	struct event_loop loop;
	int peer;
	unsigned int interrupts;
};

static void count_interrupt(void *opaque)
{
	((struct passt_env *)opaque)->interrupts++;
}

static const u8 test_mac[6] = { 0x02, 9, 8, 7, 6, 5 };

static int env_setup(struct passt_env *e, u64 features)
{
	struct fake_driver *queues[] = { &e->rx, &e->tx };
	struct net_backend be;
	int ret;

	memset(e, 0, sizeof(*e));
	event_loop_init(&e->loop);
	fake_driver_init(&e->rx, 64);
	fake_driver_init_queue(&e->tx, &e->rx, TX_RING, 8);
	ret = passt_pair(&be, &e->peer);
	if (!ret)
		ret = virtio_net_attach(&e->net, &be, test_mac, &e->rx.mem, &e->loop);
	if (ret)
		return ret;
	e->net.vdev.interrupt = count_interrupt;
	e->net.vdev.interrupt_opaque = e;
	fake_bring_up_queues(&e->net.vdev, features, queues, 2);
	return 0;
}

static void env_teardown(struct passt_env *e)
{
	virtio_net_close(&e->net);
	if (e->peer >= 0)
		close(e->peer);
	event_loop_destroy(&e->loop);
	fake_driver_free(&e->tx);
	fake_driver_free(&e->rx);
}

static void post_rx(struct passt_env *e, unsigned int i, u32 len)
{
	struct fake_seg seg = { BUF(i), len, true };

	fake_post(&e->rx, &seg, 1, false);
}

static u32 config_read(struct passt_env *e, unsigned int off, unsigned int size)
{
	return (u32)virtio_mmio_ops.read(&e->net.vdev, VIRTIO_MMIO_CONFIG + off, size);
}

/*
 * A 9000-byte frame from passt (its MTU is 65520, whatever the guest
 * took) reaches a guest without GSO across its page-sized buffers.
 */
static void test_device_takes_large_frames(void)
{
	static u8 frame[9000], wire[9004];
	struct passt_env e;
	u32 id, len, total = 0;

	fill(frame, sizeof(frame), 10);
	CHECK_EQ(env_setup(&e, 1ULL << VIRTIO_NET_F_MRG_RXBUF), 0);
	CHECK(e.net.vdev.accepted & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	CHECK(!(e.net.vdev.accepted & (1ULL << VIRTIO_NET_F_CSUM)));
	for (unsigned int i = 0; i < 20; i++)
		post_rx(&e, i, 4096);
	virtio_mmio_ops.write(&e.net.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, 0, 4);
	frame_it(wire, frame, sizeof(frame));
	CHECK_EQ(write(e.peer, wire, sizeof(wire)), (ssize_t)sizeof(wire));
	e.net.tap_src.ready(&e.net.tap_src, EPOLLIN);
	while (fake_used(&e.rx, &id, &len))
		total += len;
	CHECK_EQ(total, HDR_LEN + sizeof(frame));
	CHECK(!memcmp((u8 *)fake_hva(&e.rx, BUF(0)) + HDR_LEN, frame, 4096 - HDR_LEN));
	CHECK_EQ(e.net.rx_packets, 1);
	env_teardown(&e);
}

/* passt goes: the guest's link goes down, and it hears of it with a config interrupt. */
static void test_peer_gone_link_down(void)
{
	struct passt_env e;
	unsigned int before;

	CHECK_EQ(env_setup(&e, 1ULL << VIRTIO_NET_F_STATUS), 0);
	CHECK(e.net.vdev.accepted & (1ULL << VIRTIO_NET_F_STATUS));
	CHECK_EQ(config_read(&e, 6, 2), VIRTIO_NET_S_LINK_UP);
	post_rx(&e, 0, 2048);
	virtio_mmio_ops.write(&e.net.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, 0, 4);
	before = e.interrupts;
	close(e.peer);
	e.peer = -1;
	/* What the I/O thread's loop hears: the socket hung up, polled or not. */
	CHECK(event_loop_run_once(&e.loop, 0) >= 0);
	CHECK_EQ(config_read(&e, 6, 2), 0);
	CHECK(e.interrupts > before);
	CHECK(virtio_mmio_ops.read(&e.net.vdev, VIRTIO_MMIO_INTERRUPT_STATUS, 4) &
	      VIRTIO_MMIO_INT_CONFIG);
	CHECK(!(e.net.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET)); /* the device still works */
	env_teardown(&e);
}

/* --- --net user / passt= ----------------------------------------------------------- */

static void test_cli_user_and_passt(void)
{
	struct vm_config cfg;
	const struct net_config *n = &cfg.nets[0];

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net",
		       "user,tcp=2222:22,udp=5353:53,tcp=8080:80,id=up,mac=02:00:00:00:00:01"),
		 CLI_RUN);
	CHECK_EQ(cfg.nr_nets, 1);
	CHECK_EQ(n->kind, NET_USER);
	CHECK_EQ(n->nr_forwards, 3);
	CHECK_EQ(n->forwards[0].proto, NET_FWD_TCP);
	CHECK_EQ(n->forwards[0].host_port, 2222);
	CHECK_EQ(n->forwards[0].guest_port, 22);
	CHECK_EQ(n->forwards[1].proto, NET_FWD_UDP);
	CHECK_EQ(n->forwards[1].host_port, 5353);
	CHECK_EQ(n->forwards[2].guest_port, 80);
	CHECK(!strcmp(n->id, "up"));
	CHECK(n->has_mac);

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "passt=/tmp/passt.sock",
		       "--net", "user", "--net", "tap=tap0"), CLI_RUN);
	CHECK_EQ(cfg.nets[0].kind, NET_PASST);
	CHECK(!strcmp(cfg.nets[0].passt_path, "/tmp/passt.sock"));
	CHECK_EQ(cfg.nets[1].kind, NET_USER);
	CHECK_EQ(cfg.nets[1].nr_forwards, 0);
	CHECK_EQ(cfg.nets[2].kind, NET_TAP);
	CHECK(!strcmp(cfg.nets[2].id, "net2"));
	/* Same host port, other protocol; other NICs' ports apart: fine. */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "user,tcp=53:53,udp=53:53",
		       "--net", "user,tcp=54:53"), CLI_RUN);
}

static void test_cli_user_refused(void)
{
	static const char *const bad[] = {
		"user,tap=tap0",              /* two kinds */
		"tap=tap0,user",
		"user,passt=/tmp/s",
		"passt=/tmp/s,tap=t",
		"user,vhost",                 /* vhost is a tap's */
		"passt=/tmp/s,vhost",
		"tap=tap0,tcp=22:22",         /* forwards are user's */
		"passt=/tmp/s,udp=1:1",
		"user,tcp=0:22",              /* ports 1 to 65535 */
		"user,tcp=22:0",
		"user,tcp=65536:22",
		"user,tcp=22",
		"user,tcp=22:",
		"user,tcp=:22",
		"user,tcp=a:b",
		"user,udp=22:22x",
		"user,tcp=22:22,tcp=22:23",   /* one host port, one forward */
		"passt=",
		"users",
		"passt=/a/path/that/is/far/too/long/for/a/unix/socket/address/because/sun_path/has/only/108/bytes/in/it/and/this/is/more",
	};
	struct vm_config cfg;
	char many[512] = "user";

	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char arg[160];
		int ret;

		snprintf(arg, sizeof(arg), "%s", bad[i]);
		ret = PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", arg);

		if (ret != -EINVAL)
			printf("      accepted: --net %s\n", bad[i]);
		CHECK_EQ(ret, -EINVAL);
	}
	/* A host port forwarded by two NICs. */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "user,tcp=2222:22", "--net",
		       "user,tcp=2222:23"), -EINVAL);
	/* At most CFG_MAX_FORWARDS. */
	for (unsigned int i = 0; i <= CFG_MAX_FORWARDS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",tcp=%u:22", 1000 + i);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", many), -EINVAL);
	*strrchr(many, ',') = '\0';
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", many), CLI_RUN);
	CHECK_EQ(cfg.nets[0].nr_forwards, CFG_MAX_FORWARDS);
}

/* A snapshot keeps each NIC's kind and forwards; one without them reads as taps. */
static void test_config_snapshot_keeps_kind(void)
{
	struct vm_config cfg, back;
	struct state_writer w;
	struct state_reader r;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "tap=tap0", "--net",
		       "user,tcp=2222:22,udp=5353:53", "--net", "passt=/run/passt.sock"), CLI_RUN);
	state_writer_init(&w);
	vm_config_save(&cfg, &w);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(vm_config_restore(&back, &r), 0);
	state_writer_free(&w);
	CHECK_EQ(back.nr_nets, 3);
	CHECK_EQ(back.nets[0].kind, NET_TAP);
	CHECK_EQ(back.nets[1].kind, NET_USER);
	CHECK_EQ(back.nets[1].nr_forwards, 2);
	CHECK_EQ(back.nets[1].forwards[1].proto, NET_FWD_UDP);
	CHECK_EQ(back.nets[1].forwards[1].host_port, 5353);
	CHECK_EQ(back.nets[2].kind, NET_PASST);
	CHECK(!strcmp(back.nets[2].passt_path, "/run/passt.sock"));
}

/* --- starting passt ----------------------------------------------------------------- */

static void test_default_route_probe(void)
{
	static const char v4_none[] =
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		"eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
	static const char v4_default[] =
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		"eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
	static const char v6_lo_only[] =
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
		"00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
	static const char v6_default[] =
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
		"fe800000000000000000000000000001 00000400 00000001 00000000 00450003     eth0\n";

	CHECK(!passt_has_default_route(v4_none, v6_lo_only));
	CHECK(!passt_has_default_route("", ""));
	CHECK(passt_has_default_route(v4_default, ""));
	CHECK(passt_has_default_route(v4_none, v6_default));
}

static void test_explain_start_failure(void)
{
	char line[640];

	passt_explain(line, sizeof(line), 1 << 8, "External interface not usable", false, true);
	CHECK(strstr(line, "no default route"));
	CHECK(strstr(line, "exit status 1"));
	CHECK(strstr(line, "External interface not usable"));
	passt_explain(line, sizeof(line), 1 << 8, "", true, false);
	CHECK(strstr(line, "user namespaces are blocked"));
	CHECK(!strstr(line, "passt said"));
	passt_explain(line, sizeof(line), 1 << 8, "Invalid port specifier", true, true);
	CHECK(!strstr(line, "default route") && !strstr(line, "namespaces"));
	CHECK(strstr(line, "Invalid port specifier"));
	CHECK(!strchr(line, '\n'));
}

static void test_last_words_skip_noise(void)
{
	static const char said[] = "Failed to send 47 bytes to syslog\n"
				   "Don't run as root. Changing to nobody...\n"
				   "No external routable interface for IPv4\n"
				   "Failed to send 36 bytes to syslog\n"
				   "External interface not usable\n"
				   "Failed to send 20 bytes to syslog\n";
	char words[200];
	int p[2];

	CHECK(!pipe2(p, O_NONBLOCK));
	CHECK_EQ(write(p[1], said, sizeof(said) - 1), (ssize_t)sizeof(said) - 1);
	passt_last_words(p[0], words, sizeof(words));
	CHECK(!strcmp(words, "External interface not usable"));
	passt_last_words(p[0], words, sizeof(words)); /* nothing more */
	CHECK_EQ(words[0], 0);
	close(p[0]);
	close(p[1]);
}

static void test_argv(void)
{
	struct net_config cfg = { .kind = NET_USER, .nr_forwards = 2,
				  .forwards = { { NET_FWD_TCP, 2222, 22 }, { NET_FWD_UDP, 5353, 53 } } };
	struct passt_argv a;
	char joined[256] = "";

	passt_build_argv(&a, "/usr/bin/passt", &cfg, 3);
	for (unsigned int i = 0; a.argv[i]; i++) {
		strcat(joined, a.argv[i]);
		strcat(joined, " ");
	}
	CHECK(!strcmp(joined, "/usr/bin/passt -f -q --fd 3 -t 2222:22 -u 5353:53 "));
}

/* A scratch directory with a fake "passt" script; "" when none could be made. */
static void make_fake_passt(char dir[64], const char *script)
{
	char path[96];
	FILE *f;

	snprintf(dir, 64, "/tmp/arkvm-passt-XXXXXX");
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return;
	}
	snprintf(path, sizeof(path), "%s/passt", dir);
	f = fopen(path, "w");
	if (f) {
		fputs(script, f);
		fclose(f);
	}
	chmod(path, 0755);
}

static void remove_fake_passt(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/passt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/args", dir);
	unlink(path);
	rmdir(dir);
}

/*
 * No passt on PATH: one clear line and -ENOENT.  A passt that exits at
 * start: -ECHILD, nothing left running; it got its flags and the socket
 * as fd 3.
 */
static void test_start_missing_or_failing(void)
{
	struct net_config cfg = { .kind = NET_USER, .nr_forwards = 1,
				  .forwards = { { NET_FWD_TCP, 2222, 22 } } };
	char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	char dir[64], bin[128], args[256] = "";
	int fd = -1, err_fd = -1;
	pid_t pid = -1;
	FILE *f;

	make_fake_passt(dir, "#!/bin/sh\n"
			     "d=${0%/*}\n"
			     "[ -S /dev/fd/3 ] && s=sock || s=nosock\n"
			     "echo \"$* $s\" > \"$d/args\"\n"
			     "echo 'External interface not usable' >&2\n"
			     "exit 1\n");
	CHECK(dir[0]);
	setenv("PATH", "/nonexistent-arkvm", 1);
	CHECK_EQ(passt_find(getenv("PATH"), bin, sizeof(bin)), -ENOENT);
	CHECK_EQ(passt_start(&cfg, &fd, &pid, &err_fd), -ENOENT);

	setenv("PATH", dir, 1);
	CHECK_EQ(passt_find(getenv("PATH"), bin, sizeof(bin)), 0);
	CHECK_EQ(passt_start(&cfg, &fd, &pid, &err_fd), -ECHILD);
	CHECK_EQ(waitpid(-1, NULL, WNOHANG), -1); /* reaped: no child left */
	if (old)
		setenv("PATH", old, 1);
	free(old);
	snprintf(bin, sizeof(bin), "%s/args", dir);
	f = fopen(bin, "r");
	CHECK(f);
	CHECK(fgets(args, sizeof(args), f));
	fclose(f);
	CHECK(!strcmp(args, "-f -q --fd 3 -t 2222:22 sock\n"));
	remove_fake_passt(dir);
}

/* An ARP request from the guest's MAC for 192.0.2.1: passt answers any address but the guest's. */
static size_t arp_request(u8 *f)
{
	static const u8 arp[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 9, 8, 7, 6, 5, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
		0x02, 9, 8, 7, 6, 5, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 192, 0, 2, 1,
	};

	memset(f, 0, 60);
	memcpy(f, arp, sizeof(arp));
	return 60;
}

static bool host_route(void)
{
	static char v4[16384], v6[16384];
	int fd;
	ssize_t n;

	fd = open("/proc/net/route", O_RDONLY);
	n = fd >= 0 ? read(fd, v4, sizeof(v4) - 1) : 0;
	v4[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	fd = open("/proc/net/ipv6_route", O_RDONLY);
	n = fd >= 0 ? read(fd, v6, sizeof(v6) - 1) : 0;
	v6[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return passt_has_default_route(v4, v6);
}

/* The real passt, when installed: it starts, answers an ARP request, and goes when we close. */
static void test_real_passt(void)
{
	struct net_config cfg = { .kind = NET_USER };
	struct net_backend be;
	u8 req[60], got[2048];
	char bin[4096];
	int fd, err_fd;
	pid_t pid;
	ssize_t n = -EAGAIN;

	if (passt_find(getenv("PATH"), bin, sizeof(bin)) || !host_route()) {
		printf("      (no passt installed, or no default route: skipped)\n");
		return;
	}
	CHECK_EQ(passt_start(&cfg, &fd, &pid, &err_fd), 0);
	CHECK_EQ(net_passt_backend(&be, fd, pid, err_fd), 0);
	CHECK_EQ(be.ops->send(&be, &(struct iovec){ req, arp_request(req) }, 1), 60);
	/* Bounded: passt answers at once; 10 s is for a loaded machine. */
	for (int tries = 0; n == -EAGAIN && tries < 100; tries++) {
		struct pollfd pfd = { .fd = be.fd, .events = POLLIN };

		poll(&pfd, 1, 100);
		n = recv_into(&be, got, sizeof(got));
	}
	CHECK(n >= 42);
	CHECK(!memcmp(got, test_mac, 6));                /* to the guest */
	CHECK_EQ(got[12], 0x08);
	CHECK_EQ(got[13], 0x06);                         /* ARP */
	CHECK_EQ(got[21], 2);                            /* a reply */
	CHECK(!memcmp(got + 28, (const u8[]){ 192, 0, 2, 1 }, 4));
	be.ops->close(&be);                              /* reaps passt: it must have gone */
	CHECK_EQ(kill(pid, 0), -1);
}

TEST_SUITE(net_passt,
	   TEST(test_cli_user_and_passt),
	   TEST(test_cli_user_refused),
	   TEST(test_config_snapshot_keeps_kind),
	   TEST(test_rx_frames_in_order),
	   TEST(test_rx_split_at_every_byte),
	   TEST(test_rx_oversize_dropped),
	   TEST(test_rx_huge_length_closes),
	   TEST(test_rx_peer_gone),
	   TEST(test_tx_framing),
	   TEST(test_tx_short_write_keeps_framing),
	   TEST(test_device_takes_large_frames),
	   TEST(test_peer_gone_link_down),
	   TEST(test_default_route_probe),
	   TEST(test_explain_start_failure),
	   TEST(test_last_words_skip_noise),
	   TEST(test_argv),
	   TEST(test_start_missing_or_failing),
	   TEST(test_real_passt));
