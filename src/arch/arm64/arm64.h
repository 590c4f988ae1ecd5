/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_ARM64_H
#define ARKVM_ARM64_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

struct vm;
struct vcpu;
struct vm_config;
struct kvm_vcpu_init;

/* What the vCPUs got of --cpu-features: the same for every one. */
struct arm64_cpu {
	bool sve, pauth, pmu, steal_time;
	u64 sve_vls[8];            /* KVM_REG_ARM64_SVE_VLS, as vCPU 0 chose it */
	unsigned int sve_max_vl;   /* bits: the largest of them */
	void *pvtime;              /* the stolen time areas (memory slot 1) */
	size_t pvtime_size;
};

/*
 * gic.c: the in-kernel VGIC.  gic_choose() sets vm->gic_version from
 * --irqchip and what KVM can emulate, once the VM exists; create before
 * the vCPUs, init after them.
 */
int gic_choose(struct vm *vm);
int gic_create(struct vm *vm);
int gic_init(struct vm *vm);
/* An irq_line's set_level for SPIs, through KVM_IRQ_LINE. */
void gic_set_spi_level(void *vm, u32 intid, bool level);

/* cpu.c: vCPU init (PSCI 0.2, secondaries powered off) and boot state. */
int arm64_vcpu_init(struct vm *vm, struct vcpu *vcpu);
int arm64_set_boot_regs(struct vcpu *vcpu, u64 entry, u64 fdt_gpa);

/*
 * cpu_features.c: the features each vCPU gets.  arm64_cpu_probe() after
 * the VM exists decides them (an init step); arm64_vcpu_features() adds
 * their bits before KVM_ARM_VCPU_INIT and arm64_vcpu_finalize() follows
 * it (SVE); arm64_cpu_late_init() is a step after gic_init (PMU, stolen
 * time).  Main thread only.
 */
int arm64_cpu_probe(struct vm *vm);
void arm64_vcpu_features(const struct vm *vm, struct kvm_vcpu_init *init);
int arm64_vcpu_finalize(struct vm *vm, struct vcpu *vcpu);
int arm64_cpu_late_init(struct vm *vm);
void arm64_cpu_destroy(struct vm *vm);
/* "sve on (max 512 bits), pauth on, pmu off, steal-time on" */
void arm64_cpu_describe(const struct arm64_cpu *c, char *buf, size_t size);
/*
 * Snapshots: arm64_cpu_save() right after the config; a restore reads it
 * back into the config with arm64_cpu_load_config() (every feature off
 * for a snapshot from before them), and the stolen time areas with
 * arm64_cpu_restore() once the VM is built.
 */
struct state_writer;
struct state_reader;
int arm64_cpu_save(const struct vm *vm, struct state_writer *w);
int arm64_cpu_load_config(struct vm_config *cfg, struct state_reader *r);
int arm64_cpu_restore(struct vm *vm, struct state_reader *r);

/* cpu_state.c: a parked vCPU's registers and MP state, for snapshots. */
int arm64_vcpu_save(struct vcpu *vcpu, struct state_writer *w);
int arm64_vcpu_restore(struct vcpu *vcpu, struct state_reader *r);

/* gic_state.c: the VGICv3's state, with every vCPU parked (-EOPNOTSUPP on a GICv2). */
int gic_save(struct vm *vm, struct state_writer *w);
int gic_restore(struct vm *vm, struct state_reader *r);

/* The KVM_CREATE_VM type for a guest physical map ending at @ipa_end. */
int arm64_vm_type(int kvm_fd, u64 ipa_end, unsigned long *type);

#endif
