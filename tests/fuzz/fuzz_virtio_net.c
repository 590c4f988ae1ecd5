// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net from both sides: the input is guest RAM (both rings, their
 * buffers and every transmitted header) and then packets the host sends
 * in, through a SOCK_SEQPACKET socketpair standing in for the tap.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_driver.h"
#include "fuzz.h"
#include "virtio_devices.h"

#define RX_RING FAKE_RAM_BASE
#define TX_RING (FAKE_RAM_BASE + 0x4000)
#define RAM_USED 0x10000

static struct fake_driver rx, tx;
static struct virtio_net net;
static struct event_loop loop;
static int host;
static u8 sink[70000];

static void no_interrupt(void *opaque)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const u8 mac[6] = { 2, 0, 0, 0, 0, 1 };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) || event_loop_init(&loop))
		return -1;
	host = sv[1];
	fake_driver_init(&rx, 8);
	fake_driver_init_queue(&tx, &rx, TX_RING, 8);
	if (virtio_net_init(&net, sv[0], "fuzz0", mac, &rx.mem, &loop))
		return -1;
	net.vdev.interrupt = no_interrupt;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_driver *queues[] = { &rx, &tx };
	struct fuzz_in in = { data, size };
	u64 features = fz_take(&in, 8);

	virtio_mmio_ops.write(&net.vdev, 0x070, 0, 4); /* Status: reset */
	while (read(host, sink, sizeof(sink)) > 0)
		;
	memset(rx.ram, 0, RAM_USED);
	fz_copy(&in, rx.ram, RAM_USED);
	fake_bring_up_queues(&net.vdev, features, queues, 2);
	/* The rest: packets from the host, each with a 2-byte length. */
	while (in.n) {
		size_t len = MIN((size_t)fz_take(&in, 2), in.n);

		if (write(host, in.p, len) < 0)
			break;
		in.p += len;
		in.n -= len;
	}
	virtio_dev_queue_notify(&net.vdev, 1);
	virtio_dev_queue_notify(&net.vdev, 0);
	net.tap_src.ready(&net.tap_src, EPOLLIN);
	while (read(host, sink, sizeof(sink)) > 0)
		;
	return 0;
}
