// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net on a host tap.  The tap speaks the guest's own 12-byte
 * virtio-net header (IFF_VNET_HDR), so packets move between the rings and
 * the tap with readv/writev straight on guest buffers: no copies, and the
 * checksum and segmentation offloads pass through untouched.
 *
 * Transmit: each chain is one packet, header first, written as it is.
 *
 * Receive: the guest posts empty buffers.  arkvm takes from the ring as
 * many as the largest packet it may get needs, reads one packet across
 * them, returns the ones it filled and keeps the rest for the next packet.
 * With MRG_RXBUF a packet may span several buffers (num_buffers in its
 * header says how many); without it, each packet gets one chain.  When the
 * guest has posted too few, the tap is not polled until it posts more.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/virtio_ids.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "virtio_devices.h"

#define NET_RX_Q 0
#define NET_TX_Q 1
/* With VERSION_1 the header always has num_buffers: 12 bytes. */
#define NET_HDR_LEN   ((u32)sizeof(struct virtio_net_hdr_mrg_rxbuf))
#define NET_NUM_BUFFERS_OFF offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers)
/* The largest frame: a 64 KiB GSO packet, or one MTU-sized frame. */
#define NET_MAX_GSO_FRAME (ETH_HLEN + 4 + 65535)
#define NET_MAX_FRAME     (ETH_HLEN + 4 + ETH_DATA_LEN)
/* Interrupt the guest at least this often while a burst comes in. */
#define NET_RX_BATCH 64

#define F(bit) (1ULL << VIRTIO_NET_F_##bit)
#define NET_GUEST_GSO (F(GUEST_TSO4) | F(GUEST_TSO6) | F(GUEST_ECN))
#define NET_HOST_GSO  (F(HOST_TSO4) | F(HOST_TSO6) | F(HOST_ECN))

static void net_poll_tap(struct virtio_net *n, bool on)
{
	if (n->tap_broken || n->tap_polled == on)
		return;
	if (!event_loop_mod(n->loop, &n->tap_src, on ? EPOLLIN : 0))
		n->tap_polled = on;
}

/* The tap went away (deleted, or an error it keeps returning): stop watching it. */
static void net_tap_failed(struct virtio_net *n, int err)
{
	pr_warn_ratelimited("%s: tap '%s' failed (%s): no more packets for the guest",
			    n->vdev.name, n->tap, err ? strerror(err) : "end of file");
	if (!n->tap_broken)
		event_loop_del(n->loop, &n->tap_src);
	n->tap_broken = true;
}

static void net_rx_forget(struct virtio_net *n)
{
	n->rx_nr_bufs = n->rx_nr_iov = 0;
	n->rx_cap = 0;
}

static bool net_rx_enough(const struct virtio_net *n, const struct virtq *vq)
{
	if (!n->rx_merge)
		return n->rx_nr_bufs > 0;
	/* Holding the whole ring: it is all the guest will give, use it. */
	return n->rx_cap >= n->rx_need || (n->rx_nr_bufs && n->rx_nr_bufs >= vq->size);
}

/*
 * Takes buffers until the largest packet fits: 1 when it does, 0 when the
 * ring ran dry first, -errno when the driver posted a malformed buffer or
 * more than we can hold.
 */
static int net_rx_take(struct virtio_net *n, struct virtq *vq)
{
	while (!net_rx_enough(n, vq)) {
		struct virtq_chain *c = &n->chain;
		struct net_rx_buf *b;
		int ret;

		/* A chain has at most vq->size segments: room for the longest. */
		if (n->rx_nr_bufs == NET_QUEUE_SIZE || n->rx_nr_iov + vq->size > NET_RX_MAX_IOV)
			return -ENOBUFS;
		ret = virtq_pop(vq, c);
		if (ret <= 0)
			return ret;
		if (c->nr_out || !c->nr_in)
			return -EINVAL; /* receive buffers are device-writable only */
		b = &n->rx_bufs[n->rx_nr_bufs++];
		b->head = c->head;
		b->nr_iov = (u16)c->nr_in;
		b->len = (u32)MIN(c->in_len, (u64)UINT32_MAX);
		memcpy(&n->rx_iov[n->rx_nr_iov], c->iov, c->nr_in * sizeof(*c->iov));
		n->rx_nr_iov += c->nr_in;
		n->rx_cap += b->len;
	}
	return 1;
}

/* A packet of @len bytes landed in the oldest buffers: give them back. */
static void net_rx_complete(struct virtio_net *n, struct virtq *vq, u32 len)
{
	unsigned int nr_bufs = 0, nr_iov = 0;
	u64 covered = 0;
	__le16 num;

	while (covered < len && nr_bufs < n->rx_nr_bufs) {
		covered += n->rx_bufs[nr_bufs].len;
		nr_iov += n->rx_bufs[nr_bufs++].nr_iov;
	}
	/* The header the tap wrote leaves num_buffers to us. */
	num = htole16((u16)nr_bufs);
	iov_copy_to(n->rx_iov, nr_iov, NET_NUM_BUFFERS_OFF, &num, sizeof(num));
	for (unsigned int i = 0; i < nr_bufs; i++) {
		u32 chunk = MIN(n->rx_bufs[i].len, len);

		virtq_push(vq, n->rx_bufs[i].head, chunk);
		len -= chunk;
		n->rx_cap -= n->rx_bufs[i].len;
	}
	n->rx_nr_bufs -= nr_bufs;
	n->rx_nr_iov -= nr_iov;
	memmove(n->rx_bufs, n->rx_bufs + nr_bufs, n->rx_nr_bufs * sizeof(*n->rx_bufs));
	memmove(n->rx_iov, n->rx_iov + nr_iov, n->rx_nr_iov * sizeof(*n->rx_iov));
	n->rx_packets++;
}

/* Reads packets from the tap into the guest's buffers; dev->lock held. */
static void net_rx(struct virtio_net *n)
{
	struct virtio_dev *dev = &n->vdev;
	struct virtq *vq = &dev->vqs[NET_RX_Q];
	u32 generation = dev->generation;
	unsigned int batch = 0;
	ssize_t got;
	int ret;

	if (n->rx_generation != generation) {
		net_rx_forget(n); /* held buffers of rings a reset forgot */
		n->rx_generation = generation;
	}
	for (;;) {
		ret = net_rx_take(n, vq);
		if (ret < 0) {
			virtio_dev_fail(dev, "bad receive buffers", ret);
			return;
		}
		if (!ret) {
			if (virtq_enable_notify(vq))
				continue;
			net_poll_tap(n, false); /* until the guest posts buffers */
			break;
		}
		/* The buffers are checked and ours: read without the lock. */
		pthread_mutex_unlock(&dev->lock);
		got = readv(n->tap_fd, n->rx_iov,
			    (int)(n->rx_merge ? n->rx_nr_iov : n->rx_bufs[0].nr_iov));
		pthread_mutex_lock(&dev->lock);
		if (dev->generation != generation)
			return;
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			break;
		if (got <= 0) {
			net_tap_failed(n, got ? errno : 0);
			break;
		}
		if ((u32)got < NET_HDR_LEN) {
			n->rx_dropped++;
			continue;
		}
		net_rx_complete(n, vq, (u32)got);
		if (++batch == NET_RX_BATCH) {
			virtio_dev_notify_used(dev, NET_RX_Q);
			batch = 0;
		}
	}
	virtio_dev_notify_used(dev, NET_RX_Q);
}

static int net_tx_serve(struct virtio_dev *dev, const struct virtq_chain *c, u32 *written)
{
	struct virtio_net *n = container_of(dev, struct virtio_net, vdev);
	ssize_t sent;

	*written = 0;
	if (c->out_len < NET_HDR_LEN)
		return -EINVAL; /* every packet starts with its header */
	/* The tap checks the header's offload fields itself, as for any sender. */
	do
		sent = writev(n->tap_fd, c->iov, (int)c->nr_out);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		n->tx_dropped++;
	else
		n->tx_packets++;
	return 0;
}

static void net_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_net *n = container_of(dev, struct virtio_net, vdev);

	if (n->vhost.running)
		return; /* a kick heard just before the kernel took the queues */
	if (q == NET_TX_Q) {
		virtio_dev_serve_queue(dev, q, &n->chain, net_tx_serve);
		return;
	}
	/* New receive buffers: packets waiting in the tap can go now. */
	net_poll_tap(n, true);
	net_rx(n);
}

static void net_tap_ready(struct event_source *src, uint32_t events)
{
	struct virtio_net *n = container_of(src, struct virtio_net, tap_src);

	pthread_mutex_lock(&n->vdev.lock);
	if (events & (EPOLLERR | EPOLLHUP))
		net_tap_failed(n, EIO); /* reported even when not polled: stop for good */
	else if (virtio_dev_running(&n->vdev) && n->vdev.vqs[NET_RX_Q].size)
		net_rx(n);
	else
		net_poll_tap(n, false); /* until the driver brings the device up */
	pthread_mutex_unlock(&n->vdev.lock);
}

static u64 net_features(struct virtio_dev *dev)
{
	return F(CSUM) | F(GUEST_CSUM) | F(MAC) | F(STATUS) | F(MRG_RXBUF) |
	       NET_GUEST_GSO | NET_HOST_GSO;
}

/* Segmentation offloads need checksum offload, in each direction. */
static int net_ack_features(struct virtio_dev *dev, u64 f)
{
	if ((f & NET_GUEST_GSO) && !(f & F(GUEST_CSUM)))
		return -EINVAL;
	if ((f & NET_HOST_GSO) && !(f & F(CSUM)))
		return -EINVAL;
	return 0;
}

/* Tells the tap which offloads the guest takes in what it receives. */
static int net_set_offloads(struct virtio_net *n, u64 f)
{
	unsigned int tun = 0;

	if (f & F(GUEST_CSUM))
		tun |= TUN_F_CSUM;
	if (f & F(GUEST_TSO4))
		tun |= TUN_F_TSO4;
	if (f & F(GUEST_TSO6))
		tun |= TUN_F_TSO6;
	if (f & F(GUEST_ECN))
		tun |= TUN_F_TSO_ECN;
	if (n->is_tap && ioctl(n->tap_fd, TUNSETOFFLOAD, tun) < 0)
		return -errno;
	return 0;
}

static int net_activate(struct virtio_dev *dev)
{
	struct virtio_net *n = container_of(dev, struct virtio_net, vdev);
	int ret = net_set_offloads(n, dev->accepted);

	if (ret)
		return ret;
	n->rx_merge = virtio_dev_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF);
	n->rx_need = NET_HDR_LEN + ((dev->accepted & NET_GUEST_GSO) ? NET_MAX_GSO_FRAME
								    : NET_MAX_FRAME);
	if (n->vhost.fd >= 0)
		return vhost_net_start(n);
	net_poll_tap(n, true);
	return 0;
}

static void net_reset(struct virtio_dev *dev)
{
	struct virtio_net *n = container_of(dev, struct virtio_net, vdev);

	vhost_net_stop(n);
	net_poll_tap(n, false);
}

static const struct virtio_dev_ops virtio_net_ops = {
	.features = net_features,
	.ack_features = net_ack_features,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
};

void virtio_net_default_mac(const char *tap, u8 mac[6])
{
	u64 h = 0xcbf29ce484222325ULL; /* FNV-1a over "arkvm:" and the tap name */

	for (const char *s = "arkvm:"; *s; s++)
		h = (h ^ (u8)*s) * 0x100000001b3ULL;
	for (const char *s = tap; *s; s++)
		h = (h ^ (u8)*s) * 0x100000001b3ULL;
	mac[0] = 0x02; /* locally administered, unicast */
	for (int i = 1; i < 6; i++)
		mac[i] = (u8)(h >> (8 * i));
}

int virtio_net_init(struct virtio_net *n, int fd, const char *name, const u8 mac[6],
		    const struct guest_mem *mem, struct event_loop *loop)
{
	int ret;

	memset(n, 0, sizeof(*n));
	n->vhost.fd = n->vhost.err_src.fd = -1;
	n->vhost.pkts_end_fd[0] = n->vhost.pkts_end_fd[1] = -1;
	n->tap_fd = fd;
	snprintf(n->tap, sizeof(n->tap), "%s", name);
	memcpy(n->config.mac, mac, sizeof(n->config.mac));
	n->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->loop = loop;
	n->tap_src.fd = fd;
	n->tap_src.ready = net_tap_ready;
	/* Watched from the start, polled only while the guest has buffers. */
	ret = event_loop_add(loop, &n->tap_src, 0);
	if (ret) {
		pr_err("--net: watching tap '%s': %s", name, strerror(-ret));
		close(fd);
		return ret;
	}
	virtio_dev_init(&n->vdev, &virtio_net_ops, "virtio-net", VIRTIO_ID_NET, 2,
			NET_QUEUE_SIZE, mem);
	n->vdev.config = &n->config;
	n->vdev.config_len = sizeof(n->config);
	return 0;
}

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

/* Opens the existing tap @name with the virtio-net header on it. */
static int net_open_tap(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int hdr_len = (int)NET_HDR_LEN;
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

int virtio_net_open(struct virtio_net *n, const struct net_config *cfg,
		    const struct guest_mem *mem, struct event_loop *loop)
{
	u8 mac[6];
	int fd = net_open_tap(cfg->tap), ret;

	if (fd < 0)
		return fd;
	if (cfg->has_mac)
		memcpy(mac, cfg->mac, sizeof(mac));
	else
		virtio_net_default_mac(cfg->tap, mac);
	ret = virtio_net_init(n, fd, cfg->tap, mac, mem, loop);
	if (ret)
		return ret;
	n->is_tap = true;
	if (cfg->vhost) {
		ret = vhost_net_open(n);
		if (ret)
			virtio_net_close(n);
	}
	return ret;
}

void virtio_net_close(struct virtio_net *n)
{
	if (!n->vdev.ops)
		return;
	if (!n->tap_broken)
		event_loop_del(n->loop, &n->tap_src);
	vhost_net_close(n);
	close(n->tap_fd);
	virtio_dev_destroy(&n->vdev);
	n->vdev.ops = NULL;
}
