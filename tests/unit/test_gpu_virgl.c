// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-gpu's 3D path on the host's own virglrenderer: on EGL surfaceless,
 * so on Mesa's llvmpipe where the machine has no GPU.  A context clears a
 * render target to a colour through a virgl command stream, and the colour
 * comes back through TRANSFER_FROM_HOST_3D into guest memory.
 */
#include <linux/virtio_config.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_driver.h"
#include "test.h"
#include "virtio_gpu.h"

#define CURSOR_RING (FAKE_RAM_BASE + 0x4000)
#define REQ         (FAKE_BUF + 0x0000)
#define RESP        (FAKE_BUF + 0x2000)
#define PIXELS      (FAKE_BUF + 0x8000)

#define SIDE   16
#define CTX    3
#define RES    5
#define SURF   1

/* virgl's wire format (virglrenderer's virgl_protocol.h), the part used here. */
#define VIRGL_CMD(cmd, obj, len)    ((cmd) | (obj) << 8 | (len) << 16)
#define VIRGL_CCMD_CREATE_OBJECT    1
#define VIRGL_CCMD_SET_FRAMEBUFFER_STATE 5
#define VIRGL_CCMD_CLEAR            7
#define VIRGL_OBJECT_SURFACE        8
#define VIRGL_FORMAT_R8G8B8A8_UNORM 67
#define VIRGL_BIND_RENDER_TARGET    (1 << 1)
#define PIPE_CLEAR_COLOR0           (1 << 2)

struct virgl_env {
	struct fake_driver ctrl, cursor;
	struct virtio_gpu g;
};

static void no_interrupt(void *opaque)
{
}

/* Sends a command of @len bytes; returns the response type, 0 if not returned yet. */
static u32 send(struct virgl_env *e, const void *req, u32 len, u32 resp_len)
{
	struct fake_seg segs[] = { { REQ, len, false }, { RESP, resp_len, true } };
	u32 id, used;

	memcpy(fake_hva(&e->ctrl, REQ), req, len);
	fake_post(&e->ctrl, segs, 2, false);
	virtio_dev_queue_notify(&e->g.vdev, GPU_CTRL_Q);
	/* A fenced command comes back once its fence passes: poll for it. */
	for (int i = 0; i < 2000 && !fake_used(&e->ctrl, &id, &used); i++) {
		if (i == 1999)
			return 0;
		usleep(1000);
		virtio_gpu_poll(&e->g);
	}
	return ((struct virtio_gpu_ctrl_hdr *)fake_hva(&e->ctrl, RESP))->type;
}

static u32 cmd(struct virgl_env *e, const void *req, u32 len)
{
	return send(e, req, len, sizeof(struct virtio_gpu_ctrl_hdr));
}

static u32 submit(struct virgl_env *e, u32 ctx, const u32 *stream, u32 ndw, bool fence)
{
	struct {
		struct virtio_gpu_cmd_submit s;
		u32 dw[32];
	} req = { .s = { .hdr = { .type = VIRTIO_GPU_CMD_SUBMIT_3D, .ctx_id = ctx,
				  .flags = fence ? VIRTIO_GPU_FLAG_FENCE : 0, .fence_id = 9 },
			 .size = ndw * 4 } };

	memcpy(req.dw, stream, ndw * 4);
	return cmd(e, &req, (u32)(sizeof(req.s) + ndw * 4));
}

static u32 f32_bits(float f)
{
	u32 v;

	memcpy(&v, &f, sizeof(v));
	return v;
}

static void virgl_clear_reads_back(void)
{
	struct fake_driver *queues[2];
	struct virgl_env *e = calloc(1, sizeof(*e));
	const struct gpu_config cfg = { .mode = GPU_VIRGL, .width = 640, .height = 480 };
	struct virtio_gpu_get_capset_info info = {
		.hdr.type = VIRTIO_GPU_CMD_GET_CAPSET_INFO, .capset_index = 0,
	};
	struct virtio_gpu_get_capset caps = { .hdr.type = VIRTIO_GPU_CMD_GET_CAPSET, .capset_id = 1 };
	struct virtio_gpu_ctx_create ctx = {
		.hdr = { .type = VIRTIO_GPU_CMD_CTX_CREATE, .ctx_id = CTX }, .nlen = 4,
		.debug_name = "test",
	};
	struct virtio_gpu_resource_create_3d rc = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_3D, .resource_id = RES, .target = 2,
		.format = VIRGL_FORMAT_R8G8B8A8_UNORM, .bind = VIRGL_BIND_RENDER_TARGET,
		.width = SIDE, .height = SIDE, .depth = 1, .array_size = 1,
	};
	struct {
		struct virtio_gpu_resource_attach_backing a;
		struct virtio_gpu_mem_entry ent;
	} attach = { .a = { .hdr.type = VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
			    .resource_id = RES, .nr_entries = 1 },
		     .ent = { .addr = PIXELS, .length = SIDE * SIDE * 4 } };
	struct virtio_gpu_ctx_resource ctx_res = {
		.hdr = { .type = VIRTIO_GPU_CMD_CTX_ATTACH_RESOURCE, .ctx_id = CTX },
		.resource_id = RES,
	};
	const u32 clear[] = {
		VIRGL_CMD(VIRGL_CCMD_CREATE_OBJECT, VIRGL_OBJECT_SURFACE, 5),
		SURF, RES, VIRGL_FORMAT_R8G8B8A8_UNORM, 0, 0,
		VIRGL_CMD(VIRGL_CCMD_SET_FRAMEBUFFER_STATE, 0, 3), 1, 0, SURF,
		VIRGL_CMD(VIRGL_CCMD_CLEAR, 0, 8), PIPE_CLEAR_COLOR0,
		f32_bits(1.0f), f32_bits(0.5f), f32_bits(0.25f), f32_bits(1.0f), 0, 0, 0,
	};
	struct virtio_gpu_transfer_host_3d back = {
		.hdr = { .type = VIRTIO_GPU_CMD_TRANSFER_FROM_HOST_3D, .ctx_id = CTX },
		.box = { 0, 0, 0, SIDE, SIDE, 1 }, .resource_id = RES,
	};
	const u32 garbage[] = { VIRGL_CMD(200, 0, 2), 1, 2 };
	const struct virtio_gpu_resp_capset_info *ci;
	const u8 *px;

	CHECK(e);
	queues[0] = &e->ctrl, queues[1] = &e->cursor;
	fake_driver_init(&e->ctrl, 8);
	fake_driver_init_queue(&e->cursor, &e->ctrl, CURSOR_RING, 8);
	CHECK_EQ(virtio_gpu_init(&e->g, &cfg, &gpu_virgl_backend, &e->ctrl.mem, NULL), 0);
	e->g.vdev.interrupt = no_interrupt;
	CHECK_EQ(virtio_gpu_start(&e->g), 0);
	CHECK(e->g.config.num_capsets >= 1);
	fake_bring_up_queues(&e->g.vdev, 1ull << VIRTIO_GPU_F_VIRGL | 1ull << VIRTIO_GPU_F_CONTEXT_INIT,
			     queues, 2);
	CHECK(virtio_dev_has_feature(&e->g.vdev, VIRTIO_GPU_F_VIRGL));

	CHECK_EQ(send(e, &info, sizeof(info), sizeof(*ci)), VIRTIO_GPU_RESP_OK_CAPSET_INFO);
	ci = fake_hva(&e->ctrl, RESP);
	CHECK_EQ(ci->capset_id, VIRTIO_GPU_CAPSET_VIRGL);
	CHECK(ci->capset_max_size > 0 && ci->capset_max_size < 0x2000);
	caps.capset_version = ci->capset_max_version;
	CHECK_EQ(send(e, &caps, sizeof(caps), 0x2000), VIRTIO_GPU_RESP_OK_CAPSET);

	CHECK_EQ(cmd(e, &ctx, sizeof(ctx)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(cmd(e, &ctx, sizeof(ctx)), VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID); /* twice */
	CHECK_EQ(cmd(e, &rc, sizeof(rc)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(cmd(e, &attach, sizeof(attach)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(cmd(e, &ctx_res, sizeof(ctx_res)), VIRTIO_GPU_RESP_OK_NODATA);
	memset(fake_hva(&e->ctrl, PIXELS), 0, SIDE * SIDE * 4);

	/* The clear, fenced: its chain comes back once the fence has passed. */
	CHECK_EQ(submit(e, CTX, clear, ARRAY_SIZE(clear), true), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(e->g.stats.fences, 1);
	CHECK_EQ(cmd(e, &back, sizeof(back)), VIRTIO_GPU_RESP_OK_NODATA);
	px = fake_hva(&e->ctrl, PIXELS);
	for (int i = 0; i < SIDE * SIDE; i++, px += 4) {
		CHECK_EQ(px[0], 255);
		CHECK(px[1] >= 127 && px[1] <= 128);
		CHECK(px[2] >= 63 && px[2] <= 64);
		CHECK_EQ(px[3], 255);
	}

	/* What the decoder refuses before virglrenderer sees it. */
	CHECK_EQ(submit(e, 77, clear, ARRAY_SIZE(clear), false),
		 VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID);
	back.box.w = SIDE + 1;
	CHECK_EQ(cmd(e, &back, sizeof(back)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	rc.resource_id = RES + 1;
	rc.format = 100000;
	CHECK_EQ(cmd(e, &rc, sizeof(rc)), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* And what virglrenderer refuses: a stream it cannot parse. */
	CHECK_EQ(submit(e, CTX, garbage, ARRAY_SIZE(garbage), false),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK(!(e->g.vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET));

	virtio_gpu_destroy(&e->g);
	fake_driver_free(&e->cursor);
	fake_driver_free(&e->ctrl);
	free(e);
}

/*
 * In a child process: Mesa leaves allocations behind at exit and unloads
 * its driver, which LeakSanitizer would blame on no one; _exit() skips
 * the leak check, while any other sanitizer report still fails the child.
 */
static void test_virgl_clear_reads_back(void)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		virgl_clear_reads_back();
		fflush(stdout);
		_exit(test_failed() ? 1 : 0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_SUITE(gpu_virgl,
	   TEST(test_virgl_clear_reads_back));
