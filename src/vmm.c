// SPDX-License-Identifier: Apache-2.0
/*
 * The process's control state: the API thread configures and asks for the
 * start; the main thread, which owns the VM, builds it and says how it went.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <errno.h>

#include "boot_timer.h"
#include "fc_config.h"
#include "log.h"
#include "vmm.h"

void vmm_opts_init(struct vmm_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	snprintf(opts->id, sizeof(opts->id), "%s", VMM_DEFAULT_ID);
	opts->max_payload = 51200;
	snprintf(opts->log.level, sizeof(opts->log.level), "Info");
}

static int find_share(const struct vm_config *cfg, const char *tag)
{
	for (unsigned int i = 0; i < cfg->nr_shares; i++)
		if (!strcmp(cfg->shares[i].tag, tag))
			return (int)i;
	return -1;
}

static int apply_share_overrides(const struct vmm_restore *rs, struct vm_config *cfg,
				 char *err, size_t len)
{
	for (unsigned int i = 0; i < rs->nr_share_overrides; i++) {
		int n = find_share(cfg, rs->share_overrides[i].tag);

		if (n < 0) {
			snprintf(err, len, "share override: the snapshot has no share '%s'",
				 rs->share_overrides[i].tag);
			return -ENOENT;
		}
		snprintf(cfg->shares[n].path, sizeof(cfg->shares[n].path), "%s",
			 rs->share_overrides[i].path);
		cfg->shares[n].readonly = rs->share_overrides[i].readonly;
	}
	return 0;
}

int vmm_restore_apply_overrides(const struct vmm_restore *rs, struct vm_config *cfg,
				char *err, size_t len)
{
	for (unsigned int i = 0; i < rs->nr_overrides; i++) {
		int n = fc_find_net(cfg, rs->overrides[i].id);

		if (n < 0) {
			snprintf(err, len, "network_overrides: the snapshot has no interface '%s'",
				 rs->overrides[i].id);
			return -ENOENT;
		}
		snprintf(cfg->nets[n].tap, sizeof(cfg->nets[n].tap), "%s", rs->overrides[i].tap);
	}
	if (rs->vsock_uds[0]) {
		if (!cfg->vsock.enabled) {
			snprintf(err, len, "vsock_override: the snapshot has no vsock device");
			return -ENOENT;
		}
		snprintf(cfg->vsock.uds_path, sizeof(cfg->vsock.uds_path), "%s", rs->vsock_uds);
	}
	return apply_share_overrides(rs, cfg, err, len);
}

int vmm_parse_share_override(const char *arg, struct vmm_restore *rs)
{
	static const char ro[] = ",readonly";
	const char *eq = strchr(arg, '=');
	size_t len = strlen(arg), path_len;
	bool readonly = len > strlen(ro) && !strcmp(arg + len - strlen(ro), ro);

	path_len = eq ? len - (size_t)(eq + 1 - arg) - (readonly ? strlen(ro) : 0) : 0;
	if (rs->nr_share_overrides == CFG_MAX_SHARES || !eq || eq == arg ||
	    (size_t)(eq - arg) > CFG_SHARE_TAG_MAX || !path_len || path_len > CFG_MAX_PATH) {
		pr_err("--share-override '%s': give TAG=PATH[,readonly] (at most %d)", arg,
		       CFG_MAX_SHARES);
		return -EINVAL;
	}
	memcpy(rs->share_overrides[rs->nr_share_overrides].tag, arg, (size_t)(eq - arg));
	rs->share_overrides[rs->nr_share_overrides].tag[eq - arg] = '\0';
	memcpy(rs->share_overrides[rs->nr_share_overrides].path, eq + 1, path_len);
	rs->share_overrides[rs->nr_share_overrides].path[path_len] = '\0';
	rs->share_overrides[rs->nr_share_overrides].readonly = readonly;
	rs->nr_share_overrides++;
	return 0;
}

struct vmm *vmm_alloc(void)
{
	struct vmm *vmm = calloc(1, sizeof(*vmm));

	if (vmm) {
		vmm->cfg = malloc(sizeof(*vmm->cfg));
		vmm->boot_cfg = malloc(sizeof(*vmm->boot_cfg));
	}
	if (!vmm || !vmm->cfg || !vmm->boot_cfg) {
		pr_err("out of memory");
		vmm_free(vmm);
		return NULL;
	}
	vmm->start_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vmm->start_fd < 0) {
		pr_err("eventfd: %s", strerror(errno));
		vmm_free(vmm);
		return NULL;
	}
	pthread_mutex_init(&vmm->lock, NULL);
	pthread_cond_init(&vmm->cond, NULL);
	vmm_opts_init(&vmm->opts);
	metrics_init(&vmm->metrics);
	vm_config_init(vmm->cfg);
	vmm->cfg->mem_size = 128 * SZ_1M;   /* Firecracker's default */
	vm_config_init(vmm->boot_cfg);
	return vmm;
}

void vmm_free(struct vmm *vmm)
{
	if (!vmm)
		return;
	if (vmm->start_fd > 0)
		close(vmm->start_fd);
	free(vmm->cfg);
	free(vmm->boot_cfg);
	free(vmm);
}

const struct vm_config *vmm_wait_start(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->lock);
	while (vmm->phase != VMM_STARTING)
		pthread_cond_wait(&vmm->cond, &vmm->lock);
	pthread_mutex_unlock(&vmm->lock);
	return vmm->boot_cfg;
}

void vmm_request_start(struct vmm *vmm)
{
	u64 one = 1;

	vmm->phase = VMM_STARTING;
	pthread_cond_broadcast(&vmm->cond);
	if (write(vmm->start_fd, &one, sizeof(one)) < 0)
		pr_warn("waking the main thread: %s", strerror(errno));
}

const struct vm_config *vmm_wait_start_or_signal(struct vmm *vmm, int sig_fd, int *signo)
{
	struct pollfd fds[2] = { { .fd = vmm->start_fd, .events = POLLIN },
				 { .fd = sig_fd, .events = POLLIN } };

	for (;;) {
		struct signalfd_siginfo si;
		bool starting;
		u64 v;

		pthread_mutex_lock(&vmm->lock);
		starting = vmm->phase == VMM_STARTING;
		pthread_mutex_unlock(&vmm->lock);
		if (starting)
			return vmm->boot_cfg;
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (read(vmm->start_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return NULL;
		if ((fds[1].revents & POLLIN) && read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
			*signo = (int)si.ssi_signo;
			return NULL;
		}
	}
}

static void vmm_set_phase(struct vmm *vmm, enum vmm_phase phase, struct vm_cmd_queue *cmds,
			  struct vm *vm)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->phase = phase;
	vmm->cmds = cmds;
	vmm->vm = vm;
	pthread_cond_broadcast(&vmm->cond);
	pthread_mutex_unlock(&vmm->lock);
}

void vmm_started(struct vmm *vmm, struct vm_cmd_queue *cmds, struct vm *vm)
{
	vmm_set_phase(vmm, VMM_RUNNING, cmds, vm);
}

void vmm_start_failed(struct vmm *vmm, const char *why)
{
	pthread_mutex_lock(&vmm->lock);
	snprintf(vmm->start_error, sizeof(vmm->start_error), "%s", why);
	pthread_mutex_unlock(&vmm->lock);
	vmm_set_phase(vmm, VMM_NOT_STARTED, NULL, NULL);
}

void vmm_stopped(struct vmm *vmm)
{
	vmm_set_phase(vmm, VMM_STOPPED, NULL, NULL);
}

int vmm_set_logger(struct vmm *vmm, const struct log_opts *log, char *err, size_t size)
{
	struct log_config lc = { .firecracker = true, .show_level = log->show_level,
				 .show_log_origin = log->show_origin };
	int ret;

	snprintf(lc.id, sizeof(lc.id), "%s", vmm->opts.id);
	if (log_level_parse(log->level, &lc.level)) {
		snprintf(err, size, "logger: unknown level '%s'", log->level);
		return -EINVAL;
	}
	ret = log_open(&lc, log->path[0] ? log->path : NULL);
	if (ret)
		snprintf(err, size, "logger: log_path '%s': %s", log->path, strerror(-ret));
	return ret;
}

int vmm_set_metrics(struct vmm *vmm, const char *path, char *err, size_t size)
{
	int ret = metrics_open(&vmm->metrics, path);

	if (ret == -EBUSY)
		snprintf(err, size, "Reinitialization of metrics not allowed.");
	else if (ret)
		snprintf(err, size, "metrics: metrics_path '%s': %s", path, strerror(-ret));
	return ret;
}

static u64 now_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (u64)ts.tv_sec * 1000000 + (u64)ts.tv_nsec / 1000;
}

void vmm_record_startup(struct vmm *vmm, u64 start_ns)
{
	const struct vmm_opts *o = &vmm->opts;
	u64 wall = o->start_time_us ? now_us(CLOCK_MONOTONIC) - o->start_time_us :
				       (boot_clock_ns() - start_ns) / 1000;
	u64 cpu = now_us(CLOCK_PROCESS_CPUTIME_ID) + o->parent_cpu_time_us -
		  (o->start_time_cpu_us ? o->start_time_cpu_us : 0);

	metric_store(&vmm->metrics.api_server.process_startup_time_us, wall);
	metric_store(&vmm->metrics.api_server.process_startup_time_cpu_us, cpu);
}
