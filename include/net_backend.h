/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_NET_BACKEND_H
#define ARKVM_NET_BACKEND_H

/*
 * Where a virtio-net device's packets go: a backend behind a const ops
 * table, with its own private state.  The device (devices/virtio_net.c)
 * knows only what the backend says it can do (its capabilities), and
 * offers the guest the virtio features that follow from them:
 *
 *   tap        (src/backends/net_tap.c)   a host tap with IFF_VNET_HDR;
 *   tap+vhost  (src/backends/net_vhost.c) the same, its queues served by
 *                                         the host kernel's vhost-net;
 *   socket     (src/backends/net_tap.c)   any fd that keeps packet
 *                                         boundaries, with the capabilities
 *                                         its creator gives (tests, fuzzers);
 *   passt      (src/backends/net_passt.c) user-mode networking: Ethernet
 *                                         frames on passt's stream socket,
 *                                         each behind its length.
 *
 * A backend without NET_CAP_VNET_HDR (passt: frames on a stream socket)
 * sees bare Ethernet frames: the device strips the guest's virtio-net
 * header on transmit and writes one on receive, and offers no offloads.
 */
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cli.h"
#include "compiler.h"
#include "guest_mem.h"

struct virtio_dev;
struct net_backend;

/* What a backend can do. */
#define NET_CAP_VNET_HDR  (1u << 0)  /* packets begin with the 12-byte virtio_net_hdr_mrg_rxbuf */
#define NET_CAP_CSUM      (1u << 1)  /* partial checksums both ways (needs VNET_HDR) */
#define NET_CAP_GSO       (1u << 2)  /* TCP segmentation offload both ways (needs CSUM) */
#define NET_CAP_MRG_RXBUF (1u << 3)  /* one packet may be read across several buffers */
#define NET_CAP_KERNEL    (1u << 4)  /* the host kernel can serve the queues (kernel_* ops) */

struct net_backend_ops {
	const char *kind;            /* "tap", "tap+vhost": for messages */
	/*
	 * Opens the backend @cfg names, for a device over @mem; fills @be
	 * (name, caps, fds, priv).  Main thread, at start-up: prints one line
	 * and returns -errno on error, leaving nothing open.
	 */
	int (*open)(struct net_backend *be, const struct net_config *cfg,
		    const struct guest_mem *mem);
	/*
	 * One packet into @iov (header first with NET_CAP_VNET_HDR, else the
	 * bare frame): its length, -EAGAIN when none waits, 0 when the peer
	 * is gone, or -errno.  A packet longer than @iov is cut short and its
	 * rest dropped.  I/O thread, no lock held.
	 */
	ssize_t (*recv)(struct net_backend *be, const struct iovec *iov, unsigned int n);
	/* One packet out of @iov, framed the same way: bytes sent or -errno. */
	ssize_t (*send)(struct net_backend *be, const struct iovec *iov, unsigned int n);
	/*
	 * Optional (NET_CAP_CSUM): which offloads the guest takes in what it
	 * receives, as negotiated VIRTIO_NET_F_GUEST_* bits.  At activation.
	 */
	int (*set_offloads)(struct net_backend *be, u64 features);
	/*
	 * Optional (NET_CAP_KERNEL): the kernel serves @dev's queues from
	 * kernel_start() (DRIVER_OK, vCPU thread) until kernel_stop() (reset
	 * on a vCPU, or a broken ring on the I/O thread), dev->lock held.
	 * kernel_quiesce() makes it stop touching guest RAM, kernel_resume()
	 * lets it go on where it stopped: I/O thread, vCPUs parked.
	 */
	int (*kernel_start)(struct net_backend *be, struct virtio_dev *dev);
	void (*kernel_stop)(struct net_backend *be, struct virtio_dev *dev);
	int (*kernel_quiesce)(struct net_backend *be, struct virtio_dev *dev);
	int (*kernel_resume)(struct net_backend *be, struct virtio_dev *dev);
	/*
	 * Optional: packets moved where arkvm cannot count them (by the
	 * kernel).  stats_start() at start-up (main thread, before the
	 * sandbox); stats() once at the end: what the guest sent [0] and
	 * received [1] since, false when unknown.
	 */
	void (*stats_start)(struct net_backend *be);
	bool (*stats)(const struct net_backend *be, u64 sent_received[2]);
	/*
	 * Optional: frames for the guest that the backend dropped itself
	 * (longer than the buffers recv() was given).  Any thread, for --stats.
	 */
	u64 (*dropped)(const struct net_backend *be);
	/*
	 * Main thread, at the end (or on a failed start-up): closes the
	 * backend's fds and reaps what it started (passt).
	 */
	void (*close)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	void *priv;                  /* the backend's own state */
	u32 caps;                    /* NET_CAP_* */
	int fd;                      /* readable: a packet waits (the device polls it) */
	int err_fd;                  /* readable: the kernel found a ring broken; -1 none */
	/*
	 * The longest frame (no header) recv() may deliver whatever offloads
	 * the guest took; 0: an MTU-sized one, or a 64 KiB one with GSO.
	 * passt sends 64 KiB frames to any guest (its MTU is 65520).
	 */
	u32 max_frame;
	char name[CFG_MAX_IFNAME + 1];  /* the tap's name, for messages and --stats */
};

extern const struct net_backend_ops net_tap_ops;
extern const struct net_backend_ops net_vhost_ops;
extern const struct net_backend_ops net_passt_ops;

/*
 * A backend on @fd, which must keep packet boundaries (a SOCK_SEQPACKET
 * socketpair in tests): it takes ownership of @fd and moves packets with
 * readv/writev, framed as @caps says (no set_offloads, no kernel ops).
 */
int net_socket_backend(struct net_backend *be, int fd, const char *name, u32 caps);

/*
 * The passt backend on @fd, a connected stream socket (a socketpair in
 * tests) that it takes: frames both ways behind a 4-byte big-endian
 * length.  @pid is the passt it started, reaped at close (-1: none);
 * @err_fd the read end of passt's stderr (-1: none), also taken.
 * -errno (@fd and @err_fd closed) when out of memory.
 */
int net_passt_backend(struct net_backend *be, int fd, pid_t pid, int err_fd);

/* The backend --net asks for: the tap, with vhost or without, or passt. */
const struct net_backend_ops *net_backend_for(const struct net_config *cfg);

#endif
