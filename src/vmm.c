// SPDX-License-Identifier: Apache-2.0
/*
 * The process's control state: the API thread configures and asks for the
 * start; the main thread, which owns the VM, builds it and says how it went.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vmm.h"

void vmm_opts_init(struct vmm_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	snprintf(opts->id, sizeof(opts->id), "%s", VMM_DEFAULT_ID);
	opts->max_payload = 51200;
	snprintf(opts->log.level, sizeof(opts->log.level), "Info");
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
	pthread_mutex_init(&vmm->lock, NULL);
	pthread_cond_init(&vmm->cond, NULL);
	vmm_opts_init(&vmm->opts);
	vm_config_init(vmm->cfg);
	vmm->cfg->mem_size = 128 * SZ_1M;   /* Firecracker's default */
	vm_config_init(vmm->boot_cfg);
	return vmm;
}

void vmm_free(struct vmm *vmm)
{
	if (!vmm)
		return;
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

static void vmm_set_phase(struct vmm *vmm, enum vmm_phase phase, struct vm_cmd_queue *cmds)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->phase = phase;
	vmm->cmds = cmds;
	pthread_cond_broadcast(&vmm->cond);
	pthread_mutex_unlock(&vmm->lock);
}

void vmm_started(struct vmm *vmm, struct vm_cmd_queue *cmds)
{
	vmm_set_phase(vmm, VMM_RUNNING, cmds);
}

void vmm_start_failed(struct vmm *vmm, const char *why)
{
	pthread_mutex_lock(&vmm->lock);
	snprintf(vmm->start_error, sizeof(vmm->start_error), "%s", why);
	pthread_mutex_unlock(&vmm->lock);
	vmm_set_phase(vmm, VMM_NOT_STARTED, NULL);
}

void vmm_stopped(struct vmm *vmm)
{
	vmm_set_phase(vmm, VMM_STOPPED, NULL);
}
