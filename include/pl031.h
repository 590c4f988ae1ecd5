/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_PL031_H
#define ARKVM_PL031_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "event_loop.h"
#include "irq.h"
#include "mmio_bus.h"

/*
 * The ARM PrimeCell PL031 real-time clock: a 32-bit count of seconds the
 * guest reads from RTCDR, so Linux starts at the time of day rather than
 * in 1970.  The count is the host's wall clock plus an offset that the
 * guest sets by writing RTCLR; only the offset is state, so it carries
 * across pause/resume and snapshots (a restored guest's clock goes on
 * from the host's wall clock plus the saved offset).
 *
 * The match register raises the line when the count reaches it, through
 * a timerfd on the I/O loop (none in unit tests and fuzzers: @alarm_fd -1).
 */
#define PL031_DR    0x000   /* data: the count (RO) */
#define PL031_MR    0x004   /* match */
#define PL031_LR    0x008   /* load: sets the count */
#define PL031_CR    0x00c   /* control: bit 0 start, always 1 here */
#define PL031_IMSC  0x010   /* interrupt mask set/clear */
#define PL031_RIS   0x014   /* raw interrupt status (RO) */
#define PL031_MIS   0x018   /* masked interrupt status (RO) */
#define PL031_ICR   0x01c   /* interrupt clear (WO) */
#define PL031_ID    0xfe0   /* PeriphID0-3 then CellID0-3, one byte per word */

struct pl031 {
	pthread_mutex_t lock;     /* vCPU threads (MMIO), the I/O thread (alarm) */
	struct irq_line irq;
	/* The host's wall clock in seconds; the test's own in unit tests. */
	int64_t (*wall_clock)(void *opaque);
	void *clock_opaque;
	int64_t offset;               /* guest count = wall clock + offset (mod 2^32) */
	u32 mr, lr;
	bool imsc, ris;
	bool line;                /* the level last given to @irq */
	int64_t alarm_at;             /* host seconds the match is due, or -1 */
	int alarm_fd;             /* timerfd (CLOCK_REALTIME), or -1 */
	struct event_source alarm_src;
	struct event_loop *loop;  /* where @alarm_src is watched */
};

/* @wall_clock NULL: the host's CLOCK_REALTIME.  Starts at the host's time. */
void pl031_init(struct pl031 *rtc, const struct irq_line *irq,
		int64_t (*wall_clock)(void *opaque), void *clock_opaque);
void pl031_destroy(struct pl031 *rtc);
/* The alarm came due (the I/O thread, or a test): latch RIS if it is still due. */
void pl031_alarm(struct pl031 *rtc);
/* What RTCDR reads now. */
u32 pl031_count(struct pl031 *rtc);

extern const struct mmio_ops pl031_mmio_ops;

#endif
