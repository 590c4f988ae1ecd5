// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-gpu's 3D commands (VIRTIO_GPU_F_VIRGL): capsets, rendering
 * contexts, 3D resources, transfers to and from them, and command-stream
 * submits.  Here every id, size and box the guest sends is checked against
 * the device's state and limits; the backend (devices/gpu_virgl.c) checks
 * the command streams and each transfer against the format's layout.
 */
#include <endian.h>
#include <stdlib.h>

#include "virtio_gpu_cmd.h"

/*
 * A 3D resource: the backend (virglrenderer) checks target, format and
 * binding against what it can do; here only what bounds host memory.
 */
static u32 gpu_create_3d(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	const struct virtio_gpu_resource_create_3d *c = &cx->req->create_3d;
	u32 id = le32toh(c->resource_id), target = le32toh(c->target);
	u32 width = le32toh(c->width), height = le32toh(c->height);
	u32 depth = le32toh(c->depth), array = le32toh(c->array_size);
	u32 layers = depth > array ? depth : array;
	struct gpu_resource *res;
	u64 bytes;

	if (!g->backend->create_3d)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (!id || gpu_find(g, id))
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!width || !height || !layers || width > GPU_MAX_RES_DIM || height > GPU_MAX_RES_DIM ||
	    layers > 2048 || target > 8 || le32toh(c->last_level) > 15 ||
	    le32toh(c->nr_samples) > 16)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* Buffers are bytes; textures, at most 4 bytes a texel, twice with mipmaps. */
	bytes = target == 0 ? width : (u64)width * height * layers * 4;
	if (le32toh(c->last_level))
		bytes *= 2;
	if (g->nr_resources >= GPU_MAX_RESOURCES || !gpu_fits(g, bytes))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res = calloc(1, sizeof(*res));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	*res = (struct gpu_resource){
		.id = id, .is_3d = true, .format = le32toh(c->format), .target = target,
		.width = width, .height = height, .layers = layers, .stride = width * 4,
		.bytes = bytes,
	};
	if (g->backend->create_3d(g, res, c)) {
		free(res);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	gpu_add_resource(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

u32 gpu_capset_info(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	struct virtio_gpu_resp_capset_info *info = &cx->resp->capset_info;
	u32 id, version, size;

	if (!g->backend->capset_info ||
	    g->backend->capset_info(g, le32toh(cx->req->capset_info.capset_index), &id,
				    &version, &size))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	info->capset_id = htole32(id);
	info->capset_max_version = htole32(version);
	info->capset_max_size = htole32(size);
	cx->resp_len = sizeof(*info);
	return VIRTIO_GPU_RESP_OK_CAPSET_INFO;
}

/* The capset whose id the guest names, if the backend has it, in a response of its size. */
u32 gpu_capset(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	u32 want = le32toh(cx->req->capset.capset_id), version = le32toh(cx->req->capset.capset_version);
	u32 id, max_version, size = 0;
	struct virtio_gpu_resp_capset *resp;

	for (u32 i = 0; g->backend->capset_info && !g->backend->capset_info(g, i, &id, &max_version,
									       &size); i++)
		if (id == want)
			break;
	if (!size || id != want || version > max_version || size > GPU_MAX_CAPSET)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	resp = calloc(1, sizeof(*resp) + size);
	if (!resp)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (g->backend->capset(g, id, version, resp->capset_data, size)) {
		free(resp);
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	cx->big = resp;
	cx->resp_len = (u32)sizeof(*resp) + size;
	return VIRTIO_GPU_RESP_OK_CAPSET;
}

static int gpu_ctx_index(const struct virtio_gpu *g, u32 ctx_id)
{
	for (unsigned int i = 0; i < g->nr_contexts; i++)
		if (g->ctx_ids[i] == ctx_id)
			return (int)i;
	return -1;
}

static u32 gpu_ctx_create(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	const struct virtio_gpu_ctx_create *c = &cx->req->ctx_create;
	u32 ctx_id = le32toh(c->hdr.ctx_id), nlen = le32toh(c->nlen);
	u32 capset = le32toh(c->context_init) & VIRTIO_GPU_CONTEXT_INIT_CAPSET_ID_MASK;

	if (!g->backend->ctx_create)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (!ctx_id || gpu_ctx_index(g, ctx_id) >= 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (nlen > sizeof(c->debug_name) ||
	    (capset && !virtio_dev_has_feature(&g->vdev, VIRTIO_GPU_F_CONTEXT_INIT)))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (g->nr_contexts == GPU_MAX_CONTEXTS)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (g->backend->ctx_create(g, ctx_id, capset, c->debug_name, nlen))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	g->ctx_ids[g->nr_contexts++] = ctx_id;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static void gpu_ctx_forget(struct virtio_gpu *g, unsigned int i)
{
	g->backend->ctx_destroy(g, g->ctx_ids[i]);
	g->ctx_ids[i] = g->ctx_ids[--g->nr_contexts];
}

static u32 gpu_ctx_destroy(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	int i = gpu_ctx_index(g, le32toh(cx->req->hdr.ctx_id));

	if (!g->backend->ctx_destroy)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (i < 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	gpu_ctx_forget(g, (unsigned int)i);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static u32 gpu_ctx_resource(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	u32 ctx_id = le32toh(cx->req->hdr.ctx_id);
	struct gpu_resource *res = gpu_find(g, le32toh(cx->req->ctx_res.resource_id));
	bool attach = le32toh(cx->req->hdr.type) == VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE;

	if (!g->backend->ctx_attach)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (gpu_ctx_index(g, ctx_id) < 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (attach)
		g->backend->ctx_attach(g, ctx_id, res);
	else
		g->backend->ctx_detach(g, ctx_id, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* A box inside the resource's level 0 (every level is smaller), or a byte range of a buffer. */
static bool gpu_box_inside(const struct virtio_gpu_box *b, const struct gpu_resource *res)
{
	u64 x = le32toh(b->x), y = le32toh(b->y), z = le32toh(b->z);
	u64 w = le32toh(b->w), h = le32toh(b->h), d = le32toh(b->d);

	if (res->target == 0)
		return x + w <= res->width;
	return x + w <= res->width && y + h <= res->height && z + d <= res->layers;
}

static u32 gpu_transfer_3d(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	const struct virtio_gpu_transfer_host_3d *t = &cx->req->transfer_3d;
	struct gpu_resource *res = gpu_find(g, le32toh(t->resource_id));
	u32 ctx_id = le32toh(t->hdr.ctx_id);
	bool to_host = le32toh(t->hdr.type) == VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D;

	if (!g->backend->transfer_3d)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (ctx_id && gpu_ctx_index(g, ctx_id) < 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!res->backing || !gpu_box_inside(&t->box, res) || le32toh(t->level) > 15)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* The backend checks the transfer against the backing, by the format's layout. */
	if (g->backend->transfer_3d(g, res, ctx_id, t, to_host))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	g->stats.transfers++;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static u32 gpu_submit_3d(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	u32 ctx_id = le32toh(cx->req->hdr.ctx_id), size = le32toh(cx->req->submit.size);
	u32 ret = VIRTIO_GPU_RESP_OK_NODATA;
	void *cmds;

	if (!g->backend->submit_3d)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (gpu_ctx_index(g, ctx_id) < 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID;
	if (size % 4 || size > GPU_MAX_SUBMIT)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (!size)
		return VIRTIO_GPU_RESP_OK_NODATA;
	cmds = malloc(size);
	if (!cmds)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (virtq_chain_read(cx->chain, sizeof(cx->req->submit), cmds, size) != size ||
	    g->backend->submit_3d(g, ctx_id, cmds, size))
		ret = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	free(cmds);
	g->stats.submits++;
	return ret;
}

const struct gpu_cmd gpu_cmds_3d[] = {
	[VIRTIO_GPU_CMD_CTX_CREATE & 0xff] = GPU_CMD(struct virtio_gpu_ctx_create, gpu_ctx_create),
	[VIRTIO_GPU_CMD_CTX_DESTROY & 0xff] =
		GPU_CMD(struct virtio_gpu_ctx_destroy, gpu_ctx_destroy),
	[VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE & 0xff] =
		GPU_CMD(struct virtio_gpu_ctx_resource, gpu_ctx_resource),
	[VIRTIO_GPU_CMD_CTX_DETACH_RESOURCE & 0xff] =
		GPU_CMD(struct virtio_gpu_ctx_resource, gpu_ctx_resource),
	[VIRTIO_GPU_CMD_RESOURCE_CREATE_3D & 0xff] =
		GPU_CMD(struct virtio_gpu_resource_create_3d, gpu_create_3d),
	[VIRTIO_GPU_CMD_TRANSFER_TO_HOST_3D & 0xff] =
		GPU_CMD(struct virtio_gpu_transfer_host_3d, gpu_transfer_3d),
	[VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D & 0xff] =
		GPU_CMD(struct virtio_gpu_transfer_host_3d, gpu_transfer_3d),
	[VIRTIO_GPU_CMD_SUBMIT_3D & 0xff] = GPU_CMD(struct virtio_gpu_cmd_submit, gpu_submit_3d),
};

const size_t gpu_nr_cmds_3d = ARRAY_SIZE(gpu_cmds_3d);
