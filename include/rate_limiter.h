/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_RATE_LIMITER_H
#define ARKVM_RATE_LIMITER_H

/*
 * Firecracker's rate limiter: two token buckets, bytes and operations,
 * each optional.  A bucket holds up to @size tokens and refills at
 * size / refill_time, in proportion to the time that passed (never more
 * than full); its one-time burst is spent first and never comes back.
 * A request takes its tokens from both buckets or from neither.
 *
 * A request larger than a bucket could ever hold would wait forever, so
 * one is let through when the bucket is full, leaving it in debt: the
 * excess is paid back by refill before anything else passes, which keeps
 * the long-run rate exact.
 *
 * The arithmetic takes the clock as a parameter (CLOCK_MONOTONIC ns), so
 * tests drive it without sleeping.  Levels are counted in token
 * nanoseconds (tokens x refill_ns), which makes refill exact: no
 * fraction of a token is lost between two calls.
 *
 * The device side (rate_limiter_open() on) adds a one-shot timerfd on the
 * device's event loop: a refused request arms it for when the tokens will
 * be back, and until it fires every request is refused, so a limited
 * queue is never polled; the device's @wake serves the queue again.
 *
 * Threading: a limiter is its device's I/O thread's (the loop's thread):
 * admits, the timer, and updates (rate_limiter_set()) all run there.
 */
#include <stdbool.h>

#include "compiler.h"
#include "event_loop.h"
#include "vm_config.h"

/* Bounds vm_config_validate() holds a bucket to: the arithmetic cannot overflow within them. */
#define RL_MAX_REFILL_MS   (3600ULL * 1000)   /* an hour */
#define RL_MAX_SIZE        (1ULL << 60)

typedef __int128 rl_level_t;

struct token_bucket {
	u64 size;              /* 0: no bucket, anything passes */
	u64 refill_ns;         /* from empty to full */
	u64 burst;             /* what is left of one_time_burst */
	rl_level_t level;      /* tokens x refill_ns; below 0 after an oversized request */
	u64 last_ns;           /* when level was last brought up to date */
};

struct rate_limiter {
	struct token_bucket bytes, ops;

	/* The device side: */
	struct event_source timer;   /* one-shot timerfd; -1 before rate_limiter_open() */
	struct event_loop *loop;     /* the timer's, NULL when not polled (tests) */
	bool blocked;                /* armed: refuse all until it fires */
	u64 (*clock)(void);          /* now in ns: CLOCK_MONOTONIC; tests put their own */
	void (*wake)(struct rate_limiter *rl);  /* the tokens are back: serve the queue again */
};

/* Buckets from @cfg, full, as of @now_ns. */
void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		       u64 now_ns);
/* New buckets from @cfg replace the old ones (full, burst anew): a PATCH after start. */
void rate_limiter_update(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
			 u64 now_ns);
/* Has the limiter any bucket? */
bool rate_limiter_enabled(const struct rate_limiter *rl);
/*
 * Takes @ops and @bytes tokens and returns true, or takes none and returns
 * false.  A bucket in debt refuses everything, zero tokens included.
 */
bool rate_limiter_consume(struct rate_limiter *rl, u64 now_ns, u64 ops, u64 bytes);
/* Takes tokens whether there are any or not (sizes known only afterwards): debt. */
void rate_limiter_charge(struct rate_limiter *rl, u64 now_ns, u64 ops, u64 bytes);
/* Gives back tokens taken for nothing (a read that found no packet), up to full. */
void rate_limiter_replenish(struct rate_limiter *rl, u64 ops, u64 bytes);
/* Nanoseconds from @now_ns until consume(@ops, @bytes) would succeed: 0 if now. */
u64 rate_limiter_wait_ns(struct rate_limiter *rl, u64 now_ns, u64 ops, u64 bytes);

/* CLOCK_MONOTONIC in ns. */
u64 rate_limiter_clock(void);

/*
 * The device side.  open(): buckets from @cfg and the timerfd, watched on
 * @loop when it is not NULL; -errno.  Always open a device's limiters,
 * limited or not: an update on the I/O thread may enable one later and
 * must not need to create a descriptor there.
 */
int rate_limiter_open(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		      struct event_loop *loop, void (*wake)(struct rate_limiter *rl));
void rate_limiter_close(struct rate_limiter *rl);
/*
 * consume() at the limiter's clock.  When it refuses, the timer is armed
 * for when the tokens will be back and @wake comes then.
 */
bool rate_limiter_admit(struct rate_limiter *rl, u64 ops, u64 bytes);
/* charge() at the limiter's clock. */
void rate_limiter_take(struct rate_limiter *rl, u64 ops, u64 bytes);
/*
 * update() at the limiter's clock; disarms the timer.  The caller serves
 * its queues again afterwards (what waited may pass now).
 */
void rate_limiter_set(struct rate_limiter *rl, const struct rate_limiter_config *cfg);
/* Is a refused request waiting for the timer? */
static inline bool rate_limiter_blocked(const struct rate_limiter *rl)
{
	return rl->blocked;
}

#endif
