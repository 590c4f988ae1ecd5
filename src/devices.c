// SPDX-License-Identifier: Apache-2.0
/*
 * The device registry: every kind of device the VM can have, in the order
 * they take their virtio-mmio slots (disks first, so the first is vda),
 * and what the VM does with all of them at once.  A new device type is
 * its own file in devices/ and one line in device_classes[].
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "log.h"
#include "state.h"
#include "virtio_balloon.h"
#include "vm.h"

static const struct device_class *const device_classes[] = {
	&uart_16550_class,       /* the machine's own: not in a virtio slot */
	&boot_timer_class,
	&pl031_class,            /* the real-time clock, always there */
	&virtio_blk_class,
	&virtio_net_class,
	&virtio_console_class,
	&virtio_vsock_class,
	&virtio_fs_class,        /* one per --share */
	&virtio_gpu_class,
	&virtio_input_class,     /* with --display vnc: keyboard, tablet */
	&vnc_class,              /* after the display and its input devices */
	&virtio_rng_class,
	&virtio_balloon_class,   /* last: no other device's slot moves with it */
};

static struct device *host_find(struct device_host *host, const struct device_class *cls,
				unsigned int index)
{
	struct vm *vm = host->opaque;

	for (unsigned int i = 0; i < vm->nr_devices; i++)
		if (vm->devices[i].cls == cls && vm->devices[i].index == index)
			return &vm->devices[i];
	return NULL;
}

static void vm_device_host(struct vm *vm, struct device_host *host)
{
	*host = (struct device_host){
		.cfg = vm->cfg,
		.mem = &vm->mem,
		.io_loop = &vm->io_loop,
		.console = &vm->console,
		.boot_times = &vm->boot_times,
		.bus = &vm->bus,
		.set_irq = gic_set_spi_level,
		.find = host_find,
		.opaque = vm,
	};
}

static int vm_device_create(struct vm *vm, struct device_host *host,
			    const struct device_class *cls, unsigned int index)
{
	struct device *dev;

	if (vm->nr_devices == VM_MAX_DEVICES) {
		pr_err("%s: more devices than arkvm has room for (%d)", cls->name, VM_MAX_DEVICES);
		return -ENOSPC;
	}
	dev = &vm->devices[vm->nr_devices++]; /* counted now: destroy cleans up a half-made one */
	*dev = (struct device){ .cls = cls, .index = index, .id = cls->name };
	return cls->create(dev, host, index);
}

static int vm_device_realize(struct vm *vm, struct device_host *host, struct device *dev)
{
	if (dev->cls->realize)
		return dev->cls->realize(dev, host);
	return dev->vdev ? virtio_slot_attach(vm, dev->vdev) : 0;
}

/*
 * Every device the config asks for, in the table's order; then each takes
 * its place, in the same order (so slots go as the table says).
 */
int vm_devices_create(struct vm *vm)
{
	struct device_host host;
	int ret;

	vm_device_host(vm, &host);
	for (size_t c = 0; c < ARRAY_SIZE(device_classes); c++) {
		const struct device_class *cls = device_classes[c];
		unsigned int n = cls->count ? cls->count(vm->cfg) : 1;

		for (unsigned int i = 0; i < n; i++) {
			ret = vm_device_create(vm, &host, cls, i);
			if (ret)
				return ret;
		}
	}
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		ret = vm_device_realize(vm, &host, &vm->devices[i]);
		if (ret)
			return ret;
	}
	return 0;
}

void vm_devices_quiesce(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		struct device *dev = &vm->devices[i];
		int ret = dev->cls->quiesce ? dev->cls->quiesce(dev) : 0;

		if (ret)
			pr_warn("%s: cannot quiesce: %s", dev->id, strerror(-ret));
	}
}

void vm_devices_resume(struct vm *vm)
{
	for (unsigned int i = vm->nr_devices; i-- > 0;) {
		struct device *dev = &vm->devices[i];

		if (dev->cls->resume)
			dev->cls->resume(dev);
	}
}

/* Before a snapshot writes anything: the first device that cannot be saved says why. */
int vm_devices_can_save(const struct vm *vm, char *why, size_t len)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		const struct device *dev = &vm->devices[i];
		int ret = dev->cls->can_save ? dev->cls->can_save(dev, why, len) : 0;

		if (ret)
			return ret;
	}
	return 0;
}

/* One section per device (src/device_state.c). */
int vm_devices_save(struct vm *vm, struct state_writer *w)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		int ret = device_save(&vm->devices[i], w);

		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Into a VM built from the same config: each device takes its section
 * back in order.  The bytes come from a file: a mismatch is refused.
 */
int vm_devices_restore(struct vm *vm, struct state_reader *r)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		int ret = device_restore(&vm->devices[i], r);

		if (ret) {
			pr_err("%s: its saved state does not fit: %s", vm->devices[i].id,
			       strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void vm_devices_capture(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++)
		if (vm->devices[i].cls->capture)
			vm->devices[i].cls->capture(&vm->devices[i]);
}

static bool device_on_io_thread(const struct device *dev)
{
	return dev->cls->on_io_thread && dev->cls->on_io_thread(dev);
}

bool vm_devices_on_io_thread(const struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++)
		if (device_on_io_thread(&vm->devices[i]))
			return true;
	return false;
}

int vm_devices_io_start(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		struct device *dev = &vm->devices[i];
		int ret = device_on_io_thread(dev) ? dev->cls->io_start(dev) : 0;

		if (ret)
			return ret;
	}
	return 0;
}

void vm_devices_io_stop(struct vm *vm)
{
	for (unsigned int i = vm->nr_devices; i-- > 0;)
		if (device_on_io_thread(&vm->devices[i]))
			vm->devices[i].cls->io_stop(&vm->devices[i]);
}

int vm_devices_update(struct vm *vm, const char *class_name, const char *id,
		      const void *new_cfg)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		struct device *dev = &vm->devices[i];

		if (strcmp(dev->cls->name, class_name) || strcmp(dev->id, id))
			continue;
		return dev->cls->update ? dev->cls->update(dev, new_cfg) : -EOPNOTSUPP;
	}
	return -ENOENT;
}

void vm_devices_print_stats(const struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		const struct device *dev = &vm->devices[i];

		if (dev->cls->stats)
			dev->cls->stats(dev);
	}
}

void vm_devices_destroy(struct vm *vm)
{
	for (unsigned int i = vm->nr_devices; i-- > 0;) {
		struct device *dev = &vm->devices[i];

		if (dev->cls->destroy)
			dev->cls->destroy(dev);
		else if (dev->vdev)
			virtio_dev_destroy(dev->vdev);
		pages_free(dev->priv, dev->priv_size);
		dev->priv = NULL;
	}
	vm->nr_devices = 0;
}
