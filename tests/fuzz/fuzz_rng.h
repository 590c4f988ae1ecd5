/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FUZZ_RNG_H
#define ARKVM_FUZZ_RNG_H

/*
 * For the targets that drive the virtio transport itself: virtio-rng, the
 * simplest device, over a fake driver's RAM, interrupting nobody.
 */
#include "fake_driver.h"
#include "virtio_devices.h"

static void fz_no_interrupt(void *opaque)
{
}

static inline void fz_rng_setup(struct fake_driver *drv, struct virtio_rng *rng)
{
	fake_driver_init(drv, 8);
	virtio_rng_init(rng, &drv->mem, NULL, NULL);
	rng->vdev.interrupt = fz_no_interrupt;
}

#endif
