/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_SLOTS_H
#define ARKVM_VIRTIO_SLOTS_H

#include "event_loop.h"
#include "virtio_mmio.h"

struct vm;
struct virtio_slot;

/* A queue's ioeventfd, watched by the I/O thread. */
struct virtio_kick {
	struct event_source src;
	struct virtio_slot *slot;
	unsigned int queue;
};

/*
 * A virtio-mmio slot of the memory map, with the device in it wired to
 * KVM: QueueNotify writes land on an ioeventfd per queue (datamatch = queue
 * index) without leaving the kernel, and interrupts go out through an
 * irqfd on the slot's SPI.  Neither touches a vCPU thread.
 */
struct virtio_slot {
	struct virtio_dev *dev;
	int irqfd;
	struct virtio_kick kicks[VIRTIO_MAX_QUEUES];
};

/* Puts @dev in the next free slot; after the VGIC is initialised. */
int virtio_slot_attach(struct vm *vm, struct virtio_dev *dev);
void virtio_slots_detach(struct vm *vm);

#endif
