// SPDX-License-Identifier: Apache-2.0
/*
 * The passt backend: user-mode networking with no privileges.  passt
 * (https://passt.top) runs as a separate, self-sandboxed process and
 * speaks QEMU's stream netdev protocol on a unix stream socket: bare
 * Ethernet frames, each behind its length as a 4-byte big-endian number.
 * arkvm either starts passt itself on one end of a socketpair (--net
 * user, passt_spawn.c) or connects to a running one (--net passt=PATH).
 *
 * Receive: a stream keeps no boundaries, so reads go into a buffer of
 * our own, as large as the socket has, and frames are cut from it: a
 * length or a frame may come in pieces across any number of reads.  A
 * frame is copied into the guest's buffers; one longer than they are is
 * dropped and counted.  A length over 64 KiB is not something passt
 * sends (its MTU is 65520): the stream is out of step or the peer is not
 * passt, and nothing after it can be trusted, so the connection is
 * closed as if passt had gone.
 *
 * Transmit: the length and the frame go in one writev.  The socket is
 * non-blocking (the receive side needs it), so a full socket may take
 * part of a frame.  The rest cannot wait for the guest's next packet (it
 * might never come, and a frame cut in two stalls passt's side), nor be
 * dropped (the stream would be out of step): so the I/O thread waits for
 * room, at most PASST_TX_WAIT_MS at a time while passt makes progress.
 * passt drains its socket as fast as its own event loop turns, so the
 * wait is short, and it pushes back on a guest that sends faster than
 * passt forwards instead of losing its packets.  If passt stops reading
 * altogether, the connection is closed.  A frame of which nothing went is
 * dropped after the same wait, the stream still in step.
 */
#include <endian.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backends/net_passt.h"
#include "log.h"
#include "net_backend.h"
#include "virtqueue.h"

#define PASST_LEN_SIZE   4u
#define PASST_MAX_FRAME  65536u   /* a longer length closes the connection */
/* Room for one whole frame behind a partial one, so a read always has space. */
#define PASST_RX_BUF     (2 * (PASST_LEN_SIZE + PASST_MAX_FRAME))
#define PASST_MAX_TX_IOV 1024     /* UIO_MAXIOV, with the length's segment */
#define PASST_TX_WAIT_MS 1000

struct passt {
	int sock;
	pid_t pid;                   /* the passt arkvm started; -1: it connected */
	int err_fd;                  /* passt's stderr (non-blocking); -1: none */
	bool gone;                   /* passt went, or the stream is out of step */
	u64 dropped;                 /* frames longer than the guest's buffers */
	/* Received bytes not yet delivered: buf[head, tail). */
	u32 head, tail;
	struct iovec tx_iov[PASST_MAX_TX_IOV];
	u8 buf[PASST_RX_BUF];
};

static u64 iov_total(const struct iovec *iov, unsigned int n)
{
	u64 len = 0;

	for (unsigned int i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

static void passt_say_gone(struct passt *p, const char *why)
{
	char words[200];

	passt_last_words(p->err_fd, words, sizeof(words));
	pr_warn("passt: %s; the guest's link is down%s%s%s", why, words[0] ? " (passt: \"" : "",
		words, words[0] ? "\")" : "");
}

/*
 * The stream cannot go on (out of step, or passt stopped reading): close
 * it both ways.  passt sees its end close and quits; our fd reports the
 * hang-up, which takes the link down.
 */
static void passt_hang_up(struct passt *p, const char *why)
{
	if (p->gone)
		return;
	p->gone = true;
	shutdown(p->sock, SHUT_RDWR);
	passt_say_gone(p, why);
}

/*
 * The next whole frame in the buffer: 1 with its length in *@len, 0 when
 * more bytes are needed first, -EPROTO when its length is over 64 KiB.
 */
static int passt_next_frame(const struct passt *p, u32 *len)
{
	u32 have = p->tail - p->head;
	__be32 be_len;

	if (have < PASST_LEN_SIZE)
		return 0;
	memcpy(&be_len, p->buf + p->head, sizeof(be_len));
	*len = be32toh(be_len);
	if (*len > PASST_MAX_FRAME)
		return -EPROTO;
	return have - PASST_LEN_SIZE >= *len;
}

/* Reads what the socket has: bytes read, 0 at end of stream, or -errno. */
static ssize_t passt_fill(struct passt *p)
{
	ssize_t got;

	/* What is left is less than a frame: move it down when a frame might not fit behind. */
	if (p->head && PASST_RX_BUF - p->tail < PASST_LEN_SIZE + PASST_MAX_FRAME) {
		memmove(p->buf, p->buf + p->head, p->tail - p->head);
		p->tail -= p->head;
		p->head = 0;
	}
	do
		got = read(p->sock, p->buf + p->tail, PASST_RX_BUF - p->tail);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	p->tail += (u32)got;
	return got;
}

/* The frame at the head into @iov: its length, or 0 when it does not fit (dropped). */
static u32 passt_deliver(struct passt *p, u32 len, const struct iovec *iov, unsigned int n)
{
	const u8 *frame = p->buf + p->head + PASST_LEN_SIZE;
	u64 room = iov_total(iov, n);

	p->head += PASST_LEN_SIZE + len;
	if (len && len <= room) {
		iov_copy_to(iov, n, 0, frame, len);
		return len;
	}
	p->dropped++;
	if (len)
		pr_warn_ratelimited("passt: a %u-byte frame is longer than the guest's receive "
				    "buffers (%llu bytes): dropped", len, (unsigned long long)room);
	return 0;
}

static ssize_t passt_recv(struct net_backend *be, const struct iovec *iov, unsigned int n)
{
	struct passt *p = be->priv;

	while (!p->gone) {
		u32 len = 0;
		int ret = passt_next_frame(p, &len);
		ssize_t got;

		if (ret < 0) {
			passt_hang_up(p, "a frame length over 64 KiB: the stream is not passt's");
			break;
		}
		if (ret > 0) {
			u32 done = passt_deliver(p, len, iov, n);

			if (p->head == p->tail)
				p->head = p->tail = 0;
			if (done)
				return done;
			continue;
		}
		got = passt_fill(p);
		if (got < 0)
			return got;
		if (!got) {
			p->gone = true;
			passt_say_gone(p, "passt closed its socket (it exited)");
		}
	}
	return 0;
}

/* Waits until the socket takes more: > 0 when it will, 0 after PASST_TX_WAIT_MS, -errno. */
static int passt_wait_writable(struct passt *p)
{
	const struct timespec wait = { .tv_sec = PASST_TX_WAIT_MS / 1000,
				       .tv_nsec = (PASST_TX_WAIT_MS % 1000) * 1000000L };
	struct pollfd pfd = { .fd = p->sock, .events = POLLOUT };
	int ret;

	do
		ret = ppoll(&pfd, 1, &wait, NULL);
	while (ret < 0 && errno == EINTR);
	if (ret > 0 && (pfd.revents & (POLLERR | POLLHUP)))
		return -EPIPE;
	return ret < 0 ? -errno : ret;
}

/* Writes all of @v (@nv segments, @total bytes): 0, or -errno with *@done sent. */
static int passt_write_all(struct passt *p, struct iovec *v, unsigned int nv, u64 total,
			   u64 *done)
{
	while (*done < total) {
		ssize_t w = writev(p->sock, v, (int)nv);
		int ret;

		if (w > 0) {
			*done += (u64)w;
			nv = iov_advance(&v, nv, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -errno;
		ret = passt_wait_writable(p);
		if (ret <= 0)
			return ret ? ret : -EAGAIN;
	}
	return 0;
}

static ssize_t passt_send(struct net_backend *be, const struct iovec *iov, unsigned int n)
{
	struct passt *p = be->priv;
	u64 len = iov_total(iov, n), done = 0;
	__be32 be_len = htobe32((u32)len);
	int ret;

	if (p->gone)
		return -EPIPE;
	/* The guest's frame, checked: passt would close on a length it cannot take. */
	if (len < ETH_HLEN || len > PASST_MAX_FRAME || n >= PASST_MAX_TX_IOV)
		return -EMSGSIZE;
	p->tx_iov[0] = (struct iovec){ .iov_base = &be_len, .iov_len = sizeof(be_len) };
	memcpy(&p->tx_iov[1], iov, n * sizeof(*iov));
	ret = passt_write_all(p, p->tx_iov, n + 1, len + sizeof(be_len), &done);
	if (!ret)
		return (ssize_t)len;
	/* Nothing went: the frame is dropped and the stream still in step. */
	if (!done && ret == -EAGAIN)
		return ret;
	/* Part of it went: the stream is out of step for good (passt gone, its end shows it). */
	if (done)
		passt_hang_up(p, ret == -EAGAIN ? "passt stopped reading in the middle of a frame"
						: "writing to passt failed in the middle of a frame");
	return ret;
}

static u64 passt_dropped(const struct net_backend *be)
{
	const struct passt *p = be->priv;

	return p ? p->dropped : 0;
}

static void passt_close(struct net_backend *be)
{
	struct passt *p = be->priv;

	if (!p)
		return;
	close(p->sock);
	if (p->err_fd >= 0)
		close(p->err_fd);
	if (p->pid > 0)
		passt_reap(p->pid);
	free(p);
	be->priv = NULL;
	be->fd = -1;
}

/* What passt can do: bare frames, no offloads, any buffer layout. */
#define PASST_CAPS NET_CAP_MRG_RXBUF

int net_passt_backend(struct net_backend *be, int fd, pid_t pid, int err_fd)
{
	struct passt *p = malloc(sizeof(*p));

	if (!p) {
		close(fd);
		if (err_fd >= 0)
			close(err_fd);
		if (pid > 0)
			passt_reap(pid);
		return -ENOMEM;
	}
	p->sock = fd;
	p->pid = pid;
	p->err_fd = err_fd;
	p->gone = false;
	p->dropped = 0;
	p->head = p->tail = 0;
	*be = (struct net_backend){ .ops = &net_passt_ops, .priv = p, .caps = PASST_CAPS,
				    .fd = fd, .err_fd = -1,
				    .max_frame = PASST_MAX_FRAME, .name = "passt" };
	return 0;
}

static int net_passt_open(struct net_backend *be, const struct net_config *cfg,
			  const struct guest_mem *mem)
{
	pid_t pid = -1;
	int fd, err_fd = -1, ret;

	if (cfg->kind == NET_USER)
		ret = passt_start(cfg, &fd, &pid, &err_fd);
	else
		ret = passt_connect(cfg->passt_path, &fd);
	if (ret)
		return ret;
	ret = net_passt_backend(be, fd, pid, err_fd);
	if (ret)
		pr_err("--net: passt: %s", strerror(-ret));
	return ret;
}

const struct net_backend_ops net_passt_ops = {
	.kind = "passt",
	.open = net_passt_open,
	.recv = passt_recv,
	.send = passt_send,
	.dropped = passt_dropped,
	.close = passt_close,
};
