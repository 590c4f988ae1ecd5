/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_BOOT_TIMER_H
#define ARKVM_BOOT_TIMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "compiler.h"
#include "mmio_bus.h"

/*
 * The boot timer (--boot-timer): a 4 KiB MMIO page, named in the device
 * tree as "arkvm,boot-timer", where the guest's init writes
 * BOOT_TIMER_MAGIC (any access size, offset 0) once it runs, as on
 * Firecracker.  arkvm then prints how long each part of the boot took.
 */
#define BOOT_TIMER_MAGIC 123

#define BOOT_TIMES_MAX_STEPS 16

/* Timestamps in nanoseconds: CLOCK_MONOTONIC, and the process's CPU time. */
struct boot_times {
	u64 start;                  /* main() entered */
	/* When each init step ended, for the breakdown (main thread only). */
	const char *step_name[BOOT_TIMES_MAX_STEPS];
	u64 step_end[BOOT_TIMES_MAX_STEPS];
	unsigned int nr_steps;
	_Atomic u64 first_run;      /* the first KVM_RUN, on any vCPU */
	_Atomic u64 first_run_cpu;  /* CPU time arkvm had used by then */
};

struct boot_timer {
	struct boot_times *times;
	FILE *out;
	atomic_bool reported;
};

u64 boot_clock_ns(void);      /* CLOCK_MONOTONIC */
u64 boot_cpu_ns(void);        /* CLOCK_PROCESS_CPUTIME_ID */
u64 thread_cpu_ns(void);      /* CLOCK_THREAD_CPUTIME_ID: the caller's, for --stats */

static inline double ns_to_ms(u64 ns)
{
	return (double)ns / 1e6;
}

/* Marks the end of init step @name. */
void boot_times_step(struct boot_times *t, const char *name);

/* Marks the first KVM_RUN; cheap enough to call before every one. */
void boot_times_first_run(struct boot_times *t);

void boot_timer_init(struct boot_timer *bt, struct boot_times *times, FILE *out);
extern const struct mmio_ops boot_timer_mmio_ops;

#endif
