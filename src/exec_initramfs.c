// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm exec's initramfs, written on the fly: a cpio "newc" archive (the
 * format the kernel unpacks into its first root) holding the agent as
 * /init, /dev/console for its first descriptors and, with --modules, the
 * modules the guest needs and /modules.list, their load order.
 *
 * newc: each entry is a 110-byte ASCII header ("070701" and 13 fields of
 * 8 hex digits), the name with its NUL padded to 4 bytes, then the data
 * padded to 4 bytes; "TRAILER!!!" ends the archive.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "file.h"
#include "log.h"

#define CPIO_HDR_LEN 110

/* The modules the agent needs, by name: what is not there is built in. */
static const char *const exec_module_names[] = {
	"virtio", "virtio_ring", "virtio_mmio", "fuse", "virtiofs", "vsock",
	"vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport", "virtio_blk",
	"virtio_net", "ext4",
};

void cpio_init(struct cpio_writer *w, int fd)
{
	*w = (struct cpio_writer){ .fd = fd, .ino = 1 };
}

static void cpio_write(struct cpio_writer *w, const void *buf, size_t len)
{
	if (!w->err && len)
		w->err = pwrite_full(w->fd, buf, len, w->off);
	w->off += len;
}

static void cpio_pad(struct cpio_writer *w)
{
	static const u8 zeros[4];

	cpio_write(w, zeros, (size_t)(ALIGN_UP(w->off, 4) - w->off));
}

static int cpio_header(struct cpio_writer *w, const char *name, u32 mode, u64 size,
		       u32 rmajor, u32 rminor)
{
	char hdr[CPIO_HDR_LEN + 1];
	size_t namesize = strlen(name) + 1;

	if (w->err)
		return w->err;
	if (size > 0xffffffffu || namesize > 4096)
		return w->err = -EFBIG;
	/* ino, mode, uid, gid, nlink, mtime, filesize, major, minor, rmajor, rminor, namesize, check */
	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 w->ino++, mode, 0, 0, S_ISDIR(mode) ? 2 : 1, 0, (u32)size, 0, 0, rmajor, rminor,
		 (u32)namesize, 0);
	cpio_write(w, hdr, CPIO_HDR_LEN);
	cpio_write(w, name, namesize);
	cpio_pad(w);
	return w->err;
}

int cpio_add_dir(struct cpio_writer *w, const char *name, u32 mode)
{
	return cpio_header(w, name, S_IFDIR | (mode & 07777), 0, 0, 0);
}

int cpio_add_chardev(struct cpio_writer *w, const char *name, u32 mode, u32 major, u32 minor)
{
	return cpio_header(w, name, S_IFCHR | (mode & 07777), 0, major, minor);
}

int cpio_add_data(struct cpio_writer *w, const char *name, u32 mode, const void *data,
		  size_t size)
{
	if (cpio_header(w, name, S_IFREG | (mode & 07777), size, 0, 0))
		return w->err;
	cpio_write(w, data, size);
	cpio_pad(w);
	return w->err;
}

int cpio_add_file(struct cpio_writer *w, const char *name, u32 mode, const char *host_path)
{
	static const size_t chunk = 1 << 20;
	u64 size, done = 0;
	int fd = open_input_file(host_path, "module", O_RDONLY, &size);
	u8 *buf;

	if (fd < 0)
		return w->err ? w->err : (w->err = fd);
	buf = malloc(chunk);
	if (!buf)
		w->err = -ENOMEM;
	cpio_header(w, name, S_IFREG | (mode & 07777), size, 0, 0);
	while (!w->err && done < size) {
		size_t n = (size_t)MIN(size - done, chunk);

		w->err = pread_full(fd, buf, n, done);
		cpio_write(w, buf, n);
		done += n;
	}
	cpio_pad(w);
	free(buf);
	close(fd);
	return w->err;
}

int cpio_add_parents(struct cpio_writer *w, const char *path, char *const *done,
		     unsigned int *nr_done, unsigned int max_done)
{
	char dir[CFG_MAX_PATH + 1];

	for (const char *s = strchr(path, '/'); s && !w->err; s = strchr(s + 1, '/')) {
		unsigned int i;

		if ((size_t)(s - path) >= sizeof(dir))
			return w->err = -ENAMETOOLONG;
		memcpy(dir, path, (size_t)(s - path));
		dir[s - path] = '\0';
		for (i = 0; i < *nr_done && strcmp(done[i], dir); i++)
			;
		if (i < *nr_done)
			continue;
		if (*nr_done == max_done)
			return w->err = -E2BIG;
		strcpy(done[(*nr_done)++], dir);
		cpio_add_dir(w, dir, 0755);
	}
	return w->err;
}

int cpio_finish(struct cpio_writer *w)
{
	cpio_header(w, "TRAILER!!!", 0, 0, 0, 0);
	return w->err;
}

#define MAX_DIRS 64

/* The modules, their directories, and /modules.list. */
static int add_modules(struct cpio_writer *w, const char *dir)
{
	char (*dirs_buf)[CFG_MAX_PATH + 1] = calloc(MAX_DIRS, CFG_MAX_PATH + 1);
	char *dirs[MAX_DIRS], list[EXEC_MAX_MODULES * 128] = "";
	char name[CFG_MAX_PATH + 16], host[CFG_MAX_PATH * 2 + 2];
	unsigned int nr_dirs = 0;
	struct exec_modlist mods;
	size_t used = 0;
	int ret;

	if (!dirs_buf)
		return w->err = -ENOMEM;
	for (unsigned int i = 0; i < MAX_DIRS; i++)
		dirs[i] = dirs_buf[i];
	ret = exec_modules_resolve(dir, exec_module_names, ARRAY_SIZE(exec_module_names), &mods);
	if (ret) {
		free(dirs_buf);
		pr_err("exec: --modules '%s': %s (no modules.dep or modules.order?)", dir,
		       strerror(-ret));
		return ret;
	}
	for (unsigned int i = 0; i < mods.nr && !w->err; i++) {
		snprintf(name, sizeof(name), "lib/modules/%s", mods.paths[i]);
		snprintf(host, sizeof(host), "%s/%s", dir, mods.paths[i]);
		cpio_add_parents(w, name, dirs, &nr_dirs, MAX_DIRS);
		cpio_add_file(w, name, 0644, host);
		if (used + strlen(mods.paths[i]) + 2 > sizeof(list))
			w->err = -E2BIG;
		else
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s\n", mods.paths[i]);
	}
	exec_modlist_free(&mods);
	free(dirs_buf);
	return cpio_add_data(w, "modules.list", 0644, list, used);
}

int exec_write_initramfs(int fd, const u8 *agent, size_t agent_size, const char *modules_dir)
{
	struct cpio_writer w;
	int ret;

	cpio_init(&w, fd);
	cpio_add_dir(&w, "dev", 0755);
	/* The kernel opens /dev/console for init's fds 0-2: it must exist before devtmpfs. */
	cpio_add_chardev(&w, "dev/console", 0600, 5, 1);
	cpio_add_dir(&w, "proc", 0755);
	cpio_add_dir(&w, "sys", 0755);
	cpio_add_dir(&w, "mnt", 0755);
	cpio_add_data(&w, "init", 0755, agent, agent_size);
	if (modules_dir && add_modules(&w, modules_dir) && !w.err)
		return -EINVAL;         /* said */
	ret = cpio_finish(&w);
	if (ret)
		pr_err("exec: the initramfs: %s", strerror(-ret));
	return ret;
}
