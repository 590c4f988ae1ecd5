// SPDX-License-Identifier: Apache-2.0
/*
 * The in-kernel VGIC: a GICv3 (distributor and redistributors) where KVM
 * can emulate one, else a GICv2 (distributor and CPU interface), as
 * --irqchip asks.  Both take the same SPIs through KVM_IRQ_LINE and irqfd.
 */
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

static u32 gic_kvm_type(unsigned int version)
{
	return version == 2 ? KVM_DEV_TYPE_ARM_VGIC_V2 : KVM_DEV_TYPE_ARM_VGIC_V3;
}

/* Whether KVM can emulate a GICv@version here (KVM_CREATE_DEVICE_TEST creates nothing). */
static bool gic_offered(struct vm *vm, unsigned int version)
{
	struct kvm_create_device dev = {
		.type = gic_kvm_type(version),
		.flags = KVM_CREATE_DEVICE_TEST,
	};

	return ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) == 0;
}

int gic_choose(struct vm *vm)
{
	enum irqchip_kind want = vm->cfg->irqchip;

	if (want == IRQCHIP_AUTO) {
		vm->gic_version = gic_offered(vm, 3) ? 3 : gic_offered(vm, 2) ? 2 : 0;
		if (!vm->gic_version) {
			pr_err("KVM on this host can emulate neither a GICv3 nor a GICv2");
			return -ENODEV;
		}
		return 0;
	}
	vm->gic_version = want == IRQCHIP_GICV2 ? 2 : 3;
	if (!gic_offered(vm, vm->gic_version)) {
		pr_err("--irqchip gicv%u: KVM on this host cannot emulate a GICv%u%s",
		       vm->gic_version, vm->gic_version,
		       vm->gic_version == 3 ? " (try --irqchip gicv2)" : " (try --irqchip gicv3)");
		return -ENODEV;
	}
	return 0;
}

static int gic_set_addrs(struct vm *vm)
{
	u64 dist = ARM64_GICD_BASE, redist = ARM64_GICR_BASE, cpu = ARM64_GICC_BASE;
	int ret;

	if (vm->gic_version == 2) {
		ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST, &dist);
		if (!ret)
			ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_CPU,
					   &cpu);
		return ret;
	}
	ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
	if (!ret)
		ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST,
				   &redist);
	return ret;
}

int gic_create(struct vm *vm)
{
	struct kvm_create_device dev = { .type = gic_kvm_type(vm->gic_version) };
	u32 nr_irqs = ARM64_NR_IRQS;
	int ret;

	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
		ret = -errno;
		pr_err("creating the VGICv%u: %s", vm->gic_version, strerror(errno));
		return ret;
	}
	vm->gic_fd = (int)dev.fd;

	ret = gic_set_addrs(vm);
	if (!ret)
		ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (ret)
		pr_err("configuring the VGICv%u: %s", vm->gic_version, strerror(-ret));
	return ret;
}

int gic_init(struct vm *vm)
{
	int ret = gic_set_attr(vm, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);

	if (ret)
		pr_err("initialising the VGICv%u: %s", vm->gic_version, strerror(-ret));
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
