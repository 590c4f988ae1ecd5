// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm: parse the command line (arkvm's own, or Firecracker's), then
 * bring the VM up one step at a time, in the order KVM on arm64 requires,
 * and run it.  With an API the VM is built when InstanceStart asks.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "arch.h"
#include "cli.h"
#include "fc_cli.h"
#include "fc_config.h"
#include "log.h"
#include "sandbox.h"
#include "vm.h"
#include "vmm.h"

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

/* The VM for @cfg, built: NULL (said on stderr) when a step failed. */
static struct vm *vm_build(const struct vm_config *cfg, u64 start, const char *first_step)
{
	struct vm *vm = vm_alloc(cfg);

	if (!vm)
		return NULL;
	vm->boot_times.start = start;
	boot_times_step(&vm->boot_times, first_step);
	for (size_t i = 0; i < ARRAY_SIZE(init_steps); i++) {
		if (init_steps[i].fn(vm)) {
			vm_destroy(vm);
			return NULL;
		}
		boot_times_step(&vm->boot_times, init_steps[i].name);
	}
	return vm;
}

/* Ends the process without the libraries' exit handlers (Mesa's may break the filter). */
static __attribute__((noreturn)) void finish(int status)
{
	fflush(NULL);
	_exit(status);
}

static void vm_now_running(struct vm *vm, void *opaque)
{
	struct vmm *vmm = opaque;

	/* Firecracker writes metrics every 60 s while the VM runs, from this loop. */
	if (vmm->opts.metrics.set && metrics_start_timer(&vmm->metrics, &vm->loop, vm))
		pr_warn("metrics: cannot start the 60 s timer");
	vmm_started(vmm, &vm->cmds, vm);
}

/*
 * With an API: builds the VM each time InstanceStart asks, until one
 * starts, and runs it.  A failed start is answered to the API, which may
 * fix the config and ask again; @boot_now (a config file or arkvm's flags,
 * already in vmm->boot_cfg) boots at once and ends on failure.
 */
static int vmm_run(struct vmm *vmm, struct api_server *api, bool boot_now, u64 start)
{
	int status;

	if (boot_now) {
		pthread_mutex_lock(&vmm->lock);
		vmm->phase = VMM_STARTING;
		pthread_mutex_unlock(&vmm->lock);
	}
	for (;;) {
		const struct vm_config *cfg = vmm_wait_start(vmm);
		struct vm *vm = vm_build(cfg, boot_now ? start : boot_clock_ns(), "configure");

		if (!vm) {
			vmm_start_failed(vmm, "the VM could not be built (see the log)");
			if (boot_now)
				return EXIT_VMM_ERROR;
			continue;
		}
		vm->running = vm_now_running;
		vm->running_opaque = vmm;
		status = vm_run(vm);
		/* Nobody waits for the VM any more: a waiting API call is answered. */
		vm_cmd_queue_destroy(&vm->cmds);
		pthread_mutex_lock(&vmm->lock);
		if (vmm->phase == VMM_STARTING) {
			pthread_mutex_unlock(&vmm->lock);
			vmm_start_failed(vmm, "the VM could not start (see the log)");
		} else {
			pthread_mutex_unlock(&vmm->lock);
		}
		vmm_stopped(vmm);
		api_server_stop(api);
		/* The last line, as Firecracker writes at exit. */
		if (vmm->opts.metrics.set) {
			metrics_flush(&vmm->metrics, vm);
			metrics_close(&vmm->metrics);
		}
		vm_destroy(vm);
		return status;
	}
}

#define FC_MAX_CONFIG_FILE (1 << 20)

/* The config file's text, NUL-terminated; NULL (said) when unreadable. */
static char *read_config_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = f ? malloc(FC_MAX_CONFIG_FILE + 1) : NULL;
	size_t len = buf ? fread(buf, 1, FC_MAX_CONFIG_FILE + 1, f) : 0;
	int err = errno;

	if (!f || !buf || ferror(f) || len > FC_MAX_CONFIG_FILE) {
		pr_err("--config-file '%s': %s", path,
		       len > FC_MAX_CONFIG_FILE ? "larger than 1 MiB" : strerror(err));
		free(buf);
		if (f)
			fclose(f);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/*
 * Firecracker's log lines from the start (its flags or config file may
 * name a file), and its metrics when a path is given.
 */
static int fc_logs_and_metrics(struct vmm *vmm)
{
	char err[512];

	if (vmm_set_logger(vmm, &vmm->opts.log, err, sizeof(err)) ||
	    (vmm->opts.metrics.set && vmm_set_metrics(vmm, vmm->opts.metrics.path, err,
						       sizeof(err)))) {
		pr_err("%s", err);
		return -EINVAL;
	}
	return 0;
}

/* Firecracker's command line: exit statuses 152 and 153 are its own. */
static int fc_main(int argc, char **argv, u64 start)
{
	struct api_server api = { 0 };
	struct fc_cli cli;
	struct fc_error e;
	struct vmm *vmm;
	bool boot_now;

	if (fc_cli_parse(argc, argv, &cli, stdout))
		return FC_EXIT_BAD_ARGS;
	if (cli.done)
		return 0;
	vmm = vmm_alloc();
	if (!vmm)
		return EXIT_VMM_ERROR;
	vmm->opts = cli.opts;
	vmm->cfg->no_seccomp = cli.no_seccomp;
	vmm->cfg->boot_timer = cli.boot_timer;
	boot_now = cli.opts.config_file[0];
	if (boot_now) {
		char *text = read_config_file(cli.opts.config_file);

		if (!text)
			return FC_EXIT_BAD_CONFIG;
		if (fc_load_config(vmm->cfg, &vmm->opts, text, &e) ||
		    ((*vmm->boot_cfg = *vmm->cfg), fc_finish_config(vmm->boot_cfg, &e))) {
			pr_err("--config-file '%s': %s", cli.opts.config_file, e.msg);
			free(text);
			return FC_EXIT_BAD_CONFIG;
		}
		free(text);
	}
	if (fc_logs_and_metrics(vmm))
		return boot_now ? FC_EXIT_BAD_CONFIG : FC_EXIT_BAD_ARGS;
	signal(SIGPIPE, SIG_IGN);
	if (sandbox_prepare(NULL))
		return EXIT_VMM_ERROR;
	if (vmm->opts.api_sock[0] && api_server_start(&api, vmm, !cli.no_seccomp))
		return EXIT_VMM_ERROR;
	vmm_record_startup(vmm, start);
	return vmm_run(vmm, &api, boot_now, start);
}

int main(int argc, char **argv)
{
	u64 start = boot_clock_ns();  /* first: the boot timer counts from here */
	struct api_server api = { 0 };
	struct vmm_opts opts;
	struct vm_config cfg;
	struct vmm *vmm;
	struct vm *vm;
	int ret, status = EXIT_VMM_ERROR;

	if (fc_cli_wanted(argc, argv))
		finish(fc_main(argc, argv, start));

	vmm_opts_init(&opts);
	ret = cli_parse_vmm(argc, argv, &cfg, &opts, stdout);
	if (ret < 0)
		return EXIT_VMM_ERROR;
	if (ret == CLI_DONE)
		return 0;

	if (opts.api_sock[0] && !cfg.dump_dtb[0]) {
		/* arkvm's own flags, and the API served for the running VM. */
		vmm = vmm_alloc();
		if (!vmm)
			return EXIT_VMM_ERROR;
		vmm->opts = opts;
		*vmm->cfg = cfg;
		*vmm->boot_cfg = cfg;
		signal(SIGPIPE, SIG_IGN);
		if (sandbox_prepare(NULL) || api_server_start(&api, vmm, !cfg.no_seccomp))
			return EXIT_VMM_ERROR;
		finish(vmm_run(vmm, &api, true, start));
	}

	vm = vm_build(&cfg, start, "cli_parse");
	if (!vm)
		finish(EXIT_VMM_ERROR);
	if (cfg.dump_dtb[0])
		status = vm_dump_dtb(vm, cfg.dump_dtb) ? EXIT_VMM_ERROR : 0;
	else
		status = vm_run(vm);
	vm_destroy(vm);
	/*
	 * Everything of ours is torn down.  End here rather than run the exit
	 * handlers of the libraries arkvm loaded (Mesa's, with --gpu virgl),
	 * which may open files or start work that the main thread's seccomp
	 * filter refuses.
	 */
	finish(status);
}
