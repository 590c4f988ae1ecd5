// SPDX-License-Identifier: Apache-2.0
/*
 * vhost-net: the host kernel serves a virtio-net device's queues
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
 * a chain) stops its queue and signals an eventfd that the I/O thread
 * watches: the device then needs a reset, as when arkvm finds one itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "virtio_devices.h"

#define VHOST_NR_QUEUES 2

/* The features of arkvm's virtio-net that the kernel implements itself. */
#define VHOST_NET_FEATURES ((1ULL << VIRTIO_F_VERSION_1) |          \
			    (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |   \
			    (1ULL << VIRTIO_RING_F_EVENT_IDX) |       \
			    (1ULL << VIRTIO_NET_F_MRG_RXBUF))

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

static void vhost_net_broken(struct event_source *src, uint32_t events __unused)
{
	struct virtio_net *n = container_of(src, struct virtio_net, vhost.err_src);
	u64 count;

	if (read(src->fd, &count, sizeof(count)) < 0)
		return;
	pthread_mutex_lock(&n->vdev.lock);
	if (n->vhost.running) {
		vhost_net_stop(n);
		virtio_dev_fail(&n->vdev, "vhost-net found a broken ring", -EINVAL);
	}
	pthread_mutex_unlock(&n->vdev.lock);
}

int vhost_net_open(struct virtio_net *n)
{
	struct vhost_net *v = &n->vhost;
	u64 features = 0;
	int ret;

	v->fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (v->fd < 0) {
		ret = -errno;
		pr_err("--net tap=%s,vhost: cannot open /dev/vhost-net: %s%s", n->tap,
		       strerror(-ret), ret == -ENOENT ? " (load it: modprobe vhost_net)" : "");
		return ret;
	}
	ret = vhost_ioctl(v->fd, VHOST_SET_OWNER, NULL);
	if (!ret)
		ret = vhost_ioctl(v->fd, VHOST_GET_FEATURES, &features);
	if (!ret && (features & VHOST_NET_FEATURES) != VHOST_NET_FEATURES)
		ret = -EOPNOTSUPP;
	if (!ret)
		ret = vhost_set_mem_table(v->fd, n->vdev.mem);
	if (!ret) {
		v->err_src.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		v->err_src.ready = vhost_net_broken;
		ret = v->err_src.fd < 0 ? -errno : event_loop_add(n->loop, &v->err_src, EPOLLIN);
		if (ret && v->err_src.fd >= 0) {
			close(v->err_src.fd); /* never in the loop: not for vhost_net_close() */
			v->err_src.fd = -1;
		}
	}
	if (ret) {
		pr_err("--net tap=%s,vhost: the kernel's vhost-net refused: %s", n->tap,
		       ret == -EOPNOTSUPP ? "it lacks a virtio feature arkvm offers" : strerror(-ret));
		vhost_net_close(n);
	}
	return ret;
}

/*
 * The tap's counters, as the host sees them: it receives what the guest
 * sends.  sysfs makes a counter's text at the first read of a descriptor,
 * and reading it again would need a seek, which the sandbox refuses: so
 * each descriptor is read once, the end's opened at start-up too.
 */
static const char *const tap_counters[2] = { "rx_packets", "tx_packets" };

static int tap_counter_open(const char *tap, unsigned int i)
{
	char path[CFG_MAX_IFNAME + 48];

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", tap, tap_counters[i]);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* A counter's value, read once from @fd; -1 if it cannot be read. */
static long long tap_counter_read(int fd)
{
	char buf[32], *end;
	long long v;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	return errno || end == buf || v < 0 ? -1 : v;
}

void vhost_net_count_start(struct virtio_net *n)
{
	struct vhost_net *v = &n->vhost;

	for (unsigned int i = 0; i < 2; i++) {
		int fd = tap_counter_open(n->tap, i);

		v->pkts_start[i] = tap_counter_read(fd);
		if (fd >= 0)
			close(fd);
		v->pkts_end_fd[i] = tap_counter_open(n->tap, i);
	}
}

bool vhost_net_packets(const struct virtio_net *n, u64 sent_received[2])
{
	const struct vhost_net *v = &n->vhost;

	for (unsigned int i = 0; i < 2; i++) {
		long long end = tap_counter_read(v->pkts_end_fd[i]);

		if (v->pkts_start[i] < 0 || end < v->pkts_start[i])
			return false;
		sent_received[i] = (u64)(end - v->pkts_start[i]);
	}
	return true;
}

/* Hands queue @q to the kernel; arkvm stops hearing its kicks first. */
static int vhost_start_queue(struct virtio_net *n, unsigned int q)
{
	const struct virtio_dev *dev = &n->vdev;
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
		{ .index = q, .fd = n->vhost.err_src.fd },
		{ .index = q, .fd = n->tap_fd },
	};
	int fd = n->vhost.fd, ret;

	if (!vq->size)
		return -EINVAL; /* the driver left a queue out */
	ret = event_loop_mod(dev->wiring.kick_loop, kick, 0);
	if (!ret)
		ret = vhost_ioctl(fd, VHOST_SET_VRING_NUM, &num);
	if (!ret)
		ret = vhost_ioctl(fd, VHOST_SET_VRING_BASE, &base);
	if (!ret)
		ret = vhost_ioctl(fd, VHOST_SET_VRING_ADDR, &addr);
	if (!ret)
		ret = vhost_ioctl(fd, VHOST_SET_VRING_KICK, &files[0]);
	if (!ret)
		ret = vhost_ioctl(fd, VHOST_SET_VRING_CALL, &files[1]);
	if (!ret)
		ret = vhost_ioctl(fd, VHOST_SET_VRING_ERR, &files[2]);
	if (!ret)
		ret = vhost_ioctl(fd, VHOST_NET_SET_BACKEND, &files[3]);
	return ret;
}

int vhost_net_start(struct virtio_net *n)
{
	struct virtio_dev *dev = &n->vdev;
	u64 features = dev->accepted & VHOST_NET_FEATURES, one = 1;
	int ret = 0;

	if (dev->wiring.irq_fd < 0 || dev->nr_queues < VHOST_NR_QUEUES)
		return -ENODEV; /* not wired to KVM */
	for (unsigned int q = 0; q < VHOST_NR_QUEUES; q++)
		if (!dev->wiring.kick[q])
			return -ENODEV;
	ret = vhost_ioctl(n->vhost.fd, VHOST_SET_FEATURES, &features);
	for (unsigned int q = 0; !ret && q < VHOST_NR_QUEUES; q++)
		ret = vhost_start_queue(n, q);
	n->vhost.running = true;
	if (ret) {
		vhost_net_stop(n);
		return ret;
	}
	atomic_store(&dev->isr_sticky, VIRTIO_ISR_USED);
	/* A kick arkvm heard before the kernel took over: the kernel hears it too. */
	for (unsigned int q = 0; q < VHOST_NR_QUEUES; q++)
		if (write(dev->wiring.kick[q]->fd, &one, sizeof(one)) < 0)
			break; /* the counter is full: a kick is pending anyway */
	return 0;
}

void vhost_net_stop(struct virtio_net *n)
{
	struct virtio_dev *dev = &n->vdev;

	if (!n->vhost.running)
		return;
	for (unsigned int q = 0; q < VHOST_NR_QUEUES; q++) {
		struct vhost_vring_file off = { .index = q, .fd = VHOST_FILE_UNBIND };
		struct vhost_vring_state base = { .index = q };

		/*
		 * Without its tap the queue stops; reading its base lets the
		 * kernel's worker finish with the ring.  Neither fails on a
		 * queue that never started.
		 */
		vhost_ioctl(n->vhost.fd, VHOST_NET_SET_BACKEND, &off);
		vhost_ioctl(n->vhost.fd, VHOST_GET_VRING_BASE, &base);
		vhost_ioctl(n->vhost.fd, VHOST_SET_VRING_KICK, &off);
		vhost_ioctl(n->vhost.fd, VHOST_SET_VRING_CALL, &off);
		event_loop_mod(dev->wiring.kick_loop, dev->wiring.kick[q], EPOLLIN);
	}
	atomic_store(&dev->isr_sticky, 0);
	n->vhost.running = false;
}

void vhost_net_close(struct virtio_net *n)
{
	struct vhost_net *v = &n->vhost;

	if (v->err_src.fd >= 0) {
		event_loop_del(n->loop, &v->err_src);
		close(v->err_src.fd);
	}
	if (v->fd >= 0)
		close(v->fd);
	for (unsigned int i = 0; i < 2; i++) {
		if (v->pkts_end_fd[i] >= 0)
			close(v->pkts_end_fd[i]);
		v->pkts_end_fd[i] = -1;
	}
	v->fd = v->err_src.fd = -1;
}
