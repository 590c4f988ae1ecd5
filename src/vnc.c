// SPDX-License-Identifier: Apache-2.0
/*
 * The display over VNC.  The framebuffer viewers see is arkvm's own copy
 * of scanout 0, in the server's 32-bit R, G, B, X format; the GPU's I/O
 * thread refreshes the rectangles the guest flushes (gpu_display_ops) and
 * libvncserver sends viewers what changed.  Keys become Linux key codes on
 * the virtio keyboard (a US layout: the viewer sends Shift itself), the
 * pointer becomes absolute X/Y, buttons and wheel on the virtio tablet.
 */
#include <errno.h>
#include <linux/input.h>
#include <rfb/keysym.h>
#include <rfb/rfb.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sandbox.h"
#include "vnc.h"

struct keymap {
	u32 keysym;
	u16 key;
};

/* X keysyms (rfb/keysym.h) to Linux key codes, for what is not a letter or digit. */
static const struct keymap vnc_keys[] = {
	{ ' ', KEY_SPACE }, { '-', KEY_MINUS }, { '_', KEY_MINUS }, { '=', KEY_EQUAL },
	{ '+', KEY_EQUAL }, { '[', KEY_LEFTBRACE }, { '{', KEY_LEFTBRACE },
	{ ']', KEY_RIGHTBRACE }, { '}', KEY_RIGHTBRACE }, { ';', KEY_SEMICOLON },
	{ ':', KEY_SEMICOLON }, { '\'', KEY_APOSTROPHE }, { '"', KEY_APOSTROPHE },
	{ '`', KEY_GRAVE }, { '~', KEY_GRAVE }, { '\\', KEY_BACKSLASH }, { '|', KEY_BACKSLASH },
	{ ',', KEY_COMMA }, { '<', KEY_COMMA }, { '.', KEY_DOT }, { '>', KEY_DOT },
	{ '/', KEY_SLASH }, { '?', KEY_SLASH }, { '!', KEY_1 }, { '@', KEY_2 }, { '#', KEY_3 },
	{ '$', KEY_4 }, { '%', KEY_5 }, { '^', KEY_6 }, { '&', KEY_7 }, { '*', KEY_8 },
	{ '(', KEY_9 }, { ')', KEY_0 },
	{ XK_BackSpace, KEY_BACKSPACE }, { XK_Tab, KEY_TAB }, { XK_Return, KEY_ENTER },
	{ XK_Escape, KEY_ESC }, { XK_Delete, KEY_DELETE }, { XK_Home, KEY_HOME },
	{ XK_Left, KEY_LEFT }, { XK_Up, KEY_UP }, { XK_Right, KEY_RIGHT }, { XK_Down, KEY_DOWN },
	{ XK_Page_Up, KEY_PAGEUP }, { XK_Page_Down, KEY_PAGEDOWN }, { XK_End, KEY_END },
	{ XK_Insert, KEY_INSERT }, { XK_F11, KEY_F11 }, { XK_F12, KEY_F12 },
	{ XK_Shift_L, KEY_LEFTSHIFT }, { XK_Shift_R, KEY_RIGHTSHIFT },
	{ XK_Control_L, KEY_LEFTCTRL }, { XK_Control_R, KEY_RIGHTCTRL },
	{ XK_Caps_Lock, KEY_CAPSLOCK }, { XK_Alt_L, KEY_LEFTALT }, { XK_Alt_R, KEY_RIGHTALT },
	{ XK_ISO_Level3_Shift, KEY_RIGHTALT }, { XK_Super_L, KEY_LEFTMETA },
	{ XK_Super_R, KEY_RIGHTMETA }, { XK_Menu, KEY_COMPOSE }, { XK_Num_Lock, KEY_NUMLOCK },
	{ XK_Scroll_Lock, KEY_SCROLLLOCK }, { XK_Print, KEY_SYSRQ }, { XK_Pause, KEY_PAUSE },
	{ XK_KP_Enter, KEY_KPENTER }, { XK_KP_Add, KEY_KPPLUS }, { XK_KP_Subtract, KEY_KPMINUS },
	{ XK_KP_Multiply, KEY_KPASTERISK }, { XK_KP_Divide, KEY_KPSLASH },
	{ XK_KP_Decimal, KEY_KPDOT },
};

unsigned int vnc_keysym_to_key(u32 keysym)
{
	static const u16 letters[26] = {
		KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G, KEY_H, KEY_I, KEY_J, KEY_K, KEY_L,
		KEY_M, KEY_N, KEY_O, KEY_P, KEY_Q, KEY_R, KEY_S, KEY_T, KEY_U, KEY_V, KEY_W, KEY_X,
		KEY_Y, KEY_Z,
	};
	static const u16 keypad[10] = {
		KEY_KP0, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP4, KEY_KP5, KEY_KP6, KEY_KP7, KEY_KP8, KEY_KP9,
	};

	if (keysym >= 'a' && keysym <= 'z')
		return letters[keysym - 'a'];
	if (keysym >= 'A' && keysym <= 'Z')
		return letters[keysym - 'A'];
	if (keysym >= '1' && keysym <= '9')
		return KEY_1 + (keysym - '1');
	if (keysym == '0')
		return KEY_0;
	if (keysym >= XK_F1 && keysym <= XK_F10)
		return KEY_F1 + (keysym - XK_F1);
	if (keysym >= XK_KP_0 && keysym <= XK_KP_9)
		return keypad[keysym - XK_KP_0];
	for (size_t i = 0; i < ARRAY_SIZE(vnc_keys); i++)
		if (vnc_keys[i].keysym == keysym)
			return vnc_keys[i].key;
	return 0;
}

static struct vnc *vnc_of(rfbClientPtr cl)
{
	return cl->screen->screenData;
}

static void vnc_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct vnc *v = vnc_of(cl);
	unsigned int key = vnc_keysym_to_key((u32)keysym);
	struct virtio_input_event ev[2] = {
		{ .type = htole16(EV_KEY), .code = htole16((u16)key), .value = htole32(down ? 1 : 0) },
		{ .type = htole16(EV_SYN), .code = htole16(SYN_REPORT) },
	};

	if (key)
		virtio_input_send(v->kbd, ev, 2);
}

/* Scales a viewer coordinate to the tablet's axis. */
static u32 vnc_axis(int pos, u32 size)
{
	if (pos < 0)
		pos = 0;
	if ((u32)pos >= size)
		pos = (int)size - 1;
	return size > 1 ? (u32)pos * INPUT_ABS_MAX / (size - 1) : 0;
}

static void vnc_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	static const u16 buttons[3] = { BTN_LEFT, BTN_MIDDLE, BTN_RIGHT };
	struct vnc *v = vnc_of(cl);
	struct virtio_input_event ev[8];
	unsigned int n = 0;
	int changed;

	ev[n++] = (struct virtio_input_event){ htole16(EV_ABS), htole16(ABS_X),
					       htole32(vnc_axis(x, v->width)) };
	ev[n++] = (struct virtio_input_event){ htole16(EV_ABS), htole16(ABS_Y),
					       htole32(vnc_axis(y, v->height)) };
	pthread_mutex_lock(&v->lock);
	changed = mask ^ v->buttons;
	v->buttons = mask;
	pthread_mutex_unlock(&v->lock);
	for (int b = 0; b < 3; b++)
		if (changed & (1 << b))
			ev[n++] = (struct virtio_input_event){ htole16(EV_KEY), htole16(buttons[b]),
							       htole32(!!(mask & (1 << b))) };
	/* Buttons 4 and 5 are the wheel, up and down, each press one notch. */
	if (changed & mask & (1 << 3))
		ev[n++] = (struct virtio_input_event){ htole16(EV_REL), htole16(REL_WHEEL),
						       htole32(1) };
	if (changed & mask & (1 << 4))
		ev[n++] = (struct virtio_input_event){ htole16(EV_REL), htole16(REL_WHEEL),
						       htole32((u32)-1) };
	ev[n++] = (struct virtio_input_event){ htole16(EV_SYN), htole16(SYN_REPORT), 0 };
	virtio_input_send(v->tablet, ev, n);
}

/* The guest flushed @r: copy it into the viewers' framebuffer. I/O thread, g->lock held. */
static void vnc_update(void *opaque, struct virtio_gpu *g, const struct gpu_rect *r)
{
	struct vnc *v = opaque;
	struct gpu_rect c = *r;
	u8 *fb = (u8 *)v->screen->frameBuffer;

	if (c.x >= v->width || c.y >= v->height)
		return;
	c.w = MIN(c.w, v->width - c.x);
	c.h = MIN(c.h, v->height - c.y);
	if (virtio_gpu_scanout_copy(g, &c, fb + ((size_t)c.y * v->width + c.x) * 4, v->width * 4,
				    4))
		return;
	rfbMarkRectAsModified(v->screen, (int)c.x, (int)c.y, (int)(c.x + c.w), (int)(c.y + c.h));
}

static const struct gpu_display_ops vnc_display_ops = {
	.update = vnc_update,
};

/* Joins the viewer threads that have ended.  v->lock held. */
static void vnc_reap(struct vnc *v)
{
	for (unsigned int i = 0; i < v->nr_gone; i++)
		pthread_join(v->gone[i], NULL);
	v->nr_gone = 0;
}

/* A viewer's input thread, at its end: the screen must outlive what follows. */
static void vnc_viewer_gone(rfbClientPtr cl)
{
	struct vnc *v = vnc_of(cl);

	pthread_mutex_lock(&v->lock);
	v->gone[v->nr_gone++] = pthread_self();   /* room made in vnc_new_viewer() */
	v->viewers--;
	pthread_cond_broadcast(&v->viewer_gone);
	pthread_mutex_unlock(&v->lock);
}

/* The listener thread accepted a viewer; its threads start after this. */
static enum rfbNewClientAction vnc_new_viewer(rfbClientPtr cl)
{
	struct vnc *v = vnc_of(cl);
	enum rfbNewClientAction ret = RFB_CLIENT_ACCEPT;

	pthread_mutex_lock(&v->lock);
	vnc_reap(v);
	if (v->viewers + 1 > v->gone_cap) {
		pthread_t *gone = reallocarray(v->gone, v->viewers + 8, sizeof(*gone));

		if (gone) {
			v->gone = gone;
			v->gone_cap = v->viewers + 8;
		}
	}
	if (v->viewers + 1 <= v->gone_cap) {
		v->viewers++;
		cl->clientGoneHook = vnc_viewer_gone;
	} else {
		ret = RFB_CLIENT_REFUSE;
	}
	pthread_mutex_unlock(&v->lock);
	return ret;
}

/*
 * A thread of its own loads the filter and starts libvncserver's
 * listener, so that thread, and every viewer thread it starts, inherits
 * the filter while the caller's thread keeps its own.
 */
static void *vnc_starter(void *arg)
{
	struct vnc *v = arg;

	pthread_setname_np(pthread_self(), "vnc");
	v->start_err = sandbox_enter(SANDBOX_VNC, v->sandboxed);
	if (!v->start_err)
		rfbRunEventLoop(v->screen, -1, TRUE);
	return NULL;
}

static int vnc_run(struct vnc *v)
{
	pthread_t starter;
	int ret = pthread_create(&starter, NULL, vnc_starter, v);

	if (ret)
		return -ret;
	pthread_join(starter, NULL);
	return v->start_err;
}

static void vnc_free(struct vnc *v)
{
	free(v->screen->frameBuffer);
	rfbScreenCleanup(v->screen);
	v->screen = NULL;
	free(v->gone);
	pthread_cond_destroy(&v->viewer_gone);
	pthread_mutex_destroy(&v->lock);
}

int vnc_start(struct vnc *v, const struct display_config *cfg, struct virtio_gpu *gpu,
	      struct virtio_input *kbd, struct virtio_input *tablet, bool sandboxed)
{
	rfbScreenInfoPtr screen;
	int ret;

	*v = (struct vnc){ .gpu = gpu, .kbd = kbd, .tablet = tablet, .sandboxed = sandboxed,
			   .width = gpu->cfg.width, .height = gpu->cfg.height };
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->viewer_gone, NULL);
	rfbLogEnable(0);  /* arkvm's stderr is for arkvm's own lines */
	screen = rfbGetScreen(NULL, NULL, (int)v->width, (int)v->height, 8, 3, 4);
	if (!screen)
		return -ENOMEM;
	v->screen = screen;
	screen->frameBuffer = calloc((size_t)v->width * v->height, 4);
	if (!screen->frameBuffer) {
		vnc_free(v);
		return -ENOMEM;
	}
	screen->cursor = NULL;  /* libvncserver's arrow would be drawn over the guest's picture */
	screen->desktopName = "arkvm";
	screen->alwaysShared = TRUE;
	screen->port = cfg->port;
	screen->ipv6port = 0;
	memcpy(&screen->listenInterface, cfg->addr, sizeof(cfg->addr));
	screen->kbdAddEvent = vnc_key;
	screen->ptrAddEvent = vnc_pointer;
	screen->newClientHook = vnc_new_viewer;
	screen->screenData = v;
	rfbInitServer(screen);
	if (screen->listenSock == RFB_INVALID_SOCKET) {
		pr_err("--display vnc=%u.%u.%u.%u:%u: cannot listen there (in use, or not an "
		       "address of this host)", cfg->addr[0], cfg->addr[1], cfg->addr[2],
		       cfg->addr[3], cfg->port);
		vnc_free(v);
		return -EADDRNOTAVAIL;
	}
	pthread_mutex_lock(&gpu->lock);
	gpu->display = &vnc_display_ops;
	gpu->display_opaque = v;
	gpu->watched = true;
	pthread_mutex_unlock(&gpu->lock);
	ret = vnc_run(v);  /* libvncserver's own threads from here on */
	if (ret) {
		vnc_stop(v);
		return ret;
	}
	return 0;
}

/* Tells every viewer's threads to end, and waits until they have. */
static void vnc_disconnect_all(struct vnc *v)
{
	rfbClientIteratorPtr it = rfbGetClientIterator(v->screen);
	rfbClientPtr cl;

	while ((cl = rfbClientIteratorNext(it)))
		rfbCloseClient(cl);
	rfbReleaseClientIterator(it);
	pthread_mutex_lock(&v->lock);
	while (v->viewers)
		pthread_cond_wait(&v->viewer_gone, &v->lock);
	vnc_reap(v);
	pthread_mutex_unlock(&v->lock);
}

/*
 * libvncserver's own rfbShutdownServer(screen, TRUE) reads each viewer
 * after dropping its reference, while the viewer's thread may be freeing
 * it (ThreadSanitizer saw it in the unit tests): the listener is stopped
 * through it, the viewers here.
 */
void vnc_stop(struct vnc *v)
{
	if (!v->screen)
		return;
	pthread_mutex_lock(&v->gpu->lock);
	v->gpu->display = NULL;
	pthread_mutex_unlock(&v->gpu->lock);
	rfbShutdownServer(v->screen, FALSE);   /* no new viewer from here on */
	vnc_disconnect_all(v);
	vnc_free(v);
}
