// SPDX-License-Identifier: Apache-2.0
/*
 * The seccomp filters, compiled for the build host (sandbox-gen native)
 * from the same lists as arkvm's, loaded in a child process that then
 * makes the calls a thread of that kind makes.  A forbidden call ends the
 * child with SIGSYS's exit status (sandbox.c's reporter).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "console.h"
#include "sandbox.h"
#include "test.h"

/*
 * What glibc's realloc() does with a block it got from mmap (above
 * M_MMAP_THRESHOLD, 128 KiB at first): mremap it.  A display that grows
 * after going dark reallocs its copies of the scanout this way.
 */
static int grow_mapping(void)
{
	long old = syscall(SYS_mmap, NULL, 1 << 20, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long grown;

	if (old == (long)MAP_FAILED)
		return 1;
	grown = syscall(SYS_mremap, old, 1 << 20, 4 << 20, MREMAP_MAYMOVE);
	return grown == (long)MAP_FAILED ? 2 : 0;
}

/* Runs @fn in a child under @kind's filter; returns its wait status. */
static int run_filtered(enum sandbox_thread kind, int (*fn)(void), bool quiet)
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		/* The reporter's line for a violation the test expects is noise. */
		if (quiet && !freopen("/dev/null", "w", stderr))
			_exit(101);
		if (sandbox_enter(kind, true))
			_exit(100);
		_exit(fn());
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* Every thread that may realloc a display-sized buffer: all of them. */
static void test_every_filter_allows_mremap(void)
{
	CHECK(!sandbox_prepare(NULL));
	for (int kind = 0; kind < SANDBOX_NR_THREADS; kind++) {
		int status = run_filtered(kind, grow_mapping, false);

		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "  %s filter: wait status 0x%x\n", sandbox_bpf[kind].name,
				status);
			CHECK(!"mremap refused");
		}
	}
}

static int open_socket(void)
{
	return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}

/* The filters still refuse what no thread does: a new network socket. */
static void test_filters_refuse_socket(void)
{
	CHECK(!sandbox_prepare(NULL));
	for (int kind = 0; kind < SANDBOX_NR_THREADS; kind++) {
		int status = run_filtered(kind, open_socket, true);

		CHECK(WIFEXITED(status));
		CHECK_EQ(WEXITSTATUS(status), EXIT_SECCOMP_VIOLATION);
	}
}

static int open_unix_socket(void)
{
	return syscall(SYS_socket, AF_UNIX, SOCK_DGRAM, 0) >= 0 ? 0 : 1;
}

static int open_for_reading(void)
{
	return open("/proc/self/status", O_RDONLY) >= 0 ? 0 : 1;
}

static int open_for_writing(void)
{
	return open("/dev/null", O_WRONLY | O_APPEND | O_NONBLOCK) >= 0 &&
	       open("/dev/null", O_RDWR | O_APPEND | O_NONBLOCK) >= 0 ? 0 : 1;
}

/*
 * The API thread asks a unix socket for a tap's index and opens its log
 * and metrics files to write; it reads no file of the host's.
 */
static void test_api_filter(void)
{
	int status;

	CHECK(!sandbox_prepare(NULL));
	status = run_filtered(SANDBOX_API, open_unix_socket, false);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	status = run_filtered(SANDBOX_API, open_for_writing, false);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	status = run_filtered(SANDBOX_API, open_for_reading, true);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), EXIT_SECCOMP_VIOLATION);
}

static int console_socket = -1;

/* What console output to a socket stdout does (console.c), from any thread. */
static int console_send(void)
{
	return send(console_socket, "x", 1, CONSOLE_SEND_FLAGS) == 1 ? 0 : 1;
}

/* The same socket with an address: a datagram anywhere, which no thread sends. */
static int send_elsewhere(void)
{
	struct sockaddr_un to = { .sun_family = AF_UNIX, .sun_path = "/nonexistent" };

	return sendto(console_socket, "x", 1, CONSOLE_SEND_FLAGS, (struct sockaddr *)&to,
		      sizeof(to)) >= 0 ? 0 : 1;
}

static void test_console_send_allowed_and_nothing_more(void)
{
	int sv[2];

	CHECK(!sandbox_prepare(NULL));
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	console_socket = sv[0];
	for (int kind = 0; kind < SANDBOX_NR_THREADS; kind++) {
		int status = run_filtered(kind, console_send, false);

		CHECK(WIFEXITED(status));
		CHECK_EQ(WEXITSTATUS(status), 0);
		if (kind == SANDBOX_VNC)
			continue; /* libvncserver's threads send to their viewers */
		status = run_filtered(kind, send_elsewhere, true);
		CHECK(WIFEXITED(status));
		CHECK_EQ(WEXITSTATUS(status), EXIT_SECCOMP_VIOLATION);
	}
	close(sv[0]);
	close(sv[1]);
}

TEST_SUITE(sandbox,
	   TEST(test_every_filter_allows_mremap),
	   TEST(test_api_filter),
	   TEST(test_filters_refuse_socket),
	   TEST(test_console_send_allowed_and_nothing_more));
