// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-fs in the device registry: one device per --share, in order,
 * each over its own FUSE server (src/fuse/) and worker threads
 * (devices/virtio_fs.c).  A share the guest has mounted is not
 * snapshotted: the server's inodes are host descriptors the guest holds
 * by number, and no file can carry them.  One it has not (no request
 * ever reached the server) is saved as its transport and a marker, and
 * restored over a fresh server for the restoring config's share, which
 * may name another directory (struct vmm_restore's share overrides).
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "device.h"
#include "log.h"
#include "virtio_fs.h"

/* Descriptors arkvm needs besides the shares': disks, taps, vsock's connections. */
#define VFS_OWN_FILES 4096

struct vfs_device {
	struct virtio_fs fs;
	struct fuse_server *server;
	bool running;                   /* virtio_fs_init() succeeded: workers to join */
};

static unsigned int vfs_count(const struct vm_config *cfg)
{
	return cfg->nr_shares;
}

/*
 * Every share may hold FUSE_MAX_INODES + FUSE_MAX_HANDLES descriptors:
 * the soft limit is raised to fit them all, as far as the hard limit
 * lets it.  Short of that the servers' caps still hold; a guest that
 * reaches the limit first gets EMFILE for its opens, and arkvm stays up.
 */
static void vfs_raise_nofile(unsigned int nr_shares)
{
	rlim_t want = VFS_OWN_FILES + (rlim_t)nr_shares * (FUSE_MAX_INODES + FUSE_MAX_HANDLES);
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : MIN(want, rl.rlim_max);
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < want)
		pr_warn("--share: open files are limited to %llu (the hard limit; ulimit -Hn), "
			"%llu short of what %u share(s) may hold: a guest holding that many files "
			"gets EMFILE", (unsigned long long)rl.rlim_cur,
			(unsigned long long)(want - rl.rlim_cur), nr_shares);
}

/* HOSTDIR, said plainly before the server opens it. */
static int vfs_check_dir(const struct share_config *share)
{
	struct stat st;

	if (stat(share->path, &st)) {
		int err = errno;

		pr_err("--share '%s': %s", share->path, strerror(err));
		return -err;
	}
	if (!S_ISDIR(st.st_mode)) {
		pr_err("--share '%s': not a directory", share->path);
		return -ENOTDIR;
	}
	return 0;
}

static int vfs_create(struct device *dev, struct device_host *host, unsigned int index)
{
	const struct vm_config *cfg = host->cfg;
	const struct share_config *share = &cfg->shares[index];
	struct vfs_device *vd = device_alloc_priv(dev, sizeof(*vd));
	struct fuse_server *server = NULL;
	int ret;

	if (!vd)
		return -ENOMEM;
	dev->id = share->tag;
	if (index == 0)
		vfs_raise_nofile(cfg->nr_shares);
	ret = vfs_check_dir(share);
	if (!ret)
		ret = fuse_server_create(&server, share);
	if (!ret) {
		vd->server = server; /* only now: a failed create says nothing of *out */
		ret = virtio_fs_init(&vd->fs, share, vd->server, fuse_server_handle,
				     virtio_fs_workers_per_share(cfg->nr_shares), !cfg->no_seccomp,
				     host->mem);
	}
	if (ret)
		return ret;
	vd->running = true;
	dev->vdev = &vd->fs.vdev;
	return 0;
}

static int vfs_quiesce(struct device *dev)
{
	return virtio_fs_quiesce(&((struct vfs_device *)dev->priv)->fs);
}

static void vfs_resume(struct device *dev)
{
	virtio_fs_resume(&((struct vfs_device *)dev->priv)->fs);
}

/* src/snapshot.c asks first, for the API's fault message; save refuses the same. */
static int vfs_can_save(const struct device *dev, char *why, size_t len)
{
	return virtio_fs_can_save(&((struct vfs_device *)dev->priv)->fs, why, len);
}

static int vfs_save(struct device *dev, struct state_writer *w)
{
	return virtio_fs_save(&((struct vfs_device *)dev->priv)->fs, w);
}

static int vfs_restore(struct device *dev, struct state_reader *r)
{
	return virtio_fs_restore(&((struct vfs_device *)dev->priv)->fs, r);
}

static void vfs_destroy(struct device *dev)
{
	struct vfs_device *vd = dev->priv;

	if (!vd)
		return;
	if (vd->running)
		virtio_fs_close(&vd->fs);
	if (vd->server)
		fuse_server_destroy(vd->server);
}

/* --stats: the server's counters (its workers may still be answering). */
static void vfs_stats(const struct device *dev)
{
	const struct vfs_device *vd = dev->priv;
	struct fuse_server_stats st;

	if (!vd->server)
		return;
	fuse_server_get_stats(vd->server, &st);
	pr_info("stats: virtio-fs %s: %lu requests, %lu answered with an error, %lu inodes and "
		"%lu handles held, %lu malformed chains", dev->id, st.requests, st.errors,
		st.inodes, st.handles, atomic_load(&vd->fs.bad_chains));
}

const struct device_class virtio_fs_class = {
	.name = "virtio-fs",
	.count = vfs_count,
	.create = vfs_create,
	.quiesce = vfs_quiesce,
	.resume = vfs_resume,
	.can_save = vfs_can_save,
	.save = vfs_save,
	.restore = vfs_restore,
	.destroy = vfs_destroy,
	.stats = vfs_stats,
};
