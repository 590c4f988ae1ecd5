/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VMM_H
#define ARKVM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "compiler.h"
#include "vm_config.h"

/*
 * What belongs to the arkvm process rather than to its VM: the API
 * socket, the instance's id, where logs and metrics go.  Firecracker's
 * command line, its config file's "logger" and "metrics", and arkvm's
 * --api-sock fill it.
 */

#define VMM_DEFAULT_API_SOCK "/run/firecracker.socket"
#define VMM_DEFAULT_ID       "anonymous-instance"
#define VMM_MAX_LEVEL        15

struct log_opts {
	bool set;                          /* configured (flags, PUT /logger or the file) */
	char path[CFG_MAX_PATH + 1];       /* empty: stderr */
	char level[VMM_MAX_LEVEL + 1];     /* Firecracker's: Error, Warning, Info, Debug, Trace, Off */
	bool show_level;
	bool show_origin;
};

struct metrics_opts {
	bool set;
	char path[CFG_MAX_PATH + 1];
};

struct vmm_opts {
	char api_sock[CFG_MAX_PATH + 1];   /* empty: no API */
	char id[CFG_MAX_ID + 1];
	char config_file[CFG_MAX_PATH + 1];
	size_t max_payload;                /* the largest request body the API reads */
	struct log_opts log;
	struct metrics_opts metrics;
	/* The jailer's start times, for api_server.process_startup_time_*; 0: unset. */
	u64 start_time_us;
	u64 start_time_cpu_us;
	u64 parent_cpu_time_us;
};

void vmm_opts_init(struct vmm_opts *opts);

#include <pthread.h>

#include "metrics.h"

struct vm;
struct vm_cmd_queue;

/* A restore asked for (PUT /snapshot/load, arkvm restore). */
struct vmm_restore {
	bool asked;
	char snapshot[CFG_MAX_PATH + 1];
	char mem[CFG_MAX_PATH + 1];
	bool uffd;                         /* Uffd: @mem is the page server's socket */
	bool resume;                       /* else it comes up paused */
	bool track_dirty;                  /* dirty pages tracked: diff snapshots */
	unsigned int nr_overrides;         /* network_overrides: a NIC's new tap */
	struct {
		char id[CFG_MAX_ID + 1];
		char tap[CFG_MAX_IFNAME + 1];
	} overrides[CFG_MAX_NETS];
	char vsock_uds[CFG_VSOCK_MAX_PATH + 1];  /* vsock_override: a new uds_path, or empty */
	/*
	 * A share's new host directory and mode, by tag (arkvm exec's warm
	 * start fills them: each run shares its own directories).  Only a
	 * share the guest never mounted is in a snapshot, so nothing in the
	 * guest refers to the old directory.
	 */
	unsigned int nr_share_overrides;
	struct {
		char tag[CFG_SHARE_TAG_MAX + 1];
		char path[CFG_MAX_PATH + 1];
		bool readonly;
	} share_overrides[CFG_MAX_SHARES];
};

/*
 * @rs's overrides onto @cfg, the config a snapshot holds: each NIC's tap,
 * vsock's socket, each share's directory and mode.  0, or -ENOENT with
 * one line in @err naming what the snapshot lacks (@cfg then partly
 * changed: the restore is abandoned).
 */
int vmm_restore_apply_overrides(const struct vmm_restore *rs, struct vm_config *cfg,
				char *err, size_t len);
/*
 * arkvm restore's --share-override TAG=PATH[,readonly] into @rs's next
 * share override: 0, or -EINVAL (said) for a malformed one or too many.
 */
int vmm_parse_share_override(const char *arg, struct vmm_restore *rs);
/*
 * arkvm restore's command line (@argv[0] "arkvm", @argv[1] "restore")
 * into @rs, @opts->api_sock and *@no_seccomp (set only when asked):
 * 0, 1 for --help (its text written to @out), or -EINVAL with one line
 * on stderr.  @rs is cleared first.
 */
int vmm_restore_parse(int argc, char *const argv[], struct vmm_restore *rs,
		      struct vmm_opts *opts, bool *no_seccomp, FILE *out);

/*
 * The process's control state, shared by the API thread and the main
 * thread (which builds and runs the VM) under @lock.
 */
enum vmm_phase {
	VMM_NOT_STARTED,   /* configuring */
	VMM_STARTING,      /* InstanceStart asked: the main thread builds the VM */
	VMM_RUNNING,       /* the VM runs (or is paused: see @paused) */
	VMM_STOPPED,       /* the VM has stopped: the process ends */
};

struct vmm {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vmm_opts opts;
	struct vm_config *cfg;        /* what the API shows and edits */
	struct vm_config *boot_cfg;   /* what InstanceStart boots: complete, validated */
	enum vmm_phase phase;
	int start_fd;                 /* eventfd: InstanceStart was asked (main thread polls) */
	bool paused;
	bool configured;              /* a boot resource was PUT: no snapshot load then */
	struct vmm_restore restore;
	char start_error[512];        /* why the last start failed */
	struct vm_cmd_queue *cmds;    /* the running VM's lifecycle commands */
	struct vm *vm;                /* the running VM, for its metrics */
	struct metrics metrics;       /* open once configured */
};

/* NULL (said on stderr) when out of memory. */
struct vmm *vmm_alloc(void);
void vmm_free(struct vmm *vmm);

/*
 * The main thread: waits for InstanceStart, and says how the start went.
 * vmm_wait_start() returns the config to boot (owned by @vmm).
 */
const struct vm_config *vmm_wait_start(struct vmm *vmm);
/*
 * The same, and a stop signal read from @sig_fd (a signalfd) ends the
 * wait: NULL with *@signo set.
 */
const struct vm_config *vmm_wait_start_or_signal(struct vmm *vmm, int sig_fd, int *signo);
/* Asks the main thread to start the VM in vmm->boot_cfg; @vmm->lock held. */
void vmm_request_start(struct vmm *vmm);
void vmm_started(struct vmm *vmm, struct vm_cmd_queue *cmds, struct vm *vm);
void vmm_start_failed(struct vmm *vmm, const char *why);
/* The VM has stopped: the API refuses what needs one from now on. */
void vmm_stopped(struct vmm *vmm);

/*
 * The logger and the metrics as @log / @path say: 0, or -errno with one
 * line in @err (naming the file) and nothing changed.  Any thread.
 */
int vmm_set_logger(struct vmm *vmm, const struct log_opts *log, char *err, size_t size);
int vmm_set_metrics(struct vmm *vmm, const char *path, char *err, size_t size);
/* Firecracker's process_startup_time_*: from the jailer's start, or this process's. */
void vmm_record_startup(struct vmm *vmm, u64 start_ns);

#endif
