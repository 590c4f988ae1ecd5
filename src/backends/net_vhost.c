// SPDX-License-Identifier: Apache-2.0
/*
 * The tap+vhost backend: a tap whose device queues the host kernel serves
 * (--net tap=NAME,vhost).  arkvm still owns the device: features, queue
 * set-up and the status state machine stay in virtio_mmio.c as for any
 * device.  At DRIVER_OK it hands the kernel each ring (host addresses
 * inside guest RAM, which the kernel knows from the memory table given at
 * start-up), the tap, the queue's ioeventfd as its kick and the slot's
 * irqfd as its interrupt.  Packets then move between the guest's buffers
 * and the tap in a kernel thread: no exit to arkvm, no system call and no
 * wake-up of arkvm per packet.
 *
 * The guest's virtio-mmio driver reads InterruptStatus in its interrupt
 * handler and ignores an interrupt that shows nothing.  arkvm no longer
 * sees the kernel's interrupts, so the used-buffer bit reads as set for as
 * long as the kernel serves the queues; the driver then looks at its rings
 * on every interrupt, which costs nothing when they hold nothing new.
 *
 * A ring the kernel finds broken (a descriptor outside guest RAM, a loop in
 * a chain) stops its queue and signals be->err_fd, which the device
 * watches: it then needs a reset, as when arkvm finds one itself.
 *
 * A backend, not a device model: it lives beside the tap's, shares its
 * open and its counters, and the device reaches it only through the
 * kernel_* ops of struct net_backend_ops.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backends/net_tap.h"
#include "log.h"
#include "virtio_mmio.h"

#define VHOST_NR_QUEUES 2

/* The features of arkvm's virtio-net that the kernel implements itself. */
#define VHOST_NET_FEATURES ((1ULL << VIRTIO_F_VERSION_1) |          \
			    (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |   \
			    (1ULL << VIRTIO_RING_F_EVENT_IDX) |       \
			    (1ULL << VIRTIO_NET_F_MRG_RXBUF))

struct net_vhost {
	int fd;                       /* /dev/vhost-net */
	bool running;                 /* between kernel_start() and kernel_stop() */
	struct tap_counters counters; /* --stats: the kernel moves the packets */
};

static int vhost_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) < 0 ? -errno : 0;
}

/* Tells the kernel where guest RAM is in arkvm: every region, as mapped. */
static int vhost_set_mem_table(int fd, const struct guest_mem *mem)
{
	struct vhost_memory *table;
	int ret;

	table = calloc(1, sizeof(*table) + mem->nr_regions * sizeof(table->regions[0]));
	if (!table)
		return -ENOMEM;
	table->nregions = mem->nr_regions;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		table->regions[i].guest_phys_addr = mem->regions[i].gpa;
		table->regions[i].memory_size = mem->regions[i].size;
		table->regions[i].userspace_addr = (u64)(uintptr_t)mem->regions[i].hva;
	}
	ret = vhost_ioctl(fd, VHOST_SET_MEM_TABLE, table);
	free(table);
	return ret;
}

static void vhost_close(struct net_backend *be)
{
	struct net_vhost *v = be->priv;

	if (be->err_fd >= 0)
		close(be->err_fd);
	if (be->fd >= 0)
		close(be->fd);
	be->err_fd = be->fd = -1;
	if (!v)
		return;
	if (v->fd >= 0)
		close(v->fd);
	tap_counters_close(&v->counters);
	free(v);
	be->priv = NULL;
}

/* The kernel's vhost-net for the tap: its owner, its features, guest RAM. */
static int vhost_open_kernel(struct net_vhost *v, const char *tap, const struct guest_mem *mem)
{
	u64 features = 0;
	int ret;

	v->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (v->fd < 0) {
		ret = -errno;
		pr_err("--net tap=%s,vhost: cannot open /dev/vhost-net: %s%s", tap,
		       strerror(-ret), ret == -ENOENT ? " (load it: modprobe vhost_net)" : "");
		return ret;
	}
	ret = vhost_ioctl(v->fd, VHOST_SET_OWNER, NULL);
	if (!ret)
		ret = vhost_ioctl(v->fd, VHOST_GET_FEATURES, &features);
	if (!ret && (features & VHOST_NET_FEATURES) != VHOST_NET_FEATURES)
		ret = -EOPNOTSUPP;
	if (!ret)
		ret = vhost_set_mem_table(v->fd, mem);
	if (ret)
		pr_err("--net tap=%s,vhost: the kernel's vhost-net refused: %s", tap,
		       ret == -EOPNOTSUPP ? "it lacks a virtio feature arkvm offers"
					  : strerror(-ret));
	return ret;
}

static int vhost_open(struct net_backend *be, const struct net_config *cfg,
		      const struct guest_mem *mem)
{
	struct net_vhost *v;
	int ret = net_tap_ops.open(be, cfg, mem);

	if (ret)
		return ret;
	be->ops = &net_vhost_ops;
	be->caps |= NET_CAP_KERNEL;
	v = calloc(1, sizeof(*v));
	if (!v) {
		vhost_close(be);
		return -ENOMEM;
	}
	v->fd = -1;
	tap_counters_init(&v->counters);
	be->priv = v;
	ret = vhost_open_kernel(v, cfg->tap, mem);
	if (!ret) {
		be->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (be->err_fd < 0) {
			ret = -errno;
			pr_err("--net tap=%s,vhost: eventfd: %s", cfg->tap, strerror(-ret));
		}
	}
	if (ret)
		vhost_close(be);
	return ret;
}

/* Hands queue @q to the kernel; arkvm stops hearing its kicks first. */
static int vhost_start_queue(struct net_backend *be, struct virtio_dev *dev, unsigned int q)
{
	const struct net_vhost *v = be->priv;
	const struct virtq *vq = &dev->vqs[q];
	struct event_source *kick = dev->wiring.kick[q];
	struct vhost_vring_state num = { .index = q, .num = vq->size };
	struct vhost_vring_state base = { .index = q, .num = vq->last_avail };
	struct vhost_vring_addr addr = {
		.index = q,
		.desc_user_addr = (u64)(uintptr_t)vq->desc,
		.avail_user_addr = (u64)(uintptr_t)vq->avail,
		.used_user_addr = (u64)(uintptr_t)vq->used,
	};
	struct vhost_vring_file files[] = {
		{ .index = q, .fd = kick->fd },
		{ .index = q, .fd = dev->wiring.irq_fd },
		{ .index = q, .fd = be->err_fd },
		{ .index = q, .fd = be->fd },
	};
	int ret;

	if (!vq->size)
		return -EINVAL; /* the driver left a queue out */
	ret = event_loop_mod(dev->wiring.kick_loop, kick, 0);
	if (!ret)
		ret = vhost_ioctl(v->fd, VHOST_SET_VRING_NUM, &num);
	if (!ret)
		ret = vhost_ioctl(v->fd, VHOST_SET_VRING_BASE, &base);
	if (!ret)
		ret = vhost_ioctl(v->fd, VHOST_SET_VRING_ADDR, &addr);
	if (!ret)
		ret = vhost_ioctl(v->fd, VHOST_SET_VRING_KICK, &files[0]);
	if (!ret)
		ret = vhost_ioctl(v->fd, VHOST_SET_VRING_CALL, &files[1]);
	if (!ret)
		ret = vhost_ioctl(v->fd, VHOST_SET_VRING_ERR, &files[2]);
	if (!ret)
		ret = vhost_ioctl(v->fd, VHOST_NET_SET_BACKEND, &files[3]);
	return ret;
}

/* A kick arkvm heard, or the guest made while the kernel did not look: it hears it now. */
static void vhost_kick_all(struct virtio_dev *dev)
{
	u64 one = 1;

	for (unsigned int q = 0; q < VHOST_NR_QUEUES; q++)
		if (write(dev->wiring.kick[q]->fd, &one, sizeof(one)) < 0)
			break; /* the counter is full: a kick is pending anyway */
}

static void vhost_stop(struct net_backend *be, struct virtio_dev *dev)
{
	struct net_vhost *v = be->priv;

	if (!v->running)
		return;
	for (unsigned int q = 0; q < VHOST_NR_QUEUES; q++) {
		struct vhost_vring_file off = { .index = q, .fd = VHOST_FILE_UNBIND };
		struct vhost_vring_state base = { .index = q };

		/*
		 * Without its tap the queue stops; reading its base lets the
		 * kernel's worker finish with the ring.  Neither fails on a
		 * queue that never started.
		 */
		vhost_ioctl(v->fd, VHOST_NET_SET_BACKEND, &off);
		vhost_ioctl(v->fd, VHOST_GET_VRING_BASE, &base);
		vhost_ioctl(v->fd, VHOST_SET_VRING_KICK, &off);
		vhost_ioctl(v->fd, VHOST_SET_VRING_CALL, &off);
		event_loop_mod(dev->wiring.kick_loop, dev->wiring.kick[q], EPOLLIN);
	}
	atomic_store(&dev->isr_sticky, 0);
	v->running = false;
}

static int vhost_start(struct net_backend *be, struct virtio_dev *dev)
{
	struct net_vhost *v = be->priv;
	u64 features = dev->accepted & VHOST_NET_FEATURES;
	int ret;

	if (dev->wiring.irq_fd < 0 || dev->nr_queues < VHOST_NR_QUEUES)
		return -ENODEV; /* not wired to KVM */
	for (unsigned int q = 0; q < VHOST_NR_QUEUES; q++)
		if (!dev->wiring.kick[q])
			return -ENODEV;
	ret = vhost_ioctl(v->fd, VHOST_SET_FEATURES, &features);
	for (unsigned int q = 0; !ret && q < VHOST_NR_QUEUES; q++)
		ret = vhost_start_queue(be, dev, q);
	v->running = true;
	if (ret) {
		vhost_stop(be, dev);
		return ret;
	}
	atomic_store(&dev->isr_sticky, VIRTIO_ISR_USED);
	vhost_kick_all(dev);
	return 0;
}

/* Gives queues [0, @nr) their tap back. */
static int vhost_attach_tap(struct net_backend *be, unsigned int nr)
{
	const struct net_vhost *v = be->priv;
	int ret = 0;

	for (unsigned int q = 0; q < nr; q++) {
		struct vhost_vring_file tap = { .index = q, .fd = be->fd };
		int err = vhost_ioctl(v->fd, VHOST_NET_SET_BACKEND, &tap);

		if (err && !ret)
			ret = err;
	}
	return ret;
}

/*
 * Without its tap a queue's worker returns at once, and taking the tap
 * away waits for the worker to finish: after this the kernel writes
 * nothing into guest RAM.  It keeps each ring's position, so giving the
 * tap back goes on from there; the positions are also copied into the
 * device's queues, where a saved snapshot finds them.
 */
static int vhost_quiesce(struct net_backend *be, struct virtio_dev *dev)
{
	const struct net_vhost *v = be->priv;

	for (unsigned int q = 0; q < VHOST_NR_QUEUES; q++) {
		struct vhost_vring_file off = { .index = q, .fd = VHOST_FILE_UNBIND };
		struct vhost_vring_state base = { .index = q };
		struct virtq *vq = &dev->vqs[q];
		int ret = vhost_ioctl(v->fd, VHOST_NET_SET_BACKEND, &off);

		if (!ret)
			ret = vhost_ioctl(v->fd, VHOST_GET_VRING_BASE, &base);
		if (ret) {
			vhost_attach_tap(be, q + 1); /* as it was: running */
			return ret;
		}
		vq->last_avail = (u16)base.num;
		vq->used_idx = le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE));
	}
	return 0;
}

static int vhost_resume(struct net_backend *be, struct virtio_dev *dev)
{
	int ret = vhost_attach_tap(be, VHOST_NR_QUEUES);

	/* A kick the guest made just before the pause found no tap: look again. */
	if (!ret)
		vhost_kick_all(dev);
	return ret;
}

static void vhost_stats_start(struct net_backend *be)
{
	struct net_vhost *v = be->priv;

	tap_counters_start(&v->counters, be->name);
}

static bool vhost_stats(const struct net_backend *be, u64 sent_received[2])
{
	const struct net_vhost *v = be->priv;

	return tap_counters_read(&v->counters, sent_received);
}

const struct net_backend_ops net_vhost_ops = {
	.kind = "tap+vhost",
	.open = vhost_open,
	.recv = net_fd_recv,
	.send = net_fd_send,
	.set_offloads = net_tap_set_offloads,
	.kernel_start = vhost_start,
	.kernel_stop = vhost_stop,
	.kernel_quiesce = vhost_quiesce,
	.kernel_resume = vhost_resume,
	.stats_start = vhost_stats_start,
	.stats = vhost_stats,
	.close = vhost_close,
};
