// SPDX-License-Identifier: Apache-2.0
#include <linux/kvm.h>
#include <string.h>

#include "test.h"
#include "vm.h"

static u64 last_write;
static u64 reg_read(void *opaque, u64 off, u32 size)
{
	return 0xab00 | off;
}

static void reg_write(void *opaque, u64 off, u64 val, u32 size)
{
	last_write = val;
}

static const struct mmio_ops reg_ops = { .read = reg_read, .write = reg_write };

static void test_mmio_read_and_write(void)
{
	struct mmio_bus bus = { 0 };
	struct kvm_run run;

	mmio_bus_register(&bus, 0x9000000, 0x1000, &reg_ops, NULL, "reg");
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_MMIO;
	run.mmio.phys_addr = 0x9000005;
	run.mmio.len = 2;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 0), VM_RUNNING);
	CHECK(run.mmio.data[0] == 0x05 && run.mmio.data[1] == 0xab);

	run.mmio.is_write = 1;
	run.mmio.len = 1;
	run.mmio.data[0] = 'A';
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 0), VM_RUNNING);
	CHECK_EQ(last_write, 'A');
}

static void test_mmio_to_nowhere_keeps_running(void)
{
	struct mmio_bus bus = { 0 };
	struct kvm_run run;

	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_MMIO;
	run.mmio.phys_addr = 0x1234;
	run.mmio.len = 8;
	memset(run.mmio.data, 0xff, 8);
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 0), VM_RUNNING);
	CHECK(run.mmio.data[0] == 0 && run.mmio.data[7] == 0);
	run.mmio.len = 200; /* nonsense length from a broken host: still no crash */
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 0), VM_RUNNING);
}

static void test_system_events(void)
{
	struct mmio_bus bus = { 0 };
	struct kvm_run run;

	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_SYSTEM_EVENT;
	run.system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 1), VM_STOP_POWEROFF);
	run.system_event.type = KVM_SYSTEM_EVENT_RESET;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 1), VM_STOP_RESET);
	run.system_event.type = KVM_SYSTEM_EVENT_CRASH;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 1), VM_STOP_CRASH);
	run.system_event.type = 0x77;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 1), VM_STOP_ERROR);
}

static void test_other_exits_stop_with_error(void)
{
	struct mmio_bus bus = { 0 };
	struct kvm_run run;

	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_INTR;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 0), VM_RUNNING);
	run.exit_reason = KVM_EXIT_FAIL_ENTRY;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 0), VM_STOP_ERROR);
	run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 0), VM_STOP_ERROR);
	run.exit_reason = KVM_EXIT_HYPERCALL;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 0), VM_STOP_ERROR);
	run.exit_reason = 9999;
	CHECK_EQ(vcpu_handle_exit(&bus, &run, 0), VM_STOP_ERROR);
}

static void test_exit_statuses(void)
{
	CHECK_EQ(vm_exit_status(VM_STOP_POWEROFF, 0), 0);
	CHECK_EQ(vm_exit_status(VM_STOP_RESET, 0), 2);
	CHECK_EQ(vm_exit_status(VM_STOP_CRASH, 0), 3);
	CHECK_EQ(vm_exit_status(VM_STOP_ERROR, 0), 1);
	CHECK_EQ(vm_exit_status(VM_STOP_SIGNAL, 15), 143);
	CHECK_EQ(vm_exit_status(VM_STOP_USER, 0), 0);
}

TEST_SUITE(vcpu_exit,
	   TEST(test_mmio_read_and_write),
	   TEST(test_mmio_to_nowhere_keeps_running),
	   TEST(test_system_events),
	   TEST(test_other_exits_stop_with_error),
	   TEST(test_exit_statuses));
