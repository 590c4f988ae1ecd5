// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arm64.h"
#include "layout.h"
#include "log.h"
#include "vm.h"

static int gic_set_attr(struct vm *vm, u32 group, u64 attr, const void *val)
{
	struct kvm_device_attr a = {
		.group = group,
		.attr = attr,
		.addr = (u64)(uintptr_t)val,
	};

	return ioctl(vm->gic_fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

int gic_create(struct vm *vm)
{
	struct kvm_create_device dev = {
		.type = KVM_DEV_TYPE_ARM_VGIC_V3,
		.flags = KVM_CREATE_DEVICE_TEST,
	};
	u64 dist = ARM64_GICD_BASE, redist = ARM64_GICR_BASE;
	u32 nr_irqs = ARM64_NR_IRQS;
	int ret;

	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
		ret = -errno;
		pr_err("KVM cannot emulate a GICv3 on this host (%s): arkvm needs GICv3 hardware",
		       strerror(errno));
		return ret;
	}
	dev.flags = 0;
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
		ret = -errno;
		pr_err("creating the VGICv3: %s", strerror(errno));
		return ret;
	}
	vm->gic_fd = (int)dev.fd;

	ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
	if (!ret)
		ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST,
				   &redist);
	if (!ret)
		ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (ret)
		pr_err("configuring the VGICv3: %s", strerror(-ret));
	return ret;
}

int gic_init(struct vm *vm)
{
	int ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);

	if (ret)
		pr_err("initialising the VGICv3: %s", strerror(-ret));
	return ret;
}

void gic_set_spi_level(void *opaque, u32 intid, bool level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | intid,
		.level = level,
	};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		pr_warn_ratelimited("KVM_IRQ_LINE %u: %s", intid, strerror(errno));
}
