// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_timer.h"
#include "test.h"

struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

/* A timer whose process started 10 ms ago and first ran the guest 5 ms ago. */
static void setup(struct boot_timer *bt, struct boot_times *t, struct capture *c)
{
	u64 now = boot_clock_ns();

	*t = (struct boot_times){ .start = now - 10000000, .first_run = now - 5000000,
				  .first_run_cpu = 2000000 };
	*c = (struct capture){ 0 };
	c->f = open_memstream(&c->buf, &c->len);
	boot_timer_init(bt, t, c->f);
}

static unsigned int count_lines(struct capture *c)
{
	unsigned int n = 0;

	fflush(c->f);
	for (size_t i = 0; i < c->len; i++)
		n += c->buf[i] == '\n';
	return n;
}

static void teardown(struct capture *c)
{
	fclose(c->f);
	free(c->buf);
}

static void test_magic_write_reports_once(void)
{
	struct boot_timer bt;
	struct boot_times t;
	struct capture c;

	setup(&bt, &t, &c);
	t.start -= 1000000;
	boot_times_step(&t, "first_step");
	boot_timer_mmio_ops.write(&bt, 0, BOOT_TIMER_MAGIC, 1);
	CHECK_EQ(count_lines(&c), 2);
	CHECK(strstr(c.buf, "\narkvm: boot-timer: set-up steps (ms): first_step "));
	CHECK(strstr(c.buf, "boot-timer: start to first KVM_RUN 6.000 ms (CPU 2.000 ms), "));
	CHECK(strstr(c.buf, "first KVM_RUN to init ") && strstr(c.buf, "total "));
	/* A guest cannot make arkvm print again. */
	for (int i = 0; i < 100; i++)
		boot_timer_mmio_ops.write(&bt, 0, BOOT_TIMER_MAGIC, 4);
	CHECK_EQ(count_lines(&c), 2);
	teardown(&c);
}

static void test_other_writes_ignored(void)
{
	struct boot_timer bt;
	struct boot_times t;
	struct capture c;

	setup(&bt, &t, &c);
	boot_timer_mmio_ops.write(&bt, 0, BOOT_TIMER_MAGIC + 1, 1);
	boot_timer_mmio_ops.write(&bt, 8, BOOT_TIMER_MAGIC, 1);
	boot_timer_mmio_ops.write(&bt, 0xff8, ~0ULL, 8);
	CHECK_EQ(boot_timer_mmio_ops.read(&bt, 0, 4), 0);
	CHECK_EQ(count_lines(&c), 0);
	/* Still armed: the real signal is reported. */
	boot_timer_mmio_ops.write(&bt, 0, BOOT_TIMER_MAGIC, 1);
	CHECK_EQ(count_lines(&c), 2);
	teardown(&c);
}

static void test_first_run_recorded_once(void)
{
	struct boot_times t = { .start = boot_clock_ns() };
	u64 first;

	boot_times_first_run(&t);
	first = t.first_run;
	CHECK(first >= t.start);
	CHECK(t.first_run_cpu > 0);
	boot_times_first_run(&t);
	CHECK_EQ(t.first_run, first);
}

TEST_SUITE(boot_timer,
	   TEST(test_magic_write_reports_once),
	   TEST(test_other_writes_ignored),
	   TEST(test_first_run_recorded_once));
