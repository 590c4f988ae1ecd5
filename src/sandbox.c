// SPDX-License-Identifier: Apache-2.0
/*
 * Seccomp allow-lists, one per thread kind, in the manner of Firecracker:
 * each thread loads its own filter when its setup is done, so a guest that
 * takes over a vCPU thread finds only KVM_RUN, a few ioctls and the calls
 * that serve MMIO exits.  Filters are built with libseccomp.  A forbidden
 * syscall traps (SIGSYS) instead of killing silently, so arkvm can say
 * which thread made which call and give the terminal back.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "compiler.h"
#include "log.h"
#include "sandbox.h"

struct sandbox_rules {
	const char *name;
	const int *syscalls;
	size_t nr_syscalls;
	const unsigned long *ioctls;   /* ioctl is allowed with these requests only */
	size_t nr_ioctls;
};

/*
 * What every thread needs: its own I/O on descriptors it already holds,
 * locks, memory for malloc (never executable), signal return, the clock
 * behind rate-limited logs, and thread exit.  abort() needs getpid/tgkill.
 */
static const int common_syscalls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(futex), SCMP_SYS(sched_yield),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(madvise),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall),
	SCMP_SYS(clock_gettime), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(tgkill),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* The event loop, the stop path (kick and join), and teardown. */
static const int main_syscalls[] = {
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(close), SCMP_SYS(fdatasync),
};
/* The UART's interrupt from console input; the terminal mode on the way out. */
static const unsigned long main_ioctls[] = { KVM_IRQ_LINE, TCGETS, TCSETS };

/* Virtqueue work: disks (sync or io_uring), taps, entropy. */
static const int io_syscalls[] = {
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
	SCMP_SYS(fdatasync), SCMP_SYS(fsync), SCMP_SYS(fallocate),
	SCMP_SYS(io_uring_enter), SCMP_SYS(getrandom),
};
static const unsigned long io_ioctls[] = { TCSETS };

/*
 * MMIO exits: register writes can start a device (epoll_ctl to watch a tap,
 * TUNSETOFFLOAD for its offloads) and raise the UART's line.
 */
static const int vcpu_syscalls[] = { SCMP_SYS(epoll_ctl) };
static const unsigned long vcpu_ioctls[] = { KVM_RUN, KVM_IRQ_LINE, TUNSETOFFLOAD, TCSETS };

#define RULES(n, kind) {                                       \
	.name = n,                                             \
	.syscalls = kind##_syscalls,                           \
	.nr_syscalls = ARRAY_SIZE(kind##_syscalls),            \
	.ioctls = kind##_ioctls,                               \
	.nr_ioctls = ARRAY_SIZE(kind##_ioctls),                \
}

static const struct sandbox_rules sandbox_rules[] = {
	[SANDBOX_MAIN] = RULES("main", main),
	[SANDBOX_IO] = RULES("io", io),
	[SANDBOX_VCPU] = RULES("vcpu", vcpu),
};

/*
 * The one piece of process-wide state: a signal handler can reach nothing
 * else.  Written once by sandbox_prepare(), before any filter exists.
 */
static struct {
	struct termios tty;
	bool restore_tty;
} sigsys_state;

static __thread const char *sandbox_thread_name = "unfiltered";

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
	append(&p, end, sandbox_thread_name);
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

static int sandbox_add_rules(scmp_filter_ctx ctx, const struct sandbox_rules *r)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < ARRAY_SIZE(common_syscalls); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, common_syscalls[i], 0);
	for (size_t i = 0; !ret && i < r->nr_syscalls; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->syscalls[i], 0);
	for (size_t i = 0; !ret && i < r->nr_ioctls; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, r->ioctls[i]));
	/* malloc maps and protects memory; none of it may become code. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return ret;
}

#ifdef ARKVM_TEST_HOOKS
/*
 * Test builds only: ARKVM_TEST_SECCOMP=<thread kind> makes that thread try
 * socket(2) right after loading its filter, which no filter allows.
 */
static void sandbox_test_hook(const struct sandbox_rules *r)
{
	const char *who = getenv("ARKVM_TEST_SECCOMP");
	long fd;

	if (!who || strcmp(who, r->name))
		return;
	fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	pr_warn("test hook: socket() in the %s thread was not blocked (fd %ld)", r->name, fd);
	if (fd >= 0)
		close((int)fd);
}
#else
static void sandbox_test_hook(const struct sandbox_rules *r __unused)
{
}
#endif

int sandbox_enter(enum sandbox_thread kind, bool enabled)
{
	const struct sandbox_rules *r = &sandbox_rules[kind];
	scmp_filter_ctx ctx;
	int ret;

	if (!enabled) {
		sandbox_test_hook(r);
		return 0;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		pr_err("seccomp: cannot create the %s thread's filter", r->name);
		return -ENOMEM;
	}
	ret = sandbox_add_rules(ctx, r);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret) {
		pr_err("seccomp: cannot load the %s thread's filter: %s", r->name, strerror(-ret));
		return ret;
	}
	sandbox_thread_name = r->name;
	sandbox_test_hook(r);
	return 0;
}
