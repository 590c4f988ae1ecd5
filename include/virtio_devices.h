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

/* virtio-net on a host tap (devices/virtio_net.c). */
#define NET_QUEUE_SIZE 256
#define NET_RX_MAX_IOV 1024   /* UIO_MAXIOV: what one readv() takes */

/* A receive buffer taken from the ring and not yet filled. */
struct net_rx_buf {
	u16 head;
	u16 nr_iov;
	u32 len;
};

/* The host kernel serving a NIC's queues instead of arkvm (devices/vhost_net.c). */
struct vhost_net {
	int fd;                       /* /dev/vhost-net; -1 when arkvm serves them */
	struct event_source err_src;  /* eventfd: the kernel found a ring broken */
	bool running;                 /* between DRIVER_OK and reset */
	/* --stats: the tap's packet counters, guest sent [0] and received [1] */
	long long pkts_start[2];      /* at start; -1 unknown */
	int pkts_end_fd[2];           /* to read them at the end; -1 none */
};

struct virtio_net {
	struct virtio_dev vdev;
	int tap_fd;
	bool is_tap;                  /* false in tests, on a socketpair */
	char tap[CFG_MAX_IFNAME + 1];
	struct virtio_net_config config;

	/* Everything below belongs to the I/O thread. */
	struct event_loop *loop;
	struct event_source tap_src;  /* readable: a packet for the guest */
	bool tap_polled, tap_broken;

	u32 rx_generation;            /* dev->generation the held buffers came from */
	bool rx_merge;                /* MRG_RXBUF: a packet may span buffers */
	u32 rx_need;                  /* bytes of buffers the largest packet needs */
	struct net_rx_buf rx_bufs[NET_QUEUE_SIZE];  /* oldest first */
	unsigned int rx_nr_bufs, rx_nr_iov;
	u64 rx_cap;
	struct iovec rx_iov[NET_RX_MAX_IOV];
	struct virtq_chain chain;

	u64 rx_packets, tx_packets, rx_dropped, tx_dropped;
	struct vhost_net vhost;
};

/*
 * Attaches to an existing tap with IFF_VNET_HDR (never creates one, so
 * nothing is left behind) and watches it on @loop.  Prints one line and
 * returns -errno on error.
 */
int virtio_net_open(struct virtio_net *n, const struct net_config *cfg,
		    const struct guest_mem *mem, struct event_loop *loop);
/* The same on any packet fd (tests use a socketpair); takes ownership of @fd. */
int virtio_net_init(struct virtio_net *n, int fd, const char *name, const u8 mac[6],
		    const struct guest_mem *mem, struct event_loop *loop);
void virtio_net_close(struct virtio_net *n);
/*
 * vhost-net, for a NIC opened with vhost: open() on the main thread at
 * start-up (prints one line and returns -errno on error), start() at
 * DRIVER_OK and stop() at reset with dev->lock held, close() at the end.
 */
int vhost_net_open(struct virtio_net *n);
/*
 * --stats: the kernel moves vhost-net's packets, so only the tap counts
 * them. count_start() reads its counters at start-up (main thread, before
 * the sandbox); packets() gives what moved since, once, and false if the
 * tap's counters cannot be read (no sysfs, another network namespace).
 */
void vhost_net_count_start(struct virtio_net *n);
bool vhost_net_packets(const struct virtio_net *n, u64 sent_received[2]);
int vhost_net_start(struct virtio_net *n);
void vhost_net_stop(struct virtio_net *n);
void vhost_net_close(struct virtio_net *n);
/* The MAC a NIC gets without mac=: locally administered, stable per tap name. */
void virtio_net_default_mac(const char *tap, u8 mac[6]);

/* virtio-console: one port, the guest's hvc0 (devices/virtio_console.c). */
struct virtio_console {
	struct virtio_dev vdev;
	struct console *con;
	struct virtio_console_config config;
	struct virtq_chain tx_chain;     /* I/O thread: guest output */
	struct iovec tx_iov[VIRTQ_MAX_SIZE];
	/* Main thread, under dev->lock: the receive buffer input goes into next. */
	struct virtq_chain rx_chain;
	bool rx_held;
	u32 rx_generation;
};

void virtio_console_init(struct virtio_console *vc, const struct guest_mem *mem,
			 struct console *con);
/* The virtio console as the console's input sink (opaque: the virtio_console). */
extern const struct console_sink_ops virtio_console_sink;

/* virtio-rng fed from getrandom() (devices/virtio_rng.c). */
struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq_chain chain;
};

void virtio_rng_init(struct virtio_rng *r, const struct guest_mem *mem);

#endif
