// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock from both sides: the input is guest RAM (the three rings,
 * their buffers and every packet header the guest sends), then a script
 * of what host programs do: connect to the device's socket and write a
 * CONNECT line, write, half-close or close their end, accept the guest's
 * connections on the two ports the harness listens on.  The device runs
 * on a real event loop, turned once after every step.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake_driver.h"
#include "fuzz.h"
#include "virtio_vsock.h"

#define RX_RING  FAKE_RAM_BASE
#define TX_RING  (FAKE_RAM_BASE + 0x4000)
#define EVT_RING (FAKE_RAM_BASE + 0x8000)
#define RAM_USED 0x10000
#define NR_HOST_FDS 16
#define NR_PORTS 2               /* the guest may reach host ports 1 and 2 */

static struct fake_driver rx, tx, evt;
static struct virtio_vsock *vs;
static struct event_loop loop;
static char path[64];
static int listeners[NR_PORTS];
static int host_fds[NR_HOST_FDS];
static u8 sink[4096];

static void no_interrupt(void *opaque)
{
}

static int listen_on(const char *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64))
		return -1;
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/arkvm-fuzz-vsock-XXXXXX", p[96];

	signal(SIGPIPE, SIG_IGN);  /* as arkvm does: a closed peer is an error, not a death */
	if (!mkdtemp(dir) || event_loop_init(&loop))
		return -1;
	fz_scratch_adopt(dir);
	snprintf(path, sizeof(path), "%s/v", dir);
	for (int i = 0; i < NR_PORTS; i++) {
		snprintf(p, sizeof(p), "%s_%d", path, i + 1);
		listeners[i] = listen_on(p);
		if (listeners[i] < 0)
			return -1;
	}
	for (int i = 0; i < NR_HOST_FDS; i++)
		host_fds[i] = -1;
	fake_driver_init(&rx, 8);
	fake_driver_init_queue(&tx, &rx, TX_RING, 8);
	fake_driver_init_queue(&evt, &rx, EVT_RING, 8);
	vs = calloc(1, sizeof(*vs));
	if (!vs || virtio_vsock_init(vs, 3, path, &rx.mem, &loop))
		return -1;
	vs->vdev.interrupt = no_interrupt;
	return 0;
}

static void host_keep(int fd)
{
	for (int i = 0; i < NR_HOST_FDS; i++) {
		if (host_fds[i] < 0) {
			host_fds[i] = fd;
			return;
		}
	}
	close(fd);
}

static void host_connect(struct fuzz_in *in)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = (size_t)fz_take(in, 1) % 24;  /* MIN() takes its arguments twice */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	len = MIN(len, in->n);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (write(fd, in->p, len) < 0)
		len = 0;
	in->p += len;
	in->n -= len;
	host_keep(fd);
}

static void host_step(struct fuzz_in *in)
{
	unsigned int op = (unsigned int)fz_take(in, 1);
	int *fd = &host_fds[fz_take(in, 1) % NR_HOST_FDS];
	size_t len;

	switch (op % 8) {
	case 0:
		virtio_dev_queue_notify(&vs->vdev, 1);
		break;
	case 1:
		virtio_dev_queue_notify(&vs->vdev, 0);
		break;
	case 2:
		host_connect(in);
		break;
	case 3:
		len = (size_t)fz_take(in, 2);
		len = MIN(len, in->n);
		if (*fd >= 0 && write(*fd, in->p, len) < 0 && errno != EAGAIN)
			break;
		in->p += len;
		in->n -= len;
		break;
	case 4:
		if (*fd >= 0)
			shutdown(*fd, SHUT_WR);
		break;
	case 5:
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		break;
	case 6:
		for (int i = 0; i < NR_PORTS; i++) {
			int got;

			while ((got = accept4(listeners[i], NULL, NULL, SOCK_NONBLOCK)) >= 0)
				host_keep(got);
		}
		break;
	default:
		if (*fd >= 0)
			while (read(*fd, sink, sizeof(sink)) > 0)
				;
		break;
	}
	event_loop_run_once(&loop, 0);
}

static void host_close_all(void)
{
	int fd;

	for (int i = 0; i < NR_HOST_FDS; i++) {
		if (host_fds[i] >= 0)
			close(host_fds[i]);
		host_fds[i] = -1;
	}
	for (int i = 0; i < NR_PORTS; i++)
		while ((fd = accept4(listeners[i], NULL, NULL, 0)) >= 0)
			close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_driver *queues[] = { &rx, &tx, &evt };
	struct fuzz_in in = { data, size };
	u64 features = fz_take(&in, 8);

	memset(rx.ram, 0, RAM_USED);
	fz_copy(&in, rx.ram, RAM_USED);
	fake_bring_up_queues(&vs->vdev, features, queues, 3);
	for (unsigned int steps = 0; in.n && steps < 64; steps++)
		host_step(&in);
	virtio_dev_queue_notify(&vs->vdev, 1);
	/* The driver goes away: every connection with it, and the host ends too. */
	virtio_mmio_ops.write(&vs->vdev, 0x070, 0, 4);
	virtio_vsock_accept(vs);
	host_close_all();
	event_loop_run_once(&loop, 0);
	if (vs->nr_conns)
		__builtin_trap(); /* a reset must leave no connection behind */
	return 0;
}
