/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VIRTIO_GPU_H
#define ARKVM_VIRTIO_GPU_H

/*
 * virtio-gpu (device ID 16).  Three layers, each in its own place:
 *   - the wire format: <linux/virtio_gpu.h>, the kernel's UAPI header,
 *     little-endian structures exactly as the driver lays them out;
 *   - command decoding and every check on what the guest sent:
 *     devices/virtio_gpu.c, which keeps the resource table, the scanout
 *     and the cursor, and devices/gpu_3d.c for the 3D commands (both
 *     through devices/virtio_gpu_cmd.h);
 *   - rendering, behind struct gpu_backend_ops: a plain 2D backend
 *     (devices/gpu_2d.c) that keeps pixels in host memory, and a 3D one on
 *     virglrenderer (devices/gpu_virgl.c).
 * A backend only ever sees requests the decoder has checked: resource
 * sizes, rectangles inside their resource, transfers inside the backing,
 * backing entries inside guest RAM.
 */
#include <linux/virtio_gpu.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/uio.h>

#include "cli.h"
#include "event_loop.h"
#include "virtio_mmio.h"

#define GPU_QUEUE_SIZE     256
#define GPU_CTRL_Q         0
#define GPU_CURSOR_Q       1

#define GPU_NUM_SCANOUTS   1

#define GPU_MAX_RESOURCES  4096
#define GPU_MAX_CONTEXTS   64
#define GPU_MAX_SUBMIT     (4u << 20)  /* bytes in one SUBMIT_3D */
#define GPU_MAX_CAPSET     (64u << 10)
#define GPU_MAX_RES_DIM    16384  /* width or height of one resource */
#define GPU_MAX_BACKING    16384  /* entries in one ATTACH_BACKING */
#define GPU_CURSOR_DIM     64
#define GPU_EDID_SIZE      128

/*
 * Host memory a guest can make arkvm hold for its GPU: all resources
 * together, as the decoder counts them (4 bytes a texel), their backing
 * arrays (an iovec an entry) and the last picture kept for screenshots.
 * A guest cannot grow arkvm past it.  3D applications need more than a
 * console.
 */
#define GPU_MAX_HOST_BYTES_2D (256ull << 20)
#define GPU_MAX_HOST_BYTES_3D (1024ull << 20)

/* A rectangle the decoder has checked to lie inside its resource. */
struct gpu_rect {
	u32 x, y, w, h;
};

struct gpu_resource {
	u32 id;
	bool is_3d;
	u32 format;                   /* enum virtio_gpu_formats (or a virgl format, 3D) */
	u32 target;                   /* 3D: the pipe target; 0 is a buffer */
	u32 width, height;
	u32 layers;                   /* 3D: depth or array size, whichever is larger */
	u64 bytes;                    /* what the decoder counts against host_limit */
	u32 stride;                   /* bytes per row: width * 4 */
	struct iovec *backing;        /* guest RAM, each entry checked; NULL when detached */
	unsigned int nr_backing;
	u64 backing_len;              /* sum of the entries */
	void *priv;                   /* the backend's */
	struct gpu_resource *next;    /* the decoder's list */
};

struct virtio_gpu;

/*
 * A rendering backend.  Called on the I/O thread with g->lock held, or on
 * the main thread with g->lock held (pixels, for screenshots), and never
 * with unchecked input.  The 3D operations are NULL in a 2D backend: the
 * decoder then answers their commands with an error.
 */
struct gpu_backend_ops {
	const char *name;
	/* Optional: start up, on the thread that will make every later call. */
	int (*init)(struct virtio_gpu *g);
	void (*fini)(struct virtio_gpu *g);

	/* Storage for a new resource; -ENOMEM or -EINVAL when it cannot be had. */
	int (*create_2d)(struct virtio_gpu *g, struct gpu_resource *res);
	int (*create_3d)(struct virtio_gpu *g, struct gpu_resource *res,
			 const struct virtio_gpu_resource_create_3d *c);
	void (*destroy)(struct virtio_gpu *g, struct gpu_resource *res);
	/* Optional: the backing changed (res->backing is already set or cleared). */
	int (*attach_backing)(struct virtio_gpu *g, struct gpu_resource *res);
	void (*detach_backing)(struct virtio_gpu *g, struct gpu_resource *res);
	/*
	 * Copies @r from the backing into the resource: row i of the rectangle
	 * starts @offset + i * res->stride bytes into the backing (checked).
	 */
	void (*transfer_to_host_2d)(struct virtio_gpu *g, struct gpu_resource *res,
				    const struct gpu_rect *r, u64 offset);
	/* Optional: the guest flushed @r of a resource that is on a scanout. */
	void (*flush)(struct virtio_gpu *g, struct gpu_resource *res, const struct gpu_rect *r);
	/* The resource's current pixels, row by row (res->stride apart); NULL if none. */
	const void *(*pixels)(struct virtio_gpu *g, struct gpu_resource *res);

	/* 3D: capability sets, contexts, transfers, command streams, fences. */
	int (*capset_info)(struct virtio_gpu *g, u32 index, u32 *id, u32 *max_version,
			   u32 *max_size);
	int (*capset)(struct virtio_gpu *g, u32 id, u32 version, void *buf, u32 size);
	int (*ctx_create)(struct virtio_gpu *g, u32 ctx_id, u32 capset_id, const char *name,
			  u32 nlen);
	void (*ctx_destroy)(struct virtio_gpu *g, u32 ctx_id);
	void (*ctx_attach)(struct virtio_gpu *g, u32 ctx_id, struct gpu_resource *res);
	void (*ctx_detach)(struct virtio_gpu *g, u32 ctx_id, struct gpu_resource *res);
	int (*transfer_3d)(struct virtio_gpu *g, struct gpu_resource *res, u32 ctx_id,
			   const struct virtio_gpu_transfer_host_3d *t, bool to_host);
	int (*submit_3d)(struct virtio_gpu *g, u32 ctx_id, void *cmds, u32 size);
	/*
	 * Optional: fence @seq after what @ctx_id has been given so far; the
	 * backend calls virtio_gpu_fence_done() once it has passed.  Without
	 * it every command is finished when it returns.
	 */
	int (*create_fence)(struct virtio_gpu *g, u32 ctx_id, u32 seq);
	/* Optional: look for passed fences (virtio_gpu_fence_done() from here). */
	void (*poll)(struct virtio_gpu *g);
};

extern const struct gpu_backend_ops gpu_2d_backend;
/* Built with virglrenderer only (ARKVM_VIRGL): devices/gpu_virgl.c. */
extern const struct gpu_backend_ops gpu_virgl_backend;

/*
 * Whatever shows the display (the VNC server): told of each flushed
 * rectangle of scanout 0, in scanout coordinates, on the I/O thread with
 * g->lock held, so it may call virtio_gpu_scanout_copy().
 */
struct gpu_display_ops {
	void (*update)(void *opaque, struct virtio_gpu *g, const struct gpu_rect *r);
};

struct gpu_scanout {
	u32 resource_id;              /* 0: disabled */
	struct gpu_rect r;            /* the part of the resource shown */
	u32 width, height;            /* the mode offered to the driver */
};

struct gpu_cursor {
	u32 resource_id;              /* 0: hidden */
	u32 x, y, hot_x, hot_y;
};

/* Counters for --stats and the tests. */
struct gpu_stats {
	u64 commands, errors, flushes, transfers, submits, fences;
};

/* A fenced command whose used entry waits for its fence to pass. */
struct gpu_fence {
	u32 seq;
	u32 generation;               /* the device's, when the command came */
	u16 head;
	u32 written;
};

struct virtio_gpu {
	struct virtio_dev vdev;
	struct virtio_gpu_config config;
	struct gpu_config cfg;
	const struct gpu_backend_ops *backend;

	/*
	 * Everything below is the device's state: the I/O thread changes it,
	 * the main thread reads it for a screenshot; g->lock orders the two.
	 */
	pthread_mutex_t lock;
	struct gpu_resource *resources;
	unsigned int nr_resources;
	u64 host_bytes;               /* what the backend holds for resources */
	u64 heap_bytes;               /* backing arrays and last_rgb: arkvm's own heap */
	struct gpu_scanout scanouts[GPU_NUM_SCANOUTS];
	struct gpu_cursor cursor;
	struct gpu_stats stats;
	u64 host_limit;               /* GPU_MAX_HOST_BYTES_2D or _3D: host_bytes + heap_bytes */
	u32 ctx_ids[GPU_MAX_CONTEXTS];
	unsigned int nr_contexts;
	struct gpu_fence fences[GPU_QUEUE_SIZE];   /* at most one per ring entry */
	unsigned int nr_fences;
	struct gpu_fence passed[GPU_QUEUE_SIZE];   /* fences passed, commands not yet used */
	unsigned int nr_passed;
	u32 fence_seq;
	u32 reset_generation;         /* dev->generation at the last reset: older commands are void */
	bool watched;                 /* something shows the display: keep pixels at hand */
	const struct gpu_display_ops *display;
	void *display_opaque;
	u8 *last_rgb;                 /* watched: the last picture before the display went dark */
	u32 last_w, last_h;

	/* Fences pending: the I/O thread polls the backend every millisecond. */
	struct event_loop *loop;
	struct event_source fence_timer;
	bool timer_armed;

	/* What a reset took from the guest, for the serving thread to destroy. */
	struct gpu_resource *dead;
	u32 dead_ctx[GPU_MAX_CONTEXTS];
	unsigned int nr_dead_ctx;

	struct virtq_chain chain;     /* I/O thread: the chain being served */
	void *backend_priv;
};

/*
 * A device with one scanout of cfg->width x cfg->height, on @backend.
 * @loop (NULL in tests) is the I/O thread's, for polling fences.
 */
int virtio_gpu_init(struct virtio_gpu *g, const struct gpu_config *cfg,
		    const struct gpu_backend_ops *backend, const struct guest_mem *mem,
		    struct event_loop *loop);
/* Starts the backend, on the thread that serves the queues. */
int virtio_gpu_start(struct virtio_gpu *g);
/* Destroys every resource and context, and stops the backend; on the serving thread. */
void virtio_gpu_stop(struct virtio_gpu *g);
/* Frees the device (after virtio_gpu_stop() for a backend bound to its thread). */
void virtio_gpu_destroy(struct virtio_gpu *g);

/* From the backend: every fence up to @seq has passed. */
void virtio_gpu_fence_done(struct virtio_gpu *g, u32 seq);
/* Asks the backend for passed fences, and completes their commands. */
void virtio_gpu_poll(struct virtio_gpu *g);

/*
 * What scanout 0 shows, as 8-bit RGB rows (width * 3 bytes each) in a
 * malloc'd buffer the caller frees.  When it is dark, and something
 * watched it (g->watched), what it showed last; else -ENODATA.
 */
int virtio_gpu_read_scanout(struct virtio_gpu *g, u8 **rgb, u32 *width, u32 *height);

/*
 * Converts @r (scanout coordinates) of scanout 0 into rows of 8-bit R, G, B
 * (@bpp 3) or R, G, B, 0 (@bpp 4), @stride bytes apart, at @dst.  g->lock
 * held.  -ENODATA when nothing is shown, -EINVAL when @r is outside it.
 */
int virtio_gpu_scanout_copy(struct virtio_gpu *g, const struct gpu_rect *r, u8 *dst, u32 stride,
			    unsigned int bpp);

/* The EDID block arkvm reports for a @width x @height display. */
void gpu_make_edid(u8 edid[GPU_EDID_SIZE], u32 width, u32 height);

#endif
