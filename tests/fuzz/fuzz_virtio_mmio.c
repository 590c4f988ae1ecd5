// SPDX-License-Identifier: Apache-2.0
/*
 * The virtio-mmio register interface, with virtio-rng behind it: the input
 * is a program of register reads and writes of any offset, size and value,
 * queue kicks, and pokes into guest RAM (so rings can be set up and then
 * changed under the device).
 */
#include <linux/virtio_mmio.h>

#include "fuzz.h"
#include "fuzz_rng.h"

static struct fake_driver drv;
static struct virtio_rng rng;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fz_rng_setup(&drv, &rng);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };

	virtio_mmio_ops.write(&rng.vdev, VIRTIO_MMIO_STATUS, 0, 4); /* a fresh device */
	memset(drv.ram, 0, 0x4000);
	while (in.n) {
		u8 op = (u8)fz_take(&in, 1);
		u64 off = fz_take(&in, 2) & 0xfff;
		u32 width = 1u << (op >> 2 & 3);
		u64 val = fz_take(&in, 4);

		switch (op & 3) {
		case 0:
			virtio_mmio_ops.read(&rng.vdev, off, width);
			break;
		case 1:
			virtio_mmio_ops.write(&rng.vdev, off, val, width);
			break;
		case 2:
			virtio_dev_queue_notify(&rng.vdev, (unsigned int)val);
			break;
		case 3:
			memcpy(drv.ram + (off << 2), &val, 4); /* rings live in the first 16 KiB */
			break;
		}
	}
	return 0;
}
