// SPDX-License-Identifier: Apache-2.0
/*
 * PID 1's preparation of the guest: the kernel's file systems, the
 * modules the host listed, the root named on the kernel command line
 * (switch_root semantics: the agent runs on from memory), and RUN's
 * clock, seed, virtio-fs shares and network (agent/net.c).  The root is
 * mounted only once RUN came: until then the guest has touched no file
 * system of the host's, so a VM waiting for its command can be
 * snapshotted (arkvm exec --warm).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/module.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

#define NEWROOT "/newroot"

struct early_mount {
	const char *src, *dir, *type, *opts;
	unsigned long flags;
};

/* In order: /dev/pts and /dev/shm go on /dev. */
static const struct early_mount early_mounts[] = {
	{ "proc", "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
	{ "sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
	{ "devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID },
	{ "devpts", "/dev/pts", "devpts", "mode=0620,ptmxmode=0666", MS_NOSUID | MS_NOEXEC },
	{ "shm", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV },
	{ "tmpfs", "/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV },
	{ "tmpfs", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV },
};

/* What moves into the new root; the mounts on /dev go with it. */
static const char *const moved[] = { "/proc", "/sys", "/dev", "/tmp", "/run" };

int agent_mount_early(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(early_mounts); i++) {
		const struct early_mount *m = &early_mounts[i];

		if (mkdir(m->dir, 0755) && errno != EEXIST)
			return -errno;
		/* EBUSY: the kernel mounted it already (devtmpfs.mount=1). */
		if (mount(m->src, m->dir, m->type, m->flags, m->opts) && errno != EBUSY)
			return -errno;
	}
	return 0;
}

static bool compressed(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot && (!strcmp(dot, ".xz") || !strcmp(dot, ".zst") || !strcmp(dot, ".gz"));
}

static void load_module(const char *rel)
{
	char path[512];
	int fd, flags = compressed(rel) ? MODULE_INIT_COMPRESSED_FILE : 0;

	/* The list is the host's, but a path stays under /lib/modules all the same. */
	if (rel[0] == '/' || strstr(rel, "..") ||
	    snprintf(path, sizeof(path), "/lib/modules/%s", rel) >= (int)sizeof(path)) {
		agent_log("module %s: not a path under /lib/modules", rel);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		agent_log("module %s: %s", path, strerror(errno));
		return;
	}
	/* EEXIST: built in or loaded already, which is as good. */
	if (syscall(SYS_finit_module, fd, "", flags) && errno != EEXIST)
		agent_log("module %s: %s", path, strerror(errno));
	close(fd);
}

/* Reads a small file whole, NUL-terminated: its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t have = 0;

	if (fd < 0)
		return -errno;
	while (have < size - 1) {
		ssize_t n = read(fd, buf + have, size - 1 - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	return (ssize_t)have;
}

void agent_load_modules(void)
{
	static char list[65536];
	char *line, *save = NULL;

	if (read_small("/modules.list", list, sizeof(list)) < 0)
		return;                 /* no list: nothing to load */
	for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (*line && *line != '#')
			load_module(line);
}

/* arkvm.root=VALUE from the kernel command line into @out ("" when absent). */
int agent_root_arg(char *out, size_t size)
{
	char cmdline[4096];
	const char *p;
	size_t n;

	*out = '\0';
	if (read_small("/proc/cmdline", cmdline, sizeof(cmdline)) < 0)
		return -errno;
	for (p = cmdline; (p = strstr(p, "arkvm.root=")); p++) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		p += strlen("arkvm.root=");
		n = strcspn(p, " \n");
		if (n >= size)
			return -ENAMETOOLONG;
		memcpy(out, p, n);
		out[n] = '\0';
		return 0;
	}
	return 0;
}

/* A disk's node may come a moment after its driver loads: up to 5 s. */
static int wait_for(const char *dev)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 500; i++) {
		if (!access(dev, F_OK))
			return 0;
		nanosleep(&tick, NULL);
	}
	return -ENOENT;
}

/* ext4 first, then each block file system the kernel has, until one takes the disk. */
static int mount_disk(const char *dev)
{
	static char fs[8192];
	char *line, *save = NULL;
	int ret = wait_for(dev);

	if (ret)
		return ret;
	if (!mount(dev, NEWROOT, "ext4", 0, NULL))
		return 0;
	ret = -errno;
	if (read_small("/proc/filesystems", fs, sizeof(fs)) < 0)
		return ret;
	for (line = strtok_r(fs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *type = line + strspn(line, " \t");

		if (!strncmp(line, "nodev", 5) || !strcmp(type, "ext4"))
			continue;
		if (!mount(dev, NEWROOT, type, 0, NULL))
			return 0;
	}
	return ret;
}

static int mount_root(const char *arg)
{
	if (mkdir(NEWROOT, 0755) && errno != EEXIST)
		return -errno;
	if (!strncmp(arg, "virtiofs:", 9) && arg[9])
		return mount(arg + 9, NEWROOT, "virtiofs", 0, NULL) ? -errno : 0;
	if (!strncmp(arg, "blk:/dev/", 9))
		return mount_disk(arg + 4);
	return -EINVAL;
}

/* /proc, /sys, /dev, /tmp and /run into the new root, which becomes /. */
static int switch_root(void)
{
	char dir[64];

	for (size_t i = 0; i < ARRAY_SIZE(moved); i++) {
		snprintf(dir, sizeof(dir), NEWROOT "%s", moved[i]);
		mkdir(dir, 0755);
		if (mount(moved[i], dir, NULL, MS_MOVE, NULL)) {
			agent_log("cannot move %s into the root: %s", moved[i], strerror(errno));
			umount2(moved[i], MNT_DETACH);
		}
	}
	if (chdir(NEWROOT) || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/"))
		return -errno;
	return 0;
}

int agent_setup_root(void)
{
	char arg[256];
	int ret = agent_root_arg(arg, sizeof(arg));

	if (ret)
		return ret;
	if (!arg[0])
		return 0;               /* the initramfs is the root */
	ret = mount_root(arg);
	if (ret) {
		agent_log("cannot mount the root %s: %s", arg, strerror(-ret));
		return ret;
	}
	return switch_root();
}

/* mkdir -p, as root, for a share's mount point. */
static int make_path(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

static int mount_shares(const struct exec_run *run)
{
	for (unsigned int i = 0; i < run->nr_mounts; i++) {
		const struct exec_mount *m = &run->mounts[i];
		int ret = make_path(m->path);

		if (!ret && mount(m->tag, m->path, "virtiofs", m->readonly ? MS_RDONLY : 0, NULL))
			ret = -errno;
		if (ret) {
			agent_log("share %s at %s: %s", m->tag, m->path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* RUN's bytes into the kernel's pool, credited, and the generator reseeded from it. */
static int seed_random(const u8 *seed)
{
	struct {
		struct rand_pool_info info;
		u8 buf[EXEC_SEED_SIZE];
	} add = { .info = { .entropy_count = EXEC_SEED_SIZE * 8, .buf_size = EXEC_SEED_SIZE } };
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	memcpy(add.buf, seed, EXEC_SEED_SIZE);
	if (ioctl(fd, RNDADDENTROPY, &add.info) || ioctl(fd, RNDRESEEDCRNG))
		ret = -errno;
	close(fd);
	explicit_bzero(&add, sizeof(add));
	return ret;
}

int agent_prepare(const struct exec_run *run)
{
	static bool root_done;
	int ret;

	if (run->has_time) {
		struct timespec now = { (time_t)run->time_sec, (long)run->time_nsec };

		if (clock_settime(CLOCK_REALTIME, &now))
			agent_log("cannot set the clock: %s", strerror(errno));
	}
	if (run->has_seed) {
		ret = seed_random(run->seed);
		if (ret)
			agent_log("cannot seed the random generator: %s", strerror(-ret));
	}
	if (!root_done) {
		ret = agent_setup_root();
		if (ret)
			return ret;
		root_done = true;
	}
	ret = mount_shares(run);
	/* After the shares: the nameservers go on the /etc the command will see. */
	if (!ret && run->has_net)
		ret = agent_net_setup(&run->net);
	return ret;
}
