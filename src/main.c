// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm: parse the command line, then bring the VM up one step at a time,
 * in the order KVM on arm64 requires, and run it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "arch.h"
#include "cli.h"
#include "vm.h"

#define STEP(fn) { #fn, fn }

/* The order matters: see the comment on each step. */
static const struct init_step {
	const char *name;      /* for the boot timer's breakdown */
	int (*fn)(struct vm *vm);
} init_steps[] = {
	STEP(vm_open_kvm),       /* /dev/kvm, API version, capabilities */
	STEP(vm_create),         /* the VM, with an IPA size that fits RAM */
	STEP(vm_setup_memory),   /* guest RAM, one memory slot */
	STEP(gic_create),        /* VGICv3: before the vCPUs */
	STEP(vcpus_create),      /* vCPUs with PSCI 0.2; MPIDRs read back */
	STEP(vcpus_spawn),       /* their threads, which wait for vm_run() */
	STEP(gic_init),          /* CTRL_INIT: once every vCPU exists */
	STEP(vm_load_images),    /* kernel Image, then initrd after it */
	STEP(vm_setup_devices),  /* UART, virtio devices, boot timer on the MMIO bus */
	STEP(vm_setup_fdt),      /* device tree after the images, boot registers */
};

int main(int argc, char **argv)
{
	u64 start = boot_clock_ns();  /* first: the boot timer counts from here */
	struct vm_config cfg;
	struct vm *vm;
	int ret, status = EXIT_VMM_ERROR;

	ret = cli_parse(argc, argv, &cfg, stdout);
	if (ret < 0)
		return EXIT_VMM_ERROR;
	if (ret == CLI_DONE)
		return 0;

	vm = vm_alloc(&cfg);
	if (!vm)
		return EXIT_VMM_ERROR;
	vm->boot_times.start = start;
	boot_times_step(&vm->boot_times, "cli_parse");
	for (size_t i = 0; i < ARRAY_SIZE(init_steps); i++) {
		if (init_steps[i].fn(vm))
			goto out;
		boot_times_step(&vm->boot_times, init_steps[i].name);
	}

	if (cfg.dump_dtb[0])
		status = vm_dump_dtb(vm, cfg.dump_dtb) ? EXIT_VMM_ERROR : 0;
	else
		status = vm_run(vm);
out:
	vm_destroy(vm);
	/*
	 * Everything of ours is torn down.  End here rather than run the exit
	 * handlers of the libraries arkvm loaded (Mesa's, with --gpu virgl),
	 * which may open files or start work that the main thread's seccomp
	 * filter refuses.
	 */
	fflush(NULL);
	_exit(status);
}
