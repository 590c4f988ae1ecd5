// SPDX-License-Identifier: Apache-2.0
#include <linux/virtio_config.h>
#include <string.h>

#include "fake_gpu.h"

static void count_interrupt(void *opaque)
{
	((struct gpu_env *)opaque)->interrupts++;
}

void gpu_setup_size(struct gpu_env *e, u32 width, u32 height)
{
	struct fake_driver *queues[] = { &e->ctrl, &e->cursor };
	const struct gpu_config cfg = { .mode = GPU_2D, .width = width, .height = height };

	memset(e, 0, sizeof(*e));
	fake_driver_init(&e->ctrl, 8);
	fake_driver_init_queue(&e->cursor, &e->ctrl, CURSOR_RING, 8);
	virtio_gpu_init(&e->g, &cfg, &gpu_2d_backend, &e->ctrl.mem, NULL);
	e->g.vdev.interrupt = count_interrupt;
	e->g.vdev.interrupt_opaque = e;
	fake_bring_up_queues(&e->g.vdev, 1ull << VIRTIO_GPU_F_EDID, queues, 2);
}

void gpu_setup(struct gpu_env *e)
{
	gpu_setup_size(e, 800, 600);
}

void gpu_teardown(struct gpu_env *e)
{
	virtio_gpu_destroy(&e->g);
	fake_driver_free(&e->cursor);
	fake_driver_free(&e->ctrl);
}

bool gpu_broken(struct gpu_env *e)
{
	return e->g.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET;
}

/* Sends @req (@len bytes) on the control queue; returns the response type. */
u32 gpu_send(struct gpu_env *e, const void *req, u32 len, u32 resp_len)
{
	struct fake_seg segs[] = { { REQ, len, false }, { RESP, resp_len, true } };
	u32 id, used;

	memcpy(fake_hva(&e->ctrl, REQ), req, len);
	memset(fake_hva(&e->ctrl, RESP), 0xee, resp_len);
	fake_post(&e->ctrl, segs, 2, false);
	virtio_dev_queue_notify(&e->g.vdev, GPU_CTRL_Q);
	if (!fake_used(&e->ctrl, &id, &used) || used < sizeof(struct virtio_gpu_ctrl_hdr))
		return 0;
	return ((struct virtio_gpu_ctrl_hdr *)fake_hva(&e->ctrl, RESP))->type;
}

u32 gpu_cmd(struct gpu_env *e, const void *req, u32 len)
{
	return gpu_send(e, req, len, sizeof(struct virtio_gpu_ctrl_hdr));
}

u32 create_2d(struct gpu_env *e, u32 id, u32 format, u32 w, u32 h)
{
	struct virtio_gpu_resource_create_2d c = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
		.resource_id = id, .format = format, .width = w, .height = h,
	};

	return gpu_cmd(e, &c, sizeof(c));
}

/* Attaches @n entries: the framebuffer at PIXELS cut in @n equal pieces. */
u32 attach(struct gpu_env *e, u32 id, const struct virtio_gpu_mem_entry *ents, u32 n)
{
	struct {
		struct virtio_gpu_resource_attach_backing a;
		struct virtio_gpu_mem_entry e[4];
	} req = { .a = { .hdr.type = VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
			 .resource_id = id, .nr_entries = n } };

	memcpy(req.e, ents, n * sizeof(*ents));
	return gpu_cmd(e, &req, (u32)(sizeof(req.a) + n * sizeof(*ents)));
}

u32 transfer(struct gpu_env *e, u32 id, u32 x, u32 y, u32 w, u32 h, u64 offset)
{
	struct virtio_gpu_transfer_to_host_2d t = {
		.hdr.type = VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
		.r = { x, y, w, h }, .offset = offset, .resource_id = id,
	};

	return gpu_cmd(e, &t, sizeof(t));
}

u32 set_scanout(struct gpu_env *e, u32 scanout, u32 id, u32 w, u32 h)
{
	struct virtio_gpu_set_scanout s = {
		.hdr.type = VIRTIO_GPU_CMD_SET_SCANOUT,
		.r = { 0, 0, w, h }, .scanout_id = scanout, .resource_id = id,
	};

	return gpu_cmd(e, &s, sizeof(s));
}

u32 flush(struct gpu_env *e, u32 id, u32 w, u32 h)
{
	struct virtio_gpu_resource_flush f = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_FLUSH, .r = { 0, 0, w, h }, .resource_id = id,
	};

	return gpu_cmd(e, &f, sizeof(f));
}

