// SPDX-License-Identifier: Apache-2.0
/*
 * vCPU threads: one per vCPU, each looping on KVM_RUN.  Stopping sets
 * immediate_exit (for a thread about to enter the guest) and sends
 * VCPU_KICK_SIGNAL (for one inside it), then joins.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "sandbox.h"
#include "vm.h"

static int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned int id)
{
	int ret;

	*vcpu = (struct vcpu){ .vm = vm, .id = id, .fd = -1 };
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		ret = -errno;
		pr_err("vcpu%u: KVM_CREATE_VCPU: %s", id, strerror(errno));
		return ret;
	}
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		ret = -errno;
		vcpu->run = NULL;
		pr_err("vcpu%u: mapping kvm_run: %s", id, strerror(errno));
		return ret;
	}
	return arm64_vcpu_init(vm, vcpu);
}

int vcpus_create(struct vm *vm)
{
	unsigned int n = vm->cfg->nr_cpus;
	int ret;

	vm->vcpus = calloc(n, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		/* Count first: vcpus_destroy() cleans up a half-made one too. */
		vm->nr_vcpus = i + 1;
		ret = vcpu_create(vm, &vm->vcpus[i], i);
		if (ret)
			return ret;
	}
	return 0;
}

/* For the metrics: MMIO exits by direction (Firecracker's vcpu group). */
static void vcpu_count_exit(struct vcpu *vcpu)
{
	if (vcpu->run->exit_reason != KVM_EXIT_MMIO)
		return;
	if (vcpu->run->mmio.is_write)
		metric_inc(&vcpu->metrics.exit_mmio_write);
	else
		metric_inc(&vcpu->metrics.exit_mmio_read);
}

/*
 * Before parking: an MMIO read handled since the last KVM_RUN is only
 * written to its register (and the PC moved past it) when KVM_RUN is
 * entered again.  One entry with immediate_exit set completes it and
 * returns at once, without running the guest, so a paused vCPU is
 * between instructions: what a snapshot must save.
 */
static void vcpu_settle(struct vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(vcpu->fd, KVM_RUN, 0) == 0)
		vcpu->exits++;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t kick;
	char name[16];
	int ret;

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	ret = sandbox_enter(SANDBOX_VCPU, !vm->cfg->no_seccomp);
	while (sem_wait(&vm->vcpu_gate) && errno == EINTR)
		;
	/* Past the gate the main loop exists to hear a stop. */
	if (ret) {
		vm_request_stop(vm, VM_STOP_ERROR);
		park_leave(&vm->vcpu_park);
		return NULL;
	}

	while (!vm_stopping(vm)) {
		enum vm_stop_reason why;

		if (park_requested(&vm->vcpu_park))
			vcpu_settle(vcpu);
		if (park_point(&vm->vcpu_park)) {
			/*
			 * Let go: run again, unless a stop came meanwhile.  Cleared
			 * before the next look at the park, so a pause asked for
			 * after that look sets it again and is not missed.
			 */
			if (!vm_stopping(vm))
				__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			continue;
		}
		boot_times_first_run(&vm->boot_times);
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			pr_err("vcpu%u: KVM_RUN: %s", vcpu->id, strerror(errno));
			metric_inc(&vcpu->metrics.failures);
			vm_request_stop(vm, VM_STOP_ERROR);
			break;
		}
		vcpu->exits++;
		vcpu_count_exit(vcpu);
		why = vcpu_handle_exit(&vm->bus, vcpu->run, vcpu->id);
		if (why == VM_STOP_ERROR)
			metric_inc(&vcpu->metrics.failures);
		if (why != VM_RUNNING)
			vm_request_stop(vm, why);
	}
	vcpu->cpu_ns = thread_cpu_ns();
	park_leave(&vm->vcpu_park);
	return NULL;
}

static void kick_handler(int sig __unused)
{
	/* Only here to make KVM_RUN return -EINTR. */
}

/*
 * The vCPU threads start as soon as their vCPUs exist: each names itself,
 * unblocks the kick signal and loads its seccomp filter while the main
 * thread goes on setting the VM up, then waits at vm->vcpu_gate.  Starting
 * a thread and loading a filter took 5-8 ms in the lab; this way they
 * overlap set-up instead of standing between it and the first KVM_RUN.
 */
int vcpus_spawn(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = kick_handler }; /* no SA_RESTART */
	sigset_t block, old;
	int ret;

	if (vm->cfg->dump_dtb[0])
		return 0; /* nothing will run */
	/* A filter is loaded now: its SIGSYS report must be in place first. */
	ret = sandbox_prepare(NULL);
	if (!ret && sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		ret = -errno;
	if (!ret && sem_init(&vm->vcpu_gate, 0, 0))
		ret = -errno;
	if (ret) {
		pr_err("starting the vCPU threads: %s", strerror(-ret));
		return ret;
	}
	/*
	 * They start with the main thread's signals blocked: SIGTERM and the
	 * others must reach its signalfd (set up later, in vm_run()), not end
	 * the process on a vCPU thread.  Not every signal: a blocked SIGSYS
	 * from seccomp would bypass the handler that reports it.
	 */
	vm_main_signals(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (unsigned int i = 0; i < vm->nr_vcpus && !ret; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		ret = -vm_thread_create(&vcpu->thread, vcpu_thread, vcpu, VM_THREAD_STACK_SIZE);
		if (ret)
			pr_err("vcpu%u: cannot start its thread: %s", i, strerror(-ret));
		else
			vcpu->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret; /* on failure vcpus_destroy() stops the ones started */
}

/* Opens the gate: every vCPU thread goes on to KVM_RUN, or to stop. */
static void vcpus_open_gate(struct vm *vm)
{
	if (vm->vcpu_gate_open)
		return;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].started)
			sem_post(&vm->vcpu_gate);
	vm->vcpu_gate_open = true;
}

int vcpus_start(struct vm *vm)
{
	vcpus_open_gate(vm);
	return 0;
}

/* Makes a vCPU thread leave KVM_RUN, or not enter it, and look around. */
static void vcpu_kick(struct vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

/*
 * kvmtool's way: ask, kick every vCPU out of KVM_RUN, and wait until each
 * one has settled its last exit (vcpu_settle()) and waits at its park
 * point, or has ended.
 */
void vcpus_pause(struct vm *vm)
{
	unsigned int started = 0;

	park_request(&vm->vcpu_park);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		if (!vm->vcpus[i].started)
			continue;
		vcpu_kick(&vm->vcpus[i]);
		started++;
	}
	park_wait(&vm->vcpu_park, started);
}

void vcpus_resume(struct vm *vm)
{
	park_release(&vm->vcpu_park);
}

void vcpus_stop(struct vm *vm)
{
	if (!vm->vcpu_gate_open) {
		/* Set-up failed, or nothing ran: threads at the gate leave. */
		vm_request_stop(vm, VM_STOP_ERROR);
		vcpus_open_gate(vm);
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->started)
			vcpu_kick(vcpu);
	}
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->started)
			pthread_join(vcpu->thread, NULL);
		vcpu->started = false;
	}
}

void vcpus_destroy(struct vm *vm)
{
	if (vm->vcpus)
		vcpus_stop(vm);
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];

		if (vcpu->run)
			munmap(vcpu->run, vm->run_size);
		if (vcpu->fd >= 0)
			close(vcpu->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
}
