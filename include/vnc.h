/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VNC_H
#define ARKVM_VNC_H

/*
 * --display vnc=ADDR:PORT: the scanout served over VNC (libvncserver), and
 * the viewer's keyboard and pointer sent to the guest as a virtio keyboard
 * and tablet.  libvncserver runs its own threads: one listens, one serves
 * each viewer.  Built where pkg-config finds libvncserver (ARKVM_VNC).
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
	pthread_mutex_t lock;       /* viewers' threads: the button state */
	int buttons;
};

/*
 * Listens on @cfg's address and port, showing @gpu's scanout and sending
 * input to @kbd and @tablet.  Prints one line and returns -errno when the
 * address cannot be had.
 */
int vnc_start(struct vnc *v, const struct display_config *cfg, struct virtio_gpu *gpu,
	      struct virtio_input *kbd, struct virtio_input *tablet);
void vnc_stop(struct vnc *v);

/* The Linux key code for an X keysym (what VNC sends), 0 when there is none. */
unsigned int vnc_keysym_to_key(u32 keysym);

#endif
