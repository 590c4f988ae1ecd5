/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_ARM64_H
#define ARKVM_ARM64_H

#include <stdbool.h>

#include "compiler.h"

struct vm;
struct vcpu;

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

/* cpu_state.c: a parked vCPU's registers and MP state, for snapshots. */
struct state_writer;
struct state_reader;
int arm64_vcpu_save(struct vcpu *vcpu, struct state_writer *w);
int arm64_vcpu_restore(struct vcpu *vcpu, struct state_reader *r);

/* gic_state.c: the VGICv3's state, with every vCPU parked (-EOPNOTSUPP on a GICv2). */
int gic_save(struct vm *vm, struct state_writer *w);
int gic_restore(struct vm *vm, struct state_reader *r);

/* The KVM_CREATE_VM type for a guest physical map ending at @ipa_end. */
int arm64_vm_type(int kvm_fd, u64 ipa_end, unsigned long *type);

#endif
