// SPDX-License-Identifier: Apache-2.0
/* virtio-gpu's 2D path, driven through its queues the way Linux's driver does. */
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "fake_driver.h"
#include "fake_gpu.h"
#include "test.h"
#include "virtio_gpu.h"

#define W 64
#define H 32

/* A guest pixel (B, G, R, X in memory) that encodes its position. */
static void fill_pixels(struct gpu_env *e, u8 salt)
{
	u8 *p = fake_hva(&e->ctrl, PIXELS);

	for (u32 y = 0; y < H; y++)
		for (u32 x = 0; x < W; x++, p += 4) {
			p[0] = (u8)x, p[1] = (u8)y, p[2] = salt, p[3] = 0xff;
		}
}

/* A W x H resource 1 with its backing in two pieces, on scanout 0. */
static bool make_screen(struct gpu_env *e)
{
	const struct virtio_gpu_mem_entry ents[] = {
		{ .addr = PIXELS, .length = W * H * 2 },
		{ .addr = PIXELS + W * H * 2, .length = W * H * 2 },
	};

	return create_2d(e, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, W, H) ==
		       VIRTIO_GPU_RESP_OK_NODATA &&
	       attach(e, 1, ents, 2) == VIRTIO_GPU_RESP_OK_NODATA &&
	       set_scanout(e, 0, 1, W, H) == VIRTIO_GPU_RESP_OK_NODATA;
}

static void test_display_info_and_edid(void)
{
	struct gpu_env e;
	struct virtio_gpu_ctrl_hdr info = { .type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO };
	struct virtio_gpu_cmd_get_edid edid = { .hdr.type = VIRTIO_GPU_CMD_GET_EDID };
	const struct virtio_gpu_resp_display_info *di;
	const struct virtio_gpu_resp_edid *ed;
	u8 sum = 0;

	gpu_setup(&e);
	CHECK_EQ(e.g.config.num_scanouts, 1);
	CHECK_EQ(gpu_send(&e, &info, sizeof(info), sizeof(*di)), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	di = fake_hva(&e.ctrl, RESP);
	CHECK_EQ(di->pmodes[0].r.width, 800);
	CHECK_EQ(di->pmodes[0].r.height, 600);
	CHECK_EQ(di->pmodes[0].enabled, 1);
	CHECK_EQ(di->pmodes[1].enabled, 0);

	CHECK_EQ(gpu_send(&e, &edid, sizeof(edid), sizeof(*ed)), VIRTIO_GPU_RESP_OK_EDID);
	ed = fake_hva(&e.ctrl, RESP);
	CHECK_EQ(ed->size, 128);
	CHECK(!memcmp(ed->edid, "\0\xff\xff\xff\xff\xff\xff\0", 8));
	for (int i = 0; i < 128; i++)
		sum += ed->edid[i];
	CHECK_EQ(sum, 0);
	/* The preferred mode's active size, 12 bits split across two bytes. */
	CHECK_EQ(ed->edid[56] | (ed->edid[58] >> 4) << 8, 800);
	CHECK_EQ(ed->edid[59] | (ed->edid[61] >> 4) << 8, 600);

	/* A response buffer too small for the data gets an error, not a truncation. */
	CHECK_EQ(gpu_send(&e, &info, sizeof(info), 64), VIRTIO_GPU_RESP_ERR_UNSPEC);
	edid.scanout = 1;
	CHECK_EQ(gpu_send(&e, &edid, sizeof(edid), sizeof(*ed)),
		 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK(!gpu_broken(&e));
	gpu_teardown(&e);
}

static void test_2d_end_to_end(void)
{
	struct gpu_env e;
	u8 *rgb = NULL;
	u32 w, h;

	gpu_setup(&e);
	CHECK_EQ(virtio_gpu_read_scanout(&e.g, &rgb, &w, &h), -ENODATA);
	CHECK(make_screen(&e));
	fill_pixels(&e, 0x40);
	CHECK_EQ(transfer(&e, 1, 0, 0, W, H, 0), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(flush(&e, 1, W, H), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(virtio_gpu_read_scanout(&e.g, &rgb, &w, &h), 0);
	CHECK_EQ(w, W);
	CHECK_EQ(h, H);
	for (u32 y = 0; y < H; y++)
		for (u32 x = 0; x < W; x++) {
			const u8 *px = rgb + (y * W + x) * 3;

			CHECK_EQ(px[0], 0x40); /* R */
			CHECK_EQ(px[1], y);    /* G */
			CHECK_EQ(px[2], x);    /* B */
		}
	free(rgb);

	/* A partial transfer changes that rectangle only. */
	fill_pixels(&e, 0x80);
	CHECK_EQ(transfer(&e, 1, 8, 4, 16, 8, (4 * W + 8) * 4), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(virtio_gpu_read_scanout(&e.g, &rgb, &w, &h), 0);
	for (u32 y = 0; y < H; y++)
		for (u32 x = 0; x < W; x++) {
			bool inside = x >= 8 && x < 24 && y >= 4 && y < 12;

			CHECK_EQ(rgb[(y * W + x) * 3], inside ? 0x80 : 0x40);
		}
	free(rgb);
	CHECK_EQ(e.g.stats.transfers, 2);
	CHECK_EQ(e.g.stats.flushes, 1);
	CHECK_EQ(e.g.stats.errors, 0);
	CHECK(!gpu_broken(&e));
	gpu_teardown(&e);
}

static void test_formats_map_to_rgb(void)
{
	static const struct { u32 format; u8 px[4]; } cases[] = {
		{ VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, { 3, 2, 1, 0 } },
		{ VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, { 0, 1, 2, 3 } },
		{ VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, { 1, 2, 3, 0 } },
		{ VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, { 0, 3, 2, 1 } },
	};
	const struct virtio_gpu_mem_entry ent = { .addr = PIXELS, .length = 4 * 4 };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct gpu_env e;
		u8 *rgb = NULL, *p;
		u32 w, h;

		gpu_setup(&e);
		p = fake_hva(&e.ctrl, PIXELS);
		for (int j = 0; j < 4; j++)
			memcpy(p + j * 4, cases[i].px, 4);
		CHECK_EQ(create_2d(&e, 7, cases[i].format, 4, 1), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(attach(&e, 7, &ent, 1), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(transfer(&e, 7, 0, 0, 4, 1, 0), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(set_scanout(&e, 0, 7, 4, 1), VIRTIO_GPU_RESP_OK_NODATA);
		CHECK_EQ(virtio_gpu_read_scanout(&e.g, &rgb, &w, &h), 0);
		CHECK(!memcmp(rgb, "\1\2\3", 3));
		free(rgb);
		gpu_teardown(&e);
	}
}

static void test_fence_is_echoed(void)
{
	struct gpu_env e;
	struct virtio_gpu_ctrl_hdr req = {
		.type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO, .flags = VIRTIO_GPU_FLAG_FENCE,
		.fence_id = 0x1234567890ull, .ctx_id = 5,
	};
	const struct virtio_gpu_ctrl_hdr *resp;

	gpu_setup(&e);
	CHECK_EQ(gpu_send(&e, &req, sizeof(req), sizeof(struct virtio_gpu_resp_display_info)),
		 VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	resp = fake_hva(&e.ctrl, RESP);
	CHECK_EQ(resp->flags, VIRTIO_GPU_FLAG_FENCE);
	CHECK_EQ(resp->fence_id, 0x1234567890ull);
	CHECK_EQ(resp->ctx_id, 5);
	gpu_teardown(&e);
}

/* A backend with fences: the 2D one, whose fences pass when the test says. */
static u32 fences_passed;

static int test_create_fence(struct virtio_gpu *g, u32 ctx_id, u32 seq)
{
	return 0;
}

static void test_poll(struct virtio_gpu *g)
{
	virtio_gpu_fence_done(g, fences_passed);
}

static void test_fenced_command_waits_for_its_fence(void)
{
	struct gpu_env e;
	struct gpu_backend_ops fenced = gpu_2d_backend;
	struct virtio_gpu_ctrl_hdr req = {
		.type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO, .flags = VIRTIO_GPU_FLAG_FENCE,
		.fence_id = 77,
	};
	struct virtio_gpu_ctrl_hdr plain = { .type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO };
	u32 resp_len = sizeof(struct virtio_gpu_resp_display_info);
	struct fake_seg segs[] = { { REQ, sizeof(req), false }, { RESP, resp_len, true } };
	u32 id, len;

	fenced.create_fence = test_create_fence;
	fenced.poll = test_poll;
	fences_passed = 0;
	gpu_setup(&e);
	e.g.backend = &fenced;
	memcpy(fake_hva(&e.ctrl, REQ), &req, sizeof(req));
	fake_post(&e.ctrl, segs, 2, false);
	virtio_dev_queue_notify(&e.g.vdev, GPU_CTRL_Q);
	/* Answered, but not returned: the fence has not passed. */
	CHECK(!fake_used(&e.ctrl, &id, &len));
	CHECK_EQ(e.g.nr_fences, 1);
	CHECK_EQ(((struct virtio_gpu_ctrl_hdr *)fake_hva(&e.ctrl, RESP))->fence_id, 77);
	/* A command without a fence is not held behind it. */
	CHECK_EQ(gpu_send(&e, &plain, sizeof(plain), resp_len), VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	virtio_gpu_poll(&e.g);
	CHECK(!fake_used(&e.ctrl, &id, &len));
	fences_passed = 1;
	virtio_gpu_poll(&e.g);
	CHECK(fake_used(&e.ctrl, &id, &len));
	CHECK_EQ(len, resp_len);
	CHECK_EQ(e.g.nr_fences, 0);
	CHECK_EQ(e.g.stats.fences, 1);

	/* A fence pending across a reset never returns its chain into the new rings. */
	memcpy(fake_hva(&e.ctrl, REQ), &req, sizeof(req));
	fake_post(&e.ctrl, segs, 2, false);
	virtio_dev_queue_notify(&e.g.vdev, GPU_CTRL_Q);
	CHECK_EQ(e.g.nr_fences, 1);
	e.g.vdev.ops->reset(&e.g.vdev);
	fences_passed = 2;
	virtio_gpu_poll(&e.g);
	CHECK(!fake_used(&e.ctrl, &id, &len));
	gpu_teardown(&e);
}

/* Every wrong command gets its error, and the device goes on serving. */
static void test_malformed_commands_rejected(void)
{
	struct gpu_env e;
	struct virtio_gpu_mem_entry ent = { .addr = PIXELS, .length = W * H * 4 };
	struct virtio_gpu_ctrl_hdr unknown = { .type = 0x01ff };
	struct virtio_gpu_resource_unref unref = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_UNREF, .resource_id = 9,
	};
	struct virtio_gpu_resource_attach_backing short_attach = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING, .resource_id = 2, .nr_entries = 3,
	};

	gpu_setup(&e);
	CHECK(make_screen(&e));
	/* Creation: id 0, an id in use, unknown format, empty, too large. */
	CHECK_EQ(create_2d(&e, 0, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create_2d(&e, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 8, 8),
		 VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(create_2d(&e, 2, 999, 8, 8), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_2d(&e, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0, 8),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(create_2d(&e, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 0xffffffff, 0xffffffff),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	/* 16384 x 16384 x 4 is 1 GiB: more than a guest may make arkvm hold. */
	CHECK_EQ(create_2d(&e, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16384, 16384),
		 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);

	/* Transfers: outside the resource (with wrapping sums), past the backing. */
	CHECK_EQ(transfer(&e, 1, 1, 0, W, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(&e, 1, 0xfffffff0, 0, 0x20, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(&e, 1, 0, 0, W, H, 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(&e, 1, 0, 0, 1, 1, ~0ull), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(transfer(&e, 3, 0, 0, 1, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);

	/* Backing: outside guest RAM, wrapping, empty, twice, entries missing. */
	CHECK_EQ(create_2d(&e, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, W, H),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(transfer(&e, 2, 0, 0, 1, 1, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	ent.addr = FAKE_RAM_BASE + FAKE_RAM_SIZE - 16;
	CHECK_EQ(attach(&e, 2, &ent, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	ent.addr = ~0ull - 8;
	CHECK_EQ(attach(&e, 2, &ent, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	ent = (struct virtio_gpu_mem_entry){ .addr = PIXELS, .length = 0 };
	CHECK_EQ(attach(&e, 2, &ent, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(attach(&e, 2, &ent, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(gpu_cmd(&e, &short_attach, sizeof(short_attach)),
		 VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	ent.length = 64;
	CHECK_EQ(attach(&e, 1, &ent, 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER); /* has one */

	/* Scanouts: unknown scanout, unknown resource, rectangle too big or empty. */
	CHECK_EQ(set_scanout(&e, 1, 1, W, H), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(set_scanout(&e, 0, 5, W, H), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(set_scanout(&e, 0, 1, W + 1, H), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_scanout(&e, 0, 1, 0, 0), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(flush(&e, 1, W, H + 1), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);

	/* Unknown commands, unknown resources, short requests. */
	CHECK_EQ(gpu_cmd(&e, &unknown, sizeof(unknown)), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(gpu_cmd(&e, &unref, sizeof(unref)), VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID);
	CHECK_EQ(gpu_cmd(&e, &unref, sizeof(unref) - 4), VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
	CHECK_EQ(gpu_cmd(&e, &unref, 8), VIRTIO_GPU_RESP_ERR_UNSPEC);

	CHECK(!gpu_broken(&e));
	CHECK_EQ(e.g.nr_resources, 2);
	CHECK_EQ(e.g.scanouts[0].resource_id, 1);
	gpu_teardown(&e);
}

/* A chain with no room for the response is a broken driver: reset needed. */
static void test_chain_without_response_breaks_device(void)
{
	struct gpu_env e;
	struct virtio_gpu_ctrl_hdr info = { .type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO };
	struct fake_seg seg = { REQ, sizeof(info), false };

	gpu_setup(&e);
	memcpy(fake_hva(&e.ctrl, REQ), &info, sizeof(info));
	fake_post(&e.ctrl, &seg, 1, false);
	virtio_dev_queue_notify(&e.g.vdev, GPU_CTRL_Q);
	CHECK(gpu_broken(&e));
	gpu_teardown(&e);
}

static void test_unref_and_reset_free_everything(void)
{
	struct gpu_env e;
	struct virtio_gpu_resource_unref unref = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_UNREF, .resource_id = 1,
	};
	u8 *rgb;
	u32 w, h;

	gpu_setup(&e);
	CHECK(make_screen(&e));
	CHECK_EQ(e.g.host_bytes, W * H * 4);
	CHECK_EQ(gpu_cmd(&e, &unref, sizeof(unref)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(e.g.scanouts[0].resource_id, 0);
	CHECK_EQ(virtio_gpu_read_scanout(&e.g, &rgb, &w, &h), -ENODATA);
	CHECK_EQ(e.g.host_bytes, 0);

	CHECK(make_screen(&e));
	virtio_dev_fail(&e.g.vdev, "test", -EINVAL);
	e.g.vdev.ops->reset(&e.g.vdev);
	CHECK_EQ(e.g.nr_resources, 0);
	CHECK_EQ(e.g.host_bytes, 0);
	gpu_teardown(&e);
}

/* A display that goes dark (Linux resets the device when it powers off) leaves its last picture. */
static void test_last_picture_survives_reset(void)
{
	struct gpu_env e;
	u8 *rgb = NULL;
	u32 w, h;

	gpu_setup(&e);
	e.g.watched = true;
	CHECK(make_screen(&e));
	fill_pixels(&e, 0x33);
	CHECK_EQ(transfer(&e, 1, 0, 0, W, H, 0), VIRTIO_GPU_RESP_OK_NODATA);
	e.g.vdev.ops->reset(&e.g.vdev);
	CHECK_EQ(e.g.scanouts[0].resource_id, 0);
	CHECK_EQ(virtio_gpu_read_scanout(&e.g, &rgb, &w, &h), 0);
	CHECK_EQ(w, W);
	CHECK_EQ(h, H);
	CHECK_EQ(rgb[0], 0x33);
	CHECK_EQ(rgb[(5 * W + 7) * 3 + 2], 7);
	free(rgb);
	gpu_teardown(&e);
}

/* Where a large ATTACH_BACKING request goes: past the framebuffer. */
#define BIG_REQ (FAKE_BUF + 0x10000)

/*
 * Attaches GPU_MAX_BACKING one-byte entries to resource @id, all at PIXELS:
 * the largest array arkvm will keep, for the least guest RAM.
 */
static u32 attach_max(struct gpu_env *e, u32 id)
{
	const struct virtio_gpu_resource_attach_backing a = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
		.resource_id = id, .nr_entries = GPU_MAX_BACKING,
	};
	const struct virtio_gpu_mem_entry ent = { .addr = PIXELS, .length = 1 };
	u32 len = (u32)(sizeof(a) + GPU_MAX_BACKING * sizeof(ent));
	struct fake_seg segs[] = { { BIG_REQ, len, false }, { RESP, 24, true } };
	u8 *req = fake_hva(&e->ctrl, BIG_REQ);
	u32 used_id, used;

	memcpy(req, &a, sizeof(a));
	for (u32 i = 0; i < GPU_MAX_BACKING; i++)
		memcpy(req + sizeof(a) + i * sizeof(ent), &ent, sizeof(ent));
	fake_post(&e->ctrl, segs, 2, false);
	virtio_dev_queue_notify(&e->g.vdev, GPU_CTRL_Q);
	if (!fake_used(&e->ctrl, &used_id, &used) || used < sizeof(struct virtio_gpu_ctrl_hdr))
		return 0;
	return ((struct virtio_gpu_ctrl_hdr *)fake_hva(&e->ctrl, RESP))->type;
}

/*
 * Backing arrays are host heap the guest makes arkvm grow (16 bytes an
 * entry, up to GPU_MAX_BACKING entries a resource): they count against the
 * cap like the resources' pixels, so tiny resources with maximal arrays are
 * refused long before GPU_MAX_RESOURCES of them hold a gigabyte.
 */
static void test_backing_arrays_count_against_cap(void)
{
	const u64 array = GPU_MAX_BACKING * sizeof(struct iovec);
	struct virtio_gpu_resource_detach_backing detach = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING, .resource_id = 1,
	};
	struct gpu_env e;
	u32 id, type = 0;

	gpu_setup(&e);
	for (id = 1; id <= GPU_MAX_RESOURCES; id++) {
		CHECK_EQ(create_2d(&e, id, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1),
			 VIRTIO_GPU_RESP_OK_NODATA);
		type = attach_max(&e, id);
		if (type != VIRTIO_GPU_RESP_OK_NODATA)
			break;
	}
	CHECK_EQ(type, VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	/* Each accepted resource cost its 4 bytes of pixels and its array. */
	CHECK((id - 1) * (array + 4) <= e.g.host_limit);
	CHECK(id * (array + 4) > e.g.host_limit);
	CHECK(!gpu_broken(&e));
	/* Detaching gives the array back: the refused attach now fits. */
	CHECK_EQ(gpu_cmd(&e, &detach, sizeof(detach)), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach_max(&e, id), VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(attach_max(&e, 1), VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	gpu_teardown(&e);
}

/*
 * The last picture kept for screenshots after the display went dark is
 * host heap too (3 bytes a pixel): while it is kept, a resource as large as
 * the whole cap no longer fits.
 */
static void test_last_picture_counts_against_cap(void)
{
	/* GPU_MAX_RES_DIM x 4096 texels of 4 bytes: 256 MiB, the 2D cap exactly. */
	const u32 w = GPU_MAX_RES_DIM, h = (u32)(GPU_MAX_HOST_BYTES_2D / 4 / GPU_MAX_RES_DIM);
	struct virtio_gpu_resource_unref unref = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_UNREF, .resource_id = 2,
	};
	struct gpu_env e;

	gpu_setup(&e);
	CHECK_EQ((u64)w * h * 4, e.g.host_limit);
	CHECK_EQ(create_2d(&e, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, w, h),
		 VIRTIO_GPU_RESP_OK_NODATA);
	CHECK_EQ(gpu_cmd(&e, &unref, sizeof(unref)), VIRTIO_GPU_RESP_OK_NODATA);

	e.g.watched = true;
	CHECK(make_screen(&e));
	/*
	 * The driver's reset as the device sees it; its rings stay up here.
	 * The transport bumps the generation after it, as it does for real:
	 * the commands below are new ones, not left over from before.
	 */
	e.g.vdev.ops->reset(&e.g.vdev);
	e.g.vdev.generation++;
	CHECK(e.g.last_rgb);
	CHECK_EQ(create_2d(&e, 2, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, w, h),
		 VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY);
	CHECK_EQ(create_2d(&e, 3, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, W, H),
		 VIRTIO_GPU_RESP_OK_NODATA);
	gpu_teardown(&e);
}

/* Built with ThreadSanitizer (gcc defines the first, clang has the second)? */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

struct kick_arg {
	struct gpu_env *e;
	unsigned int q;
};

static void *gpu_kick(void *arg)
{
	const struct kick_arg *k = arg;

	virtio_dev_queue_notify(&k->e->g.vdev, k->q);
	return NULL;
}

/*
 * Kicks queue @q on another thread, and resets the device (as the driver's
 * Status write of 0) once that thread has taken the chain off the ring but
 * before it can take g->lock to apply it: the window a reset can fall in.
 */
static void reset_while_taken(struct gpu_env *e, unsigned int q)
{
	struct kick_arg k = { e, q };
	pthread_mutexattr_t attr;
	pthread_t io;
	u16 taken = 0;

	pthread_mutex_destroy(&e->g.lock);
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&e->g.lock, &attr);
	pthread_mutexattr_destroy(&attr);

	pthread_mutex_lock(&e->g.lock);
	pthread_create(&io, NULL, gpu_kick, &k);
	while (!taken) {
		pthread_mutex_lock(&e->g.vdev.lock);
		taken = e->g.vdev.vqs[q].last_avail;
		pthread_mutex_unlock(&e->g.vdev.lock);
		if (!taken)
			sched_yield();
	}
	virtio_mmio_ops.write(&e->g.vdev, VIRTIO_MMIO_STATUS, 0, 4);
	pthread_mutex_unlock(&e->g.lock);
	pthread_join(io, NULL);
}

/*
 * The I/O thread takes a command off the ring, and the driver resets the
 * device before the command is applied: the command belongs to the old
 * rings, so it is dropped, neither applied to the new device nor answered
 * into pages the driver has taken back.  This thread holds g->lock to
 * keep the I/O thread between the two; g->lock is made recursive so the
 * reset, which takes it too, can run meanwhile.  That takes dev->lock
 * inside g->lock, against the device's order, on purpose: ThreadSanitizer
 * would report it, so its build leaves this case out.
 */
static void test_command_taken_before_reset_dropped(void)
{
	struct gpu_env e;
	struct virtio_gpu_resource_create_2d c = {
		.hdr.type = VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, .resource_id = 7,
		.format = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, .width = W, .height = H,
	};
	struct virtio_gpu_ctrl_hdr *resp;
	struct fake_seg segs[] = { { REQ, sizeof(c), false }, { RESP, sizeof(*resp), true } };

#ifdef UNDER_TSAN
	printf("  note: lock order inverted on purpose: not run under ThreadSanitizer\n");
	return;
#endif
	gpu_setup(&e);
	resp = fake_hva(&e.ctrl, RESP);
	memcpy(fake_hva(&e.ctrl, REQ), &c, sizeof(c));
	memset(resp, 0xee, sizeof(*resp));
	fake_post(&e.ctrl, segs, 2, false);
	reset_while_taken(&e, GPU_CTRL_Q);
	CHECK_EQ(e.g.nr_resources, 0);
	CHECK_EQ(resp->type, 0xeeeeeeee);
	gpu_teardown(&e);
}

/* The same for the cursor queue: a move taken before a reset moves nothing. */
static void test_cursor_taken_before_reset_dropped(void)
{
	struct gpu_env e;
	struct virtio_gpu_update_cursor mv = {
		.hdr.type = VIRTIO_GPU_CMD_MOVE_CURSOR, .pos = { 0, 100, 50 },
	};
	struct fake_seg seg = { REQ, sizeof(mv), false };

#ifdef UNDER_TSAN
	printf("  note: lock order inverted on purpose: not run under ThreadSanitizer\n");
	return;
#endif
	gpu_setup(&e);
	memcpy(fake_hva(&e.cursor, REQ), &mv, sizeof(mv));
	fake_post(&e.cursor, &seg, 1, false);
	reset_while_taken(&e, GPU_CURSOR_Q);
	CHECK_EQ(e.g.cursor.x, 0);
	CHECK_EQ(e.g.cursor.y, 0);
	gpu_teardown(&e);
}

static void test_cursor_commands_checked(void)
{
	struct gpu_env e;
	struct virtio_gpu_update_cursor uc = {
		.hdr.type = VIRTIO_GPU_CMD_UPDATE_CURSOR, .pos = { 0, 100, 50 }, .resource_id = 1,
	};
	struct fake_seg seg = { REQ, sizeof(uc), false };
	u32 id, len;

	gpu_setup(&e);
	CHECK(make_screen(&e)); /* 64 x 32: not a cursor */
	CHECK_EQ(create_2d(&e, 2, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64),
		 VIRTIO_GPU_RESP_OK_NODATA);
	memcpy(fake_hva(&e.ctrl, REQ), &uc, sizeof(uc));
	fake_post(&e.cursor, &seg, 1, false);
	virtio_dev_queue_notify(&e.g.vdev, GPU_CURSOR_Q);
	CHECK(fake_used(&e.cursor, &id, &len));
	CHECK_EQ(e.g.cursor.resource_id, 0);
	CHECK_EQ(e.g.stats.errors, 1);

	uc.resource_id = 2;
	memcpy(fake_hva(&e.ctrl, REQ), &uc, sizeof(uc));
	fake_post(&e.cursor, &seg, 1, false);
	virtio_dev_queue_notify(&e.g.vdev, GPU_CURSOR_Q);
	CHECK_EQ(e.g.cursor.resource_id, 2);
	CHECK_EQ(e.g.cursor.x, 100);
	CHECK_EQ(e.g.cursor.y, 50);
	CHECK(!gpu_broken(&e));
	gpu_teardown(&e);
}

static void test_events_clear(void)
{
	struct gpu_env e;
	u32 clear = VIRTIO_GPU_EVENT_DISPLAY;

	gpu_setup(&e);
	e.g.config.events_read = VIRTIO_GPU_EVENT_DISPLAY;
	e.g.vdev.ops->cfg_write(&e.g.vdev, offsetof(struct virtio_gpu_config, events_clear),
				&clear, sizeof(clear));
	CHECK_EQ(e.g.config.events_read, 0);
	gpu_teardown(&e);
}

TEST_SUITE(virtio_gpu,
	   TEST(test_display_info_and_edid),
	   TEST(test_2d_end_to_end),
	   TEST(test_formats_map_to_rgb),
	   TEST(test_fence_is_echoed),
	   TEST(test_fenced_command_waits_for_its_fence),
	   TEST(test_malformed_commands_rejected),
	   TEST(test_chain_without_response_breaks_device),
	   TEST(test_unref_and_reset_free_everything),
	   TEST(test_last_picture_survives_reset),
	   TEST(test_backing_arrays_count_against_cap),
	   TEST(test_last_picture_counts_against_cap),
	   TEST(test_command_taken_before_reset_dropped),
	   TEST(test_cursor_taken_before_reset_dropped),
	   TEST(test_cursor_commands_checked),
	   TEST(test_events_clear));
