// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock, streams only, with Firecracker's hybrid unix-socket
 * backend.  Every guest connection is to the host (CID 2) and becomes a
 * unix socket: "<uds_path>_<port>" for one the guest opens, an accepted
 * client of uds_path that wrote "CONNECT <port>\n" for one the host opens.
 *
 * Everything runs on the I/O thread under vdev.lock; host sockets are
 * non-blocking, so the lock is never held across a wait.  Flow control is
 * the spec's credit scheme both ways: arkvm sends the guest no more than
 * the guest said it has room for, and buffers at most VSOCK_BUF_ALLOC of
 * what the guest sent per connection (a guest that sends past the credit
 * arkvm gave loses the connection).  When the guest gives no receive
 * buffer or no credit, arkvm stops reading the host socket (no EPOLLIN)
 * until it does: nothing polls.
 */
#include <errno.h>
#include <endian.h>
#include <fcntl.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "virtio_vsock_conn.h"

#define VSOCK_QUEUE_SIZE 256
/* Tell the guest of room freed once this much of it went to the host. */
#define VSOCK_CREDIT_THRESH (VSOCK_BUF_ALLOC / 4)


/* Without a loop (unit tests) the events are only recorded. */
void vsock_conn_watch(struct vsock_conn *c, u32 want)
{
	struct event_loop *loop = c->vs->loop;

	if (want == c->events)
		return;
	if (loop) {
		if (!want)
			event_loop_del(loop, &c->src);
		else if (!c->events)
			event_loop_add(loop, &c->src, want);
		else
			event_loop_mod(loop, &c->src, want);
	}
	c->events = want;
}

static u32 peer_credit(const struct vsock_conn *c)
{
	u32 in_flight = c->tx_cnt - c->peer_fwd_cnt;

	return in_flight > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool conn_wants_read(const struct vsock_conn *c)
{
	if (c->state == VS_HANDSHAKE)
		return true;
	return c->state == VS_ESTABLISHED && !c->host_eof && !c->peer_shut_rcv &&
	       !(c->owe & OWE_RST);
}

static bool rx_buffer(struct virtio_vsock *vs);

/*
 * What the loop watches for: reading while the guest can take what comes
 * (credit, and a receive buffer, held from here), writing while output
 * waits.  Otherwise the socket is left alone until a kick or a credit
 * update brings room: nothing polls.
 */
static void conn_rearm(struct vsock_conn *c)
{
	u32 want = 0;

	if (conn_wants_read(c) &&
	    (c->state == VS_HANDSHAKE || (peer_credit(c) && rx_buffer(c->vs))))
		want |= EPOLLIN;
	if (c->buf_len)
		want |= EPOLLOUT;
	vsock_conn_watch(c, want);
}

/*
 * The connection the guest knows by these ports.  A host client still
 * writing its CONNECT line has no ports yet: it is nobody's to find.
 */
struct vsock_conn *vsock_conn_find(struct virtio_vsock *vs, u32 local, u32 peer)
{
	for (unsigned int i = 0; i < vs->nr_conns; i++) {
		struct vsock_conn *c = vs->conns[i];

		if (c->local_port == local && c->peer_port == peer && !c->dead &&
		    !c->guest_gone && c->state != VS_HANDSHAKE)
			return c;
	}
	return NULL;
}


struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, int fd, u32 local, u32 peer,
				   enum vsock_state state)
{
	struct vsock_conn *c;

	if (vs->nr_conns == VSOCK_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->vs = vs;
	c->src = (struct event_source){ .fd = fd, .ready = vsock_conn_ready };
	metric_inc(&vs->metrics.conns_added);
	c->state = state;
	c->local_port = local;
	c->peer_port = peer;
	vs->conns[vs->nr_conns++] = c;
	return c;
}

static void conn_release(struct event_source *src)
{
	free(container_of(src, struct vsock_conn, src));
}

/*
 * Gone from the device at once; its memory lasts until the loop's batch
 * in flight is done, since that batch may hold an event for its socket
 * (a kick that finds the socket at EOF ends it before its own event runs).
 */
void vsock_conn_free(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;

	metric_inc(&vs->metrics.conns_removed);
	for (unsigned int i = 0; i < vs->nr_conns; i++) {
		if (vs->conns[i] == c) {
			vs->conns[i] = vs->conns[--vs->nr_conns];
			break;
		}
	}
	free(c->buf);
	c->buf = NULL;
	c->freed = true;
	if (vs->loop)
		event_loop_retire(vs->loop, &c->src, conn_release);
	close(c->src.fd);
	if (!vs->loop)
		free(c);
}

/* Frees what a reset left: on the I/O thread, whose filter allows close(). */
void vsock_reap(struct virtio_vsock *vs)
{
	for (unsigned int i = vs->nr_conns; i-- > 0;)
		if (vs->conns[i]->dead)
			vsock_conn_free(vs->conns[i]);
}

/* ---- to the guest ---- */

static void hdr_fill(struct virtio_vsock *vs, struct virtio_vsock_hdr *h, u32 local, u32 peer,
		     u16 op)
{
	*h = (struct virtio_vsock_hdr){
		.src_cid = htole64(VSOCK_HOST_CID),
		.dst_cid = htole64(vs->cid),
		.src_port = htole32(local),
		.dst_port = htole32(peer),
		.type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(op),
	};
}

/* The next receive buffer, held until filled; under the lock. */
static bool rx_buffer(struct virtio_vsock *vs)
{
	struct virtio_dev *dev = &vs->vdev;
	struct virtq *vq = &dev->vqs[VSOCK_RX_Q];
	int ret;

	if (vs->rx_generation != dev->generation) {
		vs->rx_held = false; /* it belonged to rings a reset forgot */
		vs->rx_generation = dev->generation;
	}
	if (vs->rx_held)
		return true;
	if (vs->quiesced || !virtio_dev_running(dev) || !vq->size)
		return false;
	ret = virtq_pop(vq, &vs->rx_chain);
	if (!ret && virtq_enable_notify(vq))
		ret = virtq_pop(vq, &vs->rx_chain);
	if (ret > 0 && (vs->rx_chain.nr_out || vs->rx_chain.in_len < VSOCK_HDR_SIZE))
		ret = -EINVAL; /* a receive buffer is device-writable and holds a header */
	if (ret < 0)
		virtio_dev_fail(dev, "bad vsock receive buffer", ret);
	vs->rx_held = ret > 0;
	return vs->rx_held;
}

/* Fills the held buffer with @h and @len bytes of vs->scratch. */
static void rx_send(struct virtio_vsock *vs, struct virtio_vsock_hdr *h, u32 len)
{
	h->len = htole32(len);
	virtq_chain_write(&vs->rx_chain, 0, h, VSOCK_HDR_SIZE);
	if (len)
		virtq_chain_write(&vs->rx_chain, VSOCK_HDR_SIZE, vs->scratch, len);
	virtq_push(&vs->vdev.vqs[VSOCK_RX_Q], vs->rx_chain.head, VSOCK_HDR_SIZE + len);
	vs->rx_held = false;
	metric_inc(&vs->metrics.rx_packets_count);
	metric_add(&vs->metrics.rx_bytes_count, len);
	virtio_dev_notify_used(&vs->vdev, VSOCK_RX_Q);
}

/* A packet of @c's, with its credit; the guest hears fwd_cnt. */
static void conn_send(struct vsock_conn *c, u16 op, u32 flags, u32 len)
{
	struct virtio_vsock_hdr h;

	hdr_fill(c->vs, &h, c->local_port, c->peer_port, op);
	h.flags = htole32(flags);
	h.buf_alloc = htole32(VSOCK_BUF_ALLOC);
	h.fwd_cnt = htole32(c->fwd_cnt);
	c->fwd_cnt_told = c->fwd_cnt;
	rx_send(c->vs, &h, len);
}

/* Sends one owed control packet if a buffer is there: true when it did. */
static bool conn_send_owed(struct vsock_conn *c)
{
	static const struct { u32 bit; u16 op; } order[] = {
		{ OWE_RST, VIRTIO_VSOCK_OP_RST },
		{ OWE_REQUEST, VIRTIO_VSOCK_OP_REQUEST },
		{ OWE_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE },
		{ OWE_CREDIT, VIRTIO_VSOCK_OP_CREDIT_UPDATE },
		{ OWE_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN },
	};

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		if (!(c->owe & order[i].bit))
			continue;
		if (!rx_buffer(c->vs))
			return false;
		c->owe &= ~order[i].bit;
		conn_send(c, order[i].op,
			  order[i].op == VIRTIO_VSOCK_OP_SHUTDOWN ? VIRTIO_VSOCK_SHUTDOWN_SEND : 0, 0);
		if (order[i].bit == OWE_RST)
			c->owe = 0; /* nothing follows a reset */
		return true;
	}
	return false;
}

/* Host EOF seen and guest done sending, all of it forwarded: the end. */
static bool conn_finished(const struct vsock_conn *c)
{
	return c->host_eof && c->peer_shut_send && !c->buf_len && !c->owe;
}

/* Ends @c: the guest gets a RST (when it knows the connection), the socket closes. */
void vsock_conn_reset(struct vsock_conn *c)
{
	metric_inc(&c->vs->metrics.conns_killed);
	if (c->state == VS_HANDSHAKE) {
		vsock_conn_free(c);
		return;
	}
	c->owe = OWE_RST;
	c->closing = true;
	c->buf_len = 0;
	vsock_conn_watch(c, 0);
	if (conn_send_owed(c))
		vsock_conn_free(c);
}

/* Every control packet @c owes, as far as buffers go; false when @c is gone. */
static bool conn_send_all_owed(struct vsock_conn *c)
{
	while (c->owe && conn_send_owed(c))
		;
	if (c->closing && !c->owe) {
		if (!(c->guest_gone && c->buf_len))
			vsock_conn_free(c);
		return false;   /* or left to drain into the host socket */
	}
	return true;
}


/*
 * The guest closed both ways: it hears RST now, and is done with the
 * ports; what it sent still goes to the host program before the socket
 * closes, so a guest that writes and closes loses nothing.
 */
static void conn_guest_closed(struct vsock_conn *c)
{
	if (!c->buf_len) {
		vsock_conn_reset(c);
		return;
	}
	c->guest_gone = c->closing = true;
	c->owe = OWE_RST;
	vsock_conn_watch(c, EPOLLOUT);
	conn_send_all_owed(c);
}

/* The host socket of a connection the guest closed took more of its bytes. */
void vsock_conn_gone_drain(struct vsock_conn *c)
{
	if (vsock_conn_drain(c) < 0)
		c->buf_len = 0;
	if (c->buf_len)
		return;
	if (c->owe)
		vsock_conn_watch(c, 0);   /* the RST still waits for a buffer: rx_flush frees it */
	else
		vsock_conn_free(c);
}

/*
 * Reads the host socket into receive buffers while the guest has both
 * buffers and credit.  An EOF is passed on as SHUTDOWN SEND.
 */
void vsock_conn_pump_rx(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;

	if (!conn_send_all_owed(c) || c->closing)
		return;
	while (conn_wants_read(c) && !c->owe) {
		u32 room, n;
		ssize_t got;

		if (!peer_credit(c) || !rx_buffer(vs))
			break;
		room = (u32)MIN(vs->rx_chain.in_len - VSOCK_HDR_SIZE, (u64)VSOCK_MAX_PKT);
		n = MIN(room, peer_credit(c));
		if (!n)
			break; /* a buffer with room for a header only: kept for control packets */
		got = read(c->src.fd, vs->scratch, n);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (got < 0) {
			metric_inc(&vs->metrics.rx_read_fails);
			vsock_conn_reset(c);
			return;
		}
		if (!got) {
			c->host_eof = true;
			c->owe |= OWE_SHUTDOWN;
			break;
		}
		c->tx_cnt += (u32)got;
		conn_send(c, VIRTIO_VSOCK_OP_RW, 0, (u32)got);
	}
	if (!conn_send_all_owed(c))
		return;
	if (conn_finished(c)) {
		vsock_conn_reset(c);
		return;
	}
	conn_rearm(c);
}

/* Everything owed to the guest, as far as its buffers go; under the lock. */
void vsock_rx_flush(struct virtio_vsock *vs)
{
	unsigned int n;

	while (vs->nr_rsts && rx_buffer(vs)) {
		rx_send(vs, &vs->rsts[0], 0);
		memmove(&vs->rsts[0], &vs->rsts[1], --vs->nr_rsts * sizeof(vs->rsts[0]));
	}
	/*
	 * Every connection once, from where the last round stopped.  One that
	 * ends leaves the table with another moved into its slot: the round
	 * starts again, passing over those it has seen, so none is missed.
	 */
	vs->flush_round++;
again:
	n = vs->nr_conns;
	for (unsigned int i = 0; i < n; i++) {
		struct vsock_conn *c = vs->conns[(vs->rr + i) % n];

		if (c->dead || c->flush_round == vs->flush_round)
			continue;
		c->flush_round = vs->flush_round;
		if (c->state == VS_HANDSHAKE)
			vsock_conn_watch(c, EPOLLIN); /* a pause may have stopped watching it */
		else
			vsock_conn_pump_rx(c);
		if (vs->nr_conns != n)
			goto again;
	}
	if (vs->nr_conns)
		vs->rr = (vs->rr + 1) % vs->nr_conns;
}

/* A RST for a packet no connection owns (its ports swapped). */
static void rst_reply(struct virtio_vsock *vs, const struct virtio_vsock_hdr *in)
{
	struct virtio_vsock_hdr h;

	if (le16toh(in->op) == VIRTIO_VSOCK_OP_RST || vs->nr_rsts == VSOCK_RST_BACKLOG)
		return; /* never answer a reset; a guest flooding us loses replies */
	hdr_fill(vs, &h, le32toh(in->dst_port), le32toh(in->src_port),
		 VIRTIO_VSOCK_OP_RST);
	vs->rsts[vs->nr_rsts++] = h;
	vs->resets_sent++;
}

/* ---- from the guest ---- */

/* Gives the host socket what it takes of @c's buffer. */
int vsock_conn_drain(struct vsock_conn *c)
{
	while (c->buf_len) {
		u32 chunk = MIN(c->buf_len, VSOCK_BUF_ALLOC - c->buf_head);
		ssize_t done = write(c->src.fd, c->buf + c->buf_head, chunk);

		if (done < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (done < 0) {
			metric_inc(&c->vs->metrics.tx_write_fails);
			return -errno;
		}
		c->buf_head = (c->buf_head + (u32)done) % VSOCK_BUF_ALLOC;
		c->buf_len -= (u32)done;
		c->fwd_cnt += (u32)done;
		if ((u32)done < chunk)
			break;
	}
	if (!c->buf_len && c->peer_shut_send && !c->host_shut_wr) {
		shutdown(c->src.fd, SHUT_WR);
		c->host_shut_wr = true;
	}
	/*
	 * Room freed: the guest hears of it once it is a quarter of the
	 * buffer.  A guest out of credit has buffered + untold = BUF_ALLOC,
	 * so whatever drains reaches the guest before the host could stall it.
	 */
	if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_CREDIT_THRESH && !c->closing)
		c->owe |= OWE_CREDIT;
	return 0;
}

/* RW: the payload of the chain from @off goes into @c's buffer, then out. */
static int conn_take(struct vsock_conn *c, const struct virtq_chain *ch, u64 off, u32 len)
{
	u32 tail;

	if (c->rx_cnt - c->fwd_cnt + len > VSOCK_BUF_ALLOC)
		return -ENOBUFS; /* past the credit we gave */
	if (!c->buf) {
		c->buf = malloc(VSOCK_BUF_ALLOC);
		if (!c->buf)
			return -ENOMEM;
	}
	tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
	for (u32 done = 0; done < len;) {
		u32 n = MIN(len - done, VSOCK_BUF_ALLOC - tail);

		virtq_chain_read(ch, off + done, c->buf + tail, n);
		done += n;
		tail = (tail + n) % VSOCK_BUF_ALLOC;
	}
	c->buf_len += len;
	c->rx_cnt += len;
	return vsock_conn_drain(c);
}

static bool host_port_path(const struct virtio_vsock *vs, u32 port, struct sockaddr_un *sa)
{
	int n;

	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s_%u", vs->uds_path, port);
	return n > 0 && (size_t)n < sizeof(sa->sun_path);
}

/* REQUEST: the guest connects to host port dst_port. */
static void guest_connect(struct virtio_vsock *vs, const struct virtio_vsock_hdr *h)
{
	u32 local = le32toh(h->dst_port), peer = le32toh(h->src_port);
	struct sockaddr_un sa;
	struct vsock_conn *c;
	int fd;

	if (vsock_conn_find(vs, local, peer) || !vs->uds_path[0] || !host_port_path(vs, local, &sa))
		goto refuse;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto refuse;
	/* A unix connect either completes at once or fails: nobody listening, a full backlog. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		goto refuse;
	}
	c = vsock_conn_new(vs, fd, local, peer, VS_ESTABLISHED);
	if (!c) {
		close(fd);
		goto refuse;
	}
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->owe = OWE_RESPONSE;
	return;
refuse:
	rst_reply(vs, h);
}

/* RESPONSE to a connection the host started: tell it which port it got. */
static void host_connected(struct vsock_conn *c)
{
	char ok[VSOCK_LINE_MAX];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

	/* A fresh socket has room for a line: a short write means it is gone. */
	if (write(c->src.fd, ok, (size_t)n) != n) {
		vsock_conn_reset(c);
		return;
	}
	c->state = VS_ESTABLISHED;
}

static void conn_shutdown(struct vsock_conn *c, u32 flags)
{
	if (flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
		c->peer_shut_rcv = true;
	if (flags & VIRTIO_VSOCK_SHUTDOWN_SEND) {
		c->peer_shut_send = true;
		if (vsock_conn_drain(c) < 0) {
			vsock_conn_reset(c);
			return;
		}
	}
	/* Both ways shut by the guest: done, as the spec has it, with a RST. */
	if (c->peer_shut_rcv && c->peer_shut_send)
		conn_guest_closed(c);
}

/* One packet for an existing connection; @off is where its payload starts. */
static void conn_packet(struct vsock_conn *c, const struct virtio_vsock_hdr *h,
			const struct virtq_chain *ch, u32 len)
{
	u16 op = le16toh(h->op);

	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != VS_CONNECTING || (c->owe & OWE_REQUEST))
			goto reset;
		host_connected(c);
		return;
	case VIRTIO_VSOCK_OP_RST:
		if (c->state == VS_CONNECTING)
			pr_debug("vsock: nobody listens on guest port %u", c->peer_port);
		vsock_conn_free(c);
		return;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != VS_ESTABLISHED || c->peer_shut_send)
			goto reset;
		if (conn_take(c, ch, VSOCK_HDR_SIZE, len) < 0) {
			pr_warn_ratelimited("vsock: guest port %u sent past its credit",
					    c->peer_port);
			goto reset;
		}
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		conn_shutdown(c, le32toh(h->flags));
		return;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return; /* the credit above is all it says */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->owe |= OWE_CREDIT;
		return;
	default: /* a second REQUEST, or no op at all */
		goto reset;
	}
reset:
	vsock_conn_reset(c);
}

/* Checks a header against the spec and our one peer: NULL, or why not. */
static const char *hdr_problem(const struct virtio_vsock *vs, const struct virtio_vsock_hdr *h,
			       u64 payload_room)
{
	if (le16toh(h->type) != VIRTIO_VSOCK_TYPE_STREAM)
		return "not a stream";
	if (le64toh(h->src_cid) != vs->cid)
		return "source CID is not the guest's";
	if (le64toh(h->dst_cid) != VSOCK_HOST_CID)
		return "destination is not the host";
	if (le32toh(h->len) > payload_room || le32toh(h->len) > VSOCK_MAX_PKT)
		return "length past its buffer";
	if (le32toh(h->len) && le16toh(h->op) != VIRTIO_VSOCK_OP_RW)
		return "payload on a control packet";
	return NULL;
}

static void tx_packet(struct virtio_vsock *vs, const struct virtq_chain *ch)
{
	struct virtio_vsock_hdr h;
	const char *why;
	struct vsock_conn *c;

	if (ch->out_len < VSOCK_HDR_SIZE) {
		virtio_dev_fail(&vs->vdev, "vsock packet shorter than its header", -EINVAL);
		return;
	}
	virtq_chain_read(ch, 0, &h, sizeof(h)); /* a copy: the guest cannot change it under us */
	why = hdr_problem(vs, &h, ch->out_len - VSOCK_HDR_SIZE);
	if (why) {
		vs->bad_packets++;
		pr_warn_ratelimited("vsock: packet dropped: %s", why);
		if (le64toh(h.src_cid) == vs->cid && le16toh(h.type) != VIRTIO_VSOCK_TYPE_STREAM)
			rst_reply(vs, &h); /* the guest's socket hears it is unsupported */
		return;
	}
	metric_inc(&vs->metrics.tx_packets_count);
	metric_add(&vs->metrics.tx_bytes_count, le32toh(h.len));
	c = vsock_conn_find(vs, le32toh(h.dst_port), le32toh(h.src_port));
	if (c)
		conn_packet(c, &h, ch, le32toh(h.len));
	else if (le16toh(h.op) == VIRTIO_VSOCK_OP_REQUEST)
		guest_connect(vs, &h);
	else
		rst_reply(vs, &h);
}

void virtio_vsock_serve(struct virtio_vsock *vs)
{
	struct virtio_dev *dev = &vs->vdev;
	struct virtq *vq = &dev->vqs[VSOCK_TX_Q];
	u32 gen = dev->generation;
	bool used = false;
	int ret;

	for (unsigned int n = 0; n < VIRTIO_SERVE_BUDGET && dev->generation == gen; n++) {
		ret = virtq_pop(vq, &vs->tx_chain);
		if (!ret && virtq_enable_notify(vq))
			ret = virtq_pop(vq, &vs->tx_chain);
		if (ret < 0)
			virtio_dev_fail(dev, "malformed vsock transmit buffer", ret);
		if (ret <= 0)
			break;
		tx_packet(vs, &vs->tx_chain);
		if (dev->generation != gen)
			break; /* the packet failed the device */
		virtq_push(vq, vs->tx_chain.head, 0);
		used = true;
	}
	if (dev->generation != gen)
		return; /* failed: its rings are no longer ours to touch */
	if (used)
		virtio_dev_notify_used(dev, VSOCK_TX_Q);
	vsock_rx_flush(vs);
}

static void vsock_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_vsock *vs = container_of(dev, struct virtio_vsock, vdev);

	vsock_reap(vs);
	if (vs->quiesced)
		return;
	if (q == VSOCK_TX_Q)
		virtio_vsock_serve(vs);
	else if (q == VSOCK_RX_Q)
		vsock_rx_flush(vs);
	/* The event queue: arkvm sends no events, the buffers wait. */
}

static u64 vsock_features(struct virtio_dev *dev)
{
	return 0; /* streams only: no SEQPACKET */
}

static void vsock_drop_all(struct virtio_vsock *vs)
{
	while (vs->nr_conns)
		vsock_conn_free(vs->conns[vs->nr_conns - 1]);
	vs->nr_rsts = 0;
	vs->rx_held = false;
}

/*
 * The driver forgot every connection: so does arkvm.  This runs on a vCPU
 * thread (a Status write), which may stop watching the sockets but not
 * close them: the I/O thread does, at its next look at the device.
 */
static void vsock_reset(struct virtio_dev *dev)
{
	struct virtio_vsock *vs = container_of(dev, struct virtio_vsock, vdev);

	for (unsigned int i = 0; i < vs->nr_conns; i++) {
		vsock_conn_watch(vs->conns[i], 0);
		vs->conns[i]->dead = true;
	}
	vs->nr_rsts = 0;
	vs->rx_held = false;
}

static const struct virtio_dev_ops virtio_vsock_ops = {
	.features = vsock_features,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
};

int virtio_vsock_init(struct virtio_vsock *vs, u64 cid, const char *uds_path,
		      const struct guest_mem *mem, struct event_loop *loop)
{
	int ret;

	memset(vs, 0, sizeof(*vs));
	vs->listen_fd = -1;
	vs->timer_fd = -1;
	vs->cid = cid;
	vs->loop = loop;
	vs->next_local_port = VSOCK_FIRST_LOCAL_PORT;
	vs->config.guest_cid = htole64(cid);
	if (uds_path) {
		ret = vsock_listen(vs, uds_path);
		if (ret)
			return ret;
	}
	virtio_dev_init(&vs->vdev, &virtio_vsock_ops, "virtio-vsock", VIRTIO_ID_VSOCK, 3,
			VSOCK_QUEUE_SIZE, mem);
	vs->vdev.config = &vs->config;
	vs->vdev.config_len = sizeof(vs->config);
	vs->listen_src = (struct event_source){ .fd = vs->listen_fd, .ready = vsock_listen_ready };
	ret = vsock_timer_init(vs);
	if (!ret && loop && vs->listen_fd >= 0)
		ret = event_loop_add(loop, &vs->listen_src, EPOLLIN);
	if (ret)
		virtio_vsock_close(vs);
	return ret;
}

void virtio_vsock_close(struct virtio_vsock *vs)
{
	vsock_drop_all(vs);
	vsock_timer_close(vs);
	if (vs->listen_fd >= 0) {
		if (vs->loop)
			event_loop_del(vs->loop, &vs->listen_src);
		close(vs->listen_fd);
		unlink(vs->uds_path);
		vs->listen_fd = -1;
	}
	virtio_dev_destroy(&vs->vdev);
}
