// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm: parse the command line, then bring the VM up one step at a time,
 * in the order KVM on arm64 requires, and run it.
 */
#include <stdio.h>

#include "arch/arm64/arch.h"
#include "cli.h"
#include "vm.h"

/* The order matters: see the comment on each step. */
static int (*const init_steps[])(struct vm *vm) = {
	vm_open_kvm,       /* /dev/kvm, API version, capabilities */
	vm_create,         /* the VM, with an IPA size that fits RAM */
	vm_setup_memory,   /* guest RAM, one memory slot */
	gic_create,        /* VGICv3: before the vCPUs */
	vcpus_create,      /* vCPUs with PSCI 0.2; MPIDRs read back */
	gic_init,          /* CTRL_INIT: once every vCPU exists */
	vm_load_images,    /* kernel Image, then initrd after it */
	vm_setup_devices,  /* UART on the MMIO bus */
	vm_setup_fdt,      /* device tree at the top of RAM, boot registers */
};

int main(int argc, char **argv)
{
	u64 start = boot_clock_ns();  /* first: the boot timer counts from here */
	struct vm_config cfg;
	struct vm vm;
	int ret, status = EXIT_VMM_ERROR;

	ret = cli_parse(argc, argv, &cfg, stdout);
	if (ret < 0)
		return EXIT_VMM_ERROR;
	if (ret == CLI_DONE)
		return 0;

	vm_init_state(&vm, &cfg);
	vm.boot_times.start = start;
	for (size_t i = 0; i < ARRAY_SIZE(init_steps); i++)
		if (init_steps[i](&vm))
			goto out;

	if (cfg.dump_dtb)
		status = vm_dump_dtb(&vm, cfg.dump_dtb) ? EXIT_VMM_ERROR : 0;
	else
		status = vm_run(&vm);
out:
	vm_destroy(&vm);
	return status;
}
