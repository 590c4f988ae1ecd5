// SPDX-License-Identifier: Apache-2.0
/*
 * The tap backend: an existing host tap opened with IFF_VNET_HDR, so it
 * speaks the guest's own 12-byte virtio-net header.  Packets move with
 * readv/writev straight on guest buffers (no copies), and the checksum and
 * segmentation offloads pass through untouched; TUNSETOFFLOAD tells the
 * tap which ones the guest takes.
 *
 * Also here: the socket backend (any fd that keeps packet boundaries, for
 * tests and fuzzers), which moves packets the same way, and the tap's
 * sysfs counters that tap+vhost reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backends/net_tap.h"
#include "log.h"

static const char *tap_error(int err)
{
	switch (err) {
	case EPERM:
		return "not permitted (is it owned by another user?)";
	case EBUSY:
		return "in use by another process";
	case EINVAL:
		return "not a single-queue tap device";
	default:
		return strerror(err);
	}
}

int net_tap_open_fd(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr_len = (int)sizeof(struct virtio_net_hdr_mrg_rxbuf);
	int fd, err;

	if (!if_nametoindex(name)) {
		pr_err("--net: tap '%s' does not exist (create it first: ip tuntap add %s mode tap)",
		       name, name);
		return -ENODEV;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		pr_err("--net: cannot open /dev/net/tun: %s", strerror(err));
		return -err;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		pr_err("--net: cannot attach to tap '%s': %s", name, tap_error(err));
		close(fd);
		return -err;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		err = errno;
		pr_err("--net: tap '%s' refuses the virtio-net header: %s", name, strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

ssize_t net_fd_recv(struct net_backend *be, const struct iovec *iov, unsigned int n)
{
	ssize_t got;

	do
		got = readv(be->fd, iov, (int)n);
	while (got < 0 && errno == EINTR);
	return got < 0 ? -errno : got;
}

/* The tap checks the header's offload fields itself, as for any sender. */
ssize_t net_fd_send(struct net_backend *be, const struct iovec *iov, unsigned int n)
{
	ssize_t sent;

	do
		sent = writev(be->fd, iov, (int)n);
	while (sent < 0 && errno == EINTR);
	return sent < 0 ? -errno : sent;
}

int net_tap_set_offloads(struct net_backend *be, u64 features)
{
	unsigned int tun = 0;

	if (features & (1ULL << VIRTIO_NET_F_GUEST_CSUM))
		tun |= TUN_F_CSUM;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
		tun |= TUN_F_TSO4;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
		tun |= TUN_F_TSO6;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_ECN))
		tun |= TUN_F_TSO_ECN;
	return ioctl(be->fd, TUNSETOFFLOAD, tun) < 0 ? -errno : 0;
}

static void net_fd_close(struct net_backend *be)
{
	if (be->fd >= 0)
		close(be->fd);
	be->fd = -1;
}

/* What a tap can do: the guest's header, every offload, any buffer layout. */
#define TAP_CAPS (NET_CAP_VNET_HDR | NET_CAP_CSUM | NET_CAP_GSO | NET_CAP_MRG_RXBUF)

static int net_tap_open(struct net_backend *be, const struct net_config *cfg,
			const struct guest_mem *mem)
{
	int fd = net_tap_open_fd(cfg->tap);

	if (fd < 0)
		return fd;
	*be = (struct net_backend){ .ops = &net_tap_ops, .caps = TAP_CAPS, .fd = fd, .err_fd = -1 };
	snprintf(be->name, sizeof(be->name), "%s", cfg->tap);
	return 0;
}

const struct net_backend_ops net_tap_ops = {
	.kind = "tap",
	.open = net_tap_open,
	.recv = net_fd_recv,
	.send = net_fd_send,
	.set_offloads = net_tap_set_offloads,
	.close = net_fd_close,
};

static const struct net_backend_ops net_socket_ops = {
	.kind = "socket",
	.recv = net_fd_recv,
	.send = net_fd_send,
	.close = net_fd_close,
};

int net_socket_backend(struct net_backend *be, int fd, const char *name, u32 caps)
{
	/* Offloads ride in the header: a backend without it can have none. */
	if (!(caps & NET_CAP_VNET_HDR) && (caps & (NET_CAP_CSUM | NET_CAP_GSO)))
		return -EINVAL;
	*be = (struct net_backend){ .ops = &net_socket_ops, .caps = caps & ~NET_CAP_KERNEL,
				    .fd = fd, .err_fd = -1 };
	snprintf(be->name, sizeof(be->name), "%s", name);
	return 0;
}

const struct net_backend_ops *net_backend_for(const struct net_config *cfg)
{
	if (cfg->kind != NET_TAP)
		return &net_passt_ops;
	return cfg->vhost ? &net_vhost_ops : &net_tap_ops;
}

static const char *const tap_counter_names[2] = { "rx_packets", "tx_packets" };

static int tap_counter_open(const char *tap, unsigned int i)
{
	char path[CFG_MAX_IFNAME + 48];

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", tap,
		 tap_counter_names[i]);
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

void tap_counters_init(struct tap_counters *c)
{
	*c = (struct tap_counters){ .start = { -1, -1 }, .end_fd = { -1, -1 } };
}

void tap_counters_start(struct tap_counters *c, const char *tap)
{
	for (unsigned int i = 0; i < 2; i++) {
		int fd = tap_counter_open(tap, i);

		c->start[i] = tap_counter_read(fd);
		if (fd >= 0)
			close(fd);
		if (c->end_fd[i] >= 0)
			close(c->end_fd[i]);
		c->end_fd[i] = tap_counter_open(tap, i);
	}
}

bool tap_counters_read(const struct tap_counters *c, u64 sent_received[2])
{
	for (unsigned int i = 0; i < 2; i++) {
		long long end = tap_counter_read(c->end_fd[i]);

		if (c->start[i] < 0 || end < c->start[i])
			return false;
		sent_received[i] = (u64)(end - c->start[i]);
	}
	return true;
}

void tap_counters_close(struct tap_counters *c)
{
	for (unsigned int i = 0; i < 2; i++) {
		if (c->end_fd[i] >= 0)
			close(c->end_fd[i]);
		c->end_fd[i] = -1;
	}
}
