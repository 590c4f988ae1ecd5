// SPDX-License-Identifier: Apache-2.0
/*
 * The VNC display end to end: a server on a free localhost port, and a
 * minimal RFB 3.8 viewer written here.  The viewer's key and pointer
 * events must reach the guest as virtio-input events, and the pixels the
 * guest flushed must come back in a framebuffer update.
 */
#include <arpa/inet.h>
#include <linux/input.h>
#include <netinet/in.h>
#include <rfb/keysym.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fake_gpu.h"
#include "sandbox.h"
#include "test.h"
#include "virtio_input.h"
#include "vnc.h"

#define VW 64
#define VH 32
#define KBD_RING    (FAKE_RAM_BASE + 0x20000)
#define TABLET_RING (FAKE_RAM_BASE + 0x28000)
#define EVBUF(i)    (FAKE_RAM_BASE + 0x30000 + (u64)(i) * 0x10)

struct vnc_env {
	struct gpu_env gpu;
	struct fake_driver kbd_q[2], tablet_q[2];
	struct virtio_input kbd, tablet;
	struct vnc vnc;
	int sock;
};

static void no_interrupt(void *opaque)
{
}

static void input_up(struct vnc_env *e, struct virtio_input *in, enum input_kind kind,
		     struct fake_driver *q, u64 ring, unsigned int first_buf)
{
	struct fake_driver *queues[] = { &q[0], &q[1] };

	fake_driver_init_queue(&q[0], &e->gpu.ctrl, ring, 8);
	fake_driver_init_queue(&q[1], &e->gpu.ctrl, ring + 0x4000, 8);
	virtio_input_init(in, kind, &e->gpu.ctrl.mem);
	in->vdev.interrupt = no_interrupt;
	fake_bring_up_queues(&in->vdev, 0, queues, 2);
	for (unsigned int i = 0; i < 8; i++) {
		struct fake_seg seg = { EVBUF(first_buf + i), 8, true };

		fake_post(&q[0], &seg, 1, false);
	}
}

/* A port nobody listens on now: the kernel's pick for a socket bound to 0. */
static u16 free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	u16 port = 0;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool recv_all(int fd, void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t n = recv(fd, (u8 *)buf + done, len - done, 0);

		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

static bool send_all(int fd, const void *buf, size_t len)
{
	return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len;
}

/* The RFB 3.8 handshake with no security, a shared session; returns the socket or -1. */
static int viewer_connect(u16 port, u16 *w, u16 *h)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 10 };
	u8 version[12], n, types[16], none = 1, shared = 1, init[24];
	u32 result, name_len;
	char name[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) || !recv_all(fd, version, 12) ||
	    memcmp(version, "RFB 003.", 8) || !send_all(fd, "RFB 003.008\n", 12) ||
	    !recv_all(fd, &n, 1) || !n || n > sizeof(types) || !recv_all(fd, types, n) ||
	    !memchr(types, 1, n) || !send_all(fd, &none, 1) || !recv_all(fd, &result, 4) ||
	    result || !send_all(fd, &shared, 1) || !recv_all(fd, init, sizeof(init))) {
		close(fd);
		return -1;
	}
	memcpy(&name_len, init + 20, 4);
	name_len = ntohl(name_len);
	if (name_len >= sizeof(name) || !recv_all(fd, name, name_len)) {
		close(fd);
		return -1;
	}
	*w = (u16)(init[0] << 8 | init[1]);
	*h = (u16)(init[2] << 8 | init[3]);
	return fd;
}

/*
 * Takes the next event the device put in @q's ring, if any.  The viewer's
 * thread writes the ring under the device's lock; a real guest orders its
 * reads with barriers, this one takes the lock (what ThreadSanitizer sees).
 */
static int take_event(struct virtio_input *in, struct fake_driver *q,
		      struct virtio_input_event *ev)
{
	u32 id, len;
	int ret = 0;

	pthread_mutex_lock(&in->vdev.lock);
	if (fake_used(q, &id, &len)) {
		/* Descriptor id i holds buffer i of its device (input_up()). */
		memcpy(ev, fake_hva(q, q->ring == KBD_RING ? EVBUF(id) : EVBUF(8 + id)),
		       sizeof(*ev));
		ret = len == sizeof(*ev) ? 1 : -1;
	}
	pthread_mutex_unlock(&in->vdev.lock);
	return ret;
}

/* Waits (up to 5 s) for the next event the device put in @q's ring. */
static bool next_event(struct virtio_input *in, struct fake_driver *q,
		       struct virtio_input_event *ev)
{
	for (int i = 0; i < 500; i++) {
		int ret = take_event(in, q, ev);

		if (ret)
			return ret > 0;
		usleep(10000);
	}
	return false;
}

static bool expect_event(struct virtio_input *in, struct fake_driver *q, u16 type, u16 code,
			 u32 value)
{
	struct virtio_input_event ev;

	return next_event(in, q, &ev) && ev.type == type && ev.code == code && ev.value == value;
}

/* A server on a free port, showing a picture: pixel (x, y) is B=x, G=y, R=0x55. */
static bool vnc_env_up(struct vnc_env *e, bool sandboxed)
{
	struct display_config cfg = { .vnc = true, .addr = { 127, 0, 0, 1 } };
	const struct virtio_gpu_mem_entry ent = { .addr = PIXELS, .length = VW * VH * 4 };
	u16 w = 0, h = 0;

	gpu_setup_size(&e->gpu, VW, VH);
	input_up(e, &e->kbd, INPUT_KEYBOARD, e->kbd_q, KBD_RING, 0);
	input_up(e, &e->tablet, INPUT_TABLET, e->tablet_q, TABLET_RING, 8);
	cfg.port = free_port();
	if (!cfg.port || vnc_start(&e->vnc, &cfg, &e->gpu.g, &e->kbd, &e->tablet, sandboxed))
		return false;
	for (u32 i = 0; i < VW * VH; i++) {
		u8 *p = (u8 *)fake_hva(&e->gpu.ctrl, PIXELS) + i * 4;

		p[0] = (u8)(i % VW), p[1] = (u8)(i / VW), p[2] = 0x55, p[3] = 0;
	}
	if (create_2d(&e->gpu, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, VW, VH) !=
		    VIRTIO_GPU_RESP_OK_NODATA ||
	    attach(&e->gpu, 1, &ent, 1) != VIRTIO_GPU_RESP_OK_NODATA ||
	    transfer(&e->gpu, 1, 0, 0, VW, VH, 0) != VIRTIO_GPU_RESP_OK_NODATA ||
	    set_scanout(&e->gpu, 0, 1, VW, VH) != VIRTIO_GPU_RESP_OK_NODATA ||
	    flush(&e->gpu, 1, VW, VH) != VIRTIO_GPU_RESP_OK_NODATA)
		return false;
	e->sock = viewer_connect(cfg.port, &w, &h);
	return e->sock >= 0 && w == VW && h == VH;
}

static void vnc_env_down(struct vnc_env *e)
{
	vnc_stop(&e->vnc);
	virtio_dev_destroy(&e->kbd.vdev);
	virtio_dev_destroy(&e->tablet.vdev);
	gpu_teardown(&e->gpu);
	free(e);
}

/* Asks for the whole screen and checks the picture, in raw rectangles of R, G, B, X. */
static void expect_frame(struct vnc_env *e)
{
	const u8 update[10] = { 3, 0, 0, 0, 0, 0, 0, VW, 0, VH };
	static u8 px[VW * VH * 4];
	u8 hdr[4], rect[12];
	u16 nrects;
	u32 got = 0;

	memset(px, 0, sizeof(px));
	CHECK(send_all(e->sock, update, sizeof(update)));
	CHECK(recv_all(e->sock, hdr, 4) && hdr[0] == 0);
	nrects = (u16)(hdr[2] << 8 | hdr[3]);
	for (u16 i = 0; i < nrects; i++) {
		u16 x, y, rw, rh;

		CHECK(recv_all(e->sock, rect, sizeof(rect)));
		x = (u16)(rect[0] << 8 | rect[1]), y = (u16)(rect[2] << 8 | rect[3]);
		rw = (u16)(rect[4] << 8 | rect[5]), rh = (u16)(rect[6] << 8 | rect[7]);
		CHECK(!memcmp(rect + 8, "\0\0\0\0", 4));   /* Raw */
		CHECK(x + rw <= VW && y + rh <= VH);
		for (u16 row = 0; row < rh; row++)
			CHECK(recv_all(e->sock, px + ((y + row) * VW + x) * 4, rw * 4u));
		got += (u32)rw * rh;
	}
	CHECK_EQ(got, VW * VH);
	for (u32 i = 0; i < VW * VH; i++) {
		CHECK_EQ(px[i * 4 + 0], 0x55);          /* R */
		CHECK_EQ(px[i * 4 + 1], i / VW);        /* G */
		CHECK_EQ(px[i * 4 + 2], i % VW);        /* B */
	}
}

static void test_vnc_viewer_sees_and_types(void)
{
	struct vnc_env *e = calloc(1, sizeof(*e));
	const u8 key_a[8] = { 4, 1, 0, 0, 0, 0, 0, 'a' };
	const u8 key_a_up[8] = { 4, 0, 0, 0, 0, 0, 0, 'a' };
	const u8 click[6] = { 5, 1, 0, 63, 0, 0 };      /* left button at (63, 0) */

	CHECK(e);
	CHECK(vnc_env_up(e, false));

	/* Keys: 'a' pressed and released, each report ended by SYN. */
	CHECK(send_all(e->sock, key_a, sizeof(key_a)) && send_all(e->sock, key_a_up, 8));
	CHECK(expect_event(&e->kbd, &e->kbd_q[0], EV_KEY, KEY_A, 1));
	CHECK(expect_event(&e->kbd, &e->kbd_q[0], EV_SYN, SYN_REPORT, 0));
	CHECK(expect_event(&e->kbd, &e->kbd_q[0], EV_KEY, KEY_A, 0));

	/* The pointer: the right edge is the axis' maximum; the left button goes down. */
	CHECK(send_all(e->sock, click, sizeof(click)));
	CHECK(expect_event(&e->tablet, &e->tablet_q[0], EV_ABS, ABS_X, INPUT_ABS_MAX));
	CHECK(expect_event(&e->tablet, &e->tablet_q[0], EV_ABS, ABS_Y, 0));
	CHECK(expect_event(&e->tablet, &e->tablet_q[0], EV_KEY, BTN_LEFT, 1));
	CHECK(expect_event(&e->tablet, &e->tablet_q[0], EV_SYN, SYN_REPORT, 0));

	expect_frame(e);
	CHECK(!test_failed());
	close(e->sock);   /* the viewer leaves as the server stops */
	vnc_env_down(e);
}

/*
 * What arkvm's exit does with a viewer still there, libvncserver's threads
 * under their seccomp filter (the build host's; a violation ends the run
 * with the thread and syscall named): a key and a frame go through, then
 * the server stops, and the viewer sees its connection closed.
 */
static void test_vnc_stops_with_viewer_sandboxed(void)
{
	struct vnc_env *e = calloc(1, sizeof(*e));
	const u8 key_b[8] = { 4, 1, 0, 0, 0, 0, 0, 'b' };
	u8 byte;
	int sock;

	CHECK(e);
	CHECK(!sandbox_prepare(NULL));
	CHECK(vnc_env_up(e, true));
	CHECK(send_all(e->sock, key_b, sizeof(key_b)));
	CHECK(expect_event(&e->kbd, &e->kbd_q[0], EV_KEY, KEY_B, 1));
	expect_frame(e);
	CHECK(!test_failed());
	sock = e->sock;
	vnc_env_down(e);
	CHECK_EQ(recv(sock, &byte, 1, 0), 0);   /* closed by the server: EOF */
	close(sock);
}

static void test_keysyms(void)
{
	CHECK_EQ(vnc_keysym_to_key('a'), KEY_A);
	CHECK_EQ(vnc_keysym_to_key('Q'), KEY_Q);
	CHECK_EQ(vnc_keysym_to_key('0'), KEY_0);
	CHECK_EQ(vnc_keysym_to_key('!'), KEY_1);
	CHECK_EQ(vnc_keysym_to_key(XK_Return), KEY_ENTER);
	CHECK_EQ(vnc_keysym_to_key(XK_F1), KEY_F1);
	CHECK_EQ(vnc_keysym_to_key(XK_F12), KEY_F12);
	CHECK_EQ(vnc_keysym_to_key(XK_KP_7), KEY_KP7);
	CHECK_EQ(vnc_keysym_to_key(XK_Control_L), KEY_LEFTCTRL);
	CHECK_EQ(vnc_keysym_to_key(0x20ac), 0);   /* the euro sign: no key of its own */
}

TEST_SUITE(vnc,
	   TEST(test_vnc_viewer_sees_and_types),
	   TEST(test_vnc_stops_with_viewer_sandboxed),
	   TEST(test_keysyms));
