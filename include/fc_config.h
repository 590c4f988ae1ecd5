/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FC_CONFIG_H
#define ARKVM_FC_CONFIG_H

#include <jansson.h>

#include "vm_config.h"
#include "vmm.h"

/*
 * Firecracker's JSON objects (its swagger's BootSource, Drive,
 * MachineConfiguration, NetworkInterface, ...) read into struct
 * vm_config, and the config back as GET /vm/config shows it.  The API
 * and the config file share these, so a body and a file with the same
 * object get the same answer.  Every reader is strict, as Firecracker's
 * is: an unknown field, a wrong type or a missing required field is an
 * error, and on an error nothing in @cfg has changed.
 */

/* Firecracker's boot arguments when none are given. */
#define FC_DEFAULT_BOOT_ARGS \
	"reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux i8042.nomux i8042.dumbkbd swiotlb=noforce"

struct fc_error {
	char msg[512];
};

int fc_put_boot_source(struct vm_config *cfg, const json_t *o, struct fc_error *e);
/* PUT (@patch false: the two sizes are required) or PATCH /machine-config. */
int fc_put_machine_config(struct vm_config *cfg, const json_t *o, bool patch, struct fc_error *e);
/* PUT /drives/{id}: adds the drive, or replaces the one with its id. */
int fc_put_drive(struct vm_config *cfg, const json_t *o, const char *path_id, struct fc_error *e);
/* PATCH /drives/{id} after start: into @d, a copy of the drive's config. */
int fc_patch_drive(struct disk_config *d, const json_t *o, const char *path_id, struct fc_error *e);
int fc_put_net(struct vm_config *cfg, const json_t *o, const char *path_id, struct fc_error *e);
int fc_patch_net(struct net_config *n, const json_t *o, const char *path_id, struct fc_error *e);
int fc_put_entropy(struct vm_config *cfg, const json_t *o, struct fc_error *e);
/* PUT /vsock {guest_cid, uds_path}: before the start only. */
int fc_put_vsock(struct vm_config *cfg, const json_t *o, struct fc_error *e);
int fc_put_balloon(struct vm_config *cfg, const json_t *o, struct fc_error *e);
/* arkvm's extension: a virtio-fs share (src/fc_shares.c). */
int fc_put_share(struct vm_config *cfg, const json_t *o, const char *path_tag, struct fc_error *e);
json_t *fc_dump_shares(const struct vm_config *cfg);
int fc_patch_balloon(struct balloon_config *b, const json_t *o, struct fc_error *e);
int fc_patch_balloon_stats(struct balloon_config *b, const json_t *o, struct fc_error *e);
json_t *fc_dump_balloon(const struct balloon_config *b);
struct balloon_info;
struct balloon_stats;
json_t *fc_dump_balloon_stats(const struct balloon_info *info, const struct balloon_stats *st);
int fc_put_logger(struct log_opts *log, const json_t *o, struct fc_error *e);
int fc_put_metrics(struct metrics_opts *m, const json_t *o, struct fc_error *e);

/* PUT /snapshot/create and /snapshot/load (Firecracker's SnapshotCreateParams, SnapshotLoadParams). */
struct snapshot_request;
int fc_snapshot_create(struct snapshot_request *req, const json_t *o, struct fc_error *e);
int fc_snapshot_load(struct vmm_restore *rs, const json_t *o, struct fc_error *e);

/* Disk and NIC by id: the index, or -1. */
int fc_find_drive(const struct vm_config *cfg, const char *id);
int fc_find_net(const struct vm_config *cfg, const char *id);

/*
 * A config file's whole text: every object, in the order Firecracker
 * applies them.  Sets @cfg and @opts' logger and metrics.
 */
int fc_load_config(struct vm_config *cfg, struct vmm_opts *opts, const char *text,
		   struct fc_error *e);

/*
 * What the VM boots with, from what the API or file gave: the root drive
 * first, root= on the command line, validated and completed.
 */
int fc_finish_config(struct vm_config *cfg, struct fc_error *e);

/* GET /vm/config: the same keys as the config file. NULL when out of memory. */
json_t *fc_dump_config(const struct vm_config *cfg, const struct vmm_opts *opts);
json_t *fc_dump_machine_config(const struct vm_config *cfg);

#endif
