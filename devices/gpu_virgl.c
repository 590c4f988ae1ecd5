// SPDX-License-Identifier: Apache-2.0
/*
 * The 3D backend of virtio-gpu: virglrenderer, on EGL without a window
 * system (surfaceless), so that it runs headless: on the host's render node
 * where there is one, on Mesa's llvmpipe where there is not.
 *
 * virglrenderer keeps global state and a GL context current on the thread
 * that started it, so one device uses it, and every call (init included)
 * comes from the I/O thread.  The decoder has checked resource ids,
 * contexts, boxes against the resource and backing entries against guest
 * RAM; virglrenderer checks the command streams, formats, and each
 * transfer against the backing by the format's layout.
 *
 * Screenshots need the pixels on the host: when something watches the
 * display, each flush of the scanout reads the flushed rectangle back into
 * a shadow copy (res->priv), which the main thread reads under g->lock
 * without touching GL.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <virgl/virglrenderer.h>

#include "log.h"
#include "virtio_gpu.h"

/* Declared but not defined by virglrenderer.h; the layout of struct virtio_gpu_box. */
struct virgl_box {
	u32 x, y, z, w, h, d;
};

#define VIRGL_BIND_RENDER_TARGET (1u << 1)
#define PIPE_TEXTURE_2D          2u

static void virgl_write_fence(void *cookie, uint32_t fence)
{
	virtio_gpu_fence_done(cookie, fence);  /* from virgl_renderer_poll(): g->lock held */
}

static struct virgl_renderer_callbacks virgl_callbacks = {
	.version = 1,
	.write_fence = virgl_write_fence,
};

static int virgl_init(struct virtio_gpu *g)
{
	int ret = virgl_renderer_init(g, VIRGL_RENDERER_USE_EGL | VIRGL_RENDERER_USE_SURFACELESS,
				      &virgl_callbacks);

	if (ret) {
		pr_err("--gpu virgl: virglrenderer could not start on EGL surfaceless (%d); "
		       "is Mesa's EGL installed?", ret);
		return -ENODEV;
	}
	g->backend_priv = g;  /* started */
	return 0;
}

static void virgl_fini(struct virtio_gpu *g)
{
	if (g->backend_priv)
		virgl_renderer_cleanup(g);
	g->backend_priv = NULL;
}

static int virgl_create(struct gpu_resource *res, struct virgl_renderer_resource_create_args *a)
{
	a->handle = res->id;
	return virgl_renderer_resource_create(a, NULL, 0) ? -EINVAL : 0;
}

static int virgl_create_2d(struct virtio_gpu *g, struct gpu_resource *res)
{
	struct virgl_renderer_resource_create_args a = {
		.target = PIPE_TEXTURE_2D, .format = res->format, .bind = VIRGL_BIND_RENDER_TARGET,
		.width = res->width, .height = res->height, .depth = 1, .array_size = 1,
		.flags = VIRTIO_GPU_RESOURCE_FLAG_Y_0_TOP,
	};

	return virgl_create(res, &a);
}

static int virgl_create_3d(struct virtio_gpu *g, struct gpu_resource *res,
			   const struct virtio_gpu_resource_create_3d *c)
{
	struct virgl_renderer_resource_create_args a = {
		.target = le32toh(c->target), .format = le32toh(c->format),
		.bind = le32toh(c->bind), .width = le32toh(c->width), .height = le32toh(c->height),
		.depth = le32toh(c->depth), .array_size = le32toh(c->array_size),
		.last_level = le32toh(c->last_level), .nr_samples = le32toh(c->nr_samples),
		.flags = le32toh(c->flags),
	};

	return virgl_create(res, &a);
}

static void virgl_destroy(struct virtio_gpu *g, struct gpu_resource *res)
{
	virgl_renderer_resource_unref(res->id);
	free(res->priv);
	res->priv = NULL;
}

/* virglrenderer keeps the array itself (not a copy) until detach. */
static int virgl_attach_backing(struct virtio_gpu *g, struct gpu_resource *res)
{
	return virgl_renderer_resource_attach_iov((int)res->id, res->backing,
						  (int)res->nr_backing) ? -ENOMEM : 0;
}

static void virgl_detach_backing(struct virtio_gpu *g, struct gpu_resource *res)
{
	struct iovec *iov;
	int n;

	virgl_renderer_resource_detach_iov((int)res->id, &iov, &n);
}

static void virgl_transfer_2d(struct virtio_gpu *g, struct gpu_resource *res,
			      const struct gpu_rect *r, u64 offset)
{
	struct virgl_box box = { .x = r->x, .y = r->y, .w = r->w, .h = r->h, .d = 1 };

	virgl_renderer_transfer_write_iov(res->id, 0, 0, 0, 0, &box, offset, NULL, 0);
}

static int virgl_transfer_3d(struct virtio_gpu *g, struct gpu_resource *res, u32 ctx_id,
			     const struct virtio_gpu_transfer_host_3d *t, bool to_host)
{
	struct virgl_box box = {
		.x = le32toh(t->box.x), .y = le32toh(t->box.y), .z = le32toh(t->box.z),
		.w = le32toh(t->box.w), .h = le32toh(t->box.h), .d = le32toh(t->box.d),
	};
	u32 level = le32toh(t->level), stride = le32toh(t->stride);
	u32 layer_stride = le32toh(t->layer_stride);
	u64 offset = le64toh(t->offset);

	if (to_host)
		return virgl_renderer_transfer_write_iov(res->id, ctx_id, (int)level, stride,
							 layer_stride, &box, offset, NULL, 0) ?
			       -EINVAL : 0;
	return virgl_renderer_transfer_read_iov(res->id, ctx_id, level, stride, layer_stride, &box,
						offset, NULL, 0) ? -EINVAL : 0;
}

/* The flushed rectangle of a scanout, read back into the shadow copy. */
static void virgl_flush(struct virtio_gpu *g, struct gpu_resource *res, const struct gpu_rect *r)
{
	struct virgl_box box = { .x = r->x, .y = r->y, .w = r->w, .h = r->h, .d = 1 };
	size_t size = (size_t)res->stride * res->height;
	struct iovec iov;

	if (res->target != PIPE_TEXTURE_2D || res->layers != 1)
		return;
	if (!res->priv)
		res->priv = calloc(1, size);
	if (!res->priv)
		return;
	iov = (struct iovec){ .iov_base = res->priv, .iov_len = size };
	virgl_renderer_transfer_read_iov(res->id, 0, 0, res->stride, 0, &box,
					 (u64)r->y * res->stride + (u64)r->x * 4, &iov, 1);
}

static const void *virgl_pixels(struct virtio_gpu *g, struct gpu_resource *res)
{
	return res->priv;
}

/* Capset 1 is VIRGL; 2, VIRGL2, where this virglrenderer has it. */
static int virgl_capset_info(struct virtio_gpu *g, u32 index, u32 *id, u32 *max_version,
			     u32 *max_size)
{
	if (index > 1)
		return -EINVAL;
	*id = index ? VIRTIO_GPU_CAPSET_VIRGL2 : VIRTIO_GPU_CAPSET_VIRGL;
	virgl_renderer_get_cap_set(*id, max_version, max_size);
	return *max_size ? 0 : -EINVAL;
}

static int virgl_capset(struct virtio_gpu *g, u32 id, u32 version, void *buf, u32 size)
{
	virgl_renderer_fill_caps(id, version, buf);
	return 0;
}

static int virgl_ctx_create(struct virtio_gpu *g, u32 ctx_id, u32 capset_id, const char *name,
			    u32 nlen)
{
	if (capset_id)
		return virgl_renderer_context_create_with_flags(ctx_id, capset_id, nlen, name) ?
			       -EINVAL : 0;
	return virgl_renderer_context_create(ctx_id, nlen, name) ? -EINVAL : 0;
}

static void virgl_ctx_destroy(struct virtio_gpu *g, u32 ctx_id)
{
	virgl_renderer_context_destroy(ctx_id);
}

static void virgl_ctx_attach(struct virtio_gpu *g, u32 ctx_id, struct gpu_resource *res)
{
	virgl_renderer_ctx_attach_resource((int)ctx_id, (int)res->id);
}

static void virgl_ctx_detach(struct virtio_gpu *g, u32 ctx_id, struct gpu_resource *res)
{
	virgl_renderer_ctx_detach_resource((int)ctx_id, (int)res->id);
}

static int virgl_submit(struct virtio_gpu *g, u32 ctx_id, void *cmds, u32 size)
{
	return virgl_renderer_submit_cmd(cmds, (int)ctx_id, (int)(size / 4)) ? -EINVAL : 0;
}

static int virgl_create_fence(struct virtio_gpu *g, u32 ctx_id, u32 seq)
{
	return virgl_renderer_create_fence((int)seq, ctx_id) ? -EINVAL : 0;
}

static void virgl_poll(struct virtio_gpu *g)
{
	virgl_renderer_poll();
}

const struct gpu_backend_ops gpu_virgl_backend = {
	.name = "virgl",
	.init = virgl_init,
	.fini = virgl_fini,
	.create_2d = virgl_create_2d,
	.create_3d = virgl_create_3d,
	.destroy = virgl_destroy,
	.attach_backing = virgl_attach_backing,
	.detach_backing = virgl_detach_backing,
	.transfer_to_host_2d = virgl_transfer_2d,
	.flush = virgl_flush,
	.pixels = virgl_pixels,
	.capset_info = virgl_capset_info,
	.capset = virgl_capset,
	.ctx_create = virgl_ctx_create,
	.ctx_destroy = virgl_ctx_destroy,
	.ctx_attach = virgl_ctx_attach,
	.ctx_detach = virgl_ctx_detach,
	.transfer_3d = virgl_transfer_3d,
	.submit_3d = virgl_submit,
	.create_fence = virgl_create_fence,
	.poll = virgl_poll,
};
