// SPDX-License-Identifier: Apache-2.0
/*
 * One device's section of a snapshot: its class name, its virtio
 * transport's state (if it has one), then its own (struct device_class
 * save).  Apart from src/devices.c, which runs it over every device of a
 * VM, so that the unit tests can take one device through it.
 */
#include <errno.h>
#include <string.h>

#include "device.h"
#include "state.h"
#include "virtio_mmio.h"

#define DEVICE_STATE_TAG STATE_TAG('D', 'E', 'V', ' ')

int device_save(struct device *dev, struct state_writer *w)
{
	size_t mark;
	int ret = 0;

	state_begin(w, DEVICE_STATE_TAG, &mark);
	state_put_u32(w, (u32)strlen(dev->cls->name));
	state_put(w, dev->cls->name, strlen(dev->cls->name));
	if (dev->vdev)
		ret = virtio_dev_save(dev->vdev, w);
	if (!ret && dev->cls->save)
		ret = dev->cls->save(dev, w);
	state_end(w, mark);
	return ret ? ret : w->err;
}

static int device_restore_section(struct device *dev, struct state_reader *r)
{
	char name[64];
	u32 len = state_get_u32(r);
	int ret;

	if (state_check(r, len < sizeof(name)))
		return r->err;
	state_get(r, name, len);
	name[len] = '\0';
	if (state_check(r, !strcmp(name, dev->cls->name)))
		return r->err;
	ret = dev->vdev ? virtio_dev_restore(dev->vdev, r) : 0;
	if (!ret && dev->cls->restore)
		ret = dev->cls->restore(dev, r);
	if (!ret)
		ret = state_check(r, r->off == r->len);
	return ret;
}

/*
 * The transport's restore resets it when its own bytes do not fit; when
 * the device's own do not, the transport (restored and running by then)
 * is reset here, so a refused restore never leaves a half-restored device.
 * A class's restore op leaves its own state as it was when it refuses.
 */
int device_restore(struct device *dev, struct state_reader *r)
{
	struct state_reader section;
	int ret = state_enter(r, DEVICE_STATE_TAG, &section);

	if (!ret)
		ret = device_restore_section(dev, &section);
	if (ret && dev->vdev) {
		pthread_mutex_lock(&dev->vdev->lock);
		virtio_dev_reset(dev->vdev);
		pthread_mutex_unlock(&dev->vdev->lock);
	}
	return ret;
}
