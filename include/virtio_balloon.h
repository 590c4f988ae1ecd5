/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_BALLOON_H
#define ARKVM_VIRTIO_BALLOON_H

#include <linux/virtio_balloon.h>
#include <stdatomic.h>

#include "event_loop.h"
#include "metrics.h"
#include "virtio_mmio.h"
#include "vm_config.h"

/*
 * virtio-balloon (devices/virtio_balloon.c): the host sets a target, the
 * guest gives that many 4 KiB pages back through the inflate queue and
 * arkvm drops them from guest RAM (MADV_DONTNEED); free page reporting
 * does the same for ranges the guest finds free, with no target at all.
 */
#define BALLOON_PAGE_SIZE     (1u << VIRTIO_BALLOON_PFN_SHIFT)  /* whatever the guest's pages */
#define BALLOON_PAGES_PER_MIB (1u << (20 - VIRTIO_BALLOON_PFN_SHIFT))
/* Page numbers one inflate or deflate buffer may carry (Linux sends 256). */
#define BALLOON_MAX_PFNS      4096
/* Statistics tags arkvm keeps: 0 (swap-in) to 15 (direct-reclaim), as Linux 6.12 sends. */
#define BALLOON_NR_STATS      16
/* Entries read from one statistics buffer; past them the rest is ignored. */
#define BALLOON_MAX_STAT_ENTRIES 256
#define BALLOON_STAT_SIZE     10u       /* le16 tag, le64 value, packed */

/* The queues by what they do; where each one is depends on the features (balloon_queue()). */
enum balloon_queue {
	BALLOON_INFLATE,
	BALLOON_DEFLATE,
	BALLOON_STATS,
	BALLOON_REPORTING,
	BALLOON_NR_QUEUES,
};

/* GET /balloon's numbers: the target and what the guest says it holds. */
struct balloon_info {
	u32 target_pages, actual_pages;     /* 4 KiB pages */
	u32 target_mib, actual_mib;
};

/* The guest's latest statistics: val[tag] is meaningful when bit tag of @valid is set. */
struct balloon_stats {
	u32 valid;
	u64 val[BALLOON_NR_STATS];
};

struct virtio_balloon {
	struct virtio_dev vdev;
	struct virtio_balloon_config config;  /* little-endian, under vdev.lock */
	u64 ram_mib;
	u64 release_align;              /* what madvise drops whole: the host page, 2M with hugetlb */
	bool deflate_on_oom, reporting;
	bool stats_at_boot;             /* the statistics queue is offered */
	u32 stats_interval_s;           /* under vdev.lock */
	struct event_loop *loop;        /* NULL in unit tests: they call the tick */
	struct event_source stats_timer;  /* fd -1 without statistics */
	/* Under vdev.lock: the statistics buffer the device holds until the next tick. */
	struct virtq_chain stats_chain;
	u16 stats_head;
	bool stats_held;
	u32 stats_generation;
	bool quiesced;
	struct balloon_stats stats;
	u8 stats_buf[BALLOON_MAX_STAT_ENTRIES * BALLOON_STAT_SIZE];
	/* The I/O thread's, in a queue's serve (vdev.lock dropped). */
	struct virtq_chain chain;
	u32 pfns[BALLOON_MAX_PFNS];
	/* Counted on the I/O thread, read from any (--stats, metrics, the API). */
	atomic_ullong inflated_pages, deflated_pages, reported_bytes, released_bytes;
	struct balloon_metrics metrics;
};

/*
 * Builds the device from @cfg over @mem (its size bounds the target);
 * @release_align is the granule guest RAM is dropped in (the host's page
 * size, or 2M when RAM is on hugetlb pages).  With statistics, their
 * timer ticks on @loop.  Main thread, at start-up: 0 or -errno.
 */
int virtio_balloon_init(struct virtio_balloon *b, const struct balloon_config *cfg,
			u64 release_align, const struct guest_mem *mem, struct event_loop *loop);
void virtio_balloon_close(struct virtio_balloon *b);

/*
 * For the API (PATCH /balloon, GET /balloon, GET/PATCH /balloon/statistics).
 * Each takes vdev.lock; callable from any thread while the device exists.
 *
 * set_target: the guest is asked to give back @mib MiB (num_pages, and a
 * configuration-change interrupt once the driver is up).  -EINVAL when
 * @mib is more than guest RAM.
 */
int virtio_balloon_set_target(struct virtio_balloon *b, u32 mib);
void virtio_balloon_get_info(struct virtio_balloon *b, struct balloon_info *info);
void virtio_balloon_get_stats(struct virtio_balloon *b, struct balloon_stats *stats);
/* Whether the statistics queue was offered at boot: else GET/PATCH statistics are 400s. */
bool virtio_balloon_stats_enabled(const struct virtio_balloon *b);
/*
 * A new statistics interval: the guest is asked for its statistics now,
 * then every @secs.  Like Firecracker, statistics cannot be turned on or
 * off after boot: -EOPNOTSUPP without them, -EINVAL for 0.  It re-arms
 * a timerfd: the main thread (the class's update op) or start-up only, as
 * the seccomp filters allow.
 */
int virtio_balloon_set_stats_interval(struct virtio_balloon *b, u32 secs);

/*
 * Pause (the class's quiesce and resume, on the I/O thread): nothing
 * reaches guest RAM in between, and the held statistics buffer goes back
 * to its ring, so that a snapshot saved meanwhile has it available.
 */
void virtio_balloon_quiesce(struct virtio_balloon *b);
void virtio_balloon_resume(struct virtio_balloon *b);

/*
 * Its own section of a snapshot, after the transport's (the class's save
 * and restore): target, actual, statistics interval and latest values,
 * counters.  Restore refuses (-EINVAL, nothing changed) a section that
 * does not fit this device's config.
 */
struct state_writer;
struct state_reader;
int virtio_balloon_save(struct virtio_balloon *b, struct state_writer *w);
int virtio_balloon_restore(struct virtio_balloon *b, struct state_reader *r);

/*
 * The statistics timer's work, exposed for tests that run without a loop:
 * gives the held statistics buffer back so the driver refills it.  I/O thread.
 */
void virtio_balloon_stats_tick(struct virtio_balloon *b);

/* The registry's side (devices/virtio_balloon_class.c, src/devices.c). */
struct device;
struct vm;
/* @dev's balloon, or NULL when @dev is not the balloon. */
struct virtio_balloon *virtio_balloon_of(struct device *dev);
/*
 * The VM's balloon, or NULL without one.  The device list is fixed once
 * the VM is built: any thread may look.
 */
struct virtio_balloon *vm_balloon(struct vm *vm);
/*
 * Checks a new config for a running balloon (what the class's update op
 * takes, through VM_CMD_UPDATE): 0, or -EINVAL/-EOPNOTSUPP as the
 * setters above would return, with nothing changed.
 */
int virtio_balloon_check_update(struct virtio_balloon *b, const struct balloon_config *cfg);

#endif
