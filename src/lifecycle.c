// SPDX-License-Identifier: Apache-2.0
/*
 * The lifecycle on the main thread: commands from any thread arrive on
 * vm->cmds and move the VM between the states of vm_state.c.
 *
 * Pause holds every thread that can touch guest RAM at a safe point, in
 * this order: the main thread stops reading console input (it waits in
 * stdin), the vCPUs leave KVM_RUN and wait (so no new kick, no new
 * register write), then the I/O thread has each device quiesce (disk
 * requests in flight complete, vhost stops, the viewer's input is held
 * off) and waits in its loop, so no device completes anything into guest
 * RAM until resume.  Resume lets them go in the opposite order.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "snapshot.h"
#include "state.h"
#include "vm.h"

/* The I/O thread, asked to park: quiesce the devices, wait, resume them. */
static void vm_io_park(struct event_source *src, uint32_t events __unused)
{
	struct vm *vm = container_of(src, struct vm, io_park_src);
	u64 v;

	if (read(src->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (!park_requested(&vm->io_park))
		return;
	vm_devices_quiesce(vm);
	park_point(&vm->io_park);
	vm_devices_resume(vm);
}

static void vm_io_pause(struct vm *vm)
{
	u64 one = 1;

	park_request(&vm->io_park);
	if (write(vm->io_park_src.fd, &one, sizeof(one)) < 0)
		pr_warn("pause: cannot wake the I/O thread: %s", strerror(errno));
	park_wait(&vm->io_park, 1);
}

#ifdef ARKVM_TEST_HOOKS
/*
 * TEST_HOOKS=1: every device's state, saved the way a snapshot will save
 * it, from a VM paused with live devices; the lab checks it was.
 */
static void vm_test_save(struct vm *vm)
{
	struct state_writer w;
	int ret;

	state_writer_init(&w);
	ret = vm_devices_save(vm, &w);
	if (ret)
		pr_warn("test hook: saving the devices' state: %s", strerror(-ret));
	else
		pr_info("test hook: %zu bytes of state saved from %u devices", w.len, vm->nr_devices);
	state_writer_free(&w);
}
#else
static void vm_test_save(struct vm *vm)
{
}
#endif

static int vm_pause(struct vm *vm)
{
	u64 t0 = boot_clock_ns();

	/* Console input is the main thread's own: it waits in stdin. */
	console_hold_input(&vm->console, true);
	vcpus_pause(vm);
	vm_io_pause(vm);
	pr_info("paused in %.1f ms", ns_to_ms(boot_clock_ns() - t0));
	vm_test_save(vm);
	return 0;
}

static int vm_resume(struct vm *vm)
{
	park_release(&vm->io_park);
	vcpus_resume(vm);
	console_hold_input(&vm->console, false);
	pr_info("resumed");
	return 0;
}

/*
 * A device's config changes (the API's PATCH /drives): with every thread
 * that touches devices held, as for a pause, so the device's own code
 * needs no locks.  A paused VM stays paused.
 */
static int vm_update(struct vm *vm, const struct vm_update *u)
{
	bool running = vm->state == VM_STATE_RUNNING;
	int ret;

	if (running) {
		console_hold_input(&vm->console, true);
		vcpus_pause(vm);
		vm_io_pause(vm);
	}
	ret = vm_devices_update(vm, u->class_name, u->id, u->cfg);
	if (running) {
		park_release(&vm->io_park);
		vcpus_resume(vm);
		console_hold_input(&vm->console, false);
	}
	return ret;
}

/* Whatever holds a thread lets it go: a stop must reach every one. */
static void vm_unpark_all(struct vm *vm)
{
	park_release(&vm->io_park);
	vcpus_resume(vm);
}

static int vm_handle_cmd(struct vm_cmd_queue *q, const struct vm_cmd *cmd)
{
	struct vm *vm = container_of(q, struct vm, cmds);
	enum vm_state to;
	int ret = vm_state_next(vm->state, cmd->kind, &to);

	if (ret) {
		pr_warn("%s: not possible while the VM is %s", vm_cmd_name(cmd->kind),
			vm_state_name(vm->state));
		return ret;
	}
	if (cmd->kind == VM_CMD_UPDATE)
		return vm_update(vm, cmd->data);
	if (cmd->kind == VM_CMD_SNAPSHOT)
		return vm_snapshot_create(vm, (struct snapshot_request *)cmd->data);
	if (to == vm->state)
		return 0;
	switch (cmd->kind) {
	case VM_CMD_PAUSE:
		ret = vm_pause(vm);
		break;
	case VM_CMD_RESUME:
		ret = vm_resume(vm);
		break;
	case VM_CMD_STOP:
		vm_unpark_all(vm);
		event_loop_stop(&vm->loop);
		break;
	case VM_CMD_START:
	case VM_CMD_UPDATE:
	case VM_CMD_SNAPSHOT:
		break;  /* vm_run() starts the threads itself */
	}
	if (!ret)
		vm->state = to;
	return ret;
}

int vm_lifecycle_init(struct vm *vm)
{
	int ret = vm_cmd_queue_init(&vm->cmds, &vm->loop, vm_handle_cmd);

	if (ret)
		return ret;
	vm->io_park_src.ready = vm_io_park;
	vm->io_park_src.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->io_park_src.fd < 0)
		return -errno;
	return event_loop_add(&vm->io_loop, &vm->io_park_src, EPOLLIN);
}

void vm_lifecycle_destroy(struct vm *vm)
{
	vm_cmd_queue_destroy(&vm->cmds);
	if (vm->io_park_src.fd >= 0)
		close(vm->io_park_src.fd);
	vm->io_park_src.fd = -1;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason)
{
	int expected = VM_RUNNING;

	atomic_compare_exchange_strong(&vm->stop_reason, &expected, (int)reason);
	/* Before the queue exists, or with it full, the loop is stopped directly. */
	if (vm->cmds.src.fd < 0 || vm_cmd_queue_post(&vm->cmds, VM_CMD_STOP, (int)reason))
		event_loop_stop(&vm->loop);
}

bool vm_stopping(struct vm *vm)
{
	return atomic_load(&vm->stop_reason) != VM_RUNNING;
}

/* The main loop has ended, for whatever reason: nobody may stay parked. */
void vm_lifecycle_stopped(struct vm *vm)
{
	vm_unpark_all(vm);
	vm->state = VM_STATE_STOPPED;
}

#ifdef ARKVM_TEST_HOOKS
/* TEST_HOOKS=1: SIGUSR2 pauses a running VM and resumes a paused one (the lab's pause case). */
void vm_test_pause_toggle(struct vm *vm)
{
	vm_cmd_queue_post(&vm->cmds, vm->state == VM_STATE_PAUSED ? VM_CMD_RESUME : VM_CMD_PAUSE, 0);
}
#endif
