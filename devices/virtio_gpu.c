// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-gpu: the control and cursor queues, decoded and checked here, and
 * rendered by a backend (include/virtio_gpu.h).  Every command is answered
 * with a response header; a command the guest got wrong gets an error
 * response, not a device reset, as the spec asks.  Only a chain with no
 * room for a response header breaks the device.
 *
 * A fenced command (VIRTIO_GPU_FLAG_FENCE) on a backend with fences has its
 * response written at once but its used entry held back until the backend
 * says the fence passed; the I/O thread polls for that every millisecond
 * while any is pending.  Nothing here ever runs on a vCPU thread.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_ids.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "virtio_gpu.h"
#include "virtio_gpu_cmd.h"

static void gpu_bury(struct virtio_gpu *g);

static bool gpu_format_supported(u32 format)
{
	switch (format) {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM:
	case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM:
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM:
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM:
		return true;
	}
	return false;
}

struct gpu_resource *gpu_find(struct virtio_gpu *g, u32 id)
{
	for (struct gpu_resource *res = g->resources; res; res = res->next)
		if (res->id == id)
			return res;
	return NULL;
}

/* The rectangle lies inside the resource (an empty one is fine). */
static bool gpu_rect_inside(const struct virtio_gpu_rect *r, const struct gpu_resource *res,
			    struct gpu_rect *out)
{
	u32 x = le32toh(r->x), y = le32toh(r->y), w = le32toh(r->width), h = le32toh(r->height);

	if ((u64)x + w > res->width || (u64)y + h > res->height)
		return false;
	*out = (struct gpu_rect){ .x = x, .y = y, .w = w, .h = h };
	return true;
}

static u32 gpu_get_display_info(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	struct virtio_gpu_resp_display_info *info = &cx->resp->display_info;

	for (unsigned int i = 0; i < GPU_NUM_SCANOUTS; i++) {
		info->pmodes[i].r.width = htole32(g->scanouts[i].width);
		info->pmodes[i].r.height = htole32(g->scanouts[i].height);
		info->pmodes[i].enabled = htole32(1);
	}
	cx->resp_len = sizeof(*info);
	return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
}

static u32 gpu_get_edid(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	u32 scanout = le32toh(cx->req->get_edid.scanout);
	struct virtio_gpu_resp_edid *edid = &cx->resp->edid;

	if (scanout >= GPU_NUM_SCANOUTS)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	gpu_make_edid(edid->edid, g->scanouts[scanout].width, g->scanouts[scanout].height);
	edid->size = htole32(GPU_EDID_SIZE);
	cx->resp_len = sizeof(*edid);
	return VIRTIO_GPU_RESP_OK_EDID;
}

/* Never more than host_limit is counted, so the subtraction cannot wrap. */
bool gpu_fits(const struct virtio_gpu *g, u64 bytes)
{
	return bytes <= g->host_limit - g->host_bytes - g->heap_bytes;
}

/* Charges @bytes of arkvm's heap to the cap: false, charging nothing, when over it. */
static bool gpu_heap_charge(struct virtio_gpu *g, u64 bytes)
{
	if (!gpu_fits(g, bytes))
		return false;
	g->heap_bytes += bytes;
	return true;
}

void gpu_add_resource(struct virtio_gpu *g, struct gpu_resource *res)
{
	res->next = g->resources;
	g->resources = res;
	g->nr_resources++;
	g->host_bytes += res->bytes;
}

static u32 gpu_create_2d(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	const struct virtio_gpu_resource_create_2d *c = &cx->req->create_2d;
	u32 id = le32toh(c->resource_id), format = le32toh(c->format);
	u32 width = le32toh(c->width), height = le32toh(c->height);
	struct gpu_resource *res;
	u64 bytes;

	if (!id || gpu_find(g, id))
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!gpu_format_supported(format) || !width || !height ||
	    width > GPU_MAX_RES_DIM || height > GPU_MAX_RES_DIM)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	bytes = (u64)width * 4 * height;
	if (g->nr_resources >= GPU_MAX_RESOURCES || !gpu_fits(g, bytes))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res = calloc(1, sizeof(*res));
	if (!res)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	*res = (struct gpu_resource){
		.id = id, .format = format, .target = 2, .width = width, .height = height,
		.layers = 1, .stride = width * 4, .bytes = bytes,
	};
	if (g->backend->create_2d(g, res)) {
		free(res);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	gpu_add_resource(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static void gpu_detach_backing(struct virtio_gpu *g, struct gpu_resource *res)
{
	if (res->backing && g->backend->detach_backing)
		g->backend->detach_backing(g, res);
	free(res->backing);
	g->heap_bytes -= (u64)res->nr_backing * sizeof(*res->backing);
	res->backing = NULL;
	res->nr_backing = 0;
	res->backing_len = 0;
}

static void gpu_destroy_resource(struct virtio_gpu *g, struct gpu_resource *res)
{
	gpu_detach_backing(g, res);
	g->backend->destroy(g, res);
	g->host_bytes -= res->bytes;
	g->nr_resources--;
	free(res);
}

/* Forgets the last picture, and gives back what it was charged. */
static void gpu_drop_last_frame(struct virtio_gpu *g)
{
	if (!g->last_rgb)
		return;
	free(g->last_rgb);
	g->heap_bytes -= (u64)g->last_w * g->last_h * 3;
	g->last_rgb = NULL;
	g->last_w = g->last_h = 0;
}

/*
 * Scanout 0 is about to go dark (the guest turns it off, frees what it
 * shows, or resets the device, as Linux does when it powers off): keep its
 * last picture for screenshots, when something watches.  The picture is
 * charged to the cap like the resources: a guest that filled it loses the
 * picture rather than growing arkvm.  g->lock held.
 */
static void gpu_keep_last_frame(struct virtio_gpu *g)
{
	const struct gpu_scanout *s = &g->scanouts[0];
	struct gpu_rect all = { .w = s->r.w, .h = s->r.h };
	u64 size = (u64)all.w * all.h * 3;
	u8 *rgb;

	if (!g->watched || !s->resource_id || !size)
		return;
	/* The old picture goes whatever happens: a stale one would mislead. */
	gpu_drop_last_frame(g);
	if (!gpu_heap_charge(g, size))
		return;
	rgb = malloc(size);
	if (!rgb || virtio_gpu_scanout_copy(g, &all, rgb, all.w * 3, 3)) {
		free(rgb);
		g->heap_bytes -= size;
		return;
	}
	g->last_rgb = rgb;
	g->last_w = all.w;
	g->last_h = all.h;
}

static u32 gpu_unref(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	u32 id = le32toh(cx->req->unref.resource_id);
	struct gpu_resource **p = &g->resources;

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	if (!id || !*p)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	/* Nothing may show a resource that is gone. */
	if (g->scanouts[0].resource_id == id)
		gpu_keep_last_frame(g);
	for (unsigned int i = 0; i < GPU_NUM_SCANOUTS; i++)
		if (g->scanouts[i].resource_id == id)
			g->scanouts[i].resource_id = 0;
	if (g->cursor.resource_id == id)
		g->cursor.resource_id = 0;
	struct gpu_resource *res = *p;
	*p = res->next;
	gpu_destroy_resource(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* The entries that follow the request, each checked to lie in guest RAM. */
static u32 gpu_attach_backing(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	const struct virtio_gpu_resource_attach_backing *a = &cx->req->attach;
	struct gpu_resource *res = gpu_find(g, le32toh(a->resource_id));
	u32 n = le32toh(a->nr_entries);
	struct virtio_gpu_mem_entry *e;
	struct iovec *iov;
	u64 total = 0, charged;
	u32 ret = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (res->backing || !n || n > GPU_MAX_BACKING)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* The array stays as long as the backing: it is charged to the cap. */
	charged = (u64)n * sizeof(*iov);
	if (!gpu_heap_charge(g, charged))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	e = malloc(n * sizeof(*e));
	iov = malloc(n * sizeof(*iov));
	if (!e || !iov) {
		ret = VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
		goto out;
	}
	if (virtq_chain_read(cx->chain, sizeof(*a), e, n * sizeof(*e)) != n * sizeof(*e))
		goto out;
	for (u32 i = 0; i < n; i++) {
		u64 addr = le64toh(e[i].addr);
		u32 len = le32toh(e[i].length);

		iov[i].iov_base = len ? gpa_to_hva(g->vdev.mem, addr, len) : NULL;
		iov[i].iov_len = len;
		if (!iov[i].iov_base)
			goto out;
		total += len;
	}
	res->backing = iov;
	res->nr_backing = n;
	res->backing_len = total;
	iov = NULL;
	charged = 0; /* the resource's now: gpu_detach_backing() gives it back */
	ret = VIRTIO_GPU_RESP_OK_NODATA;
	if (g->backend->attach_backing && g->backend->attach_backing(g, res)) {
		gpu_detach_backing(g, res);
		ret = VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
out:
	g->heap_bytes -= charged;
	free(iov);
	free(e);
	return ret;
}

static u32 gpu_detach(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	struct gpu_resource *res = gpu_find(g, le32toh(cx->req->detach.resource_id));

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!res->backing)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	gpu_detach_backing(g, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* Tells the display what changed of @r (resource coordinates) on scanout 0. */
static void gpu_show(struct virtio_gpu *g, const struct gpu_rect *r)
{
	const struct gpu_rect *s = &g->scanouts[0].r;
	u32 x0 = MAX(r->x, s->x), y0 = MAX(r->y, s->y);
	u32 x1 = MIN(r->x + r->w, s->x + s->w), y1 = MIN(r->y + r->h, s->y + s->h);
	struct gpu_rect shown;

	if (!g->display || x0 >= x1 || y0 >= y1)
		return;
	shown = (struct gpu_rect){ .x = x0 - s->x, .y = y0 - s->y, .w = x1 - x0, .h = y1 - y0 };
	g->display->update(g->display_opaque, g, &shown);
}

static u32 gpu_set_scanout(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	const struct virtio_gpu_set_scanout *s = &cx->req->set_scanout;
	u32 id = le32toh(s->scanout_id), res_id = le32toh(s->resource_id);
	struct gpu_resource *res;
	struct gpu_rect r;

	if (id >= GPU_NUM_SCANOUTS)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	if (!res_id) {
		if (id == 0)
			gpu_keep_last_frame(g);
		g->scanouts[id].resource_id = 0;  /* the display is turned off */
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	res = gpu_find(g, res_id);
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!gpu_rect_inside(&s->r, res, &r) || !r.w || !r.h)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	g->scanouts[id].resource_id = res_id;
	g->scanouts[id].r = r;
	if (g->watched) { /* the whole picture is new */
		if (g->backend->flush)
			g->backend->flush(g, res, &r);
		gpu_show(g, &r);
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static u32 gpu_transfer_to_host_2d(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	const struct virtio_gpu_transfer_to_host_2d *t = &cx->req->transfer_2d;
	struct gpu_resource *res = gpu_find(g, le32toh(t->resource_id));
	u64 offset = le64toh(t->offset);
	struct gpu_rect r;

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!res->backing || res->target != 2 || !gpu_rect_inside(&t->r, res, &r))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (!r.w || !r.h)
		return VIRTIO_GPU_RESP_OK_NODATA;
	/* The last row's end, in the backing: no sum can wrap (offset is checked first). */
	if (offset > res->backing_len ||
	    (u64)(r.h - 1) * res->stride + (u64)r.w * 4 > res->backing_len - offset)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	g->backend->transfer_to_host_2d(g, res, &r, offset);
	g->stats.transfers++;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static u32 gpu_flush(struct virtio_gpu *g, struct gpu_cmd_ctx *cx)
{
	const struct virtio_gpu_resource_flush *f = &cx->req->flush;
	struct gpu_resource *res = gpu_find(g, le32toh(f->resource_id));
	struct gpu_rect r;

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!gpu_rect_inside(&f->r, res, &r))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	g->stats.flushes++;
	if (g->watched && r.w && r.h && g->scanouts[0].resource_id == res->id) {
		if (g->backend->flush)
			g->backend->flush(g, res, &r);
		gpu_show(g, &r);
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static const struct gpu_cmd gpu_cmds_2d[] = {
	[VIRTIO_GPU_CMD_GET_DISPLAY_INFO & 0xff] =
		GPU_CMD(struct virtio_gpu_ctrl_hdr, gpu_get_display_info),
	[VIRTIO_GPU_CMD_RESOURCE_CREATE_2D & 0xff] =
		GPU_CMD(struct virtio_gpu_resource_create_2d, gpu_create_2d),
	[VIRTIO_GPU_CMD_RESOURCE_UNREF & 0xff] =
		GPU_CMD(struct virtio_gpu_resource_unref, gpu_unref),
	[VIRTIO_GPU_CMD_SET_SCANOUT & 0xff] =
		GPU_CMD(struct virtio_gpu_set_scanout, gpu_set_scanout),
	[VIRTIO_GPU_CMD_RESOURCE_FLUSH & 0xff] =
		GPU_CMD(struct virtio_gpu_resource_flush, gpu_flush),
	[VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D & 0xff] =
		GPU_CMD(struct virtio_gpu_transfer_to_host_2d, gpu_transfer_to_host_2d),
	[VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING & 0xff] =
		GPU_CMD(struct virtio_gpu_resource_attach_backing, gpu_attach_backing),
	[VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING & 0xff] =
		GPU_CMD(struct virtio_gpu_resource_detach_backing, gpu_detach),
	[VIRTIO_GPU_CMD_GET_CAPSET_INFO & 0xff] =
		GPU_CMD(struct virtio_gpu_get_capset_info, gpu_capset_info),
	[VIRTIO_GPU_CMD_GET_CAPSET & 0xff] = GPU_CMD(struct virtio_gpu_get_capset, gpu_capset),
	[VIRTIO_GPU_CMD_GET_EDID & 0xff] = GPU_CMD(struct virtio_gpu_cmd_get_edid, gpu_get_edid),
};


static const struct gpu_cmd *gpu_cmd_find(u32 type)
{
	const struct gpu_cmd *table;
	size_t n;

	switch (type & ~0xffu) {
	case 0x0100:
		table = gpu_cmds_2d, n = ARRAY_SIZE(gpu_cmds_2d);
		break;
	case 0x0200:
		table = gpu_cmds_3d, n = gpu_nr_cmds_3d;
		break;
	default:
		return NULL;
	}
	return (type & 0xff) < n && table[type & 0xff].run ? &table[type & 0xff] : NULL;
}

/* Runs one command; returns the response type. g->lock held. */
static u32 gpu_dispatch(struct virtio_gpu *g, struct gpu_cmd_ctx *cx, u64 got)
{
	const struct gpu_cmd *cmd = gpu_cmd_find(le32toh(cx->req->hdr.type));

	if (!cmd)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (got < cmd->req_len)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	return cmd->run(g, cx);
}

/*
 * Holds a fenced command's used entry until the fence passes; returns 1
 * (held) or 0 (complete it now: no fences in this backend, or none free).
 */
static int gpu_fence(struct virtio_gpu *g, const struct virtq_chain *c, u32 ctx_id, u32 written)
{
	struct gpu_fence *f;

	if (!g->backend->create_fence || g->nr_fences == ARRAY_SIZE(g->fences))
		return 0;
	f = &g->fences[g->nr_fences];
	*f = (struct gpu_fence){
		.seq = ++g->fence_seq, .generation = c->generation, .head = c->head,
		.written = written,
	};
	if (g->backend->create_fence(g, ctx_id, f->seq))
		return 0;
	g->nr_fences++;
	g->stats.fences++;
	return 1;
}

/*
 * Was @c taken off the ring before a reset that ran while it waited for
 * g->lock?  Then its rings are gone and its pages the driver's again: it
 * is neither applied nor answered.  g->lock held.
 */
static bool gpu_taken_before_reset(const struct virtio_gpu *g, const struct virtq_chain *c)
{
	return (int32_t)(c->generation - g->reset_generation) <= 0;
}

static int gpu_ctrl_serve(struct virtio_dev *dev, const struct virtq_chain *c, u32 *written)
{
	struct virtio_gpu *g = container_of(dev, struct virtio_gpu, vdev);
	union gpu_req req = { 0 };
	union gpu_resp resp;
	struct gpu_cmd_ctx cx = { .req = &req, .chain = c, .resp = &resp };
	struct virtio_gpu_ctrl_hdr *hdr = &resp.hdr;
	int held = 0;
	u64 got;
	u32 type;

	if (c->in_len < sizeof(resp.hdr))
		return -EINVAL; /* nowhere to answer */
	got = virtq_chain_read(c, 0, &req, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	cx.resp_len = sizeof(resp.hdr);

	pthread_mutex_lock(&g->lock);
	if (gpu_taken_before_reset(g, c)) {
		pthread_mutex_unlock(&g->lock);
		*written = 0;
		return 0;
	}
	gpu_bury(g);
	g->stats.commands++;
	type = got < sizeof(req.hdr) ? VIRTIO_GPU_RESP_ERR_UNSPEC : gpu_dispatch(g, &cx, got);
	if (cx.resp_len > c->in_len) /* no room for the data: say so */
		type = VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (type >= VIRTIO_GPU_RESP_ERR_UNSPEC) {
		g->stats.errors++;
		cx.resp_len = sizeof(resp.hdr);
	} else if (cx.big) {
		hdr = cx.big;
	}
	hdr->type = htole32(type);
	hdr->flags = req.hdr.flags & htole32(VIRTIO_GPU_FLAG_FENCE | VIRTIO_GPU_FLAG_INFO_RING_IDX);
	hdr->fence_id = req.hdr.fence_id;
	hdr->ctx_id = req.hdr.ctx_id;
	hdr->ring_idx = req.hdr.ring_idx;
	*written = (u32)virtq_chain_write(c, 0, hdr, cx.resp_len);
	if (le32toh(req.hdr.flags) & VIRTIO_GPU_FLAG_FENCE)
		held = gpu_fence(g, c, le32toh(req.hdr.ctx_id), *written);
	pthread_mutex_unlock(&g->lock);
	free(cx.big);
	return held;
}

/* Cursor commands carry no answer; a wrong one is dropped with a warning. */
static int gpu_cursor_serve(struct virtio_dev *dev, const struct virtq_chain *c, u32 *written)
{
	struct virtio_gpu *g = container_of(dev, struct virtio_gpu, vdev);
	struct virtio_gpu_update_cursor uc = { 0 };
	u32 type, scanout, res_id;
	struct gpu_resource *res;

	*written = 0;
	if (virtq_chain_read(c, 0, &uc, sizeof(uc)) != sizeof(uc))
		goto bad;
	type = le32toh(uc.hdr.type);
	scanout = le32toh(uc.pos.scanout_id);
	res_id = le32toh(uc.resource_id);
	if ((type != VIRTIO_GPU_CMD_UPDATE_CURSOR && type != VIRTIO_GPU_CMD_MOVE_CURSOR) ||
	    scanout >= GPU_NUM_SCANOUTS)
		goto bad;

	pthread_mutex_lock(&g->lock);
	if (gpu_taken_before_reset(g, c)) {
		pthread_mutex_unlock(&g->lock);
		return 0; /* the old rings are gone: nothing to apply or answer */
	}
	if (type == VIRTIO_GPU_CMD_UPDATE_CURSOR) {
		res = res_id ? gpu_find(g, res_id) : NULL;
		if (res_id && (!res || res->width != GPU_CURSOR_DIM || res->height != GPU_CURSOR_DIM)) {
			pthread_mutex_unlock(&g->lock);
			goto bad;
		}
		g->cursor.resource_id = res_id;
		g->cursor.hot_x = le32toh(uc.hot_x);
		g->cursor.hot_y = le32toh(uc.hot_y);
	}
	g->cursor.x = le32toh(uc.pos.x);
	g->cursor.y = le32toh(uc.pos.y);
	pthread_mutex_unlock(&g->lock);
	return 0;
bad:
	pr_warn_ratelimited("%s: malformed cursor command dropped", dev->name);
	pthread_mutex_lock(&g->lock);
	g->stats.errors++;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

void virtio_gpu_fence_done(struct virtio_gpu *g, u32 seq)
{
	unsigned int i = 0;

	while (i < g->nr_fences) {
		struct gpu_fence *f = &g->fences[i];

		if ((int32_t)(f->seq - seq) > 0) {
			i++;
			continue;
		}
		g->passed[g->nr_passed++] = *f;
		*f = g->fences[--g->nr_fences];
	}
}

/*
 * Asks the backend which fences passed and returns their commands to the
 * guest, with one interrupt.  dev->lock held (it orders before g->lock).
 */
static void gpu_complete_fences(struct virtio_gpu *g)
{
	struct virtio_dev *dev = &g->vdev;
	unsigned int n;

	pthread_mutex_lock(&g->lock);
	gpu_bury(g);
	if (g->backend->poll && g->nr_fences)
		g->backend->poll(g);
	n = g->nr_passed;
	for (unsigned int i = 0; i < n; i++) {
		const struct gpu_fence *f = &g->passed[i];

		/* A command from before a reset belongs to rings that are gone. */
		if (f->generation == dev->generation && virtio_dev_running(dev))
			virtq_push(&dev->vqs[GPU_CTRL_Q], f->head, f->written);
	}
	g->nr_passed = 0;
	pthread_mutex_unlock(&g->lock);
	if (n && virtio_dev_running(dev))
		virtio_dev_notify_used(dev, GPU_CTRL_Q);
}

/* Polls every millisecond while fences are pending, and not at all otherwise. */
static void gpu_arm_timer(struct virtio_gpu *g, bool on)
{
	struct itimerspec its = { 0 };

	if (!g->loop || g->timer_armed == on)
		return;
	if (on)
		its.it_value.tv_nsec = its.it_interval.tv_nsec = 1000000;
	if (!timerfd_settime(g->fence_timer.fd, 0, &its, NULL))
		g->timer_armed = on;
}

static void gpu_fence_timer(struct event_source *src, uint32_t events)
{
	struct virtio_gpu *g = container_of(src, struct virtio_gpu, fence_timer);
	u64 ticks;

	if (read(src->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	virtio_gpu_poll(g);
}

void virtio_gpu_poll(struct virtio_gpu *g)
{
	pthread_mutex_lock(&g->vdev.lock);
	gpu_complete_fences(g);
	gpu_arm_timer(g, g->nr_fences > 0);
	pthread_mutex_unlock(&g->vdev.lock);
}

static void gpu_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_gpu *g = container_of(dev, struct virtio_gpu, vdev);

	if (q == GPU_CTRL_Q) {
		virtio_dev_serve_queue(dev, q, &g->chain, gpu_ctrl_serve);
		gpu_complete_fences(g);
		gpu_arm_timer(g, g->nr_fences > 0);
	} else if (q == GPU_CURSOR_Q) {
		virtio_dev_serve_queue(dev, q, &g->chain, gpu_cursor_serve);
	}
}

static u64 gpu_features(struct virtio_dev *dev)
{
	struct virtio_gpu *g = container_of(dev, struct virtio_gpu, vdev);
	u64 f = 1ull << VIRTIO_GPU_F_EDID;

	if (g->backend->submit_3d)
		f |= 1ull << VIRTIO_GPU_F_VIRGL | 1ull << VIRTIO_GPU_F_CONTEXT_INIT;
	return f;
}

/* events_clear is the only writable field: it clears bits of events_read. */
static void gpu_cfg_write(struct virtio_dev *dev, u32 off, const void *data, u32 len)
{
	struct virtio_gpu *g = container_of(dev, struct virtio_gpu, vdev);
	u32 val;

	if (off != offsetof(struct virtio_gpu_config, events_clear) || len != sizeof(val))
		return;
	memcpy(&val, data, sizeof(val));
	g->config.events_read &= ~val;
}

/* Destroys in the backend what a reset left behind; on the serving thread, g->lock held. */
static void gpu_bury(struct virtio_gpu *g)
{
	while (g->nr_dead_ctx)
		g->backend->ctx_destroy(g, g->dead_ctx[--g->nr_dead_ctx]);
	while (g->dead) {
		struct gpu_resource *res = g->dead;

		g->dead = res->next;
		gpu_detach_backing(g, res);
		g->backend->destroy(g, res);
		free(res);
	}
}

/*
 * Forgets every context, resource and fence, and what was shown.  A
 * backend bound to its thread (virglrenderer's GL context) must not be
 * called here, on a vCPU: what it holds is handed to gpu_bury(), which the
 * serving thread runs before it serves anything else.  g->lock held.
 */
static void gpu_forget_all(struct virtio_gpu *g, bool now)
{
	gpu_keep_last_frame(g);
	while (g->nr_contexts) {
		u32 ctx_id = g->ctx_ids[--g->nr_contexts];

		if (now)
			g->backend->ctx_destroy(g, ctx_id);
		else
			g->dead_ctx[g->nr_dead_ctx++] = ctx_id;
	}
	while (g->resources) {
		struct gpu_resource *res = g->resources;

		g->resources = res->next;
		if (now) {
			gpu_destroy_resource(g, res);
		} else {
			res->next = g->dead;
			g->dead = res;
		}
	}
	g->nr_resources = 0;
	g->host_bytes = 0;
	for (unsigned int i = 0; i < GPU_NUM_SCANOUTS; i++)
		g->scanouts[i].resource_id = 0;
	g->cursor.resource_id = 0;
	g->nr_fences = g->nr_passed = 0;
}

static void gpu_reset(struct virtio_dev *dev)
{
	struct virtio_gpu *g = container_of(dev, struct virtio_gpu, vdev);

	pthread_mutex_lock(&g->lock);
	gpu_forget_all(g, !g->backend->init);
	g->reset_generation = dev->generation; /* dev->lock held: the transport bumps it next */
	pthread_mutex_unlock(&g->lock);
}

static const struct virtio_dev_ops virtio_gpu_ops = {
	.features = gpu_features,
	.cfg_write = gpu_cfg_write,
	.queue_notify = gpu_queue_notify,
	.reset = gpu_reset,
};

int virtio_gpu_init(struct virtio_gpu *g, const struct gpu_config *cfg,
		    const struct gpu_backend_ops *backend, const struct guest_mem *mem,
		    struct event_loop *loop)
{
	int ret;

	memset(g, 0, sizeof(*g));
	g->cfg = *cfg;
	g->backend = backend;
	g->host_limit = backend->submit_3d ? GPU_MAX_HOST_BYTES_3D : GPU_MAX_HOST_BYTES_2D;
	g->loop = loop;
	g->fence_timer.fd = -1;
	for (unsigned int i = 0; i < GPU_NUM_SCANOUTS; i++)
		g->scanouts[i] = (struct gpu_scanout){
			.width = cfg->width, .height = cfg->height,
		};
	g->config = (struct virtio_gpu_config){ .num_scanouts = htole32(GPU_NUM_SCANOUTS) };
	if (loop && backend->create_fence) {
		g->fence_timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (g->fence_timer.fd < 0)
			return -errno;
		g->fence_timer.ready = gpu_fence_timer;
		ret = event_loop_add(loop, &g->fence_timer, EPOLLIN);
		if (ret) {
			close(g->fence_timer.fd);
			return ret;
		}
	}
	pthread_mutex_init(&g->lock, NULL);
	virtio_dev_init(&g->vdev, &virtio_gpu_ops, "virtio-gpu", VIRTIO_ID_GPU, 2,
			GPU_QUEUE_SIZE, mem);
	g->vdev.config = &g->config;
	g->vdev.config_len = sizeof(g->config);
	return 0;
}

int virtio_gpu_start(struct virtio_gpu *g)
{
	u32 id, version, size, n = 0;
	int ret = g->backend->init ? g->backend->init(g) : 0;

	if (ret)
		return ret;
	while (g->backend->capset_info && !g->backend->capset_info(g, n, &id, &version, &size))
		n++;
	g->config.num_capsets = htole32(n);
	return 0;
}

void virtio_gpu_stop(struct virtio_gpu *g)
{
	pthread_mutex_lock(&g->lock);
	gpu_bury(g);
	gpu_forget_all(g, true);
	if (g->backend->fini)
		g->backend->fini(g);
	pthread_mutex_unlock(&g->lock);
}

void virtio_gpu_destroy(struct virtio_gpu *g)
{
	virtio_gpu_stop(g);
	gpu_drop_last_frame(g);
	if (g->fence_timer.fd >= 0)
		close(g->fence_timer.fd);
	virtio_dev_destroy(&g->vdev);
	pthread_mutex_destroy(&g->lock);
}

/* Where R, G and B sit in a pixel of @format, in memory order. */
static void gpu_rgb_offsets(u32 format, unsigned int off[3])
{
	static const struct { u32 format; u8 r, g, b; } map[] = {
		{ VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 2, 1, 0 },
		{ VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 2, 1, 0 },
		{ VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, 1, 2, 3 },
		{ VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, 1, 2, 3 },
		{ VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, 0, 1, 2 },
		{ VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, 0, 1, 2 },
		{ VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, 3, 2, 1 },
		{ VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, 3, 2, 1 },
	};

	off[0] = 2, off[1] = 1, off[2] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (map[i].format == format) {
			off[0] = map[i].r, off[1] = map[i].g, off[2] = map[i].b;
			return;
		}
}

int virtio_gpu_scanout_copy(struct virtio_gpu *g, const struct gpu_rect *r, u8 *dst, u32 stride,
			    unsigned int bpp)
{
	const struct gpu_scanout *s = &g->scanouts[0];
	struct gpu_resource *res = s->resource_id ? gpu_find(g, s->resource_id) : NULL;
	const u8 *pixels = res ? g->backend->pixels(g, res) : NULL;
	unsigned int off[3];

	if (!pixels)
		return -ENODATA;
	if ((u64)r->x + r->w > s->r.w || (u64)r->y + r->h > s->r.h)
		return -EINVAL;
	gpu_rgb_offsets(res->format, off);
	for (u32 y = 0; y < r->h; y++) {
		const u8 *src = pixels + (size_t)(s->r.y + r->y + y) * res->stride +
				(size_t)(s->r.x + r->x) * 4;
		u8 *out = dst + (size_t)y * stride;

		for (u32 x = 0; x < r->w; x++, src += 4, out += bpp) {
			out[0] = src[off[0]];
			out[1] = src[off[1]];
			out[2] = src[off[2]];
			if (bpp == 4)
				out[3] = 0;
		}
	}
	return 0;
}

int virtio_gpu_read_scanout(struct virtio_gpu *g, u8 **rgb, u32 *width, u32 *height)
{
	const struct gpu_scanout *s = &g->scanouts[0];
	struct gpu_rect all;
	int ret = -ENODATA;
	u8 *out = NULL;

	pthread_mutex_lock(&g->lock);
	all = (struct gpu_rect){ .w = s->r.w, .h = s->r.h };
	if (s->resource_id && all.w && all.h) {
		out = malloc((size_t)all.w * 3 * all.h);
		ret = out ? virtio_gpu_scanout_copy(g, &all, out, all.w * 3, 3) : -ENOMEM;
	} else if (g->last_rgb) { /* dark now: what it showed last */
		all = (struct gpu_rect){ .w = g->last_w, .h = g->last_h };
		out = malloc((size_t)all.w * 3 * all.h);
		ret = out ? 0 : -ENOMEM;
		if (out)
			memcpy(out, g->last_rgb, (size_t)all.w * 3 * all.h);
	}
	pthread_mutex_unlock(&g->lock);
	if (ret) {
		free(out);
		return ret;
	}
	*rgb = out;
	*width = all.w;
	*height = all.h;
	return 0;
}
