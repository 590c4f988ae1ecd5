// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-gpu commands from a hostile driver.  The input is the feature
 * bits, then guest RAM: both queues' rings (control at 0, cursor at
 * 0x4000) and every command, backing entry and pixel they point at.  The
 * control queue is served twice, so later commands meet the resources,
 * backing and scanout that earlier ones left; a screenshot then reads
 * whatever the scanout shows.  An access outside RAM or a resource would
 * be a report.
 */
#include <stdlib.h>

#include "fake_driver.h"
#include "fuzz.h"
#include "virtio_gpu.h"

#define RAM_USED    0x10000
#define CURSOR_RING (FAKE_RAM_BASE + 0x4000)

static struct fake_driver ctrl, cursor;
static struct virtio_gpu gpu;

static void no_interrupt(void *opaque)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct gpu_config cfg = { .mode = GPU_2D, .width = 640, .height = 480 };

	fake_driver_init(&ctrl, 8);
	fake_driver_init_queue(&cursor, &ctrl, CURSOR_RING, 8);
	virtio_gpu_init(&gpu, &cfg, &gpu_2d_backend, &ctrl.mem, NULL);
	gpu.vdev.interrupt = no_interrupt;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_driver *queues[] = { &ctrl, &cursor };
	struct fuzz_in in = { data, size };
	u64 features = fz_take(&in, 8);
	u8 *rgb;
	u32 w, h;

	virtio_mmio_ops.write(&gpu.vdev, 0x070, 0, 4); /* Status: reset, resources freed */
	memset(ctrl.ram, 0, RAM_USED);
	fz_copy(&in, ctrl.ram, RAM_USED);
	fake_bring_up_queues(&gpu.vdev, features, queues, 2);
	virtio_dev_queue_notify(&gpu.vdev, GPU_CTRL_Q);
	virtio_dev_queue_notify(&gpu.vdev, GPU_CURSOR_Q);
	virtio_dev_queue_notify(&gpu.vdev, GPU_CTRL_Q);
	if (!virtio_gpu_read_scanout(&gpu, &rgb, &w, &h))
		free(rgb);
	return 0;
}
