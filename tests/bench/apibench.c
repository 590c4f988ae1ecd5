// SPDX-License-Identifier: Apache-2.0
/*
 * apibench: the Firecracker API figures of `make bench`, static for arm64
 * so that it runs in the lab's first-level host (which has no curl).  It
 * starts arkvm itself, so that it knows when the process began, and reads
 * arkvm's console and stderr through pipes, so that it sees the guest's
 * init the moment arkvm reports it.
 *
 *   apibench api SOCKET KERNEL INITRD BOOT_ARGS MIB PUTS -- ARKVM [FLAG...]
 *	runs ARKVM (Firecracker's flags: --api-sock SOCKET --boot-timer),
 *	waits for SOCKET to accept and answer, sends PUTS x PUT
 *	/machine-config on one keep-alive connection, configures a guest
 *	(1 vCPU, MIB MiB) and sends InstanceStart.
 *   apibench cli -- ARKVM run [OPTION...] --boot-timer
 *	runs the same guest from arkvm's own command line, timed alike.
 *   apibench floor PUTS
 *	the same PUTs answered by a bare server (a canned 204): the least a
 *	round trip over a unix socket costs on this machine.
 *   apibench snap DIR KERNEL INITRD MIB -- ARKVM
 *	snapshot create, load and restore set against a cold boot of the
 *	same guest (tests/bench/snapbench.c).
 *
 * api and cli wait for the boot timer's line ("arkvm: boot-timer: start
 * ...", written when the guest's init touches the boot timer) and then for
 * the guest's ARKVM-IDLE (arkvm.test=idle), read arkvm's smaps, and end it
 * with SIGTERM.  The process, pipe, HTTP and smaps helpers are in
 * benchproc.c.  The figures go to stdout, one a line:
 *   APIBENCH <name> <value> <unit>
 * and what went wrong, with the end of arkvm's output, to stderr.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchproc.h"

#define IDLE_SETTLE_S	2.0	/* as bench-cases.sh: let the idle guest settle before smaps */
#define API_STACK_KIB	512	/* src/api.c's API_THREAD_STACK */

/*
 * The API thread ("fc_api") and its stack pointer, from /proc: it sleeps
 * in epoll_wait, so its syscall file gives "NR args... SP PC".  0 when
 * not found.
 */
static unsigned long api_thread_sp(pid_t pid)
{
	char path[96], buf[256];
	unsigned long sp = 0;
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while (!sp && (d = readdir(dir))) {
		int tid = atoi(d->d_name);
		FILE *f;

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		if (strncmp(buf, "fc_api", 6))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, tid);
		f = fopen(path, "re");
		if (f && fgets(buf, sizeof(buf), f)) {
			char *w = buf;

			/* The 8th word: the number, six arguments, then the SP. */
			for (int i = 0; i < 7 && w; i++)
				w = strchr(w + 1, ' ');
			if (w)
				sp = strtoul(w, NULL, 0);
		}
		if (f)
			fclose(f);
	}
	closedir(dir);
	return sp;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile @p of @v[0..n) (sorted). */
static double percentile(const double *v, int n, int p)
{
	int rank = (p * n + 99) / 100;

	return v[rank > 0 ? rank - 1 : 0];
}

/* @puts x PUT /machine-config, each timed from the write to the whole answer. */
static int put_latency(struct child *c, int fd, const char *machine, int puts)
{
	double *lat = calloc((size_t)puts, sizeof(*lat));

	if (!lat)
		return -1;
	for (int i = 0; i < puts; i++) {
		double t = now();

		if (http_call(c, fd, "PUT", "/machine-config", machine) != 204) {
			free(lat);
			return -1;
		}
		lat[i] = (now() - t) * 1e6;
	}
	qsort(lat, (size_t)puts, sizeof(*lat), cmp_double);
	figure("put-p50", percentile(lat, puts, 50), "us");
	figure("put-p99", percentile(lat, puts, 99), "us");
	free(lat);
	return 0;
}

/* The value of "KEY": N in the first metrics line of @path, or -1. */
static double metric(const char *path, const char *key)
{
	char buf[16384], pat[96], *p;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(buf, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

/* After the boot: idle, then the memory figures for @prefix. */
static void idle_memory(struct child *c, const char *prefix, int api)
{
	char name[64];
	struct mem m;

	if (wait_for(c, -1, idle_seen, now() + DEADLINE_S)) {
		complain(c, "the guest never said ARKVM-IDLE");
		return;
	}
	settle(c, IDLE_SETTLE_S);
	if (read_smaps(c->pid, api ? api_thread_sp(c->pid) : 0, &m)) {
		complain(c, "cannot read smaps");
		return;
	}
	snprintf(name, sizeof(name), "overhead-%s", prefix);
	figure(name, (double)(m.total_kib - m.largest_kib), "KiB");
	if (!api)
		return;
	if (!m.stack_size_kib) {
		complain(c, "no fc_api thread, or its stack pointer is in no mapping");
		return;
	}
	figure("stack", (double)m.stack_kib, "KiB");
	figure("stack-size", (double)m.stack_size_kib, "KiB");
}

static int run_api(char **args, char **argv)
{
	const char *sock = args[0], *kernel = args[1], *initrd = args[2], *boot_args = args[3];
	int mib = atoi(args[4]), puts = atoi(args[5]);
	char machine[128], boot[3072], metrics_path[256], metrics_req[512];
	struct child c;
	struct mem m;
	double t;
	int fd, mfd;

	if (!json_safe(kernel) || !json_safe(initrd) || !json_safe(boot_args) || !json_safe(sock) ||
	    mib <= 0 || puts < 0) {
		complain(NULL, "bad arguments");
		return 2;
	}
	snprintf(machine, sizeof(machine), "{\"vcpu_count\": 1, \"mem_size_mib\": %d}", mib);
	snprintf(boot, sizeof(boot), "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", \"boot_args\": \"%s\"}",
		 kernel, initrd, boot_args);
	snprintf(metrics_path, sizeof(metrics_path), "%s.metrics", sock);
	snprintf(metrics_req, sizeof(metrics_req), "{\"metrics_path\": \"%s\"}", metrics_path);
	mfd = open(metrics_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (mfd < 0) {
		complain(NULL, "cannot create the metrics file");
		return 1;
	}
	close(mfd);
	unlink(sock);
	if (spawn(&c, argv, NULL)) {
		complain(NULL, "cannot start arkvm");
		return 1;
	}
	fd = wait_ready(&c, sock, 1);
	if (fd < 0) {
		complain(&c, "the API socket never answered");
		stop(&c);
		return 1;
	}
	if (puts && put_latency(&c, fd, machine, puts))
		goto fail;
	/* Before the VM exists: the whole process is the API server and its thread. */
	if (!read_smaps(c.pid, 0, &m))
		figure("before-start-rss", (double)m.total_kib, "KiB");
	if (http_call(&c, fd, "PUT", "/metrics", metrics_req) != 204 ||
	    http_call(&c, fd, "PUT", "/boot-source", boot) != 204 ||
	    http_call(&c, fd, "PUT", "/machine-config", machine) != 204)
		goto fail;
	t = now();
	if (http_call(&c, fd, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}") != 204)
		goto fail;
	figure("start-answer", (now() - t) * 1e3, "ms");
	if (wait_for(&c, -1, timer_seen, now() + DEADLINE_S)) {
		complain(&c, "no boot-timer line after InstanceStart (is --boot-timer set?)");
		goto out;
	}
	figure("start-to-init", (c.timer_at - t) * 1e3, "ms");
	figure("start-timer-total", c.timer_total, "ms");
	if (http_call(&c, fd, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}") == 204) {
		double cpu = metric(metrics_path, "process_startup_time_cpu_us");
		double wall = metric(metrics_path, "process_startup_time_us");

		if (cpu >= 0)
			figure("ready-cpu", cpu / 1e3, "ms");
		if (wall >= 0)
			figure("ready-own", wall / 1e3, "ms");
	}
	idle_memory(&c, "api", 1);
out:
	close(fd);
	stop(&c);
	unlink(metrics_path);
	return 0;
fail:
	complain(&c, "an API call failed");
	close(fd);
	stop(&c);
	return 1;
}

/*
 * The floor under any server's answer: a process that answers each request
 * on a unix socket with a canned 204 and does nothing else.  It parses the
 * same way arkvm's server must (headers, then Content-Length bytes).
 */
static void echo_server(int fd)
{
	static const char answer[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
	char buf[8192];
	size_t len = 0;

	for (;;) {
		char *end;
		size_t want;
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			_exit(0);
		len += (size_t)n;
		buf[len] = '\0';
		while ((end = strstr(buf, "\r\n\r\n"))) {
			char *cl = strcasestr(buf, "\r\nContent-Length:");

			want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
			if (want > len)
				break;
			if (write(fd, answer, sizeof(answer) - 1) != (ssize_t)(sizeof(answer) - 1))
				_exit(1);
			memmove(buf, buf + want, len - want);
			len -= want;
			buf[len] = '\0';
		}
		if (len >= sizeof(buf) - 1)
			_exit(1);
	}
}

/* The same PUTs as run_api's, answered by echo_server: "floor-p50", "floor-p99". */
static int run_floor(int puts)
{
	struct child c = { .out.fd = -1, .err.fd = -1 };
	double *lat = calloc((size_t)(puts > 0 ? puts : 1), sizeof(*lat));
	int sv[2], ret = 0;
	pid_t pid;

	if (!lat || puts <= 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 2;
	pid = fork();
	if (pid < 0)
		return 1;
	if (!pid) {
		close(sv[0]);
		echo_server(sv[1]);
	}
	close(sv[1]);
	for (int i = 0; i < puts && !ret; i++) {
		double t = now();

		if (http_call(&c, sv[0], "PUT", "/machine-config",
			      "{\"vcpu_count\": 1, \"mem_size_mib\": 128}") != 204)
			ret = 1;
		lat[i] = (now() - t) * 1e6;
	}
	close(sv[0]);
	waitpid(pid, NULL, 0);
	if (!ret) {
		qsort(lat, (size_t)puts, sizeof(*lat), cmp_double);
		figure("floor-p50", percentile(lat, puts, 50), "us");
		figure("floor-p99", percentile(lat, puts, 99), "us");
	} else {
		complain(NULL, "the floor's server did not answer");
	}
	free(lat);
	return ret;
}

static int run_cli(char **argv)
{
	struct child c;

	if (spawn(&c, argv, NULL)) {
		complain(NULL, "cannot start arkvm");
		return 1;
	}
	if (wait_for(&c, -1, timer_seen, now() + DEADLINE_S)) {
		complain(&c, "no boot-timer line (is --boot-timer set?)");
		stop(&c);
		return 1;
	}
	figure("cli-to-init", (c.timer_at - c.t0) * 1e3, "ms");
	figure("cli-timer-total", c.timer_total, "ms");
	idle_memory(&c, "cli", 0);
	stop(&c);
	return 0;
}

int main(int argc, char **argv)
{
	int dash = 1;

	while (dash < argc && strcmp(argv[dash], "--"))
		dash++;
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && !strcmp(argv[1], "api") && dash == 8 && dash + 1 < argc)
		return run_api(argv + 2, argv + dash + 1);
	if (argc > 1 && !strcmp(argv[1], "cli") && dash == 2 && dash + 1 < argc)
		return run_cli(argv + dash + 1);
	if (argc > 1 && !strcmp(argv[1], "snap") && dash == 6 && dash + 2 == argc)
		return run_snap(argv + 2, argv + dash + 1);
	if (argc == 3 && !strcmp(argv[1], "floor"))
		return run_floor(atoi(argv[2]));
	fprintf(stderr, "usage: apibench api SOCKET KERNEL INITRD BOOT_ARGS MIB PUTS -- ARKVM [FLAG...]\n"
			"       apibench cli -- ARKVM run [OPTION...]\n"
			"       apibench floor PUTS\n"
			"       apibench snap DIR KERNEL INITRD MIB -- ARKVM\n");
	return 2;
}
