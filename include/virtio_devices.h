/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_DEVICES_H
#define ARKVM_VIRTIO_DEVICES_H

#include <linux/virtio_blk.h>

#include "cli.h"
#include "virtio_mmio.h"

/* virtio-blk over a host file (devices/virtio_blk.c). */
struct virtio_blk {
	struct virtio_dev vdev;
	int fd;
	u64 sectors;
	bool readonly;
	char serial[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config;
	struct virtq_chain chain;       /* the request being served: no heap per request */
	struct iovec data[VIRTQ_MAX_SIZE];
};

/*
 * Opens and locks the disk (exclusively, or shared when read-only), so two
 * VMs cannot write one image.  Prints one line and returns -errno on error.
 */
int virtio_blk_open(struct virtio_blk *b, const struct disk_config *cfg, unsigned int index,
		    const struct guest_mem *mem);
void virtio_blk_close(struct virtio_blk *b);

/* virtio-rng fed from getrandom() (devices/virtio_rng.c). */
struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq_chain chain;
};

void virtio_rng_init(struct virtio_rng *r, const struct guest_mem *mem);

#endif
