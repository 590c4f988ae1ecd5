// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "vm.h"

static void virtio_slot_interrupt(void *opaque)
{
	struct virtio_slot *slot = opaque;
	u64 one = 1;

	/* Only fails if the counter would overflow, and then it is pending anyway. */
	if (write(slot->irqfd, &one, sizeof(one)) < 0)
		return;
}

static void virtio_kick_ready(struct event_source *src, uint32_t events)
{
	struct virtio_kick *k = container_of(src, struct virtio_kick, src);
	u64 count;

	if (read(src->fd, &count, sizeof(count)) < 0)
		return;
	virtio_dev_queue_notify(k->slot->dev, k->queue);
}

static int virtio_slot_irqfd(struct vm *vm, struct virtio_slot *slot, u32 intid)
{
	struct kvm_irqfd irqfd = { .gsi = intid - ARM64_SPI_BASE };

	slot->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (slot->irqfd < 0)
		return -errno;
	irqfd.fd = (u32)slot->irqfd;
	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

static int virtio_slot_kick(struct vm *vm, struct virtio_slot *slot, u64 base, unsigned int q)
{
	struct virtio_kick *k = &slot->kicks[q];
	struct kvm_ioeventfd ioev = {
		.datamatch = q,
		.addr = base + VIRTIO_MMIO_NOTIFY_OFFSET,
		.len = 4,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	k->slot = slot;
	k->queue = q;
	k->src.ready = virtio_kick_ready;
	k->src.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->src.fd < 0)
		return -errno;
	ioev.fd = k->src.fd;
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioev) < 0)
		return -errno;
	slot->dev->wiring.kick[q] = &k->src;
	return event_loop_add(&vm->io_loop, &k->src, EPOLLIN);
}

int virtio_slot_attach(struct vm *vm, struct virtio_dev *dev)
{
	unsigned int index = vm->nr_virtio;
	struct virtio_slot *slot = &vm->virtio[index];
	u64 base = ARM64_VIRTIO_BASE + index * ARM64_VIRTIO_SLOT_SIZE;
	int ret;

	if (index == ARM64_VIRTIO_SLOTS) {
		pr_err("%s: no free virtio-mmio slot", dev->name);
		return -ENOSPC;
	}
	memset(slot, 0, sizeof(*slot));
	slot->irqfd = -1;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		slot->kicks[q].src.fd = -1;
	slot->dev = dev;
	vm->nr_virtio++; /* counted now, so detach cleans up a half-made slot */

	dev->intid = ARM64_VIRTIO_IRQ_BASE + index;
	dev->interrupt = virtio_slot_interrupt;
	dev->interrupt_opaque = slot;
	ret = virtio_slot_irqfd(vm, slot, dev->intid);
	dev->wiring.irq_fd = slot->irqfd;
	dev->wiring.kick_loop = &vm->io_loop;
	for (unsigned int q = 0; !ret && q < dev->nr_queues; q++)
		ret = virtio_slot_kick(vm, slot, base, q);
	dev->kicks_by_eventfd = true;
	if (!ret)
		ret = mmio_bus_register(&vm->bus, base, ARM64_VIRTIO_SLOT_SIZE, &virtio_mmio_ops,
					dev, dev->name);
	if (ret)
		pr_err("%s: wiring it to KVM: %s", dev->name, strerror(-ret));
	return ret;
}

void virtio_slots_detach(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_virtio; i++) {
		struct virtio_slot *slot = &vm->virtio[i];

		for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
			if (slot->kicks[q].src.fd >= 0)
				close(slot->kicks[q].src.fd);
		if (slot->irqfd >= 0)
			close(slot->irqfd);
	}
	vm->nr_virtio = 0;
}
