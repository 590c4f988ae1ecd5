/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FAKE_GPU_H
#define ARKVM_FAKE_GPU_H

/*
 * A virtio-gpu on the 2D backend with its driver side, for tests: both
 * queues brought up over fake guest RAM, and one helper per command.  Each
 * helper returns the response type (0 when no response came back).
 */
#include "fake_driver.h"
#include "virtio_gpu.h"

#define CTRL_RING   (FAKE_RAM_BASE + 0x0000)
#define CURSOR_RING (FAKE_RAM_BASE + 0x4000)
#define REQ         (FAKE_BUF + 0x0000)   /* a request */
#define RESP        (FAKE_BUF + 0x1000)   /* its response */
#define PIXELS      (FAKE_BUF + 0x4000)   /* the guest's framebuffer */

struct gpu_env {
	struct fake_driver ctrl, cursor;
	struct virtio_gpu g;
	unsigned int interrupts;
};

void gpu_setup(struct gpu_env *e);                       /* an 800x600 display */
void gpu_setup_size(struct gpu_env *e, u32 width, u32 height);
void gpu_teardown(struct gpu_env *e);
bool gpu_broken(struct gpu_env *e);
/* Sends @req (@len bytes) on the control queue, with room for @resp_len back. */
u32 gpu_send(struct gpu_env *e, const void *req, u32 len, u32 resp_len);
u32 gpu_cmd(struct gpu_env *e, const void *req, u32 len);
u32 create_2d(struct gpu_env *e, u32 id, u32 format, u32 w, u32 h);
/* Attaches @n (at most 4) backing entries. */
u32 attach(struct gpu_env *e, u32 id, const struct virtio_gpu_mem_entry *ents, u32 n);
u32 transfer(struct gpu_env *e, u32 id, u32 x, u32 y, u32 w, u32 h, u64 offset);
u32 set_scanout(struct gpu_env *e, u32 scanout, u32 id, u32 w, u32 h);
u32 flush(struct gpu_env *e, u32 id, u32 w, u32 h);

#endif
