/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_INPUT_H
#define ARKVM_VIRTIO_INPUT_H

/*
 * virtio-input (device ID 18): a keyboard or an absolute pointer (a
 * tablet, so the guest's pointer lands where the viewer's is).  Events come
 * from a front end (the VNC server, src/vnc.c) on a thread of its own;
 * each goes into the next buffer the driver has posted, and is dropped
 * when there is none (the driver posts them as fast as it reads events).
 */
#include <linux/virtio_input.h>

#include "virtio_mmio.h"

#define INPUT_QUEUE_SIZE 64
#define INPUT_EVENT_Q    0
#define INPUT_STATUS_Q   1
#define INPUT_ABS_MAX    32767   /* the tablet's axes run 0..INPUT_ABS_MAX */

enum input_kind {
	INPUT_KEYBOARD,
	INPUT_TABLET,
};

struct virtio_input {
	struct virtio_dev vdev;
	enum input_kind kind;
	struct virtio_input_config config;   /* the page the driver selected */
	/*
	 * One chain per queue: the status queue's is in service without
	 * vdev.lock (virtio_dev_serve_queue() drops it), while the front end's
	 * thread may pop events into the event queue's under the lock.
	 */
	struct virtq_chain event_chain;      /* under vdev.lock */
	struct virtq_chain status_chain;     /* the I/O thread's */
	u64 sent, dropped;
	bool held;                           /* quiesced (pause): events are dropped */
	/*
	 * Optional: each event the driver sends on the status queue (its LED
	 * state), on the I/O thread, without vdev.lock, so it may send events
	 * back.  No front end uses it yet; the tests do, to send events while
	 * a status buffer is in service.
	 */
	void (*status)(void *opaque, const struct virtio_input_event *ev);
	void *status_opaque;
};

void virtio_input_init(struct virtio_input *in, enum input_kind kind, const struct guest_mem *mem);

/*
 * Sends @n events (the caller ends a report with EV_SYN); from any thread.
 * Returns how many the guest got: the rest found no buffer.
 */
unsigned int virtio_input_send(struct virtio_input *in, const struct virtio_input_event *ev,
			       unsigned int n);

#endif
