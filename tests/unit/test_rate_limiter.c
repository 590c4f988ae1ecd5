// SPDX-License-Identifier: Apache-2.0
/* The token buckets' arithmetic, on a clock the test sets. */
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "rate_limiter.h"
#include "test.h"

#define MS 1000000ULL
#define T0 (1000 * MS)   /* an arbitrary start: the clock is not 0 at boot */

static const struct rate_limiter_config bw_1000_per_s = {
	.bandwidth = { .size = 1000, .refill_time_ms = 1000 },
};

static void test_starts_full_and_refuses_past_size(void)
{
	struct rate_limiter rl;

	rate_limiter_init(&rl, &bw_1000_per_s, T0);
	CHECK(rate_limiter_consume(&rl, T0, 1, 600));
	CHECK(rate_limiter_consume(&rl, T0, 1, 400));
	CHECK(!rate_limiter_consume(&rl, T0, 1, 1));
	/* Ops have no bucket here: any number passes once bytes do. */
	CHECK(rate_limiter_consume(&rl, T0, 1000000, 0));
}

static void test_refill_is_proportional_and_capped(void)
{
	struct rate_limiter rl;

	rate_limiter_init(&rl, &bw_1000_per_s, T0);
	CHECK(rate_limiter_consume(&rl, T0, 0, 1000));
	/* 250 ms: 250 tokens. */
	CHECK(!rate_limiter_consume(&rl, T0 + 250 * MS, 0, 251));
	CHECK(rate_limiter_consume(&rl, T0 + 250 * MS, 0, 250));
	/* Refill in small steps loses nothing: 1000 steps of 1 ms are 1000 tokens. */
	for (u64 i = 1; i <= 1000; i++)
		rate_limiter_charge(&rl, T0 + 250 * MS + i * MS, 0, 0);
	CHECK(rate_limiter_consume(&rl, T0 + 1250 * MS, 0, 1000));
	/* An hour idle fills it once, no more. */
	CHECK(rate_limiter_consume(&rl, T0 + 3600 * 1000 * MS, 0, 1000));
	CHECK(!rate_limiter_consume(&rl, T0 + 3600 * 1000 * MS, 0, 1));
}

static void test_one_time_burst_first_and_never_refilled(void)
{
	const struct rate_limiter_config cfg = {
		.bandwidth = { .size = 1000, .one_time_burst = 5000, .refill_time_ms = 1000 },
	};
	struct rate_limiter rl;

	rate_limiter_init(&rl, &cfg, T0);
	CHECK(rate_limiter_consume(&rl, T0, 0, 5000));   /* the burst */
	CHECK(rate_limiter_consume(&rl, T0, 0, 1000));   /* the bucket */
	CHECK(!rate_limiter_consume(&rl, T0, 0, 1));
	/* A day later: the bucket is full again, the burst is gone. */
	CHECK(rate_limiter_consume(&rl, T0 + 86400ULL * 1000 * MS, 0, 1000));
	CHECK(!rate_limiter_consume(&rl, T0 + 86400ULL * 1000 * MS, 0, 1));
}

/* Burst and bucket together pay for one request; a refusal takes neither. */
static void test_burst_and_bucket_all_or_nothing(void)
{
	const struct rate_limiter_config cfg = {
		.bandwidth = { .size = 100, .one_time_burst = 50, .refill_time_ms = 1000 },
		.ops = { .size = 1, .refill_time_ms = 1000 },
	};
	struct rate_limiter rl;

	rate_limiter_init(&rl, &cfg, T0);
	CHECK(rate_limiter_consume(&rl, T0, 0, 120));    /* 50 of burst, 70 of bucket */
	CHECK_EQ(rl.bytes.burst, 0);
	CHECK(!rate_limiter_consume(&rl, T0, 0, 31));
	CHECK(rate_limiter_consume(&rl, T0, 1, 30));
	/* Half a second on: 50 bytes, half an op; bytes fit, ops do not: neither is taken. */
	CHECK(!rate_limiter_consume(&rl, T0 + 500 * MS, 1, 10));
	CHECK(rate_limiter_consume(&rl, T0 + 500 * MS, 0, 50));
}

static void test_oversized_passes_from_full_then_pays_back(void)
{
	struct rate_limiter rl;

	rate_limiter_init(&rl, &bw_1000_per_s, T0);
	/* 3000 bytes through a 1000-byte bucket: passes once, as it is full. */
	CHECK(rate_limiter_consume(&rl, T0, 1, 3000));
	/* 2000 of debt and then 1 byte: 2001 ms. */
	CHECK_EQ(rate_limiter_wait_ns(&rl, T0, 0, 1), 2001 * MS);
	CHECK(!rate_limiter_consume(&rl, T0 + 1999 * MS, 0, 0));
	CHECK(rate_limiter_consume(&rl, T0 + 2000 * MS, 0, 0));
	/* Another oversized one waits until the bucket is full again. */
	CHECK(!rate_limiter_consume(&rl, T0 + 2500 * MS, 0, 3000));
	CHECK_EQ(rate_limiter_wait_ns(&rl, T0 + 2500 * MS, 0, 3000), 500 * MS);
	CHECK(rate_limiter_consume(&rl, T0 + 3000 * MS, 0, 3000));
}

static void test_wait_ns_exact(void)
{
	const struct rate_limiter_config cfg = {
		.bandwidth = { .size = 3, .refill_time_ms = 1 },   /* 3 per ms */
		.ops = { .size = 10, .refill_time_ms = 100 },      /* 1 per 10 ms */
	};
	struct rate_limiter rl;

	rate_limiter_init(&rl, &cfg, T0);
	CHECK_EQ(rate_limiter_wait_ns(&rl, T0, 1, 3), 0);
	CHECK(rate_limiter_consume(&rl, T0, 1, 3));
	/* 1 byte: a third of a ms, rounded up to the ns at which it fits. */
	CHECK_EQ(rate_limiter_wait_ns(&rl, T0, 0, 1), 333334);
	CHECK(!rate_limiter_consume(&rl, T0 + 333333, 0, 1));
	CHECK(rate_limiter_consume(&rl, T0 + 333334, 0, 1));
	/* The slower bucket decides: ops are 9 of 10, the 10 needed come 10 ms on. */
	CHECK_EQ(rate_limiter_wait_ns(&rl, T0 + 333334, 10, 0), 10 * MS - 333334);
}

/* Large sizes and long refills: no overflow in the arithmetic. */
static void test_large_values(void)
{
	const struct rate_limiter_config cfg = {
		.bandwidth = { .size = RL_MAX_SIZE, .refill_time_ms = RL_MAX_REFILL_MS },
	};
	struct rate_limiter rl;

	rate_limiter_init(&rl, &cfg, T0);
	CHECK(rate_limiter_consume(&rl, T0, 0, RL_MAX_SIZE));
	CHECK(!rate_limiter_consume(&rl, T0, 0, 1));
	CHECK(rate_limiter_consume(&rl, UINT64_MAX, 0, RL_MAX_SIZE));
	CHECK(rate_limiter_consume(&rl, UINT64_MAX, 0, 0));
	CHECK(!rate_limiter_consume(&rl, UINT64_MAX, 0, UINT64_MAX));
	CHECK_EQ(rate_limiter_wait_ns(&rl, UINT64_MAX, 0, UINT64_MAX),
		 RL_MAX_REFILL_MS * MS);
}

static void test_update_replaces_buckets(void)
{
	const struct rate_limiter_config none = { 0 };
	struct rate_limiter rl;

	rate_limiter_init(&rl, &bw_1000_per_s, T0);
	CHECK(rate_limiter_consume(&rl, T0, 0, 1000));
	CHECK(!rate_limiter_consume(&rl, T0, 0, 1));
	rate_limiter_update(&rl, &none, T0);
	CHECK(!rate_limiter_enabled(&rl));
	CHECK(rate_limiter_consume(&rl, T0, 100, 1ULL << 40));
	rate_limiter_update(&rl, &bw_1000_per_s, T0);
	CHECK(rate_limiter_consume(&rl, T0, 0, 1000));   /* a new bucket starts full */
}

static u64 fake_now;

static u64 fake_clock(void)
{
	return fake_now;
}

static unsigned int wakes;

static void count_wake(struct rate_limiter *rl)
{
	wakes++;
}

static u64 timer_left_ns(const struct rate_limiter *rl)
{
	struct itimerspec its;

	if (timerfd_gettime(rl->timer.fd, &its))
		return 0;
	return (u64)its.it_value.tv_sec * 1000 * MS + (u64)its.it_value.tv_nsec;
}

/* A refusal arms the one-shot timer for the wait, and nothing passes before it fires. */
static void test_admit_arms_timer(void)
{
	struct rate_limiter rl;
	u64 left;

	CHECK_EQ(rate_limiter_open(&rl, &bw_1000_per_s, NULL, count_wake), 0);
	fake_now = T0;
	rl.clock = fake_clock;
	rate_limiter_init(&rl, &bw_1000_per_s, T0);
	wakes = 0;
	CHECK(rate_limiter_admit(&rl, 1, 1000));
	CHECK_EQ(timer_left_ns(&rl), 0);
	CHECK(!rate_limiter_admit(&rl, 1, 100));
	CHECK(rate_limiter_blocked(&rl));
	left = timer_left_ns(&rl);
	CHECK(left > 90 * MS && left <= 100 * MS);
	/* Tokens came back, but the timer has not fired: still refused. */
	fake_now += 100 * MS;
	CHECK(!rate_limiter_admit(&rl, 1, 100));
	rl.timer.ready(&rl.timer, EPOLLIN);
	CHECK_EQ(wakes, 1);
	CHECK(rate_limiter_admit(&rl, 1, 100));
	/* An update disarms it: what waited may go. */
	CHECK(!rate_limiter_admit(&rl, 1, 1000));
	rate_limiter_set(&rl, &(struct rate_limiter_config){ 0 });
	CHECK(!rate_limiter_blocked(&rl));
	CHECK_EQ(timer_left_ns(&rl), 0);
	CHECK(rate_limiter_admit(&rl, 1, 1000));
	rate_limiter_close(&rl);
}

TEST_SUITE(rate_limiter,
	   TEST(test_starts_full_and_refuses_past_size),
	   TEST(test_refill_is_proportional_and_capped),
	   TEST(test_one_time_burst_first_and_never_refilled),
	   TEST(test_burst_and_bucket_all_or_nothing),
	   TEST(test_oversized_passes_from_full_then_pays_back),
	   TEST(test_wait_ns_exact),
	   TEST(test_large_values),
	   TEST(test_update_replaces_buckets),
	   TEST(test_admit_arms_timer));
