// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>
#include <unistd.h>

#include "fake_driver.h"
#include "test.h"
#include "virtio_devices.h"

#define RX_RING (FAKE_RAM_BASE + 0x0000)
#define TX_RING (FAKE_RAM_BASE + 0x4000)
#define BUF(i)  (FAKE_BUF + (u64)(i) * 0x1000)

struct vcon_env {
	struct fake_driver rx, tx;
	struct virtio_console vc;
	struct console con;
	unsigned int interrupts;
};

static void count_interrupt(void *opaque)
{
	((struct vcon_env *)opaque)->interrupts++;
}

static void no_quit(void *opaque)
{
}

static void vcon_setup(struct vcon_env *e)
{
	struct fake_driver *queues[] = { &e->rx, &e->tx };

	memset(e, 0, sizeof(*e));
	fake_driver_init(&e->rx, 8);
	fake_driver_init_queue(&e->tx, &e->rx, TX_RING, 8);
	console_init(&e->con, &virtio_console_sink, &e->vc, no_quit, NULL);
	virtio_console_init(&e->vc, &e->rx.mem, &e->con);
	e->vc.vdev.interrupt = count_interrupt;
	e->vc.vdev.interrupt_opaque = e;
	fake_bring_up_queues(&e->vc.vdev, 0, queues, 2);
}

static void vcon_teardown(struct vcon_env *e)
{
	virtio_dev_destroy(&e->vc.vdev);
	fake_driver_free(&e->tx);
	fake_driver_free(&e->rx);
}

static void test_input_fills_receive_buffers(void)
{
	struct vcon_env e;
	struct fake_seg seg = { BUF(0), 64, true };
	u32 id, len;

	vcon_setup(&e);
	CHECK_EQ(e.vc.vdev.status, 0x0f);
	/* No buffer posted: no room, and input waits. */
	CHECK_EQ(virtio_console_sink.space(&e.vc), 0);
	fake_post(&e.rx, &seg, 1, false);
	CHECK_EQ(virtio_console_sink.space(&e.vc), 64);
	virtio_console_sink.receive(&e.vc, (const u8 *)"ls\n", 3);
	CHECK(fake_used(&e.rx, &id, &len));
	CHECK_EQ(len, 3);
	CHECK(!memcmp(fake_hva(&e.rx, BUF(0)), "ls\n", 3));
	CHECK_EQ(e.interrupts, 1);
	CHECK_EQ(virtio_console_sink.space(&e.vc), 0);
	vcon_teardown(&e);
}

static void test_output_reaches_stdout(void)
{
	struct vcon_env e;
	struct fake_seg segs[] = { { BUF(1), 6, false }, { BUF(2), 7, false } };
	int pipefd[2], saved;
	char got[32] = { 0 };
	u32 id, len;

	vcon_setup(&e);
	memcpy(fake_hva(&e.tx, BUF(1)), "hello ", 6);
	memcpy(fake_hva(&e.tx, BUF(2)), "world\n", 7);
	CHECK_EQ(pipe(pipefd), 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(pipefd[1], STDOUT_FILENO);
	fake_post(&e.tx, segs, 2, false);
	virtio_mmio_ops.write(&e.vc.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, 1, 4);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(pipefd[1]);
	CHECK_EQ(read(pipefd[0], got, sizeof(got)), 13);
	close(pipefd[0]);
	CHECK(!strcmp(got, "hello world\n"));
	CHECK(fake_used(&e.tx, &id, &len));
	vcon_teardown(&e);
}

static void test_writable_output_needs_reset(void)
{
	struct vcon_env e;
	struct fake_seg seg = { BUF(0), 64, false };   /* readable: wrong for receive */

	vcon_setup(&e);
	fake_post(&e.rx, &seg, 1, false);
	CHECK_EQ(virtio_console_sink.space(&e.vc), 0);
	CHECK(e.vc.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET);
	vcon_teardown(&e);
}

#define SLOW_CHAINS 8
#define SLOW_CHAIN_LEN 4096

/*
 * stdout a pipe nobody reads, and more output than it and the console's
 * buffer hold: the kick returns (the I/O thread is free for other devices),
 * the transmit buffers stdout cannot take yet stay unused, and as the
 * reader catches up every byte arrives, in order.
 */
static void test_slow_stdout_leaves_buffers_unused(void)
{
	static u8 sent[SLOW_CHAINS * SLOW_CHAIN_LEN], got[SLOW_CHAINS * SLOW_CHAIN_LEN];
	struct event_loop loop;
	struct vcon_env e;
	unsigned int used = 0, rounds = 0;
	size_t have = 0;
	int out[2], in;
	u32 id, len;
	ssize_t n;

	vcon_setup(&e);
	CHECK_EQ(event_loop_init(&loop), 0);
	CHECK_EQ(pipe2(out, O_CLOEXEC | O_NONBLOCK), 0); /* old code: drops, not hangs */
	CHECK(fcntl(out[1], F_SETPIPE_SZ, 4096) > 0);
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	e.con.in.fd = in;
	e.con.out_fd = out[1];
	CHECK_EQ(console_start(&e.con, &loop), 0);
	event_loop_run_once(&loop, 0);              /* start-up's look at stdin */
	for (unsigned int i = 0; i < sizeof(sent); i++)
		sent[i] = (u8)(i % 253);
	for (unsigned int i = 0; i < SLOW_CHAINS; i++) {
		struct fake_seg seg = { BUF(3 + i), SLOW_CHAIN_LEN, false };

		memcpy(fake_hva(&e.tx, BUF(3 + i)), sent + i * SLOW_CHAIN_LEN, SLOW_CHAIN_LEN);
		fake_post(&e.tx, &seg, 1, false);
	}
	virtio_mmio_ops.write(&e.vc.vdev, VIRTIO_MMIO_QUEUE_NOTIFY, 1, 4);
	while (fake_used(&e.tx, &id, &len))
		used++;
	CHECK(used < SLOW_CHAINS);                   /* held back, not dropped */
	CHECK_EQ(event_loop_run_once(&loop, 0), 0);  /* nobody read: nothing to do */

	while (have < sizeof(got) && rounds++ < 10000) {
		while (have < sizeof(got) && (n = read(out[0], got + have, sizeof(got) - have)) > 0)
			have += (size_t)n;
		event_loop_run_once(&loop, 0);
		while (fake_used(&e.tx, &id, &len))
			used++;
	}
	CHECK_EQ(used, SLOW_CHAINS);
	CHECK_EQ(have, sizeof(sent));
	CHECK(!memcmp(got, sent, sizeof(sent)));

	console_destroy(&e.con);
	close(in);
	close(out[0]);
	close(out[1]);
	event_loop_destroy(&loop);
	vcon_teardown(&e);
}

TEST_SUITE(virtio_console,
	   TEST(test_input_fills_receive_buffers),
	   TEST(test_output_reaches_stdout),
	   TEST(test_writable_output_needs_reset),
	   TEST(test_slow_stdout_leaves_buffers_unused));
