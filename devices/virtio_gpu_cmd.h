/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_GPU_CMD_H
#define ARKVM_VIRTIO_GPU_CMD_H
/*
 * Inside the virtio-gpu decoder: how a control command reaches its handler.
 * devices/virtio_gpu.c reads the request, finds the handler by type and
 * writes the response; the 2D handlers live there, the 3D ones (capsets,
 * contexts, 3D resources, transfers, submits) in devices/gpu_3d.c.  Every
 * handler runs with g->lock held and returns the response type.
 */
#include "virtio_gpu.h"

/* Any request and any response, for reading and writing them whole. */
union gpu_req {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_resource_create_2d create_2d;
	struct virtio_gpu_resource_unref unref;
	struct virtio_gpu_set_scanout set_scanout;
	struct virtio_gpu_resource_flush flush;
	struct virtio_gpu_transfer_to_host_2d transfer_2d;
	struct virtio_gpu_resource_attach_backing attach;
	struct virtio_gpu_resource_detach_backing detach;
	struct virtio_gpu_cmd_get_edid get_edid;
	struct virtio_gpu_update_cursor cursor;
	struct virtio_gpu_resource_create_3d create_3d;
	struct virtio_gpu_transfer_host_3d transfer_3d;
	struct virtio_gpu_ctx_create ctx_create;
	struct virtio_gpu_ctx_resource ctx_res;
	struct virtio_gpu_cmd_submit submit;
	struct virtio_gpu_get_capset_info capset_info;
	struct virtio_gpu_get_capset capset;
};

union gpu_resp {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_resp_display_info display_info;
	struct virtio_gpu_resp_edid edid;
	struct virtio_gpu_resp_capset_info capset_info;
};

/* What a command handler gets: the request as read, and where its answer goes. */
struct gpu_cmd_ctx {
	const union gpu_req *req;
	const struct virtq_chain *chain;
	union gpu_resp *resp;
	u32 resp_len;          /* a handler with data sets it; else a bare header */
	void *big;             /* a response too large for @resp (a capset), malloc'd */
};

struct gpu_cmd {
	u32 req_len;           /* shorter requests are refused before run() */
	u32 (*run)(struct virtio_gpu *g, struct gpu_cmd_ctx *cx);
};
#define GPU_CMD(req, fn) { sizeof(req), fn }

struct gpu_resource *gpu_find(struct virtio_gpu *g, u32 id);
/*
 * Whether @bytes more host memory stays within g->host_limit, counting the
 * resources and arkvm's heap for backing arrays and the last picture.
 */
bool gpu_fits(const struct virtio_gpu *g, u64 bytes);
/* Counts it against the device's resource and host-memory limits. */
void gpu_add_resource(struct virtio_gpu *g, struct gpu_resource *res);

/* In the 2D range (0x01xx) but only useful with a 3D backend. */
u32 gpu_capset_info(struct virtio_gpu *g, struct gpu_cmd_ctx *cx);
u32 gpu_capset(struct virtio_gpu *g, struct gpu_cmd_ctx *cx);

/* The 0x02xx commands, indexed by the type's low byte. */
extern const struct gpu_cmd gpu_cmds_3d[];
extern const size_t gpu_nr_cmds_3d;

#endif
