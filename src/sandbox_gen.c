// SPDX-License-Identifier: Apache-2.0
/*
 * sandbox-gen: a build tool.  Compiles the per-thread seccomp allow-lists
 * below with libseccomp, for arm64, into classic BPF, and prints them as C
 * (build/arm64/gen/sandbox_bpf.c), so that arkvm only loads ready filters:
 * compiling them at run time cost each thread milliseconds before its
 * first KVM_RUN.  Firecracker compiles its filters at build time too.
 * Runs on the build host: libseccomp translates syscall numbers to arm64
 * by name.  ioctl request numbers and PROT_EXEC have the same values on
 * every Linux architecture arkvm is built on (asm-generic encodings).
 * `sandbox-gen native` compiles them for the build host instead, for the
 * unit tests, which load them natively.  A name the target architecture
 * has no such syscall for (select on arm64, say) is skipped by libseccomp.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/vhost.h>
#include <sys/socket.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compiler.h"
#include "console.h"
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
 * glibc's realloc() of a block it mapped (128 KiB and up: a display's
 * pixels) calls mremap, which moves or resizes the caller's own mappings
 * and keeps their protection, so it cannot make code either.
 */
static const int common_syscalls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(futex), SCMP_SYS(sched_yield),
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(mremap),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(restart_syscall),
	SCMP_SYS(clock_gettime), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(tgkill),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/*
 * The event loop, the stop path (kick and join), teardown, and screenshots
 * (rewriting the file opened at start-up).
 */
static const int main_syscalls[] = {
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(close), SCMP_SYS(fdatasync),
	SCMP_SYS(ftruncate), SCMP_SYS(pwrite64),
	/*
	 * The API's PATCH runs here with every other thread held (lifecycle.c
	 * vm_update()): a drive's new image is opened, locked and given its
	 * restricted ring; a limiter's timer is re-armed.
	 */
	SCMP_SYS(openat), SCMP_SYS(flock), SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_register),
	SCMP_SYS(eventfd2), SCMP_SYS(timerfd_settime),
	/* At the end: the API server's socket file is removed (api_server_stop()). */
	SCMP_SYS(unlinkat),
	/* A snapshot's files, written under a temporary name and renamed. */
	SCMP_SYS(renameat), SCMP_SYS(renameat2),
	/*
	 * --net user: passt, arkvm's child, reaped at the end (kill is
	 * SIGTERM only, below); a frame to passt that its full socket took in
	 * part waits for room (a PATCH may send one here).
	 */
	SCMP_SYS(wait4), SCMP_SYS(ppoll), SCMP_SYS(poll),
};
/*
 * The UART's interrupt from console input; the terminal mode on the way
 * out; how full the metrics FIFO is (src/metrics.c, so a line goes in whole).
 */
static const unsigned long main_ioctls[] = {
	/* A snapshot of the paused VM, taken here (src/snapshot.c). */
	KVM_GET_REG_LIST, KVM_GET_ONE_REG, KVM_GET_MP_STATE, KVM_GET_DEVICE_ATTR, KVM_GET_DIRTY_LOG,
	KVM_IRQ_LINE, TCGETS, TCSETS, FIONREAD };

/* Virtqueue work: disks (sync or io_uring), taps, entropy. */
static const int io_syscalls[] = {
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
	SCMP_SYS(fdatasync), SCMP_SYS(fsync), SCMP_SYS(fallocate),
	SCMP_SYS(io_uring_enter), SCMP_SYS(getrandom),
	/*
	 * Rate limiters: a device's one-shot timer, armed when tokens run out.
	 * virtio-balloon needs nothing more: its statistics timer is armed at
	 * start-up and by PATCH on the main thread, and the pages it releases
	 * go with madvise(MADV_DONTNEED), which every thread has.
	 */
	SCMP_SYS(timerfd_settime),
	/*
	 * virtio-vsock's host side: clients accepted on its socket, guest
	 * connections made to "<path>_<port>" (socket() is AF_UNIX only,
	 * below), half-closes passed on, and sockets closed.
	 */
	SCMP_SYS(accept4), SCMP_SYS(connect), SCMP_SYS(shutdown), SCMP_SYS(close),
	/*
	 * passt: a frame its full socket took in part waits for room
	 * (src/backends/net_passt.c); a broken stream is shut down (above).
	 */
	SCMP_SYS(ppoll), SCMP_SYS(poll),
};
/*
 * A NIC on vhost-net: its queues stop at reset (vCPU) or when the kernel
 * finds a ring broken (I/O thread), and start at DRIVER_OK (vCPU).
 */
#define VHOST_STOP_IOCTLS VHOST_NET_SET_BACKEND, VHOST_GET_VRING_BASE, VHOST_SET_VRING_KICK, \
	VHOST_SET_VRING_CALL
#define VHOST_START_IOCTLS VHOST_SET_FEATURES, VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE, \
	VHOST_SET_VRING_ADDR, VHOST_SET_VRING_ERR, VHOST_STOP_IOCTLS

static const unsigned long io_ioctls[] = { TCSETS, VHOST_STOP_IOCTLS };

/*
 * MMIO exits: register writes can start a device (epoll_ctl to watch a tap,
 * TUNSETOFFLOAD for its offloads, vhost-net's queues) and raise the UART's
 * line.
 */
static const int vcpu_syscalls[] = { SCMP_SYS(epoll_ctl) };
static const unsigned long vcpu_ioctls[] = { KVM_RUN, KVM_IRQ_LINE, TUNSETOFFLOAD, TCSETS,
					     VHOST_START_IOCTLS };

/*
 * libvncserver's threads (0.9.14, threaded mode): the listener waits in
 * select() on its socket and a wake-up pipe, accepts, makes each viewer's
 * socket non-blocking with TCP_NODELAY, a pipe to wake its thread, and
 * starts it; a viewer's input thread selects and reads, its output thread
 * writes, sleeps a few ms between updates and waits on a condition; both
 * close what they own when the viewer goes.  Input goes to the virtio
 * devices (an eventfd write).  Names missing on one architecture are
 * skipped: arm64 has only pselect6, ppoll and pipe2.
 */
static const int vnc_syscalls[] = {
	SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(getpeername), SCMP_SYS(getsockname),
	SCMP_SYS(setsockopt), SCMP_SYS(fcntl), SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(shutdown), SCMP_SYS(close), SCMP_SYS(pipe), SCMP_SYS(pipe2),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	/* pthread_create: the new thread's stack, its robust list and rseq. */
	SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
};
static const unsigned long vnc_ioctls[] = { };

/*
 * The API server (src/api.c): clients on its socket, and the checks of
 * the files and taps a request names (stat, access, a tap's index).
 * Opening is limited to writing (the log and metrics files), below.
 */
static const int api_syscalls[] = {
	SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_ctl), SCMP_SYS(accept4),
	SCMP_SYS(close),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(statx),
};
/* FIONREAD: whether a metrics line fits whole in a FIFO (FlushMetrics). */
static const unsigned long api_ioctls[] = { SIOCGIFINDEX, FIONREAD };

/*
 * A virtio-fs share's workers (devices/virtio_fs.c) and the FUSE server
 * they run (src/fuse/): file-system calls on descriptors under the share's
 * root, which the server holds, and nothing that reaches beyond them: no
 * sockets, no exec, no ioctl, no process or credential changes.  Wake-ups
 * between the workers, the I/O thread and vCPUs are condition variables
 * (futex, in the common list).
 */
static const int fs_syscalls[] = {
	/* Names resolved one component at a time under a held directory. */
	SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(close),
	/* Attributes: GETATTR, the check before and after an open, STATFS. */
	SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(readlinkat),
	SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	/* Data: READ and WRITE straight between the file and guest RAM, LSEEK. */
	SCMP_SYS(pread64), SCMP_SYS(preadv), SCMP_SYS(pwrite64), SCMP_SYS(pwritev),
	SCMP_SYS(lseek),
	/* FSYNC, FSYNCDIR, FALLOCATE, SETATTR's size. */
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(fallocate), SCMP_SYS(ftruncate),
	/* READDIR, READDIRPLUS. */
	SCMP_SYS(getdents64),
	/* SETATTR: mode, owner, times. */
	SCMP_SYS(fchmod), SCMP_SYS(fchmodat), SCMP_SYS(fchown), SCMP_SYS(fchownat),
	SCMP_SYS(utimensat),
	/*
	 * Names: MKDIR, MKNOD (fifos and regular files: the server refuses
	 * device nodes), SYMLINK, LINK, UNLINK, RMDIR, RENAME and RENAME2
	 * (renameat for a C library that calls it for flags 0).
	 */
	SCMP_SYS(mkdirat), SCMP_SYS(mknodat), SCMP_SYS(symlinkat), SCMP_SYS(linkat),
	SCMP_SYS(unlinkat), SCMP_SYS(renameat), SCMP_SYS(renameat2),
	/* Extended attributes (the server allows user.* only), on open descriptors. */
	SCMP_SYS(fgetxattr), SCMP_SYS(fsetxattr), SCMP_SYS(flistxattr), SCMP_SYS(fremovexattr),
};
static const unsigned long fs_ioctls[] = { };

/*
 * Native filters only: what the unit tests' sanitizer runtimes (ASan,
 * TSan) call in a thread they start, on top of what arkvm's own code does.
 */
static const int sanitizer_syscalls[] = { SCMP_SYS(sigaltstack), SCMP_SYS(sched_getaffinity) };

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
	[SANDBOX_VNC] = RULES("vnc", vnc),
	[SANDBOX_API] = RULES("api", api),
	[SANDBOX_FS] = RULES("fs", fs),
};

static int sandbox_add_rules(scmp_filter_ctx ctx, const struct sandbox_rules *r, bool native)
{
	int ret = 0;

	for (size_t i = 0; native && !ret && i < ARRAY_SIZE(sanitizer_syscalls); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sanitizer_syscalls[i], 0);
	for (size_t i = 0; !ret && i < ARRAY_SIZE(common_syscalls); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, common_syscalls[i], 0);
	for (size_t i = 0; !ret && i < r->nr_syscalls; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->syscalls[i], 0);
	for (size_t i = 0; !ret && i < r->nr_ioctls; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, r->ioctls[i]));
	/*
	 * Console output to a socket stdout, from whichever thread flushes it:
	 * a send that never waits, on a socket already connected (no address).
	 */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 2,
				       SCMP_A3(SCMP_CMP_EQ, CONSOLE_SEND_FLAGS), SCMP_A4(SCMP_CMP_EQ, 0));
	/*
	 * The API's own: a unix socket for a tap's index (and the I/O thread's,
	 * for vsock), files opened to write.
	 */
	if (!ret && (r == &sandbox_rules[SANDBOX_API] || r == &sandbox_rules[SANDBOX_IO]))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (!ret && r == &sandbox_rules[SANDBOX_API])
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_WRONLY));
	/* The main thread ends passt (--net user) with SIGTERM, and nothing else with anything. */
	if (!ret && r == &sandbox_rules[SANDBOX_MAIN])
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
				       SCMP_A1(SCMP_CMP_EQ, SIGTERM));
	/* A FIFO is opened read-write, so that it opens with no reader yet (log.c). */
	if (!ret && r == &sandbox_rules[SANDBOX_API])
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDWR));
	/*
	 * virtio-fs: the server opens files O_NONBLOCK (a FIFO swapped in
	 * must not hang it) and clears the flag once it has checked what it
	 * opened: F_GETFL and F_SETFL only.
	 */
	for (int cmd = F_GETFL; !ret && r == &sandbox_rules[SANDBOX_FS] && cmd <= F_SETFL; cmd++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
				       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)cmd));
	/* malloc maps and protects memory; none of it may become code. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return ret;
}

/* Prints a filter as a C array of struct sock_filter; *@len its length. */
static int print_filter(const struct sandbox_rules *r, bool native, unsigned int *len)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	struct sock_filter insn;
	FILE *bpf = tmpfile();
	unsigned int n = 0;
	int ret = -ENOMEM;

	if (!ctx || !bpf)
		goto out;
	if (!native && seccomp_arch_native() != SCMP_ARCH_AARCH64) {
		ret = seccomp_arch_add(ctx, SCMP_ARCH_AARCH64);
		if (!ret)
			ret = seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE);
		if (ret)
			goto out;
	}
	ret = sandbox_add_rules(ctx, r, native);
	if (!ret)
		ret = seccomp_export_bpf(ctx, fileno(bpf));
	if (ret)
		goto out;
	rewind(bpf);
	printf("static const struct sock_filter %s_insns[] = {\n", r->name);
	while (fread(&insn, sizeof(insn), 1, bpf) == 1) {
		printf("\t{ 0x%04x, %u, %u, 0x%08x },\n", insn.code, insn.jt, insn.jf, insn.k);
		n++;
	}
	printf("};\n\n");
	ret = n ? 0 : -EINVAL;
	*len = n;
out:
	if (bpf)
		fclose(bpf);
	seccomp_release(ctx);
	if (ret)
		fprintf(stderr, "sandbox-gen: %s: %s\n", r->name, strerror(-ret));
	return ret;
}

/* Usage: sandbox-gen [native] */
int main(int argc, char **argv)
{
	unsigned int len[ARRAY_SIZE(sandbox_rules)];
	bool native = argc > 1 && !strcmp(argv[1], "native");

	printf("/* Generated by src/sandbox_gen.c: the seccomp filters, %s BPF. */\n"
	       "#include \"sandbox.h\"\n\n", native ? "build host" : "arm64");
	for (size_t i = 0; i < ARRAY_SIZE(sandbox_rules); i++)
		if (print_filter(&sandbox_rules[i], native, &len[i]))
			return 1;
	printf("const struct sandbox_bpf sandbox_bpf[SANDBOX_NR_THREADS] = {\n");
	for (size_t i = 0; i < ARRAY_SIZE(sandbox_rules); i++)
		printf("\t[%zu] = { .name = \"%s\", .insns = %s_insns, .len = %u },\n",
		       i, sandbox_rules[i].name, sandbox_rules[i].name, len[i]);
	printf("};\n");
	return 0;
}
