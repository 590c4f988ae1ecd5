// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk requests from a hostile driver.  The input is guest RAM: the
 * descriptor table, avail ring and every request header, data buffer and
 * status byte, with the ring brought up at fixed addresses.  The disk is a
 * 64-sector memfd; an access outside it or outside RAM would be a report.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_driver.h"
#include "fuzz.h"
#include "virtio_devices.h"

#define RAM_USED 0x10000

static struct fake_driver drv;
static struct virtio_blk blk;
static bool has_uring;   /* io_uring came up at open */

static void no_interrupt(void *opaque)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct disk_config cfg = { 0 };
	int fd = memfd_create("fuzz-disk", 0);

	if (fd < 0 || ftruncate(fd, 64 * 512))
		return -1;
	snprintf(cfg.path, sizeof(cfg.path), "/proc/self/fd/%d", fd);
	fake_driver_init(&drv, 8);
	if (virtio_blk_open(&blk, &cfg, 0, &drv.mem, NULL))
		return -1;
	blk.vdev.interrupt = no_interrupt;
	has_uring = blk.disk->async;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	u64 features = fz_take(&in, 8);
	bool uring = fz_take(&in, 1) & 1;

	virtio_mmio_ops.write(&blk.vdev, 0x070, 0, 4); /* Status: reset */
	memset(drv.ram, 0, RAM_USED);
	fz_copy(&in, drv.ram, RAM_USED);
	fake_bring_up(&blk.vdev, FAKE_DESC, features);
	blk.disk->async = uring && has_uring; /* both engines */
	virtio_dev_queue_notify(&blk.vdev, 0);
	virtio_dev_queue_notify(&blk.vdev, 0);
	return 0;
}
