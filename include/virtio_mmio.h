/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_MMIO_H
#define ARKVM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "compiler.h"
#include "event_loop.h"
#include "guest_mem.h"
#include "mmio_bus.h"
#include "virtqueue.h"

#define VIRTIO_MAX_QUEUES 4

/* InterruptStatus bits: used buffers, configuration change. */
#define VIRTIO_ISR_USED   0x1
#define VIRTIO_ISR_CONFIG 0x2

struct virtio_dev;

/*
 * What a device model implements.  It never sees transport registers:
 * the transport owns feature negotiation, queue setup and the status
 * state machine, and calls these at the right moments.
 */
struct virtio_dev_ops {
	/* Device-specific feature bits offered (the transport adds ring features). */
	u64 (*features)(struct virtio_dev *dev);
	/* Optional: refuse a feature set the device cannot work with (-EINVAL). */
	int (*ack_features)(struct virtio_dev *dev, u64 features);
	/* Optional: the driver wrote config space (already bounds-checked). */
	void (*cfg_write)(struct virtio_dev *dev, u32 off, const void *data, u32 len);
	/* Optional: DRIVER_OK with every enabled queue checked: start serving. */
	int (*activate)(struct virtio_dev *dev);
	/*
	 * The driver kicked queue @q; called on the I/O thread with dev->lock
	 * held.  It may drop the lock around I/O (virtio_dev_serve_queue()
	 * does), so it must check dev->generation after taking it back.
	 */
	void (*queue_notify)(struct virtio_dev *dev, unsigned int q);
	/* Optional: forget all driver state (status 0 after DRIVER_OK). */
	void (*reset)(struct virtio_dev *dev);
};

/* The registers one queue is set up through, before it is activated. */
struct virtio_queue_regs {
	u16 num;
	bool ready;
	u64 desc, driver, device;
};

/*
 * One virtio-mmio (version 2) device.  Register accesses come from vCPU
 * threads, queue work from the I/O thread; dev->lock orders the two.
 * The interrupt status is atomic so that the guest's interrupt handler
 * never waits for that lock.
 */
/* What a device did, for --stats: relaxed atomics, bumped from any thread. */
struct virtio_stats {
	atomic_ulong used;        /* buffers returned to the guest */
	atomic_ulong kicks[VIRTIO_MAX_QUEUES];  /* queue notifications, by queue */
	atomic_ulong interrupts;  /* interrupts sent (irqfd writes) */
	atomic_ulong mmio;        /* register accesses: each one a VM exit */
	atomic_ulong activate_fails;  /* DRIVER_OK refused (the metrics') */
};

/* Every queue's kicks together. */
unsigned long virtio_stats_kicks(const struct virtio_stats *st);

/* What the metrics read of these (relaxed: any thread). */
static inline unsigned long virtio_stat(const atomic_ulong *stat)
{
	return atomic_load_explicit(stat, memory_order_relaxed);
}

/*
 * How KVM reaches a slot's device without arkvm (virtio_slots.c): for a
 * device whose queues the host kernel serves (vhost-net), which then takes
 * the kicks and raises the interrupts itself.  Descriptors are -1 without
 * KVM (unit tests).
 */
struct virtio_wiring {
	int irq_fd;                                /* the slot's irqfd */
	struct event_loop *kick_loop;              /* where arkvm hears the kicks */
	struct event_source *kick[VIRTIO_MAX_QUEUES];  /* each queue's ioeventfd */
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	const char *name;
	u32 device_id;
	unsigned int nr_queues;
	u16 queue_max;
	const struct guest_mem *mem;

	void *config;          /* little-endian config space, owned by the device */
	u32 config_len;

	/* Sends the guest an interrupt (an irqfd write on KVM). */
	void (*interrupt)(void *opaque);
	void *interrupt_opaque;
	u32 intid;             /* the SPI, for the device tree */
	/*
	 * Every valid QueueNotify write is taken by a KVM ioeventfd and served
	 * on the I/O thread; one that still reaches the MMIO handler names no
	 * queue and is dropped, so queue work never runs on a vCPU thread.
	 */
	bool kicks_by_eventfd;
	struct virtio_wiring wiring;

	pthread_mutex_t lock;
	u32 status;
	u32 generation;        /* bumped at every activation, reset and failure */
	u64 offered, accepted;
	u32 device_features_sel, driver_features_sel, queue_sel;
	atomic_uint isr;
	/*
	 * Bits every InterruptStatus read shows: VIRTIO_ISR_USED while the host
	 * kernel serves the queues and interrupts the guest without arkvm, so
	 * the driver's handler always looks at its rings.
	 */
	atomic_uint isr_sticky;
	atomic_uint config_generation;
	struct virtio_queue_regs qregs[VIRTIO_MAX_QUEUES];
	struct virtq vqs[VIRTIO_MAX_QUEUES];
	struct virtio_stats stats;
};

void virtio_dev_init(struct virtio_dev *dev, const struct virtio_dev_ops *ops,
		     const char *name, u32 device_id, unsigned int nr_queues, u16 queue_max,
		     const struct guest_mem *mem);
void virtio_dev_destroy(struct virtio_dev *dev);

/* The guest kicked queue @q (from its ioeventfd, or a QueueNotify write). */
void virtio_dev_queue_notify(struct virtio_dev *dev, unsigned int q);

/*
 * What the driver's Status write of 0 does: the device forgets the driver
 * (its reset op first, which waits for work in flight).  dev->lock held.
 */
void virtio_dev_reset(struct virtio_dev *dev);
/* Every feature bit the device offers, the transport's included. */
u64 virtio_dev_offered(struct virtio_dev *dev);

struct state_writer;
struct state_reader;
/*
 * The transport's state and each queue's (src/virtio_state.c), for pause
 * and snapshots: with the device quiesced.  Restore checks every value as
 * it would a driver's register write, and maps each ring again from the
 * guest-physical addresses the driver gave; -EINVAL when anything is off,
 * with the device left reset.
 */
int virtio_dev_save(struct virtio_dev *dev, struct state_writer *w);
int virtio_dev_restore(struct virtio_dev *dev, struct state_reader *r);

/* For device models, with dev->lock held: */
bool virtio_dev_has_feature(const struct virtio_dev *dev, unsigned int bit);
/* DRIVER_OK, and neither failed nor waiting for a reset. */
bool virtio_dev_running(const struct virtio_dev *dev);

/*
 * Serves one chain: returns 0 with *@written set to the bytes it wrote into
 * the chain, 1 when the device keeps the chain to return it later itself
 * (virtq_push() under dev->lock, if dev->generation still equals
 * c->generation), VIRTIO_SERVE_LATER when it may not serve it yet (rate
 * limited: the chain goes back to the ring, and the queue is left until
 * the device serves it again), or -errno when the chain is malformed (the
 * device then needs a reset).  Called without dev->lock: it may block on I/O.
 */
#define VIRTIO_SERVE_LATER 2
typedef int (*virtio_serve_fn)(struct virtio_dev *dev, const struct virtq_chain *c,
			       u32 *written);

/*
 * Chains one kick serves before the queue yields to the I/O thread's other
 * work (virtio_dev_serve_queue()).
 */
#define VIRTIO_SERVE_BUDGET 256

/*
 * The loop most queues need: takes every available chain into @c, serves it
 * with dev->lock dropped (no lock is ever held across I/O), returns it, and
 * interrupts the guest once per batch.  Chains served while the driver reset
 * the device are dropped: they belong to the old rings.
 */
void virtio_dev_serve_queue(struct virtio_dev *dev, unsigned int q, struct virtq_chain *c,
			    virtio_serve_fn serve);
/* Interrupts the guest if the queue's driver wants to hear about new used entries. */
void virtio_dev_notify_used(struct virtio_dev *dev, unsigned int q);
/* Config space changed (a disk's capacity): the driver rereads it. dev->lock held. */
void virtio_dev_config_changed(struct virtio_dev *dev);
/* The driver broke the rules: DEVICE_NEEDS_RESET, a config interrupt, a warning. */
void virtio_dev_fail(struct virtio_dev *dev, const char *why, int err);

extern const struct mmio_ops virtio_mmio_ops;

/* Offset of QueueNotify, where the VM places each queue's ioeventfd. */
#define VIRTIO_MMIO_NOTIFY_OFFSET 0x050

#endif
