/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_DEVICES_H
#define ARKVM_VIRTIO_DEVICES_H

#include <linux/virtio_blk.h>
#include <linux/virtio_console.h>
#include <linux/virtio_net.h>

#include "cli.h"
#include "console.h"
#include "disk.h"
#include "event_loop.h"
#include "metrics.h"
#include "net_backend.h"
#include "rate_limiter.h"
#include "virtio_mmio.h"

/* virtio-blk over a disk backend (devices/virtio_blk.c). */
struct blk_inflight;

struct virtio_blk {
	struct virtio_dev vdev;
	struct disk *disk;              /* owned: closed with the device */
	u64 sectors;
	char serial[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config;
	struct blk_inflight *inflight;  /* requests in flight: allocated once, at open */
	struct block_metrics metrics;
	bool no_flush;                  /* cache=unsafe: no VIRTIO_BLK_F_FLUSH offered */
	struct rate_limiter rl;         /* 1 op per request, + its bytes for reads and writes */
};

/*
 * Opens and locks the disk (exclusively, or shared when read-only), so two
 * VMs cannot write one image, on the raw backend.  The disk's completions
 * are heard on @loop (the I/O thread's); with @loop NULL every request is
 * waited for before the kick that brought it returns (unit tests, the
 * fuzzer).  Prints one line and returns -errno on error.
 */
int virtio_blk_open(struct virtio_blk *b, const struct disk_config *cfg, unsigned int index,
		    const struct guest_mem *mem, struct event_loop *loop);
/*
 * The same over an open @disk, which the device owns from here on (it is
 * closed on error too).  @serial may be NULL or empty: "arkvm-disk<index>".
 */
int virtio_blk_init(struct virtio_blk *b, struct disk *disk, const char *serial,
		    unsigned int index, const struct guest_mem *mem, struct event_loop *loop);
void virtio_blk_close(struct virtio_blk *b);
/*
 * For pause and snapshot, on the I/O thread (the one that runs @loop)
 * while the vCPUs are parked.  quiesce() completes every request in flight
 * (returning them to the guest) and stops taking new ones from the queue:
 * 0, or -EIO if the disk can finish nothing more.  resume() serves
 * whatever the guest queued meanwhile.
 *
 * A reset (Status 0, on a vCPU thread) likewise waits until no request is
 * in flight, which the I/O thread completes; so the I/O thread must never
 * wait for a vCPU that may be resetting a disk.
 */
int virtio_blk_quiesce(struct virtio_blk *b);
void virtio_blk_resume(struct virtio_blk *b);

/*
 * After start (PATCH /drives), on the I/O thread.  replace_disk() opens
 * the image @cfg names (its format, read-only, ephemeral as @cfg says), lets every request in flight on the
 * old file complete, and swaps: 0, or -errno with the old file kept.  The
 * guest is told of a new capacity with a config interrupt.  set_limits()
 * puts new buckets in place and serves what waited for the old ones.
 */
int virtio_blk_replace_disk(struct virtio_blk *b, const struct disk_config *cfg);
void virtio_blk_set_limits(struct virtio_blk *b, const struct rate_limiter_config *rl);

/* virtio-net on a network backend (devices/virtio_net.c, include/net_backend.h). */
#define NET_QUEUE_SIZE 256
#define NET_RX_MAX_IOV 1024   /* UIO_MAXIOV: what one readv() takes */

/* A receive buffer taken from the ring and not yet filled. */
struct net_rx_buf {
	u16 head;
	u16 nr_iov;
	u32 len;
};

struct virtio_net {
	struct virtio_dev vdev;
	struct net_backend be;
	struct virtio_net_config config;

	/* Everything below belongs to the I/O thread. */
	struct event_loop *loop;
	/* The backend's fd (a tap, mostly): readable when a packet is for the guest. */
	struct event_source tap_src;
	bool tap_polled, tap_broken;
	struct event_source err_src;  /* be.err_fd: the kernel found a ring broken */
	bool kernel_running;          /* the kernel serves the queues (DRIVER_OK to reset) */
	bool quiesced;                /* virtio_net_quiesce(): nothing goes into guest RAM */

	u32 rx_generation;            /* dev->generation the held buffers came from */
	bool rx_merge;                /* MRG_RXBUF: a packet may span buffers */
	u32 rx_need;                  /* bytes of buffers the largest packet needs */
	struct net_rx_buf rx_bufs[NET_QUEUE_SIZE];  /* oldest first */
	unsigned int rx_nr_bufs, rx_nr_iov;
	u64 rx_cap;
	struct iovec rx_iov[NET_RX_MAX_IOV];
	/* A backend without the header: the segments past it, for one recv. */
	struct iovec rx_frame_iov[NET_RX_MAX_IOV];
	struct virtq_chain chain;
	struct iovec tx_frame_iov[NET_QUEUE_SIZE];  /* the same for one send */

	u64 rx_packets, tx_packets, rx_dropped, tx_dropped;
	struct net_metrics metrics;   /* bumped by the I/O thread, read by the flush */
	/* 1 op + the frame's bytes a packet; arkvm's datapath only (not vhost). */
	struct rate_limiter rx_rl, tx_rl;
};

/*
 * Opens the backend @cfg names (a tap, with vhost or without: attaches to
 * an existing tap, never creates one, so nothing is left behind) and
 * watches it on @loop.  Main thread, at start-up: prints one line and
 * returns -errno on error.
 */
int virtio_net_open(struct virtio_net *n, const struct net_config *cfg,
		    const struct guest_mem *mem, struct event_loop *loop);
/*
 * The same on an opened backend, which the device takes (and closes on
 * error).  The features offered follow from @be->caps.
 */
int virtio_net_attach(struct virtio_net *n, const struct net_backend *be, const u8 mac[6],
		      const struct guest_mem *mem, struct event_loop *loop);
/*
 * On any fd that keeps packet boundaries (tests use a socketpair), with a
 * tap's capabilities but no tap ioctls; takes ownership of @fd.
 */
int virtio_net_init(struct virtio_net *n, int fd, const char *name, const u8 mac[6],
		    const struct guest_mem *mem, struct event_loop *loop);
void virtio_net_close(struct virtio_net *n);
/*
 * New limits for what the guest receives and sends (PATCH
 * /network-interfaces), on the I/O thread; what waited is served again.
 */
void virtio_net_set_limits(struct virtio_net *n, const struct rate_limiter_config *rx,
			   const struct rate_limiter_config *tx);

/*
 * For pause and snapshots: on the I/O thread, with the vCPUs parked.
 * After quiesce() the device writes nothing into guest RAM (arkvm stops
 * reading the backend and serving kicks; a kernel datapath stops touching
 * the rings) until resume(), which serves what came meanwhile.  quiesce()
 * returns 0 or -errno (the device then runs on); both may be repeated.
 */
int virtio_net_quiesce(struct virtio_net *n);
void virtio_net_resume(struct virtio_net *n);

/* The MAC a NIC gets without mac=: locally administered, stable per tap name. */
void virtio_net_default_mac(const char *tap, u8 mac[6]);

/* virtio-console: one port, the guest's hvc0 (devices/virtio_console.c). */
struct virtio_console {
	struct virtio_dev vdev;
	struct console *con;
	struct virtio_console_config config;
	/* Under dev->lock (I/O thread): the output chain stdout has not taken whole yet. */
	struct virtq_chain tx_chain;
	bool tx_held;
	u64 tx_off;                      /* bytes of it already in the console */
	u32 tx_generation;
	/*
	 * Bytes of the next output chain already in the console: a pause gave
	 * a half-sent chain back to the ring, and saves this with the device.
	 */
	u64 tx_skip;
	/* Main thread, under dev->lock: the receive buffer input goes into next. */
	struct virtq_chain rx_chain;
	bool rx_held;
	u32 rx_generation;
	bool quiesced;                   /* paused: takes no buffer from the guest */
};

void virtio_console_init(struct virtio_console *vc, const struct guest_mem *mem,
			 struct console *con);
/* The virtio console as the console's input sink (opaque: the virtio_console). */
extern const struct console_sink_ops virtio_console_sink;

/* virtio-rng fed from getrandom() (devices/virtio_rng.c). */
struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq_chain chain;
	struct entropy_metrics metrics;
	struct rate_limiter rl;   /* 1 op + the buffer's size per buffer */
	bool quiesced;            /* paused: the limiter's timer serves nothing */
};

/*
 * @rl (NULL: none) limits what the guest draws; its timer is heard on
 * @loop (NULL: tests fire it by hand).  0 or -errno.
 */
int virtio_rng_init(struct virtio_rng *r, const struct guest_mem *mem,
		    const struct rate_limiter_config *rl, struct event_loop *loop);
void virtio_rng_close(struct virtio_rng *r);

#endif
