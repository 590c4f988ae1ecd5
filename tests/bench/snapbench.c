// SPDX-License-Identifier: Apache-2.0
/*
 * apibench snap: the snapshot figures of `make bench`, each set against a
 * cold boot of the same guest in the same run.
 *
 *   apibench snap DIR KERNEL INITRD MIB -- ARKVM
 *
 * The guest (1 vCPU, MIB MiB, "quiet arkvm.test=shell") is fed a loop on
 * its console that prints "COUNT <n>" every 100 ms, so the first such line
 * is the moment the guest runs its own code again.  In DIR (scratch, kept
 * by the caller) go the sockets, the loop and the snapshot's two files.
 *
 *   1. cold, over the API: ARKVM --api-sock; boot-source, machine-config,
 *	InstanceStart to the first COUNT line; smaps 1 s after that line;
 *	PATCH /vm Paused; PUT /snapshot/create timed from the request to its
 *	answer; SIGKILL.
 *   2. load, over the API: a fresh ARKVM --api-sock; PUT /snapshot/load
 *	(File backend, resume_vm) timed to its answer and to the first COUNT
 *	line; smaps 1 s after that line; SIGTERM.
 *   3. restore from the command line: ARKVM restore, from its fork to the
 *	first COUNT line; SIGTERM.
 *   4. cold from the command line: ARKVM run, from its fork to the first
 *	COUNT line; SIGTERM.
 *
 * The memory file was written just before, so its pages are in the page
 * cache: a restore here maps them, it does not read a disk.  A restored
 * guest's first line may wait out the rest of the 100 ms sleep it was
 * stored in (its clock stood still meanwhile): the load-to-count figure
 * holds up to 100 ms of guest time that is not the restore's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchproc.h"

#define PATH_LEN	512
#define SMAPS_AFTER_S	1.0	/* the restored VM's memory, read 1 s after it runs */

/* Short, so that the shell's line editing never redraws it. */
#define COUNT_LOOP	"i=0; while :; do i=$((i+1)); echo \"COUNT $i\"; sleep 0.1; done\n"

struct snap_run {
	const char *kernel;
	const char *initrd;
	char *arkvm;
	int mib;
	char sock[PATH_LEN];   /* the API socket, one process at a time */
	char input[PATH_LEN];  /* COUNT_LOOP, the cold guests' stdin */
	char snap[PATH_LEN];   /* the snapshot's files */
	char mem[PATH_LEN];
};

/* SIGKILL, as a platform ends a VM it has snapshotted. */
static void kill_now(struct child *c)
{
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	c->pid = 0;
}

/* Waits for the first COUNT line; @what names the step when it never comes. */
static int wait_count(struct child *c, const char *what)
{
	char msg[128];

	if (!wait_for(c, -1, count_seen, now() + DEADLINE_S))
		return 0;
	snprintf(msg, sizeof(msg), "%s: the guest never printed a COUNT line", what);
	complain(c, msg);
	return -1;
}

/*
 * @prefix-rss, -pss (the whole process, guest RAM included), -ram-rss and
 * -ram-anon (guest RAM alone; anon: the pages the guest wrote, which a
 * restored VM holds as private copies), SMAPS_AFTER_S after the first
 * COUNT line.
 */
static void memory_figures(struct child *c, const char *prefix)
{
	char name[64];
	struct mem m;

	settle(c, c->count_at + SMAPS_AFTER_S - now());
	if (read_smaps(c->pid, 0, &m)) {
		complain(c, "cannot read smaps");
		return;
	}
	snprintf(name, sizeof(name), "%s-rss", prefix);
	figure(name, (double)m.total_kib, "KiB");
	snprintf(name, sizeof(name), "%s-pss", prefix);
	figure(name, (double)m.pss_kib, "KiB");
	snprintf(name, sizeof(name), "%s-ram-rss", prefix);
	figure(name, (double)m.largest_kib, "KiB");
	snprintf(name, sizeof(name), "%s-ram-anon", prefix);
	figure(name, (double)m.largest_anon_kib, "KiB");
}

/* What @path takes on disk (its holes take nothing), in KiB; -1 when absent. */
static double file_kib(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (double)st.st_blocks * 512 / 1024;
}

/* Configures the cold guest on @fd and starts it: the InstanceStart's time, or 0. */
static double cold_start(struct child *c, int fd, const struct snap_run *r)
{
	char boot[2048], machine[128];
	double t;

	snprintf(boot, sizeof(boot),
		 "{\"kernel_image_path\": \"%s\", \"initrd_path\": \"%s\", "
		 "\"boot_args\": \"quiet arkvm.test=shell\"}", r->kernel, r->initrd);
	snprintf(machine, sizeof(machine), "{\"vcpu_count\": 1, \"mem_size_mib\": %d}", r->mib);
	if (http_call(c, fd, "PUT", "/boot-source", boot) != 204 ||
	    http_call(c, fd, "PUT", "/machine-config", machine) != 204)
		return 0;
	t = now();
	if (http_call(c, fd, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}") != 204)
		return 0;
	return t;
}

/* Step 1: the cold boot over the API, then the snapshot; the VM is killed after. */
static int cold_api(struct snap_run *r)
{
	char *argv[] = { r->arkvm, "--api-sock", r->sock, NULL };
	char create[2 * PATH_LEN + 96];
	struct child c;
	double t;
	int fd, ret = -1;

	snprintf(create, sizeof(create),
		 "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 r->snap, r->mem);
	unlink(r->sock);
	if (spawn(&c, argv, r->input)) {
		complain(NULL, "cannot start arkvm");
		return -1;
	}
	fd = wait_ready(&c, r->sock, 0);
	if (fd < 0) {
		complain(&c, "cold: the API socket never answered");
		goto out;
	}
	t = cold_start(&c, fd, r);
	if (!t) {
		complain(&c, "cold: configuring or starting the guest failed");
		goto out_fd;
	}
	if (wait_count(&c, "cold"))
		goto out_fd;
	figure("cold-to-count", (c.count_at - t) * 1e3, "ms");
	memory_figures(&c, "cold");
	if (http_call(&c, fd, "PATCH", "/vm", "{\"state\": \"Paused\"}") != 204) {
		complain(&c, "cold: PATCH /vm Paused failed");
		goto out_fd;
	}
	t = now();
	if (http_call(&c, fd, "PUT", "/snapshot/create", create) != 204) {
		complain(&c, "cold: PUT /snapshot/create failed");
		goto out_fd;
	}
	figure("create", (now() - t) * 1e3, "ms");
	figure("snap-file", file_kib(r->snap), "KiB");
	figure("mem-file", file_kib(r->mem), "KiB");
	ret = 0;
out_fd:
	close(fd);
out:
	kill_now(&c);
	return ret;
}

/* Step 2: a fresh process loads the snapshot over the API. */
static int load_api(struct snap_run *r)
{
	char *argv[] = { r->arkvm, "--api-sock", r->sock, NULL };
	char load[2 * PATH_LEN + 160];
	struct child c;
	double t;
	int fd, ret = -1;

	snprintf(load, sizeof(load),
		 "{\"snapshot_path\": \"%s\", \"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": true}", r->snap, r->mem);
	unlink(r->sock);
	if (spawn(&c, argv, NULL)) {
		complain(NULL, "cannot start arkvm");
		return -1;
	}
	fd = wait_ready(&c, r->sock, 0);
	if (fd < 0) {
		complain(&c, "load: the API socket never answered");
		goto out;
	}
	t = now();
	if (http_call(&c, fd, "PUT", "/snapshot/load", load) != 204) {
		complain(&c, "load: PUT /snapshot/load failed");
		goto out_fd;
	}
	figure("load-answer", (now() - t) * 1e3, "ms");
	if (wait_count(&c, "load"))
		goto out_fd;
	figure("load-to-count", (c.count_at - t) * 1e3, "ms");
	memory_figures(&c, "load");
	ret = 0;
out_fd:
	close(fd);
out:
	stop(&c);
	return ret;
}

/* Steps 3 and 4: @argv from its fork to the first COUNT line, as @name. */
static int cli_to_count(char **argv, const char *input, const char *name)
{
	struct child c;
	int ret;

	if (spawn(&c, argv, input)) {
		complain(NULL, "cannot start arkvm");
		return -1;
	}
	ret = wait_count(&c, name);
	if (!ret)
		figure(name, (c.count_at - c.t0) * 1e3, "ms");
	stop(&c);
	return ret;
}

static int write_input(const char *path)
{
	FILE *f = fopen(path, "we");
	int ret;

	if (!f)
		return -errno;
	ret = fputs(COUNT_LOOP, f) < 0 ? -EIO : 0;
	if (fclose(f))
		ret = -errno;
	return ret;
}

static int paths(struct snap_run *r, const char *dir)
{
	int n = 0;

	n |= snprintf(r->sock, sizeof(r->sock), "%s/snap.sock", dir) >= PATH_LEN;
	n |= snprintf(r->input, sizeof(r->input), "%s/count.in", dir) >= PATH_LEN;
	n |= snprintf(r->snap, sizeof(r->snap), "%s/vm.snap", dir) >= PATH_LEN;
	n |= snprintf(r->mem, sizeof(r->mem), "%s/vm.mem", dir) >= PATH_LEN;
	return n || !json_safe(dir) ? -EINVAL : 0;
}

int run_snap(char **args, char **argv)
{
	struct snap_run r = { .kernel = args[1], .initrd = args[2], .mib = atoi(args[3]), .arkvm = argv[0] };
	char mib[32];
	char *restore[] = { r.arkvm, "restore", "--snapshot", r.snap, "--mem", r.mem, NULL };
	char *run[] = { r.arkvm, "run", "--kernel", (char *)r.kernel, "--initrd", (char *)r.initrd,
			"--cpus", "1", "--memory", mib, "--cmdline", "quiet arkvm.test=shell", NULL };
	int ret;

	if (paths(&r, args[0]) || !json_safe(r.kernel) || !json_safe(r.initrd) || r.mib <= 0 || argv[1]) {
		complain(NULL, "bad arguments");
		return 2;
	}
	snprintf(mib, sizeof(mib), "%dM", r.mib);
	if (write_input(r.input)) {
		complain(NULL, "cannot write the guest's loop");
		return 1;
	}
	ret = cold_api(&r);
	if (!ret)
		ret = load_api(&r);
	if (!ret)
		ret = cli_to_count(restore, NULL, "restore-cli-to-count");
	/* The cold CLI boot is worth having even when a restore failed. */
	ret |= cli_to_count(run, r.input, "cold-cli-to-count");
	unlink(r.sock);
	unlink(r.snap);
	unlink(r.mem);
	unlink(r.input);
	return ret ? 1 : 0;
}
