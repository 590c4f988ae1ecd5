// SPDX-License-Identifier: Apache-2.0
/*
 * Token buckets for virtio-blk, virtio-net and virtio-rng, with the
 * semantics of Firecracker's API (include/rate_limiter.h says which).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rate_limiter.h"

#define NS_PER_MS 1000000ULL

static rl_level_t tb_full(const struct token_bucket *tb)
{
	return (rl_level_t)tb->size * tb->refill_ns;
}

static void tb_init(struct token_bucket *tb, const struct token_bucket_config *cfg, u64 now_ns)
{
	memset(tb, 0, sizeof(*tb));
	if (!token_bucket_config_set(cfg))
		return;
	tb->size = cfg->size;
	tb->refill_ns = cfg->refill_time_ms * NS_PER_MS;
	tb->burst = cfg->one_time_burst;
	tb->level = tb_full(tb);
	tb->last_ns = now_ns;
}

/* Refill for the time since the last call, up to full; a clock going back adds nothing. */
static void tb_refill(struct token_bucket *tb, u64 now_ns)
{
	u64 elapsed;

	if (!tb->size || now_ns <= tb->last_ns)
		return;
	elapsed = now_ns - tb->last_ns;
	tb->last_ns = now_ns;
	if (elapsed >= tb->refill_ns && tb->level >= 0) {
		tb->level = tb_full(tb); /* and no big product to form */
		return;
	}
	/* elapsed < 2^64, size <= 2^60: the product fits in 127 bits. */
	tb->level += (rl_level_t)elapsed * tb->size;
	if (tb->level > tb_full(tb))
		tb->level = tb_full(tb);
}

/* The tokens of @n the refilling part pays for, once the burst has paid what it can. */
static u64 tb_after_burst(const struct token_bucket *tb, u64 n)
{
	return n > tb->burst ? n - tb->burst : 0;
}

/* Could @n tokens be taken now (refilled already)? */
static bool tb_fits(const struct token_bucket *tb, u64 n)
{
	u64 rest = tb_after_burst(tb, n);

	if (!tb->size)
		return true;
	if (tb->level < 0)
		return false; /* paying back an oversized request */
	if (rest > tb->size)
		return tb->level == tb_full(tb); /* oversized: only from a full bucket */
	return tb->level >= (rl_level_t)rest * tb->refill_ns;
}

static void tb_take(struct token_bucket *tb, u64 n)
{
	u64 rest = tb_after_burst(tb, n);

	if (!tb->size)
		return;
	tb->burst -= n - rest;
	tb->level -= (rl_level_t)rest * tb->refill_ns;
}

static void tb_give_back(struct token_bucket *tb, u64 n)
{
	if (!tb->size)
		return;
	tb->level += (rl_level_t)MIN(n, tb->size) * tb->refill_ns;
	if (tb->level > tb_full(tb))
		tb->level = tb_full(tb);
}

/* Nanoseconds until tb_fits(@n), refilled already. */
static u64 tb_wait(const struct token_bucket *tb, u64 n)
{
	u64 rest = tb_after_burst(tb, n);
	rl_level_t need, deficit, ns;

	if (tb_fits(tb, n))
		return 0;
	need = (rl_level_t)MIN(rest, tb->size) * tb->refill_ns;
	deficit = need - tb->level;
	ns = (deficit + tb->size - 1) / tb->size; /* round up: at that time it fits */
	return ns > (rl_level_t)UINT64_MAX ? UINT64_MAX : (u64)ns;
}

void rate_limiter_init(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		       u64 now_ns)
{
	tb_init(&rl->bytes, &cfg->bandwidth, now_ns);
	tb_init(&rl->ops, &cfg->ops, now_ns);
}

void rate_limiter_update(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
			 u64 now_ns)
{
	rate_limiter_init(rl, cfg, now_ns);
}

bool rate_limiter_enabled(const struct rate_limiter *rl)
{
	return rl->bytes.size || rl->ops.size;
}

static void rl_refill(struct rate_limiter *rl, u64 now_ns)
{
	tb_refill(&rl->bytes, now_ns);
	tb_refill(&rl->ops, now_ns);
}

bool rate_limiter_consume(struct rate_limiter *rl, u64 now_ns, u64 ops, u64 bytes)
{
	rl_refill(rl, now_ns);
	if (!tb_fits(&rl->ops, ops) || !tb_fits(&rl->bytes, bytes))
		return false;
	tb_take(&rl->ops, ops);
	tb_take(&rl->bytes, bytes);
	return true;
}

void rate_limiter_charge(struct rate_limiter *rl, u64 now_ns, u64 ops, u64 bytes)
{
	rl_refill(rl, now_ns);
	tb_take(&rl->ops, ops);
	tb_take(&rl->bytes, bytes);
}

void rate_limiter_replenish(struct rate_limiter *rl, u64 ops, u64 bytes)
{
	tb_give_back(&rl->ops, ops);
	tb_give_back(&rl->bytes, bytes);
}

u64 rate_limiter_wait_ns(struct rate_limiter *rl, u64 now_ns, u64 ops, u64 bytes)
{
	rl_refill(rl, now_ns);
	return MAX(tb_wait(&rl->ops, ops), tb_wait(&rl->bytes, bytes));
}

u64 rate_limiter_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

/* --- the device side: a timer on the device's loop --------------------------- */

static void rl_timer_fired(struct event_source *src, uint32_t events __unused)
{
	struct rate_limiter *rl = container_of(src, struct rate_limiter, timer);
	u64 ticks;

	/* Tests call this by hand, with nothing to read: EAGAIN. */
	if (read(src->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	if (!rl->blocked)
		return; /* disarmed meanwhile (rate_limiter_set()) */
	rl->blocked = false;
	if (rl->wake)
		rl->wake(rl);
}

int rate_limiter_open(struct rate_limiter *rl, const struct rate_limiter_config *cfg,
		      struct event_loop *loop, void (*wake)(struct rate_limiter *rl))
{
	int ret;

	memset(rl, 0, sizeof(*rl));
	rl->clock = rate_limiter_clock;
	rl->wake = wake;
	rate_limiter_init(rl, cfg, rl->clock());
	rl->timer = (struct event_source){ .ready = rl_timer_fired };
	rl->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (rl->timer.fd < 0)
		return -errno;
	if (!loop)
		return 0;
	ret = event_loop_add(loop, &rl->timer, EPOLLIN);
	if (ret) {
		close(rl->timer.fd);
		rl->timer.fd = -1;
		return ret;
	}
	rl->loop = loop;
	return 0;
}

void rate_limiter_close(struct rate_limiter *rl)
{
	if (rl->timer.fd < 0)
		return;
	if (rl->loop)
		event_loop_del(rl->loop, &rl->timer);
	close(rl->timer.fd);
	rl->timer.fd = -1;
	rl->loop = NULL;
}

/* One shot, @ns from now (at least 1: 0 would disarm it). */
static int rl_arm(struct rate_limiter *rl, u64 ns)
{
	struct itimerspec its = { 0 };

	ns = MAX(ns, 1ULL);
	its.it_value.tv_sec = (time_t)MIN(ns / 1000000000ULL, (u64)INT32_MAX);
	its.it_value.tv_nsec = (long)(ns % 1000000000ULL);
	return timerfd_settime(rl->timer.fd, 0, &its, NULL) ? -errno : 0;
}

bool rate_limiter_admit(struct rate_limiter *rl, u64 ops, u64 bytes)
{
	u64 now;
	int ret;

	if (!rate_limiter_enabled(rl))
		return true;
	if (rl->blocked)
		return false; /* first come, first served: the one that waits goes first */
	now = rl->clock();
	if (rate_limiter_consume(rl, now, ops, bytes))
		return true;
	ret = rl_arm(rl, rate_limiter_wait_ns(rl, now, ops, bytes));
	if (ret) {
		/* Cannot happen with a valid fd; the guest's next kick retries. */
		pr_warn_ratelimited("rate limiter: cannot arm its timer: %s", strerror(-ret));
		return false;
	}
	rl->blocked = true;
	return false;
}

void rate_limiter_take(struct rate_limiter *rl, u64 ops, u64 bytes)
{
	if (rate_limiter_enabled(rl))
		rate_limiter_charge(rl, rl->clock(), ops, bytes);
}

void rate_limiter_set(struct rate_limiter *rl, const struct rate_limiter_config *cfg)
{
	static const struct itimerspec off;

	rate_limiter_update(rl, cfg, rl->clock());
	if (rl->blocked && rl->timer.fd >= 0)
		timerfd_settime(rl->timer.fd, 0, &off, NULL);
	rl->blocked = false;
}
