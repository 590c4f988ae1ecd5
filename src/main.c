// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm: parse the command line (arkvm's own, or Firecracker's), then
 * bring the VM up one step at a time, in the order KVM on arm64 requires,
 * and run it.  With an API the VM is built when InstanceStart asks.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api.h"
#include "arch.h"
#include "cli.h"
#include "exec.h"
#include "fc_cli.h"
#include "fc_config.h"
#include "log.h"
#include "sandbox.h"
#include "snapshot.h"
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
	STEP(arm64_cpu_probe),   /* --cpu-features against what KVM offers */
	STEP(vm_setup_memory),   /* guest RAM, one memory slot */
	STEP(gic_create),        /* VGICv3: before the vCPUs */
	STEP(vcpus_create),      /* vCPUs with PSCI 0.2, features, SVE finalized; MPIDRs */
	STEP(vcpus_spawn),       /* their threads, which wait for vm_run() */
	STEP(gic_init),          /* CTRL_INIT: once every vCPU exists */
	STEP(arm64_cpu_late_init), /* PMU (needs the VGIC initialised), stolen time */
	STEP(vm_load_images),    /* kernel Image, then initrd after it */
	STEP(vm_setup_devices),  /* UART, virtio devices, boot timer on the MMIO bus */
	STEP(vm_setup_fdt),      /* device tree after the images, boot registers */
};

/*
 * A restore builds the same machine without what only a boot needs: no
 * kernel, no device tree, no boot registers.  Guest RAM is the memory
 * file; the last step puts back every vCPU's, the VGIC's and each
 * device's state.
 */
static const struct init_step restore_steps[] = {
	STEP(vm_open_kvm),
	STEP(vm_create),
	STEP(arm64_cpu_probe),   /* the snapshot's features, each one required */
	STEP(vm_setup_memory),   /* the memory file, mapped private */
	STEP(gic_create),
	STEP(vcpus_create),
	STEP(vcpus_spawn),
	STEP(gic_init),
	STEP(arm64_cpu_late_init),
	STEP(vm_setup_devices),  /* disks reopened (and locked), taps by name */
	STEP(vm_restore_state),  /* registers, VGIC, devices */
};

static struct vm *vm_build_steps(struct vm *vm, u64 start, const char *first_step,
				 const struct init_step *steps, size_t nr)
{
	vm->boot_times.start = start;
	boot_times_step(&vm->boot_times, first_step);
	for (size_t i = 0; i < nr; i++) {
		if (steps[i].fn(vm)) {
			vm_destroy(vm);
			return NULL;
		}
		boot_times_step(&vm->boot_times, steps[i].name);
	}
	return vm;
}

/* The VM for @cfg, built: NULL (said on stderr) when a step failed. */
static struct vm *vm_build(const struct vm_config *cfg, u64 start, const char *first_step)
{
	struct vm *vm = vm_alloc(cfg);

	return vm ? vm_build_steps(vm, start, first_step, init_steps, ARRAY_SIZE(init_steps)) : NULL;
}

/*
 * The VM a snapshot describes, with @rs's memory file and overrides,
 * into @cfg (which must outlive the VM): NULL with @err's line on failure.
 */
static struct vm *vm_restore(const struct vmm_restore *rs, struct vm_config *cfg,
			     struct snapshot_image *img, bool no_seccomp, u64 start,
			     char *err, size_t err_size)
{
	struct vm_config_error verr;
	struct vm *vm;
	int fd = -1;

	if (snapshot_image_load(img, rs->snapshot, cfg, err, err_size))
		return NULL;
	cfg->no_seccomp = no_seccomp;
	cfg->track_dirty_pages |= rs->track_dirty;
	if (vmm_restore_apply_overrides(rs, cfg, err, err_size))
		goto fail;
	if (vm_config_validate(cfg, &verr)) {
		snprintf(err, err_size, "the snapshot's %s: %s", verr.field, verr.msg);
		goto fail;
	}
	/* Uffd: no file here; vm_setup_memory() hands the RAM to @rs->mem's page server. */
	if (!rs->uffd) {
		fd = open(rs->mem, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, err_size, "memory file '%.300s': %s", rs->mem, strerror(errno));
			goto fail;
		}
	}
	vm = vm_alloc(cfg);
	if (!vm) {
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	vm->mem_fd = fd;
	vm->uffd_path = rs->uffd ? rs->mem : NULL;
	vm->restore = img;
	vm->start_paused = !rs->resume;
	vm = vm_build_steps(vm, start, "snapshot_load", restore_steps, ARRAY_SIZE(restore_steps));
	if (vm)
		return vm;
	snprintf(err, err_size, "the VM could not be restored (see the log)");
fail:
	snapshot_image_free(img);
	return NULL;
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
 * The stop signals are the main thread's from the start: before a VM
 * exists they end the wait for InstanceStart (vm_run() takes them over
 * on its own signalfd after).  Blocked before the API thread exists, so
 * no other thread takes them.
 */
static int vmm_block_signals(void)
{
	sigset_t set;
	int fd;

	vm_main_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		pr_err("signalfd: %s", strerror(errno));
	return fd;
}

/* Runs @vm until it stops; the API is told, then stopped; the last metrics written. */
static int vmm_run_vm(struct vmm *vmm, struct api_server *api, struct vm *vm)
{
	int status;

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

/*
 * With an API: builds the VM each time InstanceStart asks, until one
 * starts, and runs it.  A failed start is answered to the API, which may
 * fix the config and ask again; @boot_now (a config file or arkvm's flags,
 * already in vmm->boot_cfg) boots at once and ends on failure.  A stop
 * signal before the start ends the process as it would a running VM.
 */
static int vmm_run(struct vmm *vmm, struct api_server *api, int sig_fd, bool boot_now, u64 start)
{
	if (boot_now) {
		pthread_mutex_lock(&vmm->lock);
		vmm_request_start(vmm);
		pthread_mutex_unlock(&vmm->lock);
	}
	for (;;) {
		int signo = 0, status;
		const struct vm_config *cfg = vmm_wait_start_or_signal(vmm, sig_fd, &signo);
		struct snapshot_image img;
		struct vm *vm;

		if (!cfg) {
			vmm_stopped(vmm);
			api_server_stop(api);
			return signo ? 128 + signo : EXIT_VMM_ERROR;
		}
		if (vmm->restore.asked) {
			char err[512];

			/* The restored VM's config replaces what the API showed. */
			vm = vm_restore(&vmm->restore, vmm->boot_cfg, &img, vmm->cfg->no_seccomp,
					boot_now ? start : boot_clock_ns(), err, sizeof(err));
			if (vm) {
				pthread_mutex_lock(&vmm->lock);
				*vmm->cfg = *vmm->boot_cfg;
				pthread_mutex_unlock(&vmm->lock);
				status = vmm_run_vm(vmm, api, vm);
				snapshot_image_free(&img);
				return status;
			}
			pr_err("%s", err);
			vmm_start_failed(vmm, err);
		} else {
			vm = vm_build(cfg, boot_now ? start : boot_clock_ns(), "configure");
			if (vm)
				return vmm_run_vm(vmm, api, vm);
			vmm_start_failed(vmm, "the VM could not be built (see the log)");
		}
		if (boot_now) {
			vmm_stopped(vmm);
			api_server_stop(api);
			return EXIT_VMM_ERROR;
		}
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
	int sig_fd;

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
	sig_fd = vmm_block_signals();
	if (sig_fd < 0 || sandbox_prepare(NULL))
		return EXIT_VMM_ERROR;
	if (vmm->opts.api_sock[0] && api_server_start(&api, vmm, !cli.no_seccomp))
		return EXIT_VMM_ERROR;
	vmm_record_startup(vmm, start);
	return vmm_run(vmm, &api, sig_fd, boot_now, start);
}

/* arkvm restore: the snapshot's VM, resumed from the terminal (and its API with --api-sock). */
static int restore_main(int argc, char **argv, u64 start)
{
	struct api_server api = { 0 };
	struct vmm *vmm = vmm_alloc();
	bool no_seccomp = false;
	int ret, sig_fd;

	if (!vmm)
		return EXIT_VMM_ERROR;
	ret = vmm_restore_parse(argc, argv, &vmm->restore, &vmm->opts, &no_seccomp, stdout);
	if (ret)
		return ret > 0 ? 0 : EXIT_VMM_ERROR;
	vmm->cfg->no_seccomp = no_seccomp;
	sig_fd = vmm_block_signals();
	if (sig_fd < 0 || sandbox_prepare(NULL))
		return EXIT_VMM_ERROR;
	if (vmm->opts.api_sock[0] && api_server_start(&api, vmm, !no_seccomp))
		return EXIT_VMM_ERROR;
	vmm->paused = !vmm->restore.resume;
	return vmm_run(vmm, &api, sig_fd, true, start);
}

/* arkvm snapshot-merge BASE DIFF: a diff snapshot's memory onto its base's memory file. */
static int merge_main(int argc, char **argv)
{
	int ret;

	if (argc != 4 || !strcmp(argv[2], "--help")) {
		fputs("Usage: arkvm snapshot-merge BASE_MEM DIFF_MEM\n"
		      "Copies the pages a Diff snapshot's memory file holds onto its base's,\n"
		      "in place; restore then with the diff's snapshot file and BASE_MEM.\n",
		      argc == 3 ? stdout : stderr);
		return argc == 3 ? 0 : EXIT_VMM_ERROR;
	}
	ret = snapshot_merge(argv[2], argv[3]);
	if (ret)
		pr_err("snapshot-merge: %s", ret == -ERANGE ?
		       "the two memory files differ in size: not a diff of this base" : strerror(-ret));
	return ret ? EXIT_VMM_ERROR : 0;
}

/*
 * arkvm exec's VM, in its child process: booted as arkvm run's, with the
 * API (--warm's first run, to be snapshotted), or restored (its later ones).
 */
static int exec_run_vm(const struct exec_launch *l)
{
	struct api_server api = { 0 };
	struct vmm *vmm;
	struct vm *vm;
	int sig_fd, status;

	if (!l->restore && !l->api_sock) {
		vm = vm_build(l->cfg, boot_clock_ns(), "exec");
		if (!vm)
			finish(EXIT_VMM_ERROR);
		status = vm_run(vm);
		vm_destroy(vm);
		finish(status);
	}
	vmm = vmm_alloc();
	if (!vmm)
		finish(EXIT_VMM_ERROR);
	if (l->restore) {
		vmm->restore = *l->restore;
	} else {
		*vmm->cfg = *l->cfg;
		*vmm->boot_cfg = *l->cfg;
		snprintf(vmm->opts.api_sock, sizeof(vmm->opts.api_sock), "%s", l->api_sock);
	}
	sig_fd = vmm_block_signals();
	if (sig_fd < 0 || sandbox_prepare(NULL) ||
	    (l->api_sock && api_server_start(&api, vmm, !vmm->cfg->no_seccomp)))
		finish(EXIT_VMM_ERROR);
	finish(vmm_run(vmm, &api, sig_fd, true, boot_clock_ns()));
}

/*
 * glibc's malloc, the first time it gives a thread arena's memory back
 * (free() leaving more than the trim threshold on top), reads
 * /proc/sys/vm/overcommit_memory: an openat() that the API and I/O
 * threads' filters refuse, so a large free() there killed arkvm (the API
 * thread freeing its copies of the config, vsock's buffers).  Fixed
 * thresholds keep it from ever trimming a heap: blocks of 128 KiB and up
 * are mapped and unmapped whole, the rest stays for reuse.
 */
static void malloc_for_sandboxes(void)
{
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

int main(int argc, char **argv)
{
	u64 start = boot_clock_ns();  /* first: the boot timer counts from here */
	struct api_server api = { 0 };
	struct vmm_opts opts;
	struct vm_config cfg;
	struct vmm *vmm;
	struct vm *vm;
	int ret, sig_fd, status = EXIT_VMM_ERROR;

	malloc_for_sandboxes();
	if (fc_cli_wanted(argc, argv))
		finish(fc_main(argc, argv, start));
	if (argc > 1 && !strcmp(argv[1], "restore"))
		finish(restore_main(argc, argv, start));
	if (argc > 1 && !strcmp(argv[1], "exec"))
		finish(exec_main(argc, argv, exec_run_vm));
	if (argc > 1 && !strcmp(argv[1], "snapshot-merge"))
		finish(merge_main(argc, argv));

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
		sig_fd = vmm_block_signals();
		if (sig_fd < 0 || sandbox_prepare(NULL) || api_server_start(&api, vmm, !cfg.no_seccomp))
			return EXIT_VMM_ERROR;
		finish(vmm_run(vmm, &api, sig_fd, true, start));
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
