// SPDX-License-Identifier: Apache-2.0
/*
 * The plain 2D backend of virtio-gpu: each resource is a zeroed host
 * buffer of stride * height bytes (calloc, so pages the guest never
 * fills cost nothing), and transfers copy rows out of the guest's backing.
 * The decoder has checked every rectangle and offset before these run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_gpu.h"

static int gpu_2d_create(struct virtio_gpu *g, struct gpu_resource *res)
{
	res->priv = calloc(res->height, res->stride);
	return res->priv ? 0 : -ENOMEM;
}

static void gpu_2d_destroy(struct virtio_gpu *g, struct gpu_resource *res)
{
	free(res->priv);
	res->priv = NULL;
}

static void gpu_2d_transfer(struct virtio_gpu *g, struct gpu_resource *res,
			    const struct gpu_rect *r, u64 offset)
{
	u8 *dst = (u8 *)res->priv + (size_t)r->y * res->stride + (size_t)r->x * 4;

	if (r->x == 0 && r->w == res->width) { /* whole rows: one copy */
		iov_copy_from(res->backing, res->nr_backing, offset, dst,
			      (u64)r->h * res->stride);
		return;
	}
	for (u32 i = 0; i < r->h; i++, dst += res->stride)
		iov_copy_from(res->backing, res->nr_backing, offset + (u64)i * res->stride, dst,
			      (u64)r->w * 4);
}

static const void *gpu_2d_pixels(struct virtio_gpu *g, struct gpu_resource *res)
{
	return res->priv;
}

const struct gpu_backend_ops gpu_2d_backend = {
	.name = "2d",
	.create_2d = gpu_2d_create,
	.destroy = gpu_2d_destroy,
	.transfer_to_host_2d = gpu_2d_transfer,
	.pixels = gpu_2d_pixels,
};
