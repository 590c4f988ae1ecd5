/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_VSOCK_CONN_H
#define ARKVM_VIRTIO_VSOCK_CONN_H

/*
 * What the two halves of virtio-vsock share: devices/virtio_vsock.c (the
 * queues and the guest's side of each connection) and
 * devices/virtio_vsock_host.c (the host's sockets: the listener, the
 * CONNECT line, readiness and timeouts).  Everything runs under vdev.lock.
 */
#include "virtio_vsock.h"

#define VSOCK_LINE_MAX 32               /* "CONNECT 4294967295\n" and some */
#define VSOCK_FIRST_LOCAL_PORT (1u << 30)

enum vsock_state {
	VS_HANDSHAKE,       /* host client: reading its CONNECT line */
	VS_CONNECTING,      /* REQUEST sent (or owed) to the guest: waiting for RESPONSE */
	VS_ESTABLISHED,
};

/* Control packets owed to the guest, sent as receive buffers come. */
#define OWE_REQUEST  (1u << 0)
#define OWE_RESPONSE (1u << 1)
#define OWE_SHUTDOWN (1u << 2)
#define OWE_CREDIT   (1u << 3)
#define OWE_RST      (1u << 4)

struct vsock_conn {
	struct virtio_vsock *vs;
	struct event_source src;
	enum vsock_state state;
	u32 local_port, peer_port;      /* arkvm's side, the guest's */
	u32 events;                     /* what the loop watches the socket for */
	u32 owe;                        /* OWE_* */
	u64 deadline_ns;                /* while waiting for a CONNECT line or the guest's answer */
	char line[VSOCK_LINE_MAX];      /* the CONNECT line so far */
	unsigned int line_len;
	bool host_eof;                  /* the host socket read 0: told the guest SEND */
	bool peer_shut_send;            /* the guest sends nothing more */
	bool peer_shut_rcv;             /* the guest takes nothing more */
	bool host_shut_wr;              /* shutdown(SHUT_WR) done */
	bool closing;                   /* a RST owed, then freed */
	bool dead;                      /* the driver reset: the I/O thread frees it */
	bool guest_gone;                /* the guest closed: the host still gets buf */
	bool freed;                     /* off the device, memory kept for the loop's batch */
	u32 flush_round;                /* the last vsock_rx_flush() round that saw it */
	/* Guest to host: what the host socket has not taken yet. */
	u8 *buf;                        /* VSOCK_BUF_ALLOC, a ring; allocated at first need */
	u32 buf_head, buf_len;
	u32 rx_cnt, fwd_cnt;            /* bytes from the guest; of those, given to the host */
	u32 fwd_cnt_told;               /* the fwd_cnt the guest last heard */
	/* Host to guest: the guest's credit. */
	u32 tx_cnt;                     /* bytes sent to the guest */
	u32 peer_buf_alloc, peer_fwd_cnt;
};

/* virtio_vsock.c */
struct vsock_conn *vsock_conn_find(struct virtio_vsock *vs, u32 local, u32 peer);
struct vsock_conn *vsock_conn_new(struct virtio_vsock *vs, int fd, u32 local, u32 peer,
				  enum vsock_state state);
void vsock_conn_free(struct vsock_conn *c);
void vsock_conn_watch(struct vsock_conn *c, u32 want);
void vsock_conn_reset(struct vsock_conn *c);
int vsock_conn_drain(struct vsock_conn *c);
void vsock_conn_pump_rx(struct vsock_conn *c);
void vsock_conn_gone_drain(struct vsock_conn *c);
void vsock_reap(struct virtio_vsock *vs);
void vsock_rx_flush(struct virtio_vsock *vs);

/* virtio_vsock_host.c */
void vsock_conn_ready(struct event_source *src, uint32_t events);
void vsock_listen_ready(struct event_source *src, uint32_t events);
int vsock_listen(struct virtio_vsock *vs, const char *path);
int vsock_timer_init(struct virtio_vsock *vs);
void vsock_timer_close(struct virtio_vsock *vs);

#endif
