// SPDX-License-Identifier: Apache-2.0
/*
 * The CPU features a guest gets (--cpu-features): SVE, pointer
 * authentication, PMUv3 and paravirtual stolen time.  Each is on where
 * the host's KVM offers it unless the config turns it off; one the config
 * asks for by name ("on") and the host lacks refuses the VM.  Every vCPU
 * gets the same set.
 *
 * KVM's order: the feature bits at KVM_ARM_VCPU_INIT; SVE's vector
 * lengths, then KVM_ARM_VCPU_FINALIZE, before any register is touched;
 * the PMU's interrupt and init once the VGIC is initialised; the stolen
 * time areas' addresses before the first KVM_RUN.  A restore repeats all
 * of it with the snapshot's set, then puts the registers back.
 */
#include <endian.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arm64.h"
#include "log.h"
#include "state.h"
#include "vm.h"

#define CPU_FEATURES_TAG STATE_TAG('C', 'P', 'U', 'F')
#define PVTIME_STATE_TAG STATE_TAG('P', 'V', 'T', 'M')

struct feature_probe {
	const char *name;      /* as --cpu-features names it */
	const char *what;      /* for the error line */
	int caps[2];           /* every one needed; 0 ends */
};

static const struct feature_probe probes[] = {
	{ "sve", "SVE", { KVM_CAP_ARM_SVE } },
	{ "pauth", "pointer authentication",
	  { KVM_CAP_ARM_PTRAUTH_ADDRESS, KVM_CAP_ARM_PTRAUTH_GENERIC } },
	{ "pmu", "a PMUv3", { KVM_CAP_ARM_PMU_V3 } },
	{ "steal-time", "stolen time accounting", { KVM_CAP_STEAL_TIME } },
};

static bool host_has(const struct vm *vm, const struct feature_probe *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(p->caps) && p->caps[i]; i++)
		if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, p->caps[i]) <= 0)
			return false;
	return true;
}

int arm64_cpu_probe(struct vm *vm)
{
	const struct cpu_features_config *f = &vm->cfg->cpu_features;
	const enum cpu_feature_mode modes[] = { f->sve, f->pauth, f->pmu, f->steal_time };
	bool *on[] = { &vm->cpu.sve, &vm->cpu.pauth, &vm->cpu.pmu, &vm->cpu.steal_time };

	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		bool have = modes[i] != CPU_FEATURE_OFF && host_has(vm, &probes[i]);

		if (modes[i] == CPU_FEATURE_ON && !have) {
			if (vm->restore)
				pr_err("the snapshot's guest has %s; this host's KVM does not offer it",
				       probes[i].what);
			else
				pr_err("--cpu-features %s=on: this host's KVM does not offer %s",
				       probes[i].name, probes[i].what);
			return -ENODEV;
		}
		*on[i] = have;
	}
	return 0;
}

void arm64_vcpu_features(const struct vm *vm, struct kvm_vcpu_init *init)
{
	if (vm->cpu.sve)
		init->features[0] |= 1u << KVM_ARM_VCPU_SVE;
	if (vm->cpu.pauth)
		init->features[0] |= 1u << KVM_ARM_VCPU_PTRAUTH_ADDRESS |
				     1u << KVM_ARM_VCPU_PTRAUTH_GENERIC;
	if (vm->cpu.pmu)
		init->features[0] |= 1u << KVM_ARM_VCPU_PMU_V3;
}

static bool vq_set(const u64 *vls, unsigned int vq)
{
	return vls[(vq - 1) / 64] >> ((vq - 1) % 64) & 1;
}

/* "128, 256, 512": the lengths in @vls, in bits. */
static void describe_vls(const u64 *vls, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned int vq = KVM_ARM64_SVE_VQ_MIN; vq <= KVM_ARM64_SVE_VQ_MAX && len < size; vq++)
		if (vq_set(vls, vq))
			len += (size_t)snprintf(buf + len, size - len, "%s%u", len ? ", " : "", vq * 128);
}

/*
 * vCPU 0 decides: the host's lengths, cut at sve-max-vl (KVM wants every
 * length it offers below the largest one given, so a cut is all a VMM
 * may do).  The largest must be one the host offers.
 */
static int sve_choose_vls(struct vm *vm, u64 *vls)
{
	unsigned int max_vq = vm->cfg->cpu_features.sve_max_vl / 128, top = 0;
	char offered[256];

	describe_vls(vls, offered, sizeof(offered));
	if (max_vq && (max_vq > KVM_ARM64_SVE_VQ_MAX || !vq_set(vls, max_vq))) {
		if (vm->restore)
			pr_err("the snapshot's guest has %u-bit SVE vectors; this host offers %s",
			       max_vq * 128, offered);
		else
			pr_err("--cpu-features sve-max-vl=%u: this host's SVE offers %s bits",
			       max_vq * 128, offered);
		return -EINVAL;
	}
	for (unsigned int vq = KVM_ARM64_SVE_VQ_MIN; vq <= KVM_ARM64_SVE_VQ_MAX; vq++) {
		if (max_vq && vq > max_vq)
			vls[(vq - 1) / 64] &= ~(1ULL << ((vq - 1) % 64));
		else if (vq_set(vls, vq))
			top = vq;
	}
	if (!top) {
		pr_err("SVE: this host's KVM offers no vector length");
		return -EINVAL;
	}
	memcpy(vm->cpu.sve_vls, vls, sizeof(vm->cpu.sve_vls));
	vm->cpu.sve_max_vl = top * 128;
	return 0;
}

static int sve_finalize(struct vm *vm, struct vcpu *vcpu)
{
	u64 vls[KVM_ARM64_SVE_VLS_WORDS];
	struct kvm_one_reg reg = { .id = KVM_REG_ARM64_SVE_VLS, .addr = (u64)(uintptr_t)vls };
	int feature = KVM_ARM_VCPU_SVE, ret;

	_Static_assert(sizeof(vls) == sizeof(((struct arm64_cpu *)0)->sve_vls), "VLS words");
	if (vcpu->id == 0) {
		if (ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg) < 0)
			goto fail;
		ret = sve_choose_vls(vm, vls);
		if (ret)
			return ret;
	}
	memcpy(vls, vm->cpu.sve_vls, sizeof(vls));
	if (ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg) < 0 ||
	    ioctl(vcpu->fd, KVM_ARM_VCPU_FINALIZE, &feature) < 0)
		goto fail;
	return 0;
fail:
	ret = -errno;
	pr_err("vcpu%u: setting up SVE: %s", vcpu->id, strerror(errno));
	return ret;
}

int arm64_vcpu_finalize(struct vm *vm, struct vcpu *vcpu)
{
	return vm->cpu.sve ? sve_finalize(vm, vcpu) : 0;
}

static int vcpu_attr(struct vcpu *vcpu, u32 group, u64 attr, const void *val, const char *what)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (u64)(uintptr_t)val };

	if (ioctl(vcpu->fd, KVM_SET_DEVICE_ATTR, &a) < 0) {
		int ret = -errno;

		pr_err("vcpu%u: %s: %s", vcpu->id, what, strerror(errno));
		return ret;
	}
	return 0;
}

/* The PMU's overflow interrupt, the same PPI on every vCPU, then its init. */
static int pmu_init(struct vm *vm)
{
	int irq = ARM64_PMU_PPI + 16;   /* as an INTID */

	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		int ret = vcpu_attr(vcpu, KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_IRQ, &irq,
				    "the PMU's interrupt");

		if (!ret)
			ret = vcpu_attr(vcpu, KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_INIT,
					NULL, "PMU init");
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The stolen time areas: whole host pages of RAM at ARM64_PVTIME_BASE,
 * a memory slot of their own that the device tree does not call memory,
 * so the guest uses them only where SMCCC tells it (each vCPU's own).
 */
static int pvtime_init(struct vm *vm)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = ALIGN_UP((size_t)vm->nr_vcpus * ARM64_PVTIME_STRIDE, page);
	struct kvm_userspace_memory_region region;
	void *p;

	if (size > ARM64_PVTIME_SIZE) {
		pr_err("steal-time: %u vCPUs' areas do not fit in %llu KiB", vm->nr_vcpus,
		       ARM64_PVTIME_SIZE / 1024);
		return -E2BIG;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		pr_err("steal-time: %s", strerror(errno));
		return -ENOMEM;
	}
	vm->cpu.pvtime = p;
	vm->cpu.pvtime_size = size;
	region = (struct kvm_userspace_memory_region){
		.slot = ARM64_PVTIME_SLOT,
		.guest_phys_addr = ARM64_PVTIME_BASE,
		.memory_size = size,
		.userspace_addr = (u64)(uintptr_t)p,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		int ret = -errno;

		pr_err("steal-time: KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return ret;
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		u64 ipa = ARM64_PVTIME_BASE + (u64)i * ARM64_PVTIME_STRIDE;
		int ret = vcpu_attr(&vm->vcpus[i], KVM_ARM_VCPU_PVTIME_CTRL, KVM_ARM_VCPU_PVTIME_IPA,
				    &ipa, "the stolen time area");

		if (ret)
			return ret;
	}
	return 0;
}

int arm64_cpu_late_init(struct vm *vm)
{
	int ret = vm->cpu.pmu ? pmu_init(vm) : 0;

	if (!ret && vm->cpu.steal_time)
		ret = pvtime_init(vm);
	return ret;
}

void arm64_cpu_destroy(struct vm *vm)
{
	if (vm->cpu.pvtime)
		munmap(vm->cpu.pvtime, vm->cpu.pvtime_size);
	vm->cpu.pvtime = NULL;
}

void arm64_cpu_describe(const struct arm64_cpu *c, char *buf, size_t size)
{
	snprintf(buf, size, "sve %s", c->sve ? "on" : "off");
	if (c->sve)
		snprintf(buf + strlen(buf), size - strlen(buf), " (max %u bits)", c->sve_max_vl);
	snprintf(buf + strlen(buf), size - strlen(buf), ", pauth %s, pmu %s, steal-time %s",
		 c->pauth ? "on" : "off", c->pmu ? "on" : "off", c->steal_time ? "on" : "off");
}

/*
 * A snapshot's CPU section: what the vCPUs got (not what was asked: a
 * restore must give the same, or refuse), and the topology; then the
 * stolen time areas, which the guest reads and KVM only adds to.
 */
int arm64_cpu_save(const struct vm *vm, struct state_writer *w)
{
	const struct cpu_topology_config *t = &vm->cfg->topology;
	size_t mark;

	state_begin(w, CPU_FEATURES_TAG, &mark);
	state_put_u8(w, vm->cpu.sve);
	state_put_u8(w, vm->cpu.pauth);
	state_put_u8(w, vm->cpu.pmu);
	state_put_u8(w, vm->cpu.steal_time);
	state_put_u32(w, vm->cpu.sve ? vm->cpu.sve_max_vl : 0);
	state_put_u32(w, t->sockets);
	state_put_u32(w, t->clusters);
	state_put_u32(w, t->cores);
	state_put_u32(w, t->threads);
	state_end(w, mark);
	if (vm->cpu.steal_time) {
		state_begin(w, PVTIME_STATE_TAG, &mark);
		state_put(w, vm->cpu.pvtime, (size_t)vm->nr_vcpus * ARM64_PVTIME_STRIDE);
		state_end(w, mark);
	}
	return w->err;
}

static enum cpu_feature_mode on_off(struct state_reader *r)
{
	u8 v = state_get_u8(r);

	state_check(r, v <= 1);
	return v == 1 ? CPU_FEATURE_ON : CPU_FEATURE_OFF;
}

static bool next_tag_is(const struct state_reader *r, u32 tag)
{
	u32 got;

	if (r->err || r->len - r->off < sizeof(got))
		return false;
	memcpy(&got, r->data + r->off, sizeof(got));
	return le32toh(got) == tag;
}

int arm64_cpu_load_config(struct vm_config *cfg, struct state_reader *r)
{
	struct cpu_features_config *f = &cfg->cpu_features;
	struct cpu_topology_config *t = &cfg->topology;
	struct state_reader s;

	/* From before CPU features: its vCPUs had none of them. */
	if (!next_tag_is(r, CPU_FEATURES_TAG)) {
		*f = (struct cpu_features_config){
			.sve = CPU_FEATURE_OFF, .pauth = CPU_FEATURE_OFF,
			.pmu = CPU_FEATURE_OFF, .steal_time = CPU_FEATURE_OFF,
		};
		return r->err;
	}
	if (state_enter(r, CPU_FEATURES_TAG, &s))
		return -EINVAL;
	f->sve = on_off(&s);
	f->pauth = on_off(&s);
	f->pmu = on_off(&s);
	f->steal_time = on_off(&s);
	f->sve_max_vl = state_get_u32(&s);
	t->sockets = state_get_u32(&s);
	t->clusters = state_get_u32(&s);
	t->cores = state_get_u32(&s);
	t->threads = state_get_u32(&s);
	/* vm_config_validate() judges the values. */
	return s.err;
}

int arm64_cpu_restore(struct vm *vm, struct state_reader *r)
{
	size_t len = (size_t)vm->nr_vcpus * ARM64_PVTIME_STRIDE;
	struct state_reader s;

	if (!vm->cpu.steal_time)
		return 0;
	if (state_enter(r, PVTIME_STATE_TAG, &s) || state_check(&s, s.len == len))
		return -EINVAL;
	state_get(&s, vm->cpu.pvtime, len);
	return s.err;
}
