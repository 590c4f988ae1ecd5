/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_VSOCK_H
#define ARKVM_VIRTIO_VSOCK_H

#include <linux/virtio_vsock.h>

#include "event_loop.h"
#include "metrics.h"
#include "virtio_mmio.h"

/*
 * virtio-vsock (devices/virtio_vsock.c) with Firecracker's hybrid backend:
 * guest streams to the host (CID 2) are relayed to unix sockets named
 * "<uds_path>_<port>", and host programs reach the guest by connecting to
 * uds_path and writing "CONNECT <port>\n".
 */
#define VSOCK_HOST_CID      2
#define VSOCK_MAX_CONNS     1023
#define VSOCK_BUF_ALLOC     (256u * 1024)   /* what each connection buffers for the guest */
#define VSOCK_HDR_SIZE      ((u32)sizeof(struct virtio_vsock_hdr))
#define VSOCK_MAX_PKT       (64u * 1024)    /* the most payload one packet carries */
#define VSOCK_PATH_MAX      108             /* sun_path */
#define VSOCK_RST_BACKLOG   64              /* RSTs for packets of no connection */
/*
 * How long a host program has to write its CONNECT line, and then how
 * long the guest has to answer the request (Firecracker's 2 s).
 */
#define VSOCK_CONNECT_TIMEOUT_NS (2ull * 1000 * 1000 * 1000)
#define VSOCK_RX_Q  0
#define VSOCK_TX_Q  1
#define VSOCK_EVT_Q 2

struct vsock_conn;

struct virtio_vsock {
	struct virtio_dev vdev;
	struct virtio_vsock_config config;
	u64 cid;
	struct event_loop *loop;        /* NULL in unit tests: they call the handlers */
	char uds_path[VSOCK_PATH_MAX];
	int listen_fd;
	struct event_source listen_src;
	int timer_fd;                   /* rings at the first CONNECT deadline; -1 without a loop */
	struct event_source timer_src;
	u64 timer_armed_ns;             /* the deadline it is set for, or 0 */
	/* I/O thread, under vdev.lock: the table and everything in it. */
	struct vsock_conn *conns[VSOCK_MAX_CONNS];
	unsigned int nr_conns;
	unsigned int rr;                /* where the next round of the table starts */
	u32 flush_round;                /* counts vsock_rx_flush() rounds */
	u32 next_local_port;            /* for connections the host starts */
	struct virtio_vsock_hdr rsts[VSOCK_RST_BACKLOG];  /* replies owed, no connection */
	unsigned int nr_rsts;
	struct virtq_chain rx_chain;    /* a receive buffer taken, not yet filled */
	bool rx_held;
	u32 rx_generation;
	struct virtq_chain tx_chain;
	bool quiesced;
	bool owe_transport_reset;       /* restored: the guest must drop its connections */
	u8 scratch[VSOCK_MAX_PKT];
	unsigned long bad_packets, resets_sent;
	struct vsock_metrics metrics;   /* bumped under the lock, read by the flush */
};

/*
 * Builds the device for guest @cid; with @uds_path non-NULL, binds and
 * listens there (refused, one line, when the path exists) and watches it
 * on @loop.  Main thread, at start-up: 0 or -errno.
 */
int virtio_vsock_init(struct virtio_vsock *vs, u64 cid, const char *uds_path,
		      const struct guest_mem *mem, struct event_loop *loop);
/* Closes every connection and the listener, and removes the socket file. */
void virtio_vsock_close(struct virtio_vsock *vs);

/*
 * The I/O thread's handlers, exposed for tests that run without a loop:
 * a host program connecting to uds_path, and readiness of connection
 * @port_local's host socket (the one whose local port is @local).
 */
void virtio_vsock_accept(struct virtio_vsock *vs);
void virtio_vsock_host_ready(struct virtio_vsock *vs, u32 local, u32 peer, u32 events);
/*
 * Ends the host-opened connections whose CONNECT deadline is before
 * @now_ns (CLOCK_MONOTONIC, vsock_now_ns()); under vdev.lock.
 */
void virtio_vsock_expire(struct virtio_vsock *vs, u64 now_ns);
u64 vsock_now_ns(void);
/*
 * Serves the transmit queue, then gives the guest what is owed to it as
 * far as its receive buffers go; I/O thread, vdev.lock held (the device
 * class's resume).
 */
void virtio_vsock_serve(struct virtio_vsock *vs);

#endif
