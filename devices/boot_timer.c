// SPDX-License-Identifier: Apache-2.0
/*
 * The boot timer: the guest says "init runs" with one MMIO write, and arkvm
 * splits the time from its own start into set-up (start to the first
 * KVM_RUN, with the CPU time spent) and guest boot (first KVM_RUN to init).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch.h"
#include "boot_timer.h"
#include "device.h"
#include "fdt_build.h"
#include "log.h"
#include "state.h"

static u64 clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

u64 boot_clock_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

u64 boot_cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

u64 thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

void boot_times_step(struct boot_times *t, const char *name)
{
	if (t->nr_steps >= BOOT_TIMES_MAX_STEPS)
		return;
	t->step_name[t->nr_steps] = name;
	t->step_end[t->nr_steps++] = boot_clock_ns();
}

/* "name 1.234, name 0.010, ..., run 0.500": where set-up time went. */
static void boot_timer_print_steps(FILE *out, const struct boot_times *t, u64 first_run)
{
	u64 prev = t->start;

	fprintf(out, "arkvm: boot-timer: set-up steps (ms):");
	for (unsigned int i = 0; i < t->nr_steps; i++) {
		fprintf(out, " %s %.3f,", t->step_name[i], ns_to_ms(t->step_end[i] - prev));
		prev = t->step_end[i];
	}
	fprintf(out, " then to first KVM_RUN %.3f\n",
		first_run > prev ? ns_to_ms(first_run - prev) : 0.0);
}

void boot_times_first_run(struct boot_times *t)
{
	u64 zero = 0;

	if (atomic_load_explicit(&t->first_run, memory_order_relaxed))
		return;
	if (atomic_compare_exchange_strong(&t->first_run, &zero, boot_clock_ns()))
		atomic_store(&t->first_run_cpu, boot_cpu_ns());
}

void boot_timer_init(struct boot_timer *bt, struct boot_times *times, FILE *out)
{
	*bt = (struct boot_timer){ .times = times, .out = out };
}

static u64 boot_timer_read(void *opaque __unused, u64 offset __unused, u32 size __unused)
{
	return 0;
}

/* Only the first magic write counts: a guest cannot make arkvm print more. */
static void boot_timer_write(void *opaque, u64 offset, u64 value, u32 size __unused)
{
	struct boot_timer *bt = opaque;
	const struct boot_times *t = bt->times;
	u64 now = boot_clock_ns(), first_run;

	if (offset || value != BOOT_TIMER_MAGIC || atomic_exchange(&bt->reported, true))
		return;
	first_run = atomic_load(&t->first_run);
	if (!first_run || first_run < t->start || now < first_run)
		return;
	fprintf(bt->out,
		"arkvm: boot-timer: start to first KVM_RUN %.3f ms (CPU %.3f ms), "
		"first KVM_RUN to init %.3f ms, total %.3f ms\n",
		ns_to_ms(first_run - t->start), ns_to_ms(atomic_load(&t->first_run_cpu)),
		ns_to_ms(now - first_run), ns_to_ms(now - t->start));
	boot_timer_print_steps(bt->out, t, first_run);
	fflush(bt->out);
}

static void boot_timer_fdt_node(void *opaque __unused, struct fdt_writer *w, u64 base, u64 len)
{
	fdt_w_begin_mmio_node(w, "boot-timer", base, len, "arkvm,boot-timer");
	fdt_w_end_node(w);
}

const struct mmio_ops boot_timer_mmio_ops = {
	.read = boot_timer_read,
	.write = boot_timer_write,
	.fdt_node = boot_timer_fdt_node,
};

/* The device class: with --boot-timer, at the memory map's place. */
static unsigned int boot_timer_count(const struct vm_config *cfg)
{
	return cfg->boot_timer;
}

static int boot_timer_create(struct device *dev, struct device_host *host,
			     unsigned int index __unused)
{
	struct boot_timer *bt = device_alloc_priv(dev, sizeof(*bt));

	if (!bt)
		return -ENOMEM;
	boot_timer_init(bt, host->boot_times, stderr);
	return 0;
}

static int boot_timer_realize(struct device *dev, struct device_host *host)
{
	int ret = mmio_bus_register(host->bus, ARM64_BOOT_TIMER_BASE, ARM64_BOOT_TIMER_SIZE,
				    &boot_timer_mmio_ops, dev->priv, "boot-timer");

	if (ret)
		pr_err("registering the boot timer: %s", strerror(-ret));
	return ret;
}

/*
 * Snapshots: whether init has said it runs.  A restored guest's init ran in
 * the process that booted it; its write must not be timed against this
 * process's start.
 */
static int boot_timer_save(struct device *dev, struct state_writer *w)
{
	struct boot_timer *bt = dev->priv;

	state_put_u8(w, atomic_load(&bt->reported));
	return w->err;
}

static int boot_timer_restore(struct device *dev, struct state_reader *r)
{
	struct boot_timer *bt = dev->priv;
	u8 reported = state_get_u8(r);

	if (state_check(r, reported <= 1))
		return r->err;
	atomic_store(&bt->reported, reported);
	return 0;
}

const struct device_class boot_timer_class = {
	.name = "boot-timer",
	.count = boot_timer_count,
	.create = boot_timer_create,
	.realize = boot_timer_realize,
	.save = boot_timer_save,
	.restore = boot_timer_restore,
};
