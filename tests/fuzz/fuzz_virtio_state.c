// SPDX-License-Identifier: Apache-2.0
/*
 * Restoring a virtio device's transport and queue state from bytes that
 * came from a file (a snapshot someone else may have written), with
 * virtio-rng behind it.  What restore accepts is then driven: a kick on
 * each queue, then a reset, so rings it mapped are used for real.
 */
#include <linux/virtio_mmio.h>

#include "fuzz.h"
#include "fuzz_rng.h"
#include "state.h"

static struct fake_driver drv;
static struct virtio_rng rng;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_rng_setup(&drv, &rng);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_reader r;

	virtio_mmio_ops.write(&rng.vdev, VIRTIO_MMIO_STATUS, 0, 4); /* a fresh device */
	rng.vdev.offered = 0;
	memset(drv.ram, 0, 0x4000); /* the rings' pages: each input starts alike */
	state_reader_init(&r, data, size);
	if (virtio_dev_restore(&rng.vdev, &r))
		return 0;
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtio_dev_queue_notify(&rng.vdev, q);
	for (u64 off = 0; off < 0x100; off += 4)
		virtio_mmio_ops.read(&rng.vdev, off, 4);
	return 0;
}
