// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net on a network backend (include/net_backend.h).  The features
 * offered follow from what the backend can do.  A tap speaks the guest's
 * own 12-byte virtio-net header (IFF_VNET_HDR), so packets move between
 * the rings and the tap with readv/writev straight on guest buffers: no
 * copies, and the checksum and segmentation offloads pass through
 * untouched.  For a backend without the header the device drops it on
 * transmit and writes a plain one on receive, and offers no offloads.
 *
 * Transmit: each chain is one packet, header first.
 *
 * Receive: the guest posts empty buffers.  arkvm takes from the ring as
 * many as the largest packet it may get needs, reads one packet across
 * them, returns the ones it filled and keeps the rest for the next packet.
 * With MRG_RXBUF a packet may span several buffers (num_buffers in its
 * header says how many); without it, each packet gets one chain.  When the
 * guest has posted too few, the backend is not polled until it posts more.
 *
 * A backend whose queues the kernel serves (vhost) takes them from
 * DRIVER_OK to reset; the device then only watches for a broken ring.
 *
 * Rate limits (arkvm's datapath only): a packet the guest sends takes
 * 1 op and its frame's bytes before it goes, or waits in the ring for the
 * limiter's timer.  One it receives takes its op before the read and its
 * bytes after, since only then is its size known: the bytes bucket may
 * overdraw by one packet, which the next waits out.  While the limiter
 * waits, the tap is not polled.
 */
#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "device.h"
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

static bool net_has(const struct virtio_net *n, u32 cap)
{
	return n->be.caps & cap;
}

static void net_poll_tap(struct virtio_net *n, bool on)
{
	if (n->tap_broken || n->tap_polled == on ||
	    (on && (n->quiesced || rate_limiter_blocked(&n->rx_rl))))
		return;
	if (!event_loop_mod(n->loop, &n->tap_src, on ? EPOLLIN : 0))
		n->tap_polled = on;
}

/*
 * The backend went away (a tap deleted, passt gone, or an error it keeps
 * returning): stop watching it, and tell the guest its link is down
 * (VIRTIO_NET_F_STATUS, offered to every guest) with a config interrupt.
 * dev->lock held.
 */
static void net_tap_failed(struct virtio_net *n, int err)
{
	pr_warn_ratelimited("%s: %s '%s' failed (%s): no more packets for the guest, link down",
			    n->vdev.name, n->be.ops->kind, n->be.name,
			    err ? strerror(err) : "end of file");
	if (!n->tap_broken)
		event_loop_del(n->loop, &n->tap_src);
	n->tap_broken = true;
	if (le16toh(n->config.status) & VIRTIO_NET_S_LINK_UP) {
		n->config.status = htole16(le16toh(n->config.status) & ~VIRTIO_NET_S_LINK_UP);
		virtio_dev_config_changed(&n->vdev);
	}
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

	metric_inc(&n->metrics.rx_count);
	metric_inc(&n->metrics.rx_packets_count);
	metric_add(&n->metrics.rx_bytes_count, len);
	while (covered < len && nr_bufs < n->rx_nr_bufs) {
		covered += n->rx_bufs[nr_bufs].len;
		nr_iov += n->rx_bufs[nr_bufs++].nr_iov;
	}
	/* The header the backend wrote (or we did) leaves num_buffers to us. */
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

/*
 * The segments of @iov past the virtio-net header, copied to @frame (room
 * for @nr): where a backend without the header reads or writes the frame.
 * How many there are, from *@start on; 0 when nothing lies past it.
 */
static unsigned int net_past_header(const struct iovec *iov, unsigned int nr,
				    struct iovec *frame, struct iovec **start)
{
	memcpy(frame, iov, nr * sizeof(*iov));
	*start = frame;
	return iov_advance(start, nr, NET_HDR_LEN);
}

/*
 * Reads one packet into the held buffers: its length with the header, or
 * what the backend's recv() returned.  Without the lock: the buffers are
 * checked and ours.
 */
static ssize_t net_recv(struct virtio_net *n)
{
	static const struct virtio_net_hdr_mrg_rxbuf plain = { .hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE };
	unsigned int nr = n->rx_merge ? n->rx_nr_iov : n->rx_bufs[0].nr_iov, left;
	struct iovec *frame;
	ssize_t got;

	if (net_has(n, NET_CAP_VNET_HDR))
		return n->be.ops->recv(&n->be, n->rx_iov, nr);
	left = net_past_header(n->rx_iov, nr, n->rx_frame_iov, &frame);
	if (!left) {
		/* No room past the header: the packet is taken and dropped, as a runt. */
		got = n->be.ops->recv(&n->be, n->rx_iov, nr);
		return got <= 0 ? got : MIN(got, (ssize_t)NET_HDR_LEN - 1);
	}
	got = n->be.ops->recv(&n->be, frame, left);
	if (got <= 0)
		return got;
	iov_copy_to(n->rx_iov, nr, 0, &plain, sizeof(plain));
	return got + NET_HDR_LEN;
}

/* Reads packets from the backend into the guest's buffers; dev->lock held. */
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
		if (!rate_limiter_admit(&n->rx_rl, 1, 0)) {
			net_poll_tap(n, false); /* until the limiter's timer */
			break;
		}
		pthread_mutex_unlock(&dev->lock);
		got = net_recv(n);
		pthread_mutex_lock(&dev->lock);
		if (dev->generation != generation)
			return;
		if (got <= 0)
			rate_limiter_replenish(&n->rx_rl, 1, 0); /* no packet: no op */
		if (got == -EAGAIN)
			break;
		if (got <= 0) {
			net_tap_failed(n, (int)-got);
			break;
		}
		if ((u32)got < NET_HDR_LEN) {
			n->rx_dropped++;
			metric_inc(&n->metrics.rx_fails);
			continue;
		}
		rate_limiter_take(&n->rx_rl, 0, (u64)got - NET_HDR_LEN);
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
	if (c->out_len < NET_HDR_LEN) {
		metric_inc(&n->metrics.tx_malformed_frames);
		return -EINVAL; /* every packet starts with its header */
	}
	if (!rate_limiter_admit(&n->tx_rl, 1, c->out_len - NET_HDR_LEN))
		return VIRTIO_SERVE_LATER;
	if (net_has(n, NET_CAP_VNET_HDR)) {
		sent = n->be.ops->send(&n->be, c->iov, c->nr_out);
	} else {
		/* No offloads were offered: the header says nothing the frame needs. */
		struct iovec *frame;
		unsigned int nr = net_past_header(c->iov, c->nr_out, n->tx_frame_iov, &frame);

		sent = nr ? n->be.ops->send(&n->be, frame, nr) : -EINVAL;
	}
	if (sent < 0) {
		n->tx_dropped++;
		metric_inc(&n->metrics.tx_fails);
	} else {
		n->tx_packets++;
		metric_inc(&n->metrics.tx_count);
		metric_inc(&n->metrics.tx_packets_count);
		metric_add(&n->metrics.tx_bytes_count, c->out_len);
	}
	return 0;
}

static void net_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_net *n = container_of(dev, struct virtio_net, vdev);

	if (n->kernel_running || n->quiesced)
		return; /* a kick heard just before the kernel took the queues, or paused */
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

	metric_inc(&n->metrics.rx_tap_event_count);
	pthread_mutex_lock(&n->vdev.lock);
	if (events & (EPOLLERR | EPOLLHUP))
		net_tap_failed(n, EIO); /* reported even when not polled: stop for good */
	else if (n->quiesced)
		; /* heard in the same round as the pause: the packet waits for resume */
	else if (virtio_dev_running(&n->vdev) && n->vdev.vqs[NET_RX_Q].size)
		net_rx(n);
	else
		net_poll_tap(n, false); /* until the driver brings the device up */
	pthread_mutex_unlock(&n->vdev.lock);
}

/* Serves queue @q again if the device runs: what a limiter held back. */
static void net_serve_again(struct virtio_net *n, unsigned int q)
{
	struct virtio_dev *dev = &n->vdev;

	pthread_mutex_lock(&dev->lock);
	if (virtio_dev_running(dev) && dev->vqs[q].size)
		net_queue_notify(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

static void net_rx_rl_wake(struct rate_limiter *rl)
{
	net_serve_again(container_of(rl, struct virtio_net, rx_rl), NET_RX_Q);
}

static void net_tx_rl_wake(struct rate_limiter *rl)
{
	net_serve_again(container_of(rl, struct virtio_net, tx_rl), NET_TX_Q);
}

void virtio_net_set_limits(struct virtio_net *n, const struct rate_limiter_config *rx,
			   const struct rate_limiter_config *tx)
{
	rate_limiter_set(&n->rx_rl, rx);
	rate_limiter_set(&n->tx_rl, tx);
	net_serve_again(n, NET_TX_Q);
	net_serve_again(n, NET_RX_Q);
}

/* The guest is offered what the backend can do, and no more. */
static u64 net_features(struct virtio_dev *dev)
{
	const struct virtio_net *n = container_of(dev, struct virtio_net, vdev);
	u64 f = F(MAC) | F(STATUS);

	if (net_has(n, NET_CAP_MRG_RXBUF))
		f |= F(MRG_RXBUF);
	/* Offloads ride in the header: a backend without it gets none. */
	if (!net_has(n, NET_CAP_VNET_HDR) || !net_has(n, NET_CAP_CSUM))
		return f;
	f |= F(CSUM) | F(GUEST_CSUM);
	if (net_has(n, NET_CAP_GSO))
		f |= NET_GUEST_GSO | NET_HOST_GSO;
	return f;
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

static int net_activate(struct virtio_dev *dev)
{
	struct virtio_net *n = container_of(dev, struct virtio_net, vdev);
	int ret = 0;

	/* Which offloads the guest takes in what it receives. */
	if (n->be.ops->set_offloads)
		ret = n->be.ops->set_offloads(&n->be, dev->accepted);
	if (ret)
		return ret;
	n->rx_merge = virtio_dev_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF);
	n->rx_need = NET_HDR_LEN + ((dev->accepted & NET_GUEST_GSO) ? NET_MAX_GSO_FRAME
								    : NET_MAX_FRAME);
	/* A backend that sends larger frames to any guest (passt): room for them too. */
	n->rx_need = MAX(n->rx_need, NET_HDR_LEN + n->be.max_frame);
	if (net_has(n, NET_CAP_KERNEL)) {
		ret = n->be.ops->kernel_start(&n->be, dev);
		n->kernel_running = !ret;
		return ret;
	}
	net_poll_tap(n, true);
	return 0;
}

static void net_kernel_stop(struct virtio_net *n)
{
	if (!n->kernel_running)
		return;
	n->be.ops->kernel_stop(&n->be, &n->vdev);
	n->kernel_running = false;
}

static void net_reset(struct virtio_dev *dev)
{
	struct virtio_net *n = container_of(dev, struct virtio_net, vdev);

	net_kernel_stop(n);
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

/* The kernel found a ring broken: it stopped that queue; the device needs a reset. */
static void net_kernel_broken(struct event_source *src, uint32_t events __unused)
{
	struct virtio_net *n = container_of(src, struct virtio_net, err_src);
	u64 count;

	if (read(src->fd, &count, sizeof(count)) < 0)
		return;
	pthread_mutex_lock(&n->vdev.lock);
	if (n->kernel_running) {
		net_kernel_stop(n);
		virtio_dev_fail(&n->vdev, "the kernel found a broken ring", -EINVAL);
	}
	pthread_mutex_unlock(&n->vdev.lock);
}

static int net_watch(struct virtio_net *n)
{
	static const struct rate_limiter_config unlimited;
	int ret;

	/* Unlimited until told otherwise; the timers exist so that an update can limit. */
	ret = rate_limiter_open(&n->rx_rl, &unlimited, n->loop, net_rx_rl_wake);
	if (!ret)
		ret = rate_limiter_open(&n->tx_rl, &unlimited, n->loop, net_tx_rl_wake);
	if (ret)
		goto err;

	n->tap_src = (struct event_source){ .fd = n->be.fd, .ready = net_tap_ready };
	n->err_src = (struct event_source){ .fd = -1, .ready = net_kernel_broken };
	/* Watched from the start, polled only while the guest has buffers. */
	ret = event_loop_add(n->loop, &n->tap_src, 0);
	if (ret)
		goto err;
	if (n->be.err_fd < 0)
		return 0;
	n->err_src.fd = n->be.err_fd;
	ret = event_loop_add(n->loop, &n->err_src, EPOLLIN);
	if (!ret)
		return 0;
	n->err_src.fd = -1;
	event_loop_del(n->loop, &n->tap_src);
err:
	rate_limiter_close(&n->rx_rl);
	rate_limiter_close(&n->tx_rl);
	return ret;
}

int virtio_net_attach(struct virtio_net *n, const struct net_backend *be, const u8 mac[6],
		      const struct guest_mem *mem, struct event_loop *loop)
{
	int ret;

	memset(n, 0, sizeof(*n));
	n->be = *be;
	n->loop = loop;
	memcpy(n->config.mac, mac, sizeof(n->config.mac));
	n->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	ret = net_watch(n);
	if (ret) {
		pr_err("--net: watching %s '%s': %s", be->ops->kind, be->name, strerror(-ret));
		n->be.ops->close(&n->be);
		return ret;
	}
	virtio_dev_init(&n->vdev, &virtio_net_ops, "virtio-net", VIRTIO_ID_NET, 2,
			NET_QUEUE_SIZE, mem);
	n->vdev.config = &n->config;
	n->vdev.config_len = sizeof(n->config);
	return 0;
}

int virtio_net_init(struct virtio_net *n, int fd, const char *name, const u8 mac[6],
		    const struct guest_mem *mem, struct event_loop *loop)
{
	struct net_backend be;

	net_socket_backend(&be, fd, name, NET_CAP_VNET_HDR | NET_CAP_CSUM | NET_CAP_GSO |
					  NET_CAP_MRG_RXBUF);
	return virtio_net_attach(n, &be, mac, mem, loop);
}

/*
 * A NIC's MAC without mac=: from its tap's name; a passt NIC has no name
 * of its own, so from its id (--net user) or passt's socket path.
 */
static void net_default_mac(const struct net_config *cfg, u8 mac[6])
{
	char key[CFG_MAX_SOCK_PATH + CFG_MAX_ID + 16];

	if (cfg->kind == NET_TAP) {
		virtio_net_default_mac(cfg->tap, mac);
		return;
	}
	snprintf(key, sizeof(key), "%s:%s", cfg->kind == NET_USER ? "user" : "passt",
		 cfg->kind == NET_USER ? cfg->id : cfg->passt_path);
	virtio_net_default_mac(key, mac);
}

int virtio_net_open(struct virtio_net *n, const struct net_config *cfg,
		    const struct guest_mem *mem, struct event_loop *loop)
{
	const struct net_backend_ops *ops = net_backend_for(cfg);
	struct net_backend be;
	u8 mac[6];
	int ret = ops->open(&be, cfg, mem);

	if (ret)
		return ret;
	if (cfg->has_mac)
		memcpy(mac, cfg->mac, sizeof(mac));
	else
		net_default_mac(cfg, mac);
	ret = virtio_net_attach(n, &be, mac, mem, loop);
	if (!ret)
		virtio_net_set_limits(n, &cfg->rx_rl, &cfg->tx_rl);
	return ret;
}

void virtio_net_close(struct virtio_net *n)
{
	if (!n->vdev.ops)
		return;
	if (!n->tap_broken)
		event_loop_del(n->loop, &n->tap_src);
	if (n->err_src.fd >= 0)
		event_loop_del(n->loop, &n->err_src);
	rate_limiter_close(&n->rx_rl);
	rate_limiter_close(&n->tx_rl);
	n->be.ops->close(&n->be);
	virtio_dev_destroy(&n->vdev);
	n->vdev.ops = NULL;
}

/*
 * The receive buffers taken and not filled go back to the ring: they are
 * the last ones taken, in order, so the ring's next entry moves back over
 * them.  A snapshot then holds them as the guest's to give, and the device
 * restored from it takes them again; kept here, they would be lost to it
 * (the guest would never see them used, nor post them again).
 */
static void net_rx_give_back(struct virtio_net *n)
{
	struct virtq *vq = &n->vdev.vqs[NET_RX_Q];

	if (n->rx_generation == n->vdev.generation && vq->size)
		vq->last_avail = (u16)(vq->last_avail - n->rx_nr_bufs);
	net_rx_forget(n);
}

int virtio_net_quiesce(struct virtio_net *n)
{
	int ret = 0;

	pthread_mutex_lock(&n->vdev.lock);
	if (!n->quiesced && n->kernel_running)
		ret = n->be.ops->kernel_quiesce(&n->be, &n->vdev);
	if (!ret) {
		net_poll_tap(n, false);
		net_rx_give_back(n);
		n->quiesced = true;
	}
	pthread_mutex_unlock(&n->vdev.lock);
	return ret;
}

/* Serves what came while paused: kicks on either queue, packets waiting in the backend. */
void virtio_net_resume(struct virtio_net *n)
{
	struct virtio_dev *dev = &n->vdev;
	int ret;

	pthread_mutex_lock(&dev->lock);
	if (!n->quiesced)
		goto out;
	n->quiesced = false;
	if (n->kernel_running) {
		ret = n->be.ops->kernel_resume(&n->be, dev);
		if (ret) {
			net_kernel_stop(n);
			virtio_dev_fail(dev, "the kernel would not take the queues back", ret);
		}
		goto out;
	}
	for (unsigned int q = NET_TX_Q + 1; q-- > 0;)
		if (virtio_dev_running(dev) && dev->vqs[q].size)
			net_queue_notify(dev, q);
out:
	pthread_mutex_unlock(&dev->lock);
}

/* The host kernel moves the packets (vhost): arkvm's own counters see none. */
static bool net_kernel_served(const struct virtio_net *n)
{
	return net_has(n, NET_CAP_KERNEL);
}

/*
 * --stats for a kernel-served NIC, from the backend's counters:
 * count_start() at start-up (main thread, before the sandbox), then
 * kernel_packets() once at the end, what the guest sent [0] and received
 * [1] since; false when unknown (no sysfs, another network namespace).
 */
static void net_count_start(struct virtio_net *n)
{
	if (n->be.ops->stats_start)
		n->be.ops->stats_start(&n->be);
}

static bool net_kernel_packets(const struct virtio_net *n, u64 sent_received[2])
{
	return n->be.ops->stats && n->be.ops->stats(&n->be, sent_received);
}

/* --- the device class: one NIC per --net, in the order given ------------------- */

static unsigned int net_count(const struct vm_config *cfg)
{
	return cfg->nr_nets;
}

static int net_create(struct device *dev, struct device_host *host, unsigned int index)
{
	const struct net_config *cfg = &host->cfg->nets[index];
	struct virtio_net *n = device_alloc_priv(dev, sizeof(*n));
	int ret;

	if (!n)
		return -ENOMEM;
	dev->id = cfg->id;
	ret = virtio_net_open(n, cfg, host->mem, host->io_loop);
	if (ret)
		return ret;
	dev->vdev = &n->vdev;
	if (host->cfg->stats && net_kernel_served(n))
		net_count_start(n);
	return 0;
}

static int net_quiesce(struct device *dev)
{
	return virtio_net_quiesce(dev->priv);
}

static void net_resume(struct device *dev)
{
	virtio_net_resume(dev->priv);
}

/* A NIC on vhost-net: the kernel moved its packets, and the tap counted them. */
static void net_print_vhost_stats(const struct virtio_net *n)
{
	unsigned long mmio = atomic_load(&n->vdev.stats.mmio);
	u64 moved[2]; /* the guest sent, received */

	if (net_kernel_packets(n, moved))
		pr_info("stats: %s %s: packets moved by vhost-net in the kernel: %llu received, "
			"%llu sent (the tap's counters); per packet: %.3f register accesses",
			n->vdev.name, n->be.name, (unsigned long long)moved[1],
			(unsigned long long)moved[0], ratio(mmio, (unsigned long)(moved[0] + moved[1])));
	else
		pr_info("stats: %s %s: packets moved by vhost-net in the kernel, which counts "
			"them (ip -s link show %s); %lu register accesses",
			n->vdev.name, n->be.name, n->be.name, mmio);
}

/*
 * A packet may span several receive buffers (MRG_RXBUF), so virtio-net's
 * cost is also given per packet, each way counted; and the kicks on the
 * receive queue (queue 0) per packet received: what refilling the
 * guest's receive buffers costs it.
 */
static void net_stats(const struct device *dev)
{
	const struct virtio_net *n = dev->priv;
	const struct virtio_stats *st = &n->vdev.stats;
	unsigned long pkts = (unsigned long)(n->rx_packets + n->tx_packets);
	/* Frames the backend dropped before they reached a buffer (too long for them). */
	u64 be_dropped = n->be.ops->dropped ? n->be.ops->dropped(&n->be) : 0;

	if (net_kernel_served(n)) {
		net_print_vhost_stats(n);
		return;
	}
	pr_info("stats: %s %s: %llu packets received, %llu sent, %llu + %llu dropped; "
		"per packet: %.3f kicks, %.3f interrupts, %.3f register accesses; "
		"receive-queue kicks per packet received: %.3f",
		n->vdev.name, n->be.name, (unsigned long long)n->rx_packets,
		(unsigned long long)n->tx_packets, (unsigned long long)(n->rx_dropped + be_dropped),
		(unsigned long long)n->tx_dropped, ratio(virtio_stats_kicks(st), pkts),
		ratio(atomic_load(&st->interrupts), pkts), ratio(atomic_load(&st->mmio), pkts),
		ratio(atomic_load(&st->kicks[0]), (unsigned long)n->rx_packets));
}

/* PATCH /network-interfaces/{id}, every other thread held: new rx and tx limits. */
static int net_update(struct device *dev, const void *new_cfg)
{
	const struct net_config *cfg = new_cfg;
	struct virtio_net *n = dev->priv;

	if (net_kernel_served(n) && (rate_limiter_config_set(&cfg->rx_rl) ||
				     rate_limiter_config_set(&cfg->tx_rl)))
		return -EOPNOTSUPP; /* vhost moves the packets: nothing here to limit */
	virtio_net_set_limits(n, &cfg->rx_rl, &cfg->tx_rl);
	return 0;
}

static void net_destroy(struct device *dev)
{
	virtio_net_close(dev->priv);
}

/* net_<iface id>, and into net; kicks and failed activations come from the transport. */
static void net_metrics(struct device *dev, struct metrics_writer *w)
{
	struct virtio_net *n = dev->priv;
	const struct virtio_stats *st = &n->vdev.stats;

	metric_set_total(&n->metrics.rx_queue_event_count, virtio_stat(&st->kicks[NET_RX_Q]));
	metric_set_total(&n->metrics.tx_queue_event_count, virtio_stat(&st->kicks[NET_TX_Q]));
	metric_set_total(&n->metrics.activate_fails, virtio_stat(&st->activate_fails));
	metrics_put(w, &net_metrics_group, dev->id, &n->metrics);
}

const struct device_class virtio_net_class = {
	.name = "virtio-net",
	.count = net_count,
	.create = net_create,
	.quiesce = net_quiesce,
	.resume = net_resume,
	.stats = net_stats,
	.update = net_update,
	.destroy = net_destroy,
	.metrics = net_metrics,
};
