// SPDX-License-Identifier: Apache-2.0
/*
 * The VGICv3's state for a snapshot, through KVM's device attributes:
 * the distributor's registers for the SPIs, each redistributor's for its
 * SGIs and PPIs, each vCPU's ICC system registers, and the level of each
 * level-triggered line.  Every vCPU is parked (out of KVM_RUN) meanwhile.
 *
 * Restore writes each interrupt's configuration (group, routing, trigger,
 * priority) before its enable, pending and active bits.  Nothing is
 * delivered before the first KVM_RUN anyway.  Only AP0R0 and AP1R0 of the
 * active-priority registers are kept: the others exist only with 6 or 7
 * priority bits (not so in the lab's nested VGIC).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arm64.h"
#include "layout.h"
#include "log.h"
#include "state.h"
#include "vm.h"

#define GIC_STATE_TAG STATE_TAG('G', 'I', 'C', '3')

/* A register block: @offset, and its width in bits per interrupt (0: one word). */
struct gic_block {
	u32 offset;
	u32 bits_per_irq;
};

/* Distributor, for the SPIs (32 .. ARM64_NR_IRQS): GICD_CTLR is apart, written last. */
#define GICD_CTLR 0x0000
static const struct gic_block dist_blocks[] = {
	{ 0x0080, 1 },    /* GICD_IGROUPR */
	{ 0x0D00, 1 },    /* GICD_IGRPMODR */
	{ 0x6000, 64 },   /* GICD_IROUTER, as two 32-bit halves */
	{ 0x0C00, 2 },    /* GICD_ICFGR: before anything is pending */
	{ 0x0400, 8 },    /* GICD_IPRIORITYR */
	{ 0x0100, 1 },    /* GICD_ISENABLER */
	{ 0x0200, 1 },    /* GICD_ISPENDR */
	{ 0x0300, 1 },    /* GICD_ISACTIVER */
};

/* Redistributor: the control frame, then the SGI frame (+64 KiB) for irqs 0-31. */
#define GICR_SGI 0x10000
static const struct gic_block redist_blocks[] = {
	{ 0x0000, 0 },                /* GICR_CTLR */
	{ GICR_SGI + 0x0080, 1 },     /* GICR_IGROUPR0 */
	{ GICR_SGI + 0x0D00, 1 },     /* GICR_IGRPMODR0 */
	{ GICR_SGI + 0x0C00, 2 },     /* GICR_ICFGR0-1 */
	{ GICR_SGI + 0x0400, 8 },     /* GICR_IPRIORITYR0-7 */
	{ GICR_SGI + 0x0100, 1 },     /* GICR_ISENABLER0 */
	{ GICR_SGI + 0x0200, 1 },     /* GICR_ISPENDR0 */
	{ GICR_SGI + 0x0300, 1 },     /* GICR_ISACTIVER0 */
};

/* ICC system registers, as KVM encodes them (op0, op1, CRn, CRm, op2); SRE and CTLR first. */
#define ICC(op1, crn, crm, op2) \
	((3u << 14) | ((op1) << 11) | ((crn) << 7) | ((crm) << 3) | (op2))
static const u32 icc_regs[] = {
	ICC(0, 12, 12, 5),   /* ICC_SRE_EL1 */
	ICC(0, 12, 12, 4),   /* ICC_CTLR_EL1 */
	ICC(0, 4, 6, 0),     /* ICC_PMR_EL1 */
	ICC(0, 12, 8, 3),    /* ICC_BPR0_EL1 */
	ICC(0, 12, 12, 3),   /* ICC_BPR1_EL1 */
	ICC(0, 12, 8, 4),    /* ICC_AP0R0_EL1 */
	ICC(0, 12, 9, 0),    /* ICC_AP1R0_EL1 */
	ICC(0, 12, 12, 6),   /* ICC_IGRPEN0_EL1 */
	ICC(0, 12, 12, 7),   /* ICC_IGRPEN1_EL1 */
};

/* A vCPU's affinity as KVM's redistributor and ICC attributes take it. */
static u64 vcpu_affinity(const struct vcpu *vcpu)
{
	u64 m = vcpu->mpidr;

	return (m & 0xffffff) | ((m >> 32) & 0xff) << 24;
}

static int gic_attr(struct vm *vm, bool set, u32 group, u64 attr, void *val)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (u64)(uintptr_t)val };

	return ioctl(vm->gic_fd, set ? KVM_SET_DEVICE_ATTR : KVM_GET_DEVICE_ATTR, &a) < 0 ?
		-errno : 0;
}

/* How many 32-bit words a block has for @nr interrupts (a one-word block: 1). */
static u32 block_words(const struct gic_block *b, u32 nr)
{
	return b->bits_per_irq ? nr * b->bits_per_irq / 32 : 1;
}

/*
 * One block's words, saved or restored.  Distributor blocks start at
 * the first SPI: the first 32 interrupts are the redistributors'.
 */
static int gic_block(struct vm *vm, bool set, u32 group, u64 base, const struct gic_block *b,
		     u32 first_irq, u32 nr, struct state_writer *w, struct state_reader *r)
{
	u32 start = b->bits_per_irq ? b->offset + first_irq * b->bits_per_irq / 8 : b->offset;

	for (u32 i = 0; i < block_words(b, nr); i++) {
		u32 v = set ? state_get_u32(r) : 0;
		int ret;

		if (set && r->err)
			return -EINVAL;
		ret = gic_attr(vm, set, group, base | (start + 4 * i), &v);
		if (ret) {
			pr_err("VGIC: %s register 0x%x: %s", set ? "restoring" : "saving",
			       start + 4 * i, strerror(-ret));
			return ret;
		}
		if (!set)
			state_put_u32(w, v);
	}
	return 0;
}

static int gic_dist(struct vm *vm, bool set, struct state_writer *w, struct state_reader *r)
{
	u32 nr_spis = ARM64_NR_IRQS - 32, ctlr = 0;
	int ret = 0;

	for (size_t i = 0; !ret && i < ARRAY_SIZE(dist_blocks); i++)
		ret = gic_block(vm, set, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0, &dist_blocks[i], 32,
				nr_spis, w, r);
	if (ret)
		return ret;
	if (set)
		ctlr = state_get_u32(r);
	if (set && r->err)
		return -EINVAL;
	ret = gic_attr(vm, set, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_CTLR, &ctlr);
	if (!ret && !set)
		state_put_u32(w, ctlr);
	return ret;
}

static int gic_redist(struct vm *vm, struct vcpu *vcpu, bool set, struct state_writer *w,
		      struct state_reader *r)
{
	u64 base = vcpu_affinity(vcpu) << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;
	int ret = 0;

	for (size_t i = 0; !ret && i < ARRAY_SIZE(redist_blocks); i++)
		ret = gic_block(vm, set, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, base, &redist_blocks[i], 0,
				32, w, r);
	return ret;
}

static int gic_icc(struct vm *vm, struct vcpu *vcpu, bool set, struct state_writer *w,
		   struct state_reader *r)
{
	u64 base = vcpu_affinity(vcpu) << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;

	for (size_t i = 0; i < ARRAY_SIZE(icc_regs); i++) {
		u64 v = set ? state_get_u64(r) : 0;
		int ret;

		if (set && r->err)
			return -EINVAL;
		ret = gic_attr(vm, set, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, base | icc_regs[i], &v);
		if (ret) {
			pr_err("VGIC: vcpu%u: %s ICC register 0x%x: %s", vcpu->id,
			       set ? "restoring" : "saving", icc_regs[i], strerror(-ret));
			return ret;
		}
		if (!set)
			state_put_u64(w, v);
	}
	return 0;
}

/* The level of every level-triggered line, 32 at a time (vCPU 0's view for SPIs). */
static int gic_levels(struct vm *vm, bool set, struct state_writer *w, struct state_reader *r)
{
	u64 base = vcpu_affinity(&vm->vcpus[0]) << KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT;

	for (u32 irq = 32; irq < ARM64_NR_IRQS; irq += 32) {
		u64 attr = base | ((u64)VGIC_LEVEL_INFO_LINE_LEVEL << KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT) |
			   irq;
		u32 v = set ? state_get_u32(r) : 0;
		int ret;

		if (set && r->err)
			return -EINVAL;
		ret = gic_attr(vm, set, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, attr, &v);
		if (ret) {
			pr_err("VGIC: %s line levels: %s", set ? "restoring" : "saving", strerror(-ret));
			return ret;
		}
		if (!set)
			state_put_u32(w, v);
	}
	return 0;
}

static int gic_state(struct vm *vm, bool set, struct state_writer *w, struct state_reader *r)
{
	int ret = gic_dist(vm, set, w, r);

	for (unsigned int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = gic_redist(vm, &vm->vcpus[i], set, w, r);
	for (unsigned int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = gic_icc(vm, &vm->vcpus[i], set, w, r);
	if (!ret)
		ret = gic_levels(vm, set, w, r);
	return ret;
}

int gic_save(struct vm *vm, struct state_writer *w)
{
	size_t mark;
	int ret;

	if (vm->gic_version != 3)
		return -EOPNOTSUPP;   /* vm_snapshot_create() says so first */
	state_begin(w, GIC_STATE_TAG, &mark);
	state_put_u32(w, ARM64_NR_IRQS);
	state_put_u32(w, vm->nr_vcpus);
	ret = gic_state(vm, false, w, NULL);
	state_end(w, mark);
	return ret ? ret : w->err;
}

int gic_restore(struct vm *vm, struct state_reader *r)
{
	struct state_reader s;
	u32 nr_irqs, nr_vcpus;

	if (vm->gic_version != 3)
		return -EOPNOTSUPP;
	if (state_enter(r, GIC_STATE_TAG, &s))
		return -EINVAL;
	nr_irqs = state_get_u32(&s);
	nr_vcpus = state_get_u32(&s);
	if (state_check(&s, nr_irqs == ARM64_NR_IRQS && nr_vcpus == vm->nr_vcpus))
		return -EINVAL;
	return gic_state(vm, true, NULL, &s);
}
