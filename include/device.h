/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_DEVICE_H
#define ARKVM_DEVICE_H

#include <stdbool.h>

#include "compiler.h"
#include "log.h"
#include "pages.h"
#include "vm_config.h"

struct boot_times;
struct console;
struct device_class;
struct device;
struct event_loop;
struct guest_mem;
struct metrics_writer;
struct mmio_bus;
struct state_reader;
struct state_writer;
struct virtio_dev;

/*
 * What the VM lends a device to build and wire itself, so that a device
 * model needs no struct vm (and unit tests can lend their own).
 */
struct device_host {
	const struct vm_config *cfg;
	const struct guest_mem *mem;
	struct event_loop *io_loop;     /* the I/O thread's: queue work, backends */
	struct console *console;        /* the host side of the guest's console */
	struct boot_times *boot_times;  /* start-up's clock, for the boot timer */
	struct mmio_bus *bus;
	/* Raises or lowers an SPI of the interrupt controller (opaque: the VM). */
	void (*set_irq)(void *opaque, u32 intid, bool level);
	/* The instance @index of @cls created so far, or NULL. */
	struct device *(*find)(struct device_host *host, const struct device_class *cls,
			       unsigned int index);
	void *opaque;                   /* the VM */
};

/*
 * A kind of device, and everything the VM does with one.  Only create is
 * required; a virtio device that sets dev->vdev gets its slot, its
 * transport state, its stats line and its destruction generically.
 */
struct device_class {
	const char *name;
	/* How many instances @cfg asks for (0: none). */
	unsigned int (*count)(const struct vm_config *cfg);
	/*
	 * Builds instance @index from the config: its state, its backend (a
	 * file, a tap).  Prints one line and returns -errno on failure; what
	 * it made before the failure is destroyed.
	 */
	int (*create)(struct device *dev, struct device_host *host, unsigned int index);
	/*
	 * Places it once every device exists: on the MMIO bus, which gives
	 * the device tree its node.  Optional for a virtio device (one that
	 * set dev->vdev): the default puts it in the next virtio-mmio slot,
	 * wired to KVM.
	 */
	int (*realize)(struct device *dev, struct device_host *host);
	/*
	 * On the I/O thread with every vCPU parked: complete or hold all work
	 * so nothing reaches guest RAM until resume.
	 */
	int (*quiesce)(struct device *dev);
	void (*resume)(struct device *dev);
	/*
	 * Optional: whether its state can go into a snapshot now (quiesced,
	 * on the main thread with every other thread held): 0, or -errno
	 * with one line in @why, naming the device, which the API gives as
	 * its fault message.  Without it, always.  (virtio-fs's save also
	 * refuses on its own: its state would be wrong, not just stale.)
	 */
	int (*can_save)(const struct device *dev, char *why, size_t len);
	/* The device's own state, after the transport's (quiesced). */
	int (*save)(struct device *dev, struct state_writer *w);
	int (*restore)(struct device *dev, struct state_reader *r);
	/*
	 * Optional, for a device whose work must start on the I/O thread
	 * itself (virglrenderer: its GL context is that thread's).  When
	 * on_io_thread() says so, io_start() runs there before any vCPU does,
	 * io_stop() there at the end, and the I/O thread goes without its
	 * seccomp filter (Mesa needs far more than it allows).
	 */
	bool (*on_io_thread)(const struct device *dev);
	int (*io_start)(struct device *dev);
	void (*io_stop)(struct device *dev);
	/* Optional: SIGUSR1, and once more at the stop: record what it shows (--screenshot). */
	void (*capture)(struct device *dev);
	/*
	 * Optional: new settings after start (Firecracker's PATCH), on the
	 * main thread with every other thread held, as for a pause.  @new_cfg is the class's own config (struct disk_config,
	 * struct net_config) for this instance, same id.  0, or -errno with
	 * the device as it was.
	 */
	int (*update)(struct device *dev, const void *new_cfg);
	/* --stats, once every thread is gone: its own lines. */
	void (*stats)(const struct device *dev);
	/*
	 * Releases what create opened (the default: the virtio transport's
	 * lock); the registry frees dev->priv afterwards.
	 */
	void (*destroy)(struct device *dev);
	/*
	 * Optional: its group in the metrics line (include/metrics.h), with
	 * metrics_put().  On the thread that flushes, while the device runs:
	 * it reads only counters the device bumps atomically.
	 */
	void (*metrics)(struct device *dev, struct metrics_writer *w);
};

struct device {
	const struct device_class *cls;
	unsigned int index;             /* among its class's instances */
	const char *id;                 /* the config's id, else the class name */
	void *priv;                     /* the model's own state (device_alloc_priv()) */
	size_t priv_size;
	struct virtio_dev *vdev;        /* a virtio device's transport, else NULL */
};

/*
 * One device's section of a snapshot (src/device_state.c): its class
 * name, its transport's state, its own; the device quiesced, on the
 * thread that holds every other one (as vm_devices_save() does).  Restore
 * reads one section into a device built from the same config: 0, or
 * -EINVAL when the bytes do not fit, with the device left reset.
 */
int device_save(struct device *dev, struct state_writer *w);
int device_restore(struct device *dev, struct state_reader *r);

/*
 * A class's create starts here: its state, zeroed, becomes dev->priv (the
 * registry frees it).  Its pages are resident only once touched: a device's
 * state is mostly buffers it may never fill.  NULL, said on stderr, when
 * out of memory.
 */
static inline void *device_alloc_priv(struct device *dev, size_t size)
{
	dev->priv = pages_zalloc(size);
	dev->priv_size = dev->priv ? size : 0;
	if (!dev->priv)
		pr_err("%s: out of memory", dev->cls->name);
	return dev->priv;
}

/*
 * The classes, each defined in its own file in devices/ and listed once,
 * in slot order, in src/devices.c.
 */
extern const struct device_class uart_16550_class;
extern const struct device_class boot_timer_class;
extern const struct device_class pl031_class;
extern const struct device_class virtio_blk_class;
extern const struct device_class virtio_net_class;
extern const struct device_class virtio_console_class;
extern const struct device_class virtio_vsock_class;
extern const struct device_class virtio_gpu_class;
extern const struct device_class virtio_input_class;
extern const struct device_class vnc_class;
extern const struct device_class virtio_rng_class;
extern const struct device_class virtio_balloon_class;
extern const struct device_class virtio_fs_class;

#endif
