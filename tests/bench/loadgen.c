// SPDX-License-Identifier: Apache-2.0
/*
 * loadgen: the disk and network load of `make bench`, built static for
 * arm64 so that the same binary runs in the guest (busybox has no fio)
 * and in the first-level host, which gives the ceiling.
 *
 *   loadgen seq-read  PATH MIB            1 MiB O_DIRECT reads: MB/s
 *   loadgen seq-write PATH MIB            1 MiB O_DIRECT writes, then fdatasync: MB/s
 *   loadgen rand-read PATH DEPTH SECONDS  4 KiB O_DIRECT random reads at DEPTH: IOPS
 *   loadgen rand-write PATH DEPTH SECONDS 4 KiB O_DIRECT random writes at DEPTH: IOPS
 *   loadgen tcp-recv  PORT                one connection, read to EOF: MB/s
 *   loadgen tcp-send  HOST PORT MIB       MIB MiB to HOST:PORT: MB/s
 *   loadgen wall      CMD [ARG...]        runs CMD, and times it from just before
 *                                         its exec to its exit: ms (only if it exits 0)
 *
 * Prints one line: "LOADGEN <test> <value> <unit>", plus "(buffered)" where
 * the file system refuses O_DIRECT (tmpfs) and the page cache served.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define BLOCK 4096

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int open_direct(const char *path, int flags, int *buffered)
{
	int fd = open(path, flags | O_DIRECT);

	*buffered = 0;
	if (fd < 0 && errno == EINVAL) {
		fd = open(path, flags);
		*buffered = 1;
	}
	if (fd < 0)
		die(path);
	return fd;
}

static void *aligned(size_t len)
{
	void *p;

	if (posix_memalign(&p, BLOCK, len))
		die("posix_memalign");
	memset(p, 0x5a, len);
	return p;
}

static void report(const char *test, double value, const char *unit, int buffered)
{
	printf("LOADGEN %s %.1f %s%s\n", test, value, unit, buffered ? " (buffered)" : "");
}

static int seq(const char *test, const char *path, long mib, int write)
{
	int buffered, fd = open_direct(path, write ? O_WRONLY : O_RDONLY, &buffered);
	char *buf = aligned(MIB);
	double t0 = now();

	for (long i = 0; i < mib; i++) {
		ssize_t n = write ? pwrite(fd, buf, MIB, (off_t)i * MIB)
				  : pread(fd, buf, MIB, (off_t)i * MIB);
		if (n != MIB)
			die(write ? "pwrite" : "pread");
	}
	if (write && fdatasync(fd))
		die("fdatasync");
	report(test, (double)mib * MIB / 1e6 / (now() - t0), "MB/s", buffered);
	close(fd);
	return 0;
}

/* Keeps DEPTH reads (or writes) in flight with io_uring until SECONDS have passed. */
static int rand_io(const char *path, unsigned int depth, double seconds, int write)
{
	int buffered, fd = open_direct(path, write ? O_WRONLY : O_RDONLY, &buffered);
	off_t blocks = lseek(fd, 0, SEEK_END) / BLOCK;
	char *buf = aligned((size_t)depth * BLOCK);
	struct io_uring ring;
	unsigned long done = 0, inflight = 0;
	unsigned int seed = 1;
	double t0, t;

	if (blocks <= 0 || io_uring_queue_init(depth, &ring, 0) < 0)
		die("io_uring_queue_init");
	t0 = now();
	for (;;) {
		struct io_uring_cqe *cqe;

		t = now() - t0;
		while (t < seconds && inflight < depth) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			unsigned int slot = (unsigned int)(done + inflight) % depth;
			off_t blk = (off_t)(rand_r(&seed) % blocks);

			if (write)
				io_uring_prep_write(sqe, fd, buf + (size_t)slot * BLOCK, BLOCK, blk * BLOCK);
			else
				io_uring_prep_read(sqe, fd, buf + (size_t)slot * BLOCK, BLOCK, blk * BLOCK);
			inflight++;
		}
		if (!inflight)
			break;
		io_uring_submit(&ring);
		if (io_uring_wait_cqe(&ring, &cqe) < 0)
			die("io_uring_wait_cqe");
		if (cqe->res != BLOCK) {
			errno = cqe->res < 0 ? -cqe->res : EIO;
			die(write ? "write" : "read");
		}
		io_uring_cqe_seen(&ring, cqe);
		inflight--;
		done++;
	}
	t = now() - t0;
	if (write)
		report(depth == 1 ? "rand-write-qd1" : "rand-write-qd32", (double)done / t, "IOPS",
		       buffered);
	else
		report(depth == 1 ? "rand-read-qd1" : "rand-read-qd32", (double)done / t, "IOPS",
		       buffered);
	io_uring_queue_exit(&ring);
	close(fd);
	return 0;
}

static int tcp_recv(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0), s;
	static char buf[256 * 1024];
	unsigned long long total = 0;
	double t0 = 0;
	ssize_t n;

	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1))
		die("listen");
	s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	while ((n = read(s, buf, sizeof(buf))) > 0) {
		if (!total)
			t0 = now();
		total += (unsigned long long)n;
	}
	report("tcp-recv", (double)total / 1e6 / (now() - t0), "MB/s", 0);
	return 0;
}

static int tcp_send(const char *host, int port, long mib)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	static char buf[256 * 1024];
	unsigned long long left = (unsigned long long)mib * MIB;
	double t0;
	int s = -1;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "loadgen: %s: not an IPv4 address\n", host);
		return 1;
	}
	/* The receiver may not listen yet: try for 60 s. */
	for (int i = 0; i < 600; i++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (!connect(s, (struct sockaddr *)&a, sizeof(a)))
			break;
		close(s);
		s = -1;
		usleep(100000);
	}
	if (s < 0)
		die("connect");
	t0 = now();
	while (left) {
		ssize_t n = write(s, buf, left < sizeof(buf) ? left : sizeof(buf));

		if (n <= 0)
			die("write");
		left -= (unsigned long long)n;
	}
	shutdown(s, SHUT_WR);
	/* The receiver closes once it has read everything. */
	while (read(s, buf, sizeof(buf)) > 0)
		;
	report("tcp-send", (double)mib * MIB / 1e6 / (now() - t0), "MB/s", 0);
	return 0;
}

#define WALL_LIMIT 300 /* seconds: a VMM that hangs is killed */

static void on_alarm(int sig)
{
	(void)sig; /* only interrupts waitpid() */
}

/* A peer VMM and arkvm, timed alike: start to exit (the guest powers off at init). */
static int wall(char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };  /* no SA_RESTART */
	double t0 = now();
	pid_t pid = fork();
	int status;

	if (pid < 0)
		die("fork");
	if (!pid) {
		execvp(argv[0], argv);
		fprintf(stderr, "loadgen: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	sigaction(SIGALRM, &sa, NULL);
	alarm(WALL_LIMIT);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			die("waitpid");
		if (now() - t0 >= WALL_LIMIT) {
			fprintf(stderr, "loadgen: %s still ran after %d s: killed\n", argv[0], WALL_LIMIT);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "loadgen: %s did not exit with 0 (wait status %d)\n", argv[0], status);
		return 1;
	}
	printf("LOADGEN wall %.1f ms\n", (now() - t0) * 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "seq-read") && argc == 4)
		return seq(cmd, argv[2], atol(argv[3]), 0);
	if (!strcmp(cmd, "seq-write") && argc == 4)
		return seq(cmd, argv[2], atol(argv[3]), 1);
	if (!strcmp(cmd, "rand-read") && argc == 5)
		return rand_io(argv[2], (unsigned int)atoi(argv[3]), atof(argv[4]), 0);
	if (!strcmp(cmd, "rand-write") && argc == 5)
		return rand_io(argv[2], (unsigned int)atoi(argv[3]), atof(argv[4]), 1);
	if (!strcmp(cmd, "tcp-recv") && argc == 3)
		return tcp_recv(atoi(argv[2]));
	if (!strcmp(cmd, "tcp-send") && argc == 5)
		return tcp_send(argv[2], atoi(argv[3]), atol(argv[4]));
	if (!strcmp(cmd, "wall") && argc >= 3)
		return wall(argv + 2);
	fprintf(stderr, "usage: see the top of tests/bench/loadgen.c\n");
	return 1;
}
