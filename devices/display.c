// SPDX-License-Identifier: Apache-2.0
/*
 * The display's device classes: virtio-gpu with the renderer the config
 * asks for and its --screenshot file, and the VNC server that shows it
 * to a viewer, with the keyboard and tablet (virtio-input) it feeds.
 * The models are devices/virtio_gpu.c and devices/virtio_input.c; this is
 * how a VM gets them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "log.h"
#include "screenshot.h"
#include "virtio_gpu.h"
#include "virtio_input.h"
#include "vnc.h"

struct gpu_device {
	struct virtio_gpu gpu;
	bool initialised;
	int screenshot_fd;            /* --screenshot, else -1 */
	const char *screenshot_path;
};

static unsigned int gpu_count(const struct vm_config *cfg)
{
	return cfg->gpu.mode != GPU_NONE;
}

static int gpu_backend(const struct gpu_config *cfg, const struct gpu_backend_ops **backend)
{
	*backend = &gpu_2d_backend;
	if (cfg->mode != GPU_VIRGL)
		return 0;
#ifdef ARKVM_VIRGL
	*backend = &gpu_virgl_backend;
	return 0;
#else
	pr_err("--gpu virgl: this arkvm was built without virglrenderer (a static or GPU=0 build); "
	       "use --gpu 2d");
	return -ENOTSUP;
#endif
}

static int gpu_create(struct device *dev, struct device_host *host, unsigned int index __unused)
{
	const struct vm_config *cfg = host->cfg;
	const struct gpu_backend_ops *backend;
	struct gpu_device *gd;
	int ret = gpu_backend(&cfg->gpu, &backend);

	if (ret)
		return ret;
	gd = device_alloc_priv(dev, sizeof(*gd));
	if (!gd)
		return -ENOMEM;
	gd->screenshot_fd = -1;
	if (cfg->screenshot[0]) {
		gd->screenshot_path = cfg->screenshot;
		gd->screenshot_fd = screenshot_open(cfg->screenshot);
		if (gd->screenshot_fd < 0)
			return gd->screenshot_fd;
	}
	ret = virtio_gpu_init(&gd->gpu, &cfg->gpu, backend, host->mem, host->io_loop);
	if (ret) {
		pr_err("virtio-gpu: %s", strerror(-ret));
		return ret;
	}
	gd->initialised = true;
	dev->vdev = &gd->gpu.vdev;
	gd->gpu.watched = gd->screenshot_fd >= 0;
	/* A renderer with a start of its own starts on the I/O thread (io_start). */
	if (!backend->init) {
		ret = virtio_gpu_start(&gd->gpu);
		if (ret)
			return ret;
	}
	return 0;
}

static bool gpu_on_io_thread(const struct device *dev)
{
	const struct gpu_device *gd = dev->priv;

	return gd->gpu.backend->init != NULL;
}

static int gpu_io_start(struct device *dev)
{
	struct gpu_device *gd = dev->priv;

	return virtio_gpu_start(&gd->gpu);
}

static void gpu_io_stop(struct device *dev)
{
	struct gpu_device *gd = dev->priv;

	virtio_gpu_stop(&gd->gpu);  /* GL is the I/O thread's: torn down there */
}

/* The display as it is now, into the --screenshot file; from the main thread. */
static void gpu_capture(struct device *dev)
{
	struct gpu_device *gd = dev->priv;
	u32 width, height;
	u8 *rgb;
	int ret;

	if (gd->screenshot_fd < 0)
		return;
	ret = virtio_gpu_read_scanout(&gd->gpu, &rgb, &width, &height);
	if (ret == -ENODATA) {
		pr_warn("screenshot: the guest shows nothing on the display yet");
		return;
	}
	if (!ret) {
		ret = screenshot_write(gd->screenshot_fd, rgb, width, height);
		free(rgb);
	}
	if (ret)
		pr_warn("screenshot: %s", strerror(-ret));
	else
		pr_info("screenshot: %ux%u written to %s", width, height, gd->screenshot_path);
}

static void gpu_stats(const struct device *dev)
{
	const struct virtio_gpu *g = &((const struct gpu_device *)dev->priv)->gpu;

	pr_info("stats: virtio-gpu: %llu commands, %llu refused, %llu transfers, %llu flushes, "
		"%llu submits, %llu fences; scanout 0 shows resource %u (%ux%u)",
		(unsigned long long)g->stats.commands, (unsigned long long)g->stats.errors,
		(unsigned long long)g->stats.transfers, (unsigned long long)g->stats.flushes,
		(unsigned long long)g->stats.submits, (unsigned long long)g->stats.fences,
		g->scanouts[0].resource_id, g->scanouts[0].r.w, g->scanouts[0].r.h);
}

static void gpu_destroy(struct device *dev)
{
	struct gpu_device *gd = dev->priv;

	if (!gd)
		return;
	if (gd->initialised)
		virtio_gpu_destroy(&gd->gpu);
	if (gd->screenshot_fd >= 0)
		close(gd->screenshot_fd);
}

const struct device_class virtio_gpu_class = {
	.name = "virtio-gpu",
	.count = gpu_count,
	.create = gpu_create,
	.on_io_thread = gpu_on_io_thread,
	.io_start = gpu_io_start,
	.io_stop = gpu_io_stop,
	.capture = gpu_capture,
	.stats = gpu_stats,
	.destroy = gpu_destroy,
};

/* --display vnc: the server, once the GPU and both input devices exist. */
static unsigned int vnc_count(const struct vm_config *cfg)
{
	return cfg->display.vnc;
}

#ifdef ARKVM_VNC
static void *device_priv(struct device_host *host, const struct device_class *cls,
			 unsigned int index)
{
	struct device *dev = host->find(host, cls, index);

	return dev ? dev->priv : NULL;
}

static int vnc_create(struct device *dev, struct device_host *host, unsigned int index __unused)
{
	struct gpu_device *gd = device_priv(host, &virtio_gpu_class, 0);
	struct virtio_input *kbd = device_priv(host, &virtio_input_class, 0);
	struct virtio_input *tablet = device_priv(host, &virtio_input_class, 1);
	struct vnc *v;

	if (!gd || !kbd || !tablet) {
		pr_err("--display vnc: needs the display and its input devices first");
		return -EINVAL;
	}
	v = device_alloc_priv(dev, sizeof(*v));
	if (!v)
		return -ENOMEM;
	return vnc_start(v, &host->cfg->display, &gd->gpu, kbd, tablet, !host->cfg->no_seccomp);
}

static void vnc_destroy(struct device *dev)
{
	if (dev->priv)
		vnc_stop(dev->priv); /* nothing to stop if it never started */
}
#else
static int vnc_create(struct device *dev, struct device_host *host, unsigned int index)
{
	pr_err("--display vnc: this arkvm was built without libvncserver (a static or VNC=0 "
	       "build); use --screenshot");
	return -ENOTSUP;
}

static void vnc_destroy(struct device *dev)
{
}
#endif

const struct device_class vnc_class = {
	.name = "vnc",
	.count = vnc_count,
	.create = vnc_create,
	.destroy = vnc_destroy,
};
