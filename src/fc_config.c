// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker's JSON objects <-> struct vm_config.  Each reader works on
 * a copy and writes it back only when all of the object was good, so a
 * refused request changes nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "fc_config.h"
#include "fc_json.h"
#include "snapshot.h"
#include "virtio_balloon.h"

int fc_put_boot_source(struct vm_config *cfg, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "kernel_image_path", "initrd_path", "boot_args", NULL };
	static const char what[] = "boot-source";
	char kernel[sizeof(cfg->kernel)], initrd[sizeof(cfg->initrd)] = "";
	char args[sizeof(cfg->cmdline)] = FC_DEFAULT_BOOT_ARGS;

	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_str(o, what, "kernel_image_path", true, kernel, sizeof(kernel), e) < 0 ||
	    fc_get_str(o, what, "initrd_path", false, initrd, sizeof(initrd), e) < 0 ||
	    fc_get_str(o, what, "boot_args", false, args, sizeof(args), e) < 0)
		return -EINVAL;
	memcpy(cfg->kernel, kernel, sizeof(kernel));
	memcpy(cfg->initrd, initrd, sizeof(initrd));
	memcpy(cfg->cmdline, args, sizeof(args));
	return 0;
}

#define FC_MAX_VCPUS 32

int fc_put_machine_config(struct vm_config *cfg, const json_t *o, bool patch, struct fc_error *e)
{
	static const char *const keys[] = { "vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
					    "huge_pages", "cpu_template", NULL };
	static const char *const hugepages[] = { "None", "2M", NULL };
	static const char *const templates[] = { "None", NULL };
	static const char what[] = "machine-config";
	struct vm_config c = *cfg;
	unsigned int huge = c.hugepages, tmpl = 0;
	u64 cpus = c.nr_cpus, mib = c.mem_size / SZ_1M;

	if (!patch) {
		/* PUT: what is left out goes back to its default. */
		c.smt = false;
		c.track_dirty_pages = false;
		huge = 0;
	}
	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_u64(o, what, "vcpu_count", !patch, &cpus, e) < 0 ||
	    fc_get_u64(o, what, "mem_size_mib", !patch, &mib, e) < 0 ||
	    fc_get_bool(o, what, "smt", false, &c.smt, e) < 0 ||
	    fc_get_bool(o, what, "track_dirty_pages", false, &c.track_dirty_pages, e) < 0 ||
	    fc_get_enum(o, what, "huge_pages", hugepages, &huge, e) < 0 ||
	    fc_get_enum(o, what, "cpu_template", templates, &tmpl, e) < 0)
		return -EINVAL;
	if (cpus < 1 || cpus > FC_MAX_VCPUS)
		return fc_fail(e, "%s: vcpu_count must be 1 to %d", what, FC_MAX_VCPUS);
	if (c.smt)
		return fc_fail(e, "%s: smt cannot be enabled on arm64", what);
	if (mib == 0 || mib > (1ULL << 24))
		return fc_fail(e, "%s: mem_size_mib must be 1 to %llu", what, 1ULL << 24);
	c.nr_cpus = (unsigned int)cpus;
	c.mem_size = mib * SZ_1M;
	c.hugepages = huge == 1;
	if (fc_check_config(&c, e))
		return -EINVAL;
	*cfg = c;
	return 0;
}

int fc_find_drive(const struct vm_config *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		if (!strcmp(cfg->disks[i].id, id))
			return (int)i;
	return -1;
}

int fc_find_net(const struct vm_config *cfg, const char *id)
{
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		if (!strcmp(cfg->nets[i].id, id))
			return (int)i;
	return -1;
}

/* The id in the body, which must be the one in the path (when there is one). */
static int get_id(const json_t *o, const char *what, const char *key, const char *path_id,
		  char *id, size_t size, struct fc_error *e)
{
	if (fc_get_str(o, what, key, true, id, size, e) < 0)
		return -EINVAL;
	if (!vm_config_id_ok(id))
		return fc_fail(e, "%s: `%s` \"%s\": use 1 to %d letters, digits, '_' or '-'", what,
			    key, id, CFG_MAX_ID);
	if (path_id && strcmp(path_id, id))
		return fc_fail(e, "The id from the path [%s] does not match the id from the body [%s]",
			    path_id, id);
	return 0;
}

static int parse_drive(const json_t *o, const char *path_id, struct disk_config *d,
		       struct fc_error *e)
{
	static const char *const keys[] = { "drive_id", "path_on_host", "is_root_device",
					    "is_read_only", "partuuid", "cache_type", "io_engine",
					    "rate_limiter", "socket", "arkvm_format", "arkvm_ephemeral",
					    NULL };
	static const char *const caches[] = { "Writeback", "Unsafe", NULL };
	static const char *const engines[] = { "Sync", "Async", NULL };
	/* arkvm's own fields, in the order of enum disk_format. */
	static const char *const formats[] = { "auto", "raw", "qcow2", NULL };
	static const char what[] = "drive";
	unsigned int cache = DISK_CACHE_UNSAFE, engine = 0, format = DISK_FORMAT_AUTO;

	memset(d, 0, sizeof(*d));
	if (fc_only_keys(o, what, keys, e) ||
	    get_id(o, what, "drive_id", path_id, d->id, sizeof(d->id), e))
		return -EINVAL;
	if (json_object_get(o, "socket") && !json_is_null(json_object_get(o, "socket")))
		return fc_fail(e, "%s: vhost-user drives (`socket`) are not supported by arkvm", what);
	if (fc_get_str(o, what, "path_on_host", true, d->path, sizeof(d->path), e) < 0 ||
	    fc_get_bool(o, what, "is_root_device", true, &d->root, e) < 0 ||
	    fc_get_bool(o, what, "is_read_only", false, &d->readonly, e) < 0 ||
	    fc_get_str(o, what, "partuuid", false, d->partuuid, sizeof(d->partuuid), e) < 0 ||
	    fc_get_enum(o, what, "cache_type", caches, &cache, e) < 0 ||
	    fc_get_enum(o, what, "io_engine", engines, &engine, e) < 0 ||
	    fc_get_limiter(o, "rate_limiter", &d->rl, e) < 0 ||
	    fc_get_enum(o, what, "arkvm_format", formats, &format, e) < 0 ||
	    fc_get_bool(o, what, "arkvm_ephemeral", false, &d->ephemeral, e) < 0)
		return -EINVAL;
	d->format = format;
	if (d->partuuid[0] && strspn(d->partuuid, "0123456789abcdefABCDEF-") != strlen(d->partuuid))
		return fc_fail(e, "%s: `partuuid` \"%s\" is not a partition UUID", what, d->partuuid);
	d->cache = cache;
	return 0;
}

int fc_put_drive(struct vm_config *cfg, const json_t *o, const char *path_id, struct fc_error *e)
{
	struct vm_config c = *cfg;
	struct disk_config d;
	int i;

	if (parse_drive(o, path_id, &d, e))
		return -EINVAL;
	i = fc_find_drive(&c, d.id);
	if (d.root)
		for (unsigned int j = 0; j < c.nr_disks; j++)
			if (c.disks[j].root && (int)j != i)
				return fc_fail(e, "A root block device already exists: %s",
					    c.disks[j].id);
	if (i < 0) {
		struct disk_config *slot = vm_config_add_disk(&c);

		if (!slot)
			return fc_fail(e, "drive: arkvm takes at most %d drives", CFG_MAX_DISKS);
		*slot = d;
	} else {
		c.disks[i] = d;
	}
	if (fc_check_config(&c, e))
		return -EINVAL;
	*cfg = c;
	return 0;
}

int fc_patch_drive(struct disk_config *d, const json_t *o, const char *path_id, struct fc_error *e)
{
	static const char *const keys[] = { "drive_id", "path_on_host", "rate_limiter", NULL };
	static const char what[] = "drive";
	struct disk_config n = *d;
	char id[CFG_MAX_ID + 1];

	if (fc_only_keys(o, what, keys, e) || get_id(o, what, "drive_id", path_id, id, sizeof(id), e) ||
	    fc_get_str(o, what, "path_on_host", false, n.path, sizeof(n.path), e) < 0 ||
	    fc_get_limiter(o, "rate_limiter", &n.rl, e) < 0)
		return -EINVAL;
	if (!n.path[0])
		return fc_fail(e, "%s: `path_on_host` cannot be empty", what);
	*d = n;
	return 0;
}

static int parse_net(const json_t *o, const char *path_id, struct net_config *n,
		     struct fc_error *e)
{
	static const char *const keys[] = { "iface_id", "host_dev_name", "guest_mac",
					    "rx_rate_limiter", "tx_rate_limiter", NULL };
	static const char what[] = "network-interface";
	char mac[32] = "";
	int ret;

	memset(n, 0, sizeof(*n));
	if (fc_only_keys(o, what, keys, e) ||
	    get_id(o, what, "iface_id", path_id, n->id, sizeof(n->id), e) ||
	    fc_get_str(o, what, "host_dev_name", true, n->tap, sizeof(n->tap), e) < 0)
		return -EINVAL;
	ret = fc_get_str(o, what, "guest_mac", false, mac, sizeof(mac), e);
	if (ret < 0)
		return -EINVAL;
	if (ret) {
		if (parse_mac(mac, n->mac))
			return fc_fail(e, "%s: `guest_mac` \"%s\" is not a unicast MAC address", what,
				    mac);
		n->has_mac = true;
	}
	if (fc_get_limiter(o, "rx_rate_limiter", &n->rx_rl, e) < 0 ||
	    fc_get_limiter(o, "tx_rate_limiter", &n->tx_rl, e) < 0)
		return -EINVAL;
	return 0;
}

int fc_put_net(struct vm_config *cfg, const json_t *o, const char *path_id, struct fc_error *e)
{
	struct vm_config c = *cfg;
	struct net_config n;
	int i;

	if (parse_net(o, path_id, &n, e))
		return -EINVAL;
	i = fc_find_net(&c, n.id);
	if (i < 0) {
		struct net_config *slot = vm_config_add_net(&c);

		if (!slot)
			return fc_fail(e, "network-interface: arkvm takes at most %d interfaces",
				    CFG_MAX_NETS);
		*slot = n;
	} else {
		c.nets[i] = n;
	}
	if (fc_check_config(&c, e))
		return -EINVAL;
	*cfg = c;
	return 0;
}

int fc_patch_net(struct net_config *n, const json_t *o, const char *path_id, struct fc_error *e)
{
	static const char *const keys[] = { "iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL };
	static const char what[] = "network-interface";
	struct net_config c = *n;
	char id[CFG_MAX_ID + 1];

	if (fc_only_keys(o, what, keys, e) || get_id(o, what, "iface_id", path_id, id, sizeof(id), e) ||
	    fc_get_limiter(o, "rx_rate_limiter", &c.rx_rl, e) < 0 ||
	    fc_get_limiter(o, "tx_rate_limiter", &c.tx_rl, e) < 0)
		return -EINVAL;
	*n = c;
	return 0;
}

int fc_put_entropy(struct vm_config *cfg, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "rate_limiter", NULL };
	struct rate_limiter_config rl = { 0 };

	if (fc_only_keys(o, "entropy", keys, e) || fc_get_limiter(o, "rate_limiter", &rl, e) < 0)
		return -EINVAL;
	cfg->rng_rl = rl;
	return 0;
}

/*
 * PUT /vsock, or the config file's "vsock": the guest's CID and the unix
 * socket of the hybrid backend.  vsock_id, which Firecracker no longer
 * needs, is taken and ignored.  Whether the path exists is the device's
 * to say at start (it binds there).
 */
int fc_put_vsock(struct vm_config *cfg, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "guest_cid", "uds_path", "vsock_id", NULL };
	static const char what[] = "vsock";
	struct vsock_config v = { .enabled = true };
	char id[CFG_MAX_ID + 1];
	u64 cid;

	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_u64(o, what, "guest_cid", true, &cid, e) < 0 ||
	    fc_get_str(o, what, "uds_path", true, v.uds_path, sizeof(v.uds_path), e) < 0 ||
	    fc_get_str(o, what, "vsock_id", false, id, sizeof(id), e) < 0)
		return -EINVAL;
	if (cid < CFG_VSOCK_MIN_CID || cid > UINT32_MAX)
		return fc_fail(e, "%s: `guest_cid` must be %d to %u", what, CFG_VSOCK_MIN_CID, UINT32_MAX);
	if (!v.uds_path[0])
		return fc_fail(e, "%s: `uds_path` is empty", what);
	v.cid = (u32)cid;
	cfg->vsock = v;
	return 0;
}

/*
 * PUT /balloon, or the config file's "balloon".  Free page hinting (a
 * newer Firecracker's) is refused when asked for: arkvm reports free
 * pages instead, which needs no host command.
 */
int fc_put_balloon(struct vm_config *cfg, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "amount_mib", "deflate_on_oom",
					    "stats_polling_interval_s", "free_page_hinting",
					    "free_page_reporting", NULL };
	static const char what[] = "balloon";
	struct balloon_config b = { .enabled = true };
	bool hinting = false;
	u64 mib, secs = 0;

	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_u64(o, what, "amount_mib", true, &mib, e) < 0 ||
	    fc_get_bool(o, what, "deflate_on_oom", true, &b.deflate_on_oom, e) < 0 ||
	    fc_get_u64(o, what, "stats_polling_interval_s", false, &secs, e) < 0 ||
	    fc_get_bool(o, what, "free_page_hinting", false, &hinting, e) < 0 ||
	    fc_get_bool(o, what, "free_page_reporting", false, &b.free_page_reporting, e) < 0)
		return -EINVAL;
	if (hinting)
		return fc_fail(e, "%s: `free_page_hinting` is not supported by arkvm: use "
			    "`free_page_reporting`", what);
	if (mib > UINT32_MAX || secs > CFG_BALLOON_MAX_STATS_S)
		return fc_fail(e, "%s: `%s` is too large", what,
			    mib > UINT32_MAX ? "amount_mib" : "stats_polling_interval_s");
	b.amount_mib = (u32)mib;
	b.stats_interval_s = (u32)secs;
	cfg->balloon = b;
	return fc_check_config(cfg, e);
}

/* PATCH /balloon {amount_mib}: the new target. */
int fc_patch_balloon(struct balloon_config *b, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "amount_mib", NULL };
	u64 mib;

	if (fc_only_keys(o, "balloon", keys, e) || fc_get_u64(o, "balloon", "amount_mib", true, &mib, e) < 0)
		return -EINVAL;
	if (mib > UINT32_MAX)
		return fc_fail(e, "balloon: `amount_mib` is too large");
	b->amount_mib = (u32)mib;
	return 0;
}

/* PATCH /balloon/statistics {stats_polling_interval_s}. */
int fc_patch_balloon_stats(struct balloon_config *b, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "stats_polling_interval_s", NULL };
	static const char what[] = "balloon/statistics";
	u64 secs;

	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_u64(o, what, "stats_polling_interval_s", true, &secs, e) < 0)
		return -EINVAL;
	if (secs > CFG_BALLOON_MAX_STATS_S)
		return fc_fail(e, "%s: `stats_polling_interval_s` is at most %d", what,
			    CFG_BALLOON_MAX_STATS_S);
	b->stats_interval_s = (u32)secs;
	return 0;
}

json_t *fc_dump_balloon(const struct balloon_config *b)
{
	if (!b->enabled)
		return json_null();
	return json_pack("{s:I, s:b, s:I, s:b, s:b}", "amount_mib", (json_int_t)b->amount_mib,
			 "deflate_on_oom", b->deflate_on_oom, "stats_polling_interval_s",
			 (json_int_t)b->stats_interval_s, "free_page_hinting", 0,
			 "free_page_reporting", b->free_page_reporting);
}

/* Firecracker's names for the statistics' tags, in tag order (virtio 1.x, Linux). */
static const char *const balloon_stat_names[] = {
	"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory", "total_memory",
	"available_memory", "disk_caches", "hugetlb_allocations", "hugetlb_failures",
	"oom_kill", "alloc_stall", "async_scan", "direct_scan", "async_reclaim",
	"direct_reclaim",
};

/* GET /balloon/statistics: sizes always, each statistic once the guest has sent it. */
json_t *fc_dump_balloon_stats(const struct balloon_info *info, const struct balloon_stats *st)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I}", "target_pages",
			      (json_int_t)info->target_pages, "actual_pages",
			      (json_int_t)info->actual_pages, "target_mib",
			      (json_int_t)info->target_mib, "actual_mib", (json_int_t)info->actual_mib);

	for (unsigned int i = 0; o && i < ARRAY_SIZE(balloon_stat_names) && i < BALLOON_NR_STATS; i++)
		if (st->valid & (1u << i))
			json_object_set_new(o, balloon_stat_names[i],
					    json_integer((json_int_t)MIN(st->val[i], (u64)INT64_MAX)));
	return o;
}

static const char *const fc_levels[] = { "Off", "Error", "Warning", "Info", "Debug", "Trace",
					 NULL };

int fc_put_logger(struct log_opts *log, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "log_path", "level", "show_level", "show_log_origin",
					    "module", NULL };
	static const char what[] = "logger";
	struct log_opts l = { .set = true, .level = "Info" };
	char module[128];
	unsigned int level = 3;

	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_str(o, what, "log_path", false, l.path, sizeof(l.path), e) < 0 ||
	    fc_get_bool(o, what, "show_level", false, &l.show_level, e) < 0 ||
	    fc_get_bool(o, what, "show_log_origin", false, &l.show_origin, e) < 0 ||
	    fc_get_str(o, what, "module", false, module, sizeof(module), e) < 0)
		return -EINVAL;
	if (fc_get_str(o, what, "level", false, l.level, sizeof(l.level), e) < 0)
		return -EINVAL;
	/* Firecracker takes its level names in any case. */
	for (level = 0; fc_levels[level]; level++)
		if (!strcasecmp(fc_levels[level], l.level))
			break;
	if (!fc_levels[level])
		return fc_fail(e, "%s: `level` \"%s\" is not one of Error, Warning, Info, Debug, Trace, Off",
			    what, l.level);
	snprintf(l.level, sizeof(l.level), "%s", fc_levels[level]);
	*log = l;
	return 0;
}

int fc_put_metrics(struct metrics_opts *m, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "metrics_path", NULL };
	struct metrics_opts n = { .set = true };

	if (fc_only_keys(o, "metrics", keys, e) ||
	    fc_get_str(o, "metrics", "metrics_path", true, n.path, sizeof(n.path), e) < 0)
		return -EINVAL;
	*m = n;
	return 0;
}

/* An array of objects under @key, each given to @put. */
static int load_array(struct vm_config *cfg, const json_t *root, const char *key,
		      int (*put)(struct vm_config *, const json_t *, const char *, struct fc_error *),
		      struct fc_error *e)
{
	const json_t *a = json_object_get(root, key), *v;
	size_t i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return fc_fail(e, "%s: expected a JSON array", key);
	json_array_foreach(a, i, v)
		if (put(cfg, v, NULL, e))
			return -EINVAL;
	return 0;
}

/* Keys Firecracker has and arkvm does not serve: refused unless null. */
static const char *const fc_unsupported[] = { "mmds-config", "cpu-config",
					      "serial", "pmem", "memory-hotplug", NULL };

static int load_root(struct vm_config *cfg, struct vmm_opts *opts, const json_t *root,
		     struct fc_error *e)
{
	static const char *const keys[] = { "boot-source", "drives", "machine-config",
					    "network-interfaces", "logger", "metrics", "entropy",
					    "balloon", "vsock", "mmds-config", "cpu-config",
					    "serial", "pmem", "memory-hotplug", "arkvm-shares",
					    NULL };
	const json_t *v;

	if (fc_only_keys(root, "config file", keys, e))
		return -EINVAL;
	for (const char *const *k = fc_unsupported; *k; k++) {
		v = json_object_get(root, *k);
		if (v && !json_is_null(v))
			return fc_fail(e, "config file: `%s` is not supported by arkvm yet", *k);
	}
	if ((v = json_object_get(root, "logger")) && !json_is_null(v) &&
	    fc_put_logger(&opts->log, v, e))
		return -EINVAL;
	if ((v = json_object_get(root, "metrics")) && !json_is_null(v) &&
	    fc_put_metrics(&opts->metrics, v, e))
		return -EINVAL;
	v = json_object_get(root, "boot-source");
	if (!v || json_is_null(v))
		return fc_fail(e, "config file: missing field `boot-source`");
	if (fc_put_boot_source(cfg, v, e))
		return -EINVAL;
	if ((v = json_object_get(root, "machine-config")) && !json_is_null(v) &&
	    fc_put_machine_config(cfg, v, false, e))
		return -EINVAL;
	if (load_array(cfg, root, "drives", fc_put_drive, e) ||
	    load_array(cfg, root, "network-interfaces", fc_put_net, e))
		return -EINVAL;
	if ((v = json_object_get(root, "entropy")) && !json_is_null(v) && fc_put_entropy(cfg, v, e))
		return -EINVAL;
	if ((v = json_object_get(root, "vsock")) && !json_is_null(v) && fc_put_vsock(cfg, v, e))
		return -EINVAL;
	if ((v = json_object_get(root, "balloon")) && !json_is_null(v) && fc_put_balloon(cfg, v, e))
		return -EINVAL;
	if (load_array(cfg, root, "arkvm-shares", fc_put_share, e))
		return -EINVAL;
	return 0;
}

int fc_load_config(struct vm_config *cfg, struct vmm_opts *opts, const char *text,
		   struct fc_error *e)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	int ret;

	if (!root)
		return fc_fail(e, "config file: line %d, column %d: %s", jerr.line, jerr.column,
			    jerr.text);
	ret = load_root(cfg, opts, root, e);
	json_decref(root);
	return ret;
}

/* root=... for the root drive, at index 0 (the guest's /dev/vda). */
static int add_root_arg(struct vm_config *cfg, struct fc_error *e)
{
	const struct disk_config *d = &cfg->disks[0];
	size_t len = strlen(cfg->cmdline);
	int n;

	if (d->partuuid[0])
		n = snprintf(cfg->cmdline + len, sizeof(cfg->cmdline) - len, "%sroot=PARTUUID=%s %s",
			     len ? " " : "", d->partuuid, d->readonly ? "ro" : "rw");
	else
		n = snprintf(cfg->cmdline + len, sizeof(cfg->cmdline) - len, "%sroot=/dev/vda %s",
			     len ? " " : "", d->readonly ? "ro" : "rw");
	if (n < 0 || (size_t)n >= sizeof(cfg->cmdline) - len) {
		cfg->cmdline[len] = '\0';
		return fc_fail(e, "boot-source: no room left in boot_args for the root drive");
	}
	return 0;
}

int fc_finish_config(struct vm_config *cfg, struct fc_error *e)
{
	struct vm_config c = *cfg;

	if (!c.kernel[0])
		return fc_fail(e, "Cannot start microvm without kernel configuration.");
	/* The root drive goes first, so that it is /dev/vda, as in Firecracker. */
	for (unsigned int i = 1; i < c.nr_disks; i++)
		if (c.disks[i].root) {
			struct disk_config root = c.disks[i];

			memmove(&c.disks[1], &c.disks[0], i * sizeof(c.disks[0]));
			c.disks[0] = root;
		}
	if (c.nr_disks && c.disks[0].root && add_root_arg(&c, e))
		return -EINVAL;
	if (fc_check_config(&c, e))
		return -EINVAL;
	vm_config_complete(&c);
	*cfg = c;
	return 0;
}

json_t *fc_dump_machine_config(const struct vm_config *cfg)
{
	return json_pack("{s:I, s:I, s:b, s:b, s:s}", "vcpu_count", (json_int_t)cfg->nr_cpus,
			 "mem_size_mib", (json_int_t)(cfg->mem_size / SZ_1M), "smt", cfg->smt,
			 "track_dirty_pages", cfg->track_dirty_pages, "huge_pages",
			 cfg->hugepages ? "2M" : "None");
}

static json_t *dump_bucket(const struct token_bucket_config *tb)
{
	return json_pack("{s:I, s:I, s:I}", "size", (json_int_t)tb->size, "one_time_burst",
			 (json_int_t)tb->one_time_burst, "refill_time", (json_int_t)tb->refill_time_ms);
}

static json_t *dump_limiter(const struct rate_limiter_config *rl)
{
	json_t *o;

	if (!rate_limiter_config_set(rl))
		return json_null();
	o = json_object();
	if (o && token_bucket_config_set(&rl->bandwidth))
		json_object_set_new(o, "bandwidth", dump_bucket(&rl->bandwidth));
	if (o && token_bucket_config_set(&rl->ops))
		json_object_set_new(o, "ops", dump_bucket(&rl->ops));
	return o;
}

static json_t *dump_drive(const struct disk_config *d)
{
	static const char *const formats[] = { "auto", "raw", "qcow2" };
	json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s?, s:s, s:s, s:o, s:n}", "drive_id", d->id,
			      "path_on_host", d->path, "is_root_device", d->root, "is_read_only",
			      d->readonly, "partuuid", d->partuuid[0] ? d->partuuid : NULL,
			      "cache_type", d->cache == DISK_CACHE_UNSAFE ? "Unsafe" : "Writeback",
			      "io_engine", "Async", "rate_limiter", dump_limiter(&d->rl), "socket");

	/* arkvm's own fields only when set: otherwise the drive reads as Firecracker's. */
	if (o && d->format != DISK_FORMAT_AUTO)
		json_object_set_new(o, "arkvm_format", json_string(formats[d->format]));
	if (o && d->ephemeral)
		json_object_set_new(o, "arkvm_ephemeral", json_true());
	return o;
}

static json_t *dump_net(const struct net_config *n)
{
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
		 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
	return json_pack("{s:s, s:s, s:s?, s:o, s:o}", "iface_id", n->id, "host_dev_name", n->tap,
			 "guest_mac", n->has_mac ? mac : NULL, "rx_rate_limiter",
			 dump_limiter(&n->rx_rl), "tx_rate_limiter", dump_limiter(&n->tx_rl));
}

static json_t *dump_logger(const struct log_opts *l)
{
	if (!l->set)
		return json_null();
	return json_pack("{s:s?, s:s, s:b, s:b, s:n}", "log_path", l->path[0] ? l->path : NULL,
			 "level", l->level, "show_level", l->show_level, "show_log_origin",
			 l->show_origin, "module");
}

static json_t *dump_vsock(const struct vsock_config *v)
{
	if (!v->enabled)
		return json_null();
	return json_pack("{s:I, s:s}", "guest_cid", (json_int_t)v->cid, "uds_path", v->uds_path);
}

json_t *fc_dump_config(const struct vm_config *cfg, const struct vmm_opts *opts)
{
	json_t *drives = json_array(), *nets = json_array(), *boot;

	for (unsigned int i = 0; drives && i < cfg->nr_disks; i++)
		json_array_append_new(drives, dump_drive(&cfg->disks[i]));
	for (unsigned int i = 0; nets && i < cfg->nr_nets; i++)
		json_array_append_new(nets, dump_net(&cfg->nets[i]));
	boot = cfg->kernel[0] ?
		json_pack("{s:s, s:s?, s:s}", "kernel_image_path", cfg->kernel, "initrd_path",
			  cfg->initrd[0] ? cfg->initrd : NULL, "boot_args", cfg->cmdline) :
		json_null();
	return json_pack("{s:o, s:o, s:o, s:n, s:o, s:o, s:o, s:o, s:n, s:o, s:o, s:o, s:o}",
			 "balloon", fc_dump_balloon(&cfg->balloon), "drives", drives, "boot-source", boot, "cpu-config",
			 "logger", dump_logger(&opts->log), "machine-config",
			 fc_dump_machine_config(cfg), "metrics",
			 opts->metrics.set ? json_pack("{s:s}", "metrics_path", opts->metrics.path) :
					     json_null(),
			 "network-interfaces", nets, "mmds-config", "entropy",
			 rate_limiter_config_set(&cfg->rng_rl) ?
				 json_pack("{s:o}", "rate_limiter", dump_limiter(&cfg->rng_rl)) :
				 json_object(),
			 "vsock", dump_vsock(&cfg->vsock), "pmem", json_array(),
			 "arkvm-shares", fc_dump_shares(cfg));
}

int fc_snapshot_create(struct snapshot_request *req, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "snapshot_path", "mem_file_path", "snapshot_type",
					    "version", NULL };
	static const char *const types[] = { "Full", "Diff", NULL };
	static const char what[] = "snapshot/create";
	unsigned int type = SNAPSHOT_FULL;

	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_str(o, what, "snapshot_path", true, req->snapshot_path,
		    sizeof(req->snapshot_path), e) < 0 ||
	    fc_get_str(o, what, "mem_file_path", true, req->mem_path, sizeof(req->mem_path), e) < 0 ||
	    fc_get_enum(o, what, "snapshot_type", types, &type, e) < 0)
		return -EINVAL;
	req->type = (enum snapshot_type)type;
	return 0;
}

/* mem_backend {backend_type, backend_path}: File, or Uffd (a page server's socket). */
static int get_mem_backend(const json_t *o, struct vmm_restore *rs, struct fc_error *e)
{
	static const char *const keys[] = { "backend_type", "backend_path", NULL };
	static const char *const types[] = { "File", "Uffd", NULL };
	static const char what[] = "mem_backend";
	unsigned int type = 0;

	if (fc_only_keys(o, what, keys, e) || fc_get_enum(o, what, "backend_type", types, &type, e) < 0 ||
	    fc_get_str(o, what, "backend_path", true, rs->mem, sizeof(rs->mem), e) < 0)
		return -EINVAL;
	if (!json_object_get(o, "backend_type"))
		return fc_fail(e, "%s: missing field `backend_type`", what);
	rs->uffd = type == 1;
	return 0;
}

static int get_overrides(const json_t *a, struct vmm_restore *rs, struct fc_error *e)
{
	static const char *const keys[] = { "iface_id", "host_dev_name", NULL };
	static const char what[] = "network_overrides";
	const json_t *v;
	size_t i;

	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return fc_fail(e, "%s: expected a JSON array", what);
	if (json_array_size(a) > CFG_MAX_NETS)
		return fc_fail(e, "%s: at most %d", what, CFG_MAX_NETS);
	json_array_foreach(a, i, v) {
		if (fc_only_keys(v, what, keys, e) ||
		    fc_get_str(v, what, "iface_id", true, rs->overrides[i].id,
			    sizeof(rs->overrides[i].id), e) < 0 ||
		    fc_get_str(v, what, "host_dev_name", true, rs->overrides[i].tap,
			    sizeof(rs->overrides[i].tap), e) < 0)
			return -EINVAL;
	}
	rs->nr_overrides = (unsigned int)json_array_size(a);
	return 0;
}

/* vsock_override {uds_path}: the restored vsock device listens there instead. */
static int get_vsock_override(const json_t *o, struct vmm_restore *rs, struct fc_error *e)
{
	static const char *const keys[] = { "uds_path", NULL };
	static const char what[] = "vsock_override";

	if (!o || json_is_null(o))
		return 0;
	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_str(o, what, "uds_path", true, rs->vsock_uds, sizeof(rs->vsock_uds), e) < 0)
		return -EINVAL;
	if (!rs->vsock_uds[0])
		return fc_fail(e, "%s: `uds_path` is empty", what);
	return 0;
}

int fc_snapshot_load(struct vmm_restore *out, const json_t *o, struct fc_error *e)
{
	static const char *const keys[] = { "snapshot_path", "mem_file_path", "mem_backend",
					    "enable_diff_snapshots", "track_dirty_pages",
					    "resume_vm", "network_overrides", "vsock_override",
					    "clock_realtime", "huge_pages", NULL };
	static const char what[] = "snapshot/load";
	const json_t *backend = json_object_get(o, "mem_backend");
	struct vmm_restore rs = { .asked = true };
	bool dirty = false, dirty_old = false;
	int has_file;

	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_str(o, what, "snapshot_path", true, rs.snapshot, sizeof(rs.snapshot), e) < 0 ||
	    (has_file = fc_get_str(o, what, "mem_file_path", false, rs.mem, sizeof(rs.mem), e)) < 0 ||
	    fc_get_bool(o, what, "resume_vm", false, &rs.resume, e) < 0 ||
	    fc_get_bool(o, what, "track_dirty_pages", false, &dirty, e) < 0 ||
	    fc_get_bool(o, what, "enable_diff_snapshots", false, &dirty_old, e) < 0)
		return -EINVAL;
	if (has_file == (backend && !json_is_null(backend)))
		return fc_fail(e, "%s: give exactly one of `mem_file_path` and `mem_backend`", what);
	if (!has_file && get_mem_backend(backend, &rs, e))
		return -EINVAL;
	if (get_vsock_override(json_object_get(o, "vsock_override"), &rs, e))
		return -EINVAL;
	if (get_overrides(json_object_get(o, "network_overrides"), &rs, e))
		return -EINVAL;
	rs.track_dirty = dirty || dirty_old;
	*out = rs;
	return 0;
}
