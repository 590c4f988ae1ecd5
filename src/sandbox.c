// SPDX-License-Identifier: Apache-2.0
/*
 * Seccomp allow-lists, one per thread kind, in the manner of Firecracker:
 * each thread loads its own filter when its setup is done, so a guest that
 * takes over a vCPU thread finds only KVM_RUN, a few ioctls and the calls
 * that serve MMIO exits.  The lists are in src/sandbox_gen.c, compiled
 * with libseccomp at build time; here they are only loaded.  A forbidden
 * syscall traps (SIGSYS) instead of killing silently, so arkvm can say
 * which thread made which call and give the terminal back.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compiler.h"
#include "log.h"
#include "sandbox.h"

/*
 * The one piece of process-wide state: a signal handler can reach nothing
 * else.  Written once by sandbox_prepare(), before any filter exists.
 */
static struct {
	struct termios tty;
	bool restore_tty;
} sigsys_state;

/*
 * Set by sandbox_enter().  A thread that inherited its filter instead
 * (libvncserver's, started under SANDBOX_VNC) has none of its own.
 */
static __thread const char *sandbox_thread_name;

/* Formats @v in decimal at the end of @buf; returns where it starts. */
static char *format_uint(char *end, unsigned long v)
{
	*--end = '\0';
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

static void append(char **p, const char *end, const char *s)
{
	while (*s && *p < end)
		*(*p)++ = *s++;
}

/* Async-signal-safe: one write(), tcsetattr (an ioctl), _exit. */
static void sigsys_handler(int sig __unused, siginfo_t *si, void *uctx __unused)
{
	char msg[200], num[24], *p = msg;
	const char *end = msg + sizeof(msg);

	append(&p, end, "arkvm: seccomp: the ");
	append(&p, end, sandbox_thread_name ? sandbox_thread_name : "vnc (inherited filter)");
	append(&p, end, " thread made syscall ");
	append(&p, end, format_uint(num + sizeof(num), (unsigned long)si->si_syscall));
	append(&p, end, ", which its filter forbids; stopping (see scmp_sys_resolver, "
			"or run with --no-seccomp to debug)\n");
	if (sigsys_state.restore_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &sigsys_state.tty);
	if (write(STDERR_FILENO, msg, (size_t)(p - msg)) < 0) {
		/* nothing more to say */
	}
	_exit(EXIT_SECCOMP_VIOLATION);
}

int sandbox_prepare(const struct termios *tty)
{
	struct sigaction sa = {
		.sa_sigaction = sigsys_handler,
		.sa_flags = SA_SIGINFO,
	};

	if (tty) {
		sigsys_state.tty = *tty;
		sigsys_state.restore_tty = true;
	}
	return sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

#ifdef ARKVM_TEST_HOOKS
/*
 * Test builds only: ARKVM_TEST_SECCOMP=<thread kind> makes that thread try
 * socket(2) right after loading its filter, which no filter allows.
 */
static void sandbox_test_hook(const struct sandbox_bpf *f)
{
	const char *who = getenv("ARKVM_TEST_SECCOMP");
	long fd;

	if (!who || strcmp(who, f->name))
		return;
	fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	pr_warn("test hook: socket() in the %s thread was not blocked (fd %ld)", f->name, fd);
	if (fd >= 0)
		close((int)fd);
}
#else
static void sandbox_test_hook(const struct sandbox_bpf *f __unused)
{
}
#endif

int sandbox_enter(enum sandbox_thread kind, bool enabled)
{
	const struct sandbox_bpf *f = &sandbox_bpf[kind];
	struct sock_fprog prog = {
		.len = f->len,
		.filter = (struct sock_filter *)f->insns,
	};

	log_cache_thread_name(); /* the filter refuses the prctl that reads it */
	if (!enabled) {
		sandbox_test_hook(f);
		return 0;
	}
	sandbox_thread_name = f->name;
	/* No new privileges: what lets an unprivileged process load a filter. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
		int err = errno;

		pr_err("seccomp: cannot load the %s thread's filter: %s", f->name, strerror(err));
		return -err;
	}
	sandbox_test_hook(f);
	return 0;
}
