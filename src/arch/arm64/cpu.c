// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arm64.h"
#include "cpu_topology.h"
#include "log.h"
#include "vm.h"

#define CORE_REG(x) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(x))
#define SYS_REG_MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)

/* booting.rst: enter at EL1h with all of DAIF masked. */
#define BOOT_PSTATE (PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT)

static int set_reg(int fd, u64 id, u64 val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(uintptr_t)&val };

	return ioctl(fd, KVM_SET_ONE_REG, &reg) < 0 ? -errno : 0;
}

static int get_reg(int fd, u64 id, u64 *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(uintptr_t)val };

	return ioctl(fd, KVM_GET_ONE_REG, &reg) < 0 ? -errno : 0;
}

int arm64_vcpu_init(struct vm *vm, struct vcpu *vcpu)
{
	struct kvm_vcpu_init init;
	int ret;

	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		ret = -errno;
		pr_err("KVM_ARM_PREFERRED_TARGET: %s", strerror(errno));
		return ret;
	}
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	/* Secondaries wait for the guest's PSCI CPU_ON, which KVM handles. */
	if (vcpu->id)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	arm64_vcpu_features(vm, &init);
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		ret = -errno;
		pr_err("vcpu%u: KVM_ARM_VCPU_INIT: %s", vcpu->id, strerror(errno));
		return ret;
	}
	ret = arm64_vcpu_finalize(vm, vcpu);
	if (ret)
		return ret;
	/* A --cpus topology: its MPIDR, before the VGIC and the first run read it. */
	if (cpu_topology_given(&vm->cfg->topology)) {
		ret = set_reg(vcpu->fd, SYS_REG_MPIDR_EL1,
			      cpu_topology_mpidr(&vm->cfg->topology, vcpu->id));
		if (ret) {
			pr_err("vcpu%u: setting MPIDR_EL1: %s", vcpu->id, strerror(-ret));
			return ret;
		}
	}
	ret = get_reg(vcpu->fd, SYS_REG_MPIDR_EL1, &vcpu->mpidr);
	if (ret)
		pr_err("vcpu%u: reading MPIDR_EL1: %s", vcpu->id, strerror(-ret));
	return ret;
}

int arm64_set_boot_regs(struct vcpu *vcpu, u64 entry, u64 fdt_gpa)
{
	const struct { u64 id, val; } regs[] = {
		{ CORE_REG(regs.pstate), BOOT_PSTATE },
		{ CORE_REG(regs.regs[0]), fdt_gpa },
		{ CORE_REG(regs.regs[1]), 0 },
		{ CORE_REG(regs.regs[2]), 0 },
		{ CORE_REG(regs.regs[3]), 0 },
		{ CORE_REG(regs.pc), entry },
	};

	for (size_t i = 0; i < ARRAY_SIZE(regs); i++) {
		int ret = set_reg(vcpu->fd, regs[i].id, regs[i].val);

		if (ret) {
			pr_err("vcpu%u: setting boot registers: %s", vcpu->id, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int arm64_vm_type(int kvm_fd, u64 ipa_end, unsigned long *type)
{
	int need = 64 - __builtin_clzll(ipa_end - 1);
	int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);

	if (need < 32)
		need = 32; /* KVM's smallest IPA size */
	if (max > 0 && need > max) {
		pr_err("--memory: guest RAM would end at 0x%llx, beyond this host's %d-bit guest address space",
		       (unsigned long long)ipa_end, max);
		return -E2BIG;
	}
	*type = KVM_VM_TYPE_ARM_IPA_SIZE(need);
	return 0;
}
