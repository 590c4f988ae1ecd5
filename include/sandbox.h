/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_SANDBOX_H
#define ARKVM_SANDBOX_H

#include <linux/filter.h>
#include <stdbool.h>
#include <termios.h>

/*
 * Per-thread seccomp filters.  Once a thread has done its setup it loads
 * the allow-list of the syscalls its loop needs (the kind below); anything
 * else raises SIGSYS, which logs the thread and syscall number, restores
 * the terminal and ends arkvm with status 128 + SIGSYS.
 */
enum sandbox_thread {
	SANDBOX_MAIN,   /* console, signals, stop; KVM_IRQ_LINE for the UART */
	SANDBOX_IO,     /* virtqueues: disk and tap I/O, interrupts by irqfd */
	SANDBOX_VCPU,   /* KVM_RUN and the MMIO exits it returns */
	SANDBOX_VNC,    /* libvncserver's listener and viewer threads (src/vnc.c) */
	SANDBOX_API,    /* the API server: its socket, file checks, log and metrics files */
	SANDBOX_FS,     /* virtio-fs workers: the FUSE server's file-system calls */
	SANDBOX_NR_THREADS
};

/*
 * A filter compiled at build time (src/sandbox_gen.c): for arm64 in
 * arkvm, for the build host in the unit tests (build/native/gen/).
 */
struct sandbox_bpf {
	const char *name;              /* the thread kind, for messages */
	const struct sock_filter *insns;
	unsigned short len;
};

extern const struct sandbox_bpf sandbox_bpf[SANDBOX_NR_THREADS];

#define EXIT_SECCOMP_VIOLATION (128 + 31) /* 128 + SIGSYS */

/*
 * Installs the SIGSYS reporter for the whole process.  @tty is the terminal
 * mode to restore on a violation, or NULL.  Call before any filter.
 */
int sandbox_prepare(const struct termios *tty);

/* Loads @kind's filter on the calling thread; a no-op when !@enabled. */
int sandbox_enter(enum sandbox_thread kind, bool enabled);

#endif
