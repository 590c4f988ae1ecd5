/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VNC_H
#define ARKVM_VNC_H

/*
 * --display vnc=ADDR:PORT: the scanout served over VNC (libvncserver), and
 * the viewer's keyboard and pointer sent to the guest as a virtio keyboard
 * and tablet.  libvncserver runs its own threads: one listens, two serve
 * each viewer (input, output).  They are all started from a thread that
 * first loads the VNC seccomp filter (SANDBOX_VNC), so they inherit it.
 * Built where pkg-config finds libvncserver (ARKVM_VNC).
 */
#include <pthread.h>
#include <stdbool.h>

#include "cli.h"
#include "virtio_gpu.h"
#include "virtio_input.h"

struct _rfbScreenInfo;

struct vnc {
	struct _rfbScreenInfo *screen;
	struct virtio_gpu *gpu;
	struct virtio_input *kbd, *tablet;
	u32 width, height;
	pthread_mutex_t lock;       /* viewers' threads: the button state, the viewer count */
	int buttons;
	bool sandboxed;             /* libvncserver's threads run under SANDBOX_VNC */
	int start_err;
	/*
	 * Viewer threads end on their own when a viewer leaves, and nobody
	 * joins them in libvncserver: each records itself in @gone as it
	 * goes, and is joined when the next viewer arrives or at vnc_stop(),
	 * which waits for @viewers to reach 0 before freeing the screen.
	 */
	pthread_cond_t viewer_gone;
	unsigned int viewers;       /* accepted, their thread not yet gone */
	pthread_t *gone;            /* room for viewers + nr_gone */
	unsigned int nr_gone, gone_cap;
};

/*
 * Listens on @cfg's address and port, showing @gpu's scanout and sending
 * input to @kbd and @tablet; with @sandboxed, libvncserver's threads run
 * under the SANDBOX_VNC filter (sandbox_prepare() should have run, so a
 * violation is reported).  Prints one line and returns -errno when the
 * address cannot be had.  From the thread that will call vnc_stop().
 */
int vnc_start(struct vnc *v, const struct display_config *cfg, struct virtio_gpu *gpu,
	      struct virtio_input *kbd, struct virtio_input *tablet, bool sandboxed);
/*
 * Disconnects every viewer, waits for all of libvncserver's threads to end
 * and frees the server.  Needs only write, close, futex and munmap, so it
 * runs under the main thread's filter.
 */
void vnc_stop(struct vnc *v);

/* The Linux key code for an X keysym (what VNC sends), 0 when there is none. */
unsigned int vnc_keysym_to_key(u32 keysym);

#endif
