// SPDX-License-Identifier: Apache-2.0
/*
 * What to do after KVM_RUN returns.  Kept apart from the thread loop so
 * that unit tests can feed it made-up exits without KVM.
 */
#include <linux/kvm.h>

#include "log.h"
#include "vm.h"

static const char *const exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_OSI] = "OSI",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
};

static const char *exit_name(u32 reason)
{
	if (reason < ARRAY_SIZE(exit_names) && exit_names[reason])
		return exit_names[reason];
	return "?";
}

static enum vm_stop_reason handle_system_event(const struct kvm_run *run, unsigned int id)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return VM_STOP_POWEROFF;
	case KVM_SYSTEM_EVENT_RESET:
		return VM_STOP_RESET;
	case KVM_SYSTEM_EVENT_CRASH:
		return VM_STOP_CRASH;
	default:
		pr_err("vcpu%u: unexpected system event %u", id, run->system_event.type);
		return VM_STOP_ERROR;
	}
}

enum vm_stop_reason vcpu_handle_exit(const struct mmio_bus *bus, struct kvm_run *run,
				     unsigned int vcpu_id)
{
	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		mmio_bus_access(bus, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
				run->mmio.is_write);
		return VM_RUNNING;
	case KVM_EXIT_SYSTEM_EVENT:
		return handle_system_event(run, vcpu_id);
	case KVM_EXIT_INTR:
		return VM_RUNNING;
	case KVM_EXIT_FAIL_ENTRY:
		pr_err("vcpu%u: KVM could not enter the guest (hardware reason 0x%llx)", vcpu_id,
		       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return VM_STOP_ERROR;
	case KVM_EXIT_INTERNAL_ERROR:
		pr_err("vcpu%u: KVM internal error %u", vcpu_id, run->internal.suberror);
		return VM_STOP_ERROR;
	default:
		pr_err("vcpu%u: unhandled exit %u (%s)", vcpu_id, run->exit_reason,
		       exit_name(run->exit_reason));
		return VM_STOP_ERROR;
	}
}

int vm_exit_status(enum vm_stop_reason reason, int signo)
{
	switch (reason) {
	case VM_STOP_POWEROFF:
	case VM_STOP_USER:
		return EXIT_GUEST_POWEROFF;
	case VM_STOP_RESET:
		return EXIT_GUEST_RESET;
	case VM_STOP_CRASH:
		return EXIT_GUEST_CRASH;
	case VM_STOP_SIGNAL:
		return 128 + signo;
	default:
		return EXIT_VMM_ERROR;
	}
}
