/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FAKE_DISK_H
#define ARKVM_FAKE_DISK_H

/*
 * For virtio-blk's tests: a disk backend that holds its requests until
 * the test lets them complete, and a device run the way the VM runs it,
 * with an I/O thread, while the test's thread plays the vCPUs.
 */
#include <pthread.h>

#include "disk.h"
#include "event_loop.h"
#include "fake_driver.h"
#include "virtio_devices.h"

#define FAKE_DISK_SECTORS 64   /* sector i is filled with 'A' + i % 26 */

/*
 * A disk that holds what it is given until the test releases it: requests
 * stay in flight as long as a test needs.  Submits and reaps come from the
 * device's I/O thread, releases from the test's; fd->lock orders them.
 */
struct fake_disk {
	struct disk disk;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	u8 bytes[FAKE_DISK_SECTORS * 512];
	struct disk_req *queue[64];    /* submitted, oldest first */
	unsigned int nr, capacity;     /* -EAGAIN past @capacity */
	unsigned int released;         /* how many of the oldest may complete */
	bool auto_release;             /* each completes as soon as it is reaped */
	unsigned int submitted, completed;
};

struct fake_disk *fake_disk_new(unsigned int capacity);

/*
 * For any backend's tests: one request on one buffer, submitted and, if
 * queued, kicked and reaped until nothing is in flight.  Its result, or
 * what the submit returned when it was refused.
 */
int disk_rw_wait(struct disk *d, enum disk_op op, u64 off, void *buf, u64 len);
/* Lets the @n oldest requests complete, and wakes the I/O thread to reap them. */
void fake_disk_release(struct fake_disk *fd, unsigned int n);
/* Waits until the disk has seen @n submissions; false after 5 s. */
bool fake_disk_wait_submitted(struct fake_disk *fd, unsigned int n);

/*
 * A device the way the VM runs it: an I/O thread runs the loop, and kicks
 * reach it through an eventfd (the ioeventfd's part); the test's thread
 * plays the vCPUs.  Interrupts are counted under @lock.
 */
struct blk_threads {
	struct fake_driver drv;
	struct virtio_blk blk;
	struct fake_disk *disk;
	struct event_loop loop;
	struct event_source kick;
	pthread_t io;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int interrupts;
	bool reset_returned;
	/* threads_call(): a function the I/O thread runs, as its loop would. */
	struct event_source call;
	int (*call_fn)(struct blk_threads *t);
	int call_ret;
	bool call_done;
};

/* Starts it over a fake disk of @capacity requests, queue 0 brought up. */
int threads_start(struct blk_threads *t, unsigned int capacity);
void threads_stop(struct blk_threads *t);
/* The guest kicks queue 0 (served on the I/O thread). */
void threads_kick(struct blk_threads *t);
/* Posts a read of @sector into @data (512 bytes), status at @stat. */
void threads_post_read(struct blk_threads *t, u64 hdr, u64 sector, u64 data, u64 stat);
/* Waits for the device's interrupts to reach @n; false after 5 s. */
bool threads_wait_interrupts(struct blk_threads *t, unsigned int n);
/* A vCPU writing 0 to Status, then setting t->reset_returned: a thread's body. */
void *threads_reset(void *arg);
/* Waits up to @ms for @flag (under t->lock) and returns it. */
bool threads_wait(struct blk_threads *t, const bool *flag, long ms);
/* Has the I/O thread run @fn (waiting up to @ms)?  Its return value in *@ret. */
bool threads_call(struct blk_threads *t, int (*fn)(struct blk_threads *t), long ms, int *ret);
/* Waits (5 s at most) for a call that threads_call() left running. */
bool threads_call_done(struct blk_threads *t, int *ret);

#endif
