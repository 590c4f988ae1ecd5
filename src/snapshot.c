// SPDX-License-Identifier: Apache-2.0
/*
 * Snapshots of a paused VM, and VMs restored from them.
 *
 * Create (main thread, every other thread parked): the payload holds the
 * config, each vCPU's registers, the VGIC and every device's state; the
 * memory file holds guest RAM, with holes where pages are all zero.
 *
 * Restore builds the same machine without what only a boot needs (no
 * kernel, no device tree): guest RAM is the memory file mapped
 * MAP_PRIVATE, so pages come in from the page cache as the guest touches
 * them and clones of one snapshot share the pages none of them wrote.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "cli.h"
#include "log.h"
#include "snapshot.h"
#include "state.h"
#include "vm.h"

#define CONFIG_STATE_TAG STATE_TAG('C', 'O', 'N', 'F')

static void snapshot_host_of(struct snapshot_host *h, const struct vm *vm)
{
	h->page_size = (u32)sysconf(_SC_PAGESIZE);
	h->ipa_bits = vm ? vm->ipa_bits : 0;
	h->gic_version = vm ? vm->gic_version : 0;
}

static bool page_zero(const u8 *p, size_t page)
{
	return p[0] == 0 && !memcmp(p, p + 1, page - 1);
}

/*
 * A file is written under a temporary name and renamed into place: a
 * clone may have the old memory file mapped private, and truncating it
 * under that mapping would change the clone's RAM.
 */
static int open_temp(const char *path, char *tmp, size_t size)
{
	int fd;

	if ((size_t)snprintf(tmp, size, "%s.tmp-%d", path, (int)getpid()) >= size)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

static int commit_temp(int fd, const char *tmp, const char *path, int ret)
{
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* Guest RAM into @path: pages that are all zero stay holes. */
static int write_memory(const struct vm *vm, const char *path)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const u8 *ram = vm->ram;
	char tmp[4200];
	int fd = open_temp(path, tmp, sizeof(tmp));
	int ret = 0;

	if (fd < 0)
		return fd;
	for (u64 off = 0; off < vm->ram_size && !ret;) {
		u64 run = 0;

		if (page_zero(ram + off, page)) {
			off += page;
			continue;
		}
		/* A run of pages with data, written in one go. */
		while (off + run < vm->ram_size && !page_zero(ram + off + run, page))
			run += page;
		if (pwrite(fd, ram + off, run, (off_t)off) != (ssize_t)run)
			ret = errno ? -errno : -EIO;
		off += run;
	}
	if (!ret && ftruncate(fd, (off_t)vm->ram_size))
		ret = -errno;
	return commit_temp(fd, tmp, path, ret);
}

#define BITS_PER_LONG (8 * sizeof(unsigned long))

/*
 * The pages written since the last snapshot: KVM's log of the guest's
 * writes (reading it clears it) and arkvm's own, from the devices.  NULL
 * without dirty tracking.
 */
static unsigned long *take_dirty(struct vm *vm, size_t page)
{
	u64 pages = vm->ram_size / page;
	size_t words = (pages + BITS_PER_LONG - 1) / BITS_PER_LONG;
	unsigned long *bits = calloc(words, sizeof(*bits));
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = bits };

	if (!bits)
		return NULL;
	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
		pr_err("KVM_GET_DIRTY_LOG: %s", strerror(errno));
		free(bits);
		return NULL;
	}
	guest_mem_take_dirty(&vm->mem, bits);
	return bits;
}

/*
 * A diff: only the dirty pages, at their offsets, zero or not (a page the
 * guest cleared must clear the base's too); holes everywhere else.
 */
static int write_diff(const struct vm *vm, const unsigned long *dirty, const char *path)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const u8 *ram = vm->ram;
	u64 pages = vm->ram_size / page;
	char tmp[4200];
	int fd = open_temp(path, tmp, sizeof(tmp));
	int ret = 0;

	if (fd < 0)
		return fd;
	for (u64 p = 0; p < pages && !ret;) {
		u64 run = 0;

		while (p + run < pages && (dirty[(p + run) / BITS_PER_LONG] >>
					   ((p + run) % BITS_PER_LONG) & 1))
			run++;
		if (run && pwrite(fd, ram + p * page, run * page, (off_t)(p * page)) !=
			   (ssize_t)(run * page))
			ret = errno ? -errno : -EIO;
		p += run ? run : 1;
	}
	if (!ret && ftruncate(fd, (off_t)vm->ram_size))
		ret = -errno;
	return commit_temp(fd, tmp, path, ret);
}

static int write_file(const char *path, const void *data, size_t len)
{
	char tmp[4200];
	int fd = open_temp(path, tmp, sizeof(tmp));
	ssize_t n;

	if (fd < 0)
		return fd;
	n = write(fd, data, len);
	return commit_temp(fd, tmp, path, n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO));
}

static int save_state(struct vm *vm, struct state_writer *w)
{
	size_t mark;
	int ret;

	state_begin(w, CONFIG_STATE_TAG, &mark);
	vm_config_save(vm->cfg, w);
	state_end(w, mark);
	ret = arm64_cpu_save(vm, w);
	for (unsigned int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = arm64_vcpu_save(&vm->vcpus[i], w);
	if (!ret)
		ret = gic_save(vm, w);
	if (!ret)
		ret = vm_devices_save(vm, w);
	return ret ? ret : w->err;
}

int vm_snapshot_create(struct vm *vm, struct snapshot_request *req)
{
	struct snapshot_header h = { .type = req->type, .nr_vcpus = vm->nr_vcpus,
				     .mem_size = vm->ram_size };
	unsigned long *dirty = NULL;
	struct state_writer w;
	u8 *file = NULL;
	long len;
	int ret;

	if (req->type == SNAPSHOT_DIFF && !vm->cfg->track_dirty_pages) {
		snprintf(req->err, sizeof(req->err),
			 "a Diff snapshot needs track_dirty_pages (machine-config or snapshot/load)");
		return -EINVAL;
	}
	if (vm->gic_version != 3) {
		/* Its distributor and CPU interface registers are not saved yet. */
		snprintf(req->err, sizeof(req->err),
			 "a VM on a GICv2 (--irqchip gicv2, or a host without a GICv3) cannot be "
			 "snapshotted yet");
		return -EOPNOTSUPP;
	}
	if (vm->cfg->gpu.mode != GPU_NONE) {
		snprintf(req->err, sizeof(req->err), "a VM with a GPU cannot be snapshotted yet");
		return -EOPNOTSUPP;
	}
	/*
	 * A mounted share (its server's descriptors), an ephemeral disk the
	 * guest wrote (its overlay has no name): the devices say so.
	 */
	ret = vm_devices_can_save(vm, req->err, sizeof(req->err));
	if (ret)
		return ret;
	for (unsigned int i = 0; i < vm->cfg->nr_nets; i++)
		if (vm->cfg->nets[i].vhost) {
			snprintf(req->err, sizeof(req->err),
				 "a NIC on vhost-net (%s) cannot be snapshotted yet", vm->cfg->nets[i].id);
			return -EOPNOTSUPP;
		}
	snprintf(h.arkvm_version, sizeof(h.arkvm_version), "%s", ARKVM_VERSION);
	snapshot_host_of(&h.host, vm);
	state_writer_init(&w);
	ret = save_state(vm, &w);
	if (ret) {
		snprintf(req->err, sizeof(req->err), "saving the VM's state: %s", strerror(-ret));
		goto out;
	}
	len = snapshot_encode(&h, w.data, w.len, &file);
	ret = len < 0 ? (int)len : write_file(req->snapshot_path, file, (size_t)len);
	if (ret) {
		snprintf(req->err, sizeof(req->err), "snapshot_path '%.300s': %s", req->snapshot_path,
			 strerror(-ret));
		goto out;
	}
	if (vm->cfg->track_dirty_pages) {
		/* Either kind starts the next diff from here. */
		dirty = take_dirty(vm, (size_t)sysconf(_SC_PAGESIZE));
		if (!dirty) {
			ret = -ENOMEM;
			snprintf(req->err, sizeof(req->err), "reading the dirty pages failed");
			goto out;
		}
	}
	ret = req->type == SNAPSHOT_DIFF ? write_diff(vm, dirty, req->mem_path) :
					   write_memory(vm, req->mem_path);
	if (ret)
		snprintf(req->err, sizeof(req->err), "mem_file_path '%.300s': %s", req->mem_path,
			 strerror(-ret));
out:
	free(dirty);
	free(file);
	state_writer_free(&w);
	return ret;
}

void snapshot_image_free(struct snapshot_image *img)
{
	free(img->file);
	img->file = NULL;
}

int snapshot_image_load(struct snapshot_image *img, const char *path, struct vm_config *cfg,
			char *err, size_t err_size)
{
	struct snapshot_host host;
	struct state_reader conf;
	const u8 *payload;
	struct stat st;
	ssize_t n = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(img, 0, sizeof(*img));
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, err_size, "snapshot '%s': %s", path,
			 fd < 0 || !errno ? strerror(errno ? errno : EINVAL) : "not a regular file");
		goto fail;
	}
	if (st.st_size > SNAPSHOT_HEADER_SIZE + SNAPSHOT_MAX_PAYLOAD) {
		snprintf(err, err_size, "snapshot '%s': too large for a snapshot", path);
		goto fail;
	}
	img->len = (size_t)st.st_size;
	img->file = malloc(img->len ? img->len : 1);
	if (img->file)
		n = pread(fd, img->file, img->len, 0);
	if (n != (ssize_t)img->len) {
		snprintf(err, err_size, "snapshot '%s': cannot read it", path);
		goto fail;
	}
	close(fd);
	fd = -1;
	snapshot_host_of(&host, NULL);
	host.ipa_bits = 64;   /* checked when the VM is created, against KVM's */
	host.gic_version = 0; /* the restore asks KVM for the snapshot's GIC: refused there */
	if (snapshot_decode(img->file, img->len, &host, &img->header, &payload, err + 0,
			    err_size)) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, err_size, "snapshot '%s': %s", path, why);
		goto fail;
	}
	state_reader_init(&img->payload, payload, img->header.payload_len);
	if (state_enter(&img->payload, CONFIG_STATE_TAG, &conf) || vm_config_restore(cfg, &conf) ||
	    arm64_cpu_load_config(cfg, &img->payload) || cfg->nr_cpus != img->header.nr_vcpus || cfg->mem_size != img->header.mem_size) {
		snprintf(err, err_size, "snapshot '%s': its machine description is corrupt", path);
		goto fail;
	}
	/* The same GIC as the snapshot's, or none: gic_choose() says why not. */
	cfg->irqchip = img->header.host.gic_version == 2 ? IRQCHIP_GICV2 : IRQCHIP_GICV3;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	snapshot_image_free(img);
	return -EINVAL;
}

int vm_restore_state(struct vm *vm)
{
	struct state_reader *r = &vm->restore->payload;
	int ret = arm64_cpu_restore(vm, r);

	for (unsigned int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = arm64_vcpu_restore(&vm->vcpus[i], r);
	if (!ret)
		ret = gic_restore(vm, r);
	if (!ret)
		ret = vm_devices_restore(vm, r);
	if (!ret && r->off != r->len)
		ret = -EINVAL;
	if (ret)
		pr_err("restoring the snapshot: %s", ret == -EINVAL ?
		       "its state does not fit this machine (corrupt?)" : strerror(-ret));
	return ret;
}
