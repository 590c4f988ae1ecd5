// SPDX-License-Identifier: Apache-2.0
/*
 * A vCPU's state for a snapshot: every register KVM lists for it
 * (KVM_GET_REG_LIST: core, system, FP/SIMD, timer, firmware), and its MP
 * state (running, or off until a PSCI CPU_ON).  Called with the vCPU out
 * of KVM_RUN (parked), from the main thread.
 *
 * On restore the guest's virtual counter (KVM_REG_ARM_TIMER_CNT) is set
 * last: writing it moves the VM's counter offset so that guest time goes
 * on from the value saved, never back.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arm64.h"
#include "log.h"
#include "state.h"
#include "vm.h"

#define VCPU_STATE_TAG   STATE_TAG('V', 'C', 'P', 'U')
#define MAX_REGS         4096
#define MAX_REG_BYTES    256     /* an SVE Z register at 2048 bits */

static size_t reg_size(u64 id)
{
	return (size_t)1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT);
}

/* The vCPU's register list, malloc'd. */
static int reg_list(int fd, struct kvm_reg_list **out)
{
	struct kvm_reg_list probe = { .n = 0 }, *list;

	if (!ioctl(fd, KVM_GET_REG_LIST, &probe) || errno != E2BIG || probe.n > MAX_REGS)
		return -EINVAL;
	list = malloc(sizeof(*list) + probe.n * sizeof(list->reg[0]));
	if (!list)
		return -ENOMEM;
	list->n = probe.n;
	if (ioctl(fd, KVM_GET_REG_LIST, list) < 0) {
		free(list);
		return -errno;
	}
	*out = list;
	return 0;
}

int arm64_vcpu_save(struct vcpu *vcpu, struct state_writer *w)
{
	struct kvm_mp_state mp;
	struct kvm_reg_list *list = NULL;
	u8 buf[MAX_REG_BYTES];
	size_t mark;
	int ret = reg_list(vcpu->fd, &list);

	if (ret) {
		pr_err("vcpu%u: KVM_GET_REG_LIST: %s", vcpu->id, strerror(-ret));
		return ret;
	}
	state_begin(w, VCPU_STATE_TAG, &mark);
	state_put_u32(w, vcpu->id);
	state_put_u32(w, (u32)list->n);
	for (u64 i = 0; i < list->n; i++) {
		u64 id = list->reg[i];
		struct kvm_one_reg reg = { .id = id, .addr = (u64)(uintptr_t)buf };
		size_t size = reg_size(id);

		if (size > sizeof(buf) || ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg) < 0) {
			ret = size > sizeof(buf) ? -E2BIG : -errno;
			pr_err("vcpu%u: reading register 0x%llx: %s", vcpu->id,
			       (unsigned long long)id, strerror(-ret));
			goto out;
		}
		state_put_u64(w, id);
		state_put(w, buf, size);
	}
	if (ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) < 0) {
		ret = -errno;
		pr_err("vcpu%u: KVM_GET_MP_STATE: %s", vcpu->id, strerror(errno));
		goto out;
	}
	state_put_u32(w, mp.mp_state);
	state_end(w, mark);
	ret = w->err;
out:
	free(list);
	return ret;
}

static int set_one(struct vcpu *vcpu, u64 id, const u8 *val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(uintptr_t)val };

	if (ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg) < 0) {
		int ret = -errno;

		pr_err("vcpu%u: restoring register 0x%llx: %s (a snapshot from another CPU model?)",
		       vcpu->id, (unsigned long long)id, strerror(errno));
		return ret;
	}
	return 0;
}

/* A register that cannot be written any more must hold what the snapshot has. */
static int same_as_now(struct vcpu *vcpu, u64 id, const u8 *val, size_t size)
{
	u8 now[MAX_REG_BYTES];
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(uintptr_t)now };

	if (ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg) < 0 || memcmp(now, val, size)) {
		pr_err("vcpu%u: the snapshot's SVE vector lengths are not this VM's", vcpu->id);
		return -EINVAL;
	}
	return 0;
}

int arm64_vcpu_restore(struct vcpu *vcpu, struct state_reader *r)
{
	struct state_reader s;
	u8 cnt[8], buf[MAX_REG_BYTES];
	bool have_cnt = false;
	struct kvm_mp_state mp;
	u32 id, n;
	int ret;

	if (state_enter(r, VCPU_STATE_TAG, &s))
		return -EINVAL;
	id = state_get_u32(&s);
	n = state_get_u32(&s);
	if (state_check(&s, id == vcpu->id && n <= MAX_REGS))
		return -EINVAL;
	for (u32 i = 0; i < n; i++) {
		u64 reg = state_get_u64(&s);
		size_t size = reg_size(reg);

		/* Only arm64 registers of a size KVM has: the file decides nothing else. */
		if (state_check(&s, (reg & KVM_REG_ARCH_MASK) == KVM_REG_ARM64 &&
				    size <= sizeof(buf)))
			return -EINVAL;
		state_get(&s, buf, size);
		if (s.err)
			return -EINVAL;
		/*
		 * SVE's vector lengths were set before the vCPU was finalized
		 * (cpu_features.c) and cannot change now: only check them.
		 */
		if (reg == KVM_REG_ARM64_SVE_VLS) {
			ret = same_as_now(vcpu, reg, buf, size);
			if (ret)
				return ret;
			continue;
		}
		if (reg == KVM_REG_ARM_TIMER_CNT) {
			memcpy(cnt, buf, sizeof(cnt));
			have_cnt = size == sizeof(cnt);
			continue;
		}
		ret = set_one(vcpu, reg, buf);
		if (ret)
			return ret;
	}
	mp.mp_state = state_get_u32(&s);
	if (state_check(&s, mp.mp_state == KVM_MP_STATE_RUNNABLE ||
			    mp.mp_state == KVM_MP_STATE_STOPPED))
		return -EINVAL;
	if (have_cnt && (ret = set_one(vcpu, KVM_REG_ARM_TIMER_CNT, cnt)))
		return ret;
	if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0) {
		ret = -errno;
		pr_err("vcpu%u: KVM_SET_MP_STATE: %s", vcpu->id, strerror(errno));
		return ret;
	}
	return 0;
}
