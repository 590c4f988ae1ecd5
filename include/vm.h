/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VM_H
#define ARKVM_VM_H

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "arch.h"
#include "boot_timer.h"
#include "cli.h"
#include "console.h"
#include "device.h"
#include "event_loop.h"
#include "guest_mem.h"
#include "loader.h"
#include "metrics.h"
#include "mmio_bus.h"
#include "park.h"
#include "uffd.h"
#include "virtio_slots.h"
#include "vm_state.h"
/* Why the VM stopped; the first reason given wins. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_POWEROFF,   /* PSCI SYSTEM_OFF */
	VM_STOP_RESET,      /* PSCI SYSTEM_RESET, e.g. a panic with panic=-1 */
	VM_STOP_CRASH,      /* KVM_SYSTEM_EVENT_CRASH */
	VM_STOP_ERROR,      /* arkvm could not go on; the reason was logged */
	VM_STOP_SIGNAL,     /* SIGTERM, SIGINT or SIGHUP */
	VM_STOP_USER,       /* Ctrl-A x on the console */
};

struct snapshot_image;

/*
 * Stops a vCPU inside KVM_RUN.  A real-time signal, so that SIGUSR1 and
 * SIGUSR2 stay free for the user (SIGUSR1 takes a screenshot).
 */
#define VCPU_KICK_SIGNAL (SIGRTMIN)

/* Exit statuses, documented in the README and in --help. */
#define EXIT_GUEST_POWEROFF 0
#define EXIT_VMM_ERROR      1
#define EXIT_GUEST_RESET    2
#define EXIT_GUEST_CRASH    3

/* Devices in the registry: every virtio slot, and a few without one. */
#define VM_MAX_DEVICES (ARM64_VIRTIO_SLOTS + 8)

struct kvm_run;
struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	u64 mpidr;          /* read back from KVM after init */
	u64 exits;          /* KVM_RUN returns, for --stats (this thread only) */
	struct vcpu_metrics metrics;  /* MMIO exits and failures, read while it runs */
	u64 cpu_ns;         /* the thread's CPU time (guest included), at its end */
};

/* All of a VM's state: nothing about a VM lives in a global. */
struct vm {
	const struct vm_config *cfg;

	int kvm_fd;
	int vm_fd;
	size_t run_size;           /* mmap size of struct kvm_run */
	unsigned int max_vcpus;    /* host and GIC limit */

	void *ram;
	u64 ram_size;
	unsigned int ipa_bits;     /* the guest's physical address size */
	/* A restore: guest RAM is this memory file, mapped private (-1: none). */
	int mem_fd;
	/* A Uffd restore: RAM starts empty, and the page server on this socket fills it. */
	const char *uffd_path;
	struct uffd_backend uffd;
	struct snapshot_image *restore;
	struct guest_mem mem;
	struct boot_layout boot;
	struct mmio_bus bus;

	int gic_fd;
	unsigned int gic_version;  /* 2 or 3: gic_choose() */
	struct arm64_cpu cpu;      /* the CPU features the vCPUs got */

	struct vcpu *vcpus;
	unsigned int nr_vcpus;

	struct console console;
	struct boot_times boot_times;  /* start set by main(), first KVM_RUN by vCPUs */

	struct virtio_slot virtio[ARM64_VIRTIO_SLOTS];
	unsigned int nr_virtio;
	struct device devices[VM_MAX_DEVICES];  /* the registry's (src/devices.c) */
	unsigned int nr_devices;

	/* vCPU threads wait here, filters loaded, until vcpus_start() posts. */
	sem_t vcpu_gate;
	bool vcpu_gate_open;

	struct event_loop io_loop;  /* I/O thread: every virtio queue's work */
	pthread_t io_thread;
	bool io_started;
	u64 io_cpu_ns;              /* the I/O thread's CPU time, at its end */
	/* A device that starts on the I/O thread (--gpu virgl): then says how it went. */
	sem_t io_ready;
	int io_start_err;

	struct event_loop loop;    /* main thread: console input, signals, commands */
	struct event_source signals;
	int stop_signal;

	/* The lifecycle (lifecycle.c): the state is the main thread's alone. */
	enum vm_state state;
	struct vm_cmd_queue cmds;      /* commands to the main thread, from any thread */
	struct park vcpu_park;         /* pause: vCPU threads wait outside KVM_RUN */
	struct park io_park;           /* pause: the I/O thread waits, devices quiesced */
	struct event_source io_park_src;  /* eventfd on io_loop: park now */

	atomic_int stop_reason;

	bool start_paused;            /* a restore with resume_vm false: paused at once */
	/* Optional: told once every thread runs (the API's InstanceStart waits for it). */
	void (*running)(struct vm *vm, void *opaque);
	void *running_opaque;
};

/* A VM with nothing open yet (NULL, said on stderr, when out of memory). */
struct vm *vm_alloc(const struct vm_config *cfg);
/* The init steps, called in this order by main(). Each logs its own error. */
int vm_open_kvm(struct vm *vm);
int vm_create(struct vm *vm);
int vm_setup_memory(struct vm *vm);
int vm_load_images(struct vm *vm);
int vm_setup_devices(struct vm *vm);
int vm_setup_fdt(struct vm *vm);
int vm_dump_dtb(struct vm *vm, const char *path);
/* Runs until the guest or the user stops it; returns the exit status. */
int vm_run(struct vm *vm);
/* Tears down what the steps made, and frees @vm. */
void vm_destroy(struct vm *vm);

/*
 * Starts one of arkvm's threads on a stack of @stack bytes, 0 for glibc's
 * default.  VM_THREAD_STACK_SIZE is plenty for arkvm's own loops, and too
 * small for a transparent huge page to back it (glibc's default 8 MiB
 * stack can get a 2 MiB page, which is more than all the rest of arkvm's
 * memory); a thread that runs Mesa (--gpu virgl) gets the default.
 * Returns 0 or a positive errno, as pthread_create().
 */
#define VM_THREAD_STACK_SIZE (256 * 1024)
int vm_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg, size_t stack);

/* lifecycle.c: commands, pause and resume; vm_run() calls these. */
int vm_lifecycle_init(struct vm *vm);
void vm_lifecycle_stopped(struct vm *vm);
void vm_lifecycle_destroy(struct vm *vm);
void vm_test_pause_toggle(struct vm *vm);
/* Asks the VM to stop, from any thread; the first reason given wins. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason);
bool vm_stopping(struct vm *vm);
/* devices.c: the registry, over every device the config asks for. */
int vm_devices_create(struct vm *vm);
/* On the I/O thread, while paused: nothing may complete into guest RAM. */
void vm_devices_quiesce(struct vm *vm);
void vm_devices_resume(struct vm *vm);
struct state_writer;
struct state_reader;
/*
 * Paused, main thread: 0 when every device's state can be saved, else
 * the first refusal's -errno with its one line in @why (its can_save op).
 */
int vm_devices_can_save(const struct vm *vm, char *why, size_t len);
int vm_devices_save(struct vm *vm, struct state_writer *w);
int vm_devices_restore(struct vm *vm, struct state_reader *r);
void vm_devices_print_stats(const struct vm *vm);
/*
 * After start, on the main thread with every other thread held
 * (VM_CMD_UPDATE): the device of class @class_name (say
 * "virtio-blk") whose config id is @id takes @new_cfg (its class's config
 * struct).  -ENOENT when there is none, -EOPNOTSUPP when it cannot change,
 * else what its update op says.
 */
int vm_devices_update(struct vm *vm, const char *class_name, const char *id,
		      const void *new_cfg);
/* SIGUSR1 and the stop: each device records what it shows. Main thread. */
void vm_devices_capture(struct vm *vm);
/* Devices that must start on the I/O thread: whether any, and their start/stop there. */
bool vm_devices_on_io_thread(const struct vm *vm);
int vm_devices_io_start(struct vm *vm);
void vm_devices_io_stop(struct vm *vm);
void vm_devices_destroy(struct vm *vm);
/* The signals only the main thread takes (on its signalfd): others block them. */
void vm_main_signals(sigset_t *set);
int vm_exit_status(enum vm_stop_reason reason, int signo);

/* vcpu.c */
int vcpus_create(struct vm *vm);
int vcpus_spawn(struct vm *vm);
int vcpus_start(struct vm *vm);
/* Every vCPU out of KVM_RUN and waiting; then back in. Main thread only. */
void vcpus_pause(struct vm *vm);
void vcpus_resume(struct vm *vm);
void vcpus_stop(struct vm *vm);
void vcpus_destroy(struct vm *vm);

/*
 * Handles one exit of KVM_RUN.  Returns VM_RUNNING to enter the guest
 * again, or why the VM must stop.  Needs nothing but the bus, so unit
 * tests call it with a made-up struct kvm_run.
 */
enum vm_stop_reason vcpu_handle_exit(const struct mmio_bus *bus, struct kvm_run *run,
				     unsigned int vcpu_id);

#endif
