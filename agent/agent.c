// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm-agent: /init of the initramfs `arkvm exec` generates.  It prepares
 * the guest (agent/boot.c), waits on vsock for arkvm, runs the one command
 * it is given (agent/session.c) and powers the guest off: arkvm exits
 * when its guest does.  PID 1 must never return, so every end is a power
 * off, after one line saying why when it is a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
/* After sys/socket.h: it uses struct sockaddr. */
#include <linux/vm_sockets.h>
#include <unistd.h>

#include "agent.h"

static _Noreturn void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	/* Not PID 1 (a test run by hand): just end. */
	_exit(1);
}

/* Without /dev/console in the initramfs, PID 1 starts with no stdio at all. */
static void console_stdio(void)
{
	int fd;

	if (fcntl(STDERR_FILENO, F_GETFD) >= 0)
		return;
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	for (int i = 0; fd >= 0 && i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

/* The loopback interface up: localhost works for the command. */
static void loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

/* Listens on EXEC_VSOCK_PORT, any CID, and takes the one connection arkvm makes. */
static int accept_host(void)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = EXEC_VSOCK_PORT,
	};
	int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;

	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1)) {
		fd = -errno;
		goto out;
	}
	do
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		fd = -errno;
out:
	close(lfd);
	return fd;
}

static const struct agent_session_ops guest_ops = {
	.prepare = agent_prepare,
	.reap_all = true,
};

int main(void)
{
	int ret, sock;

	console_stdio();
	/* Writes to a closed stdin pipe are errors to see, not a death. */
	signal(SIGPIPE, SIG_IGN);
	ret = agent_mount_early();
	if (ret) {
		agent_log("cannot mount the kernel's file systems: %s", strerror(-ret));
		power_off();
	}
	agent_load_modules();
	loopback_up();
	/* Until a host's RUN: a snapshot restored here finds its old stream reset. */
	do {
		sock = accept_host();
		if (sock < 0) {
			agent_log("vsock port %u: %s", EXEC_VSOCK_PORT, strerror(-sock));
			power_off();
		}
		ret = agent_session(sock, &guest_ops);
		close(sock);
	} while (ret == -ECONNRESET);
	if (ret && ret != -EPROTO)
		agent_log("session ended: %s", strerror(-ret));
	power_off();
}
