// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rate_limiter.h"
#include "state.h"
#include "vm_config.h"

/*
 * Field by field, not a memset: a config is some 50 KiB, nearly all of it
 * path buffers, and writing them all would make every page of it resident
 * for the VM's whole life (arkvm's own memory is a figure it is judged
 * by).  An empty string is its first byte; a device slot is written when
 * the config gets that device.  A new field gets its default here.
 */
void vm_config_init(struct vm_config *cfg)
{
	cfg->kernel[0] = cfg->initrd[0] = cfg->cmdline[0] = '\0';
	cfg->dump_dtb[0] = cfg->screenshot[0] = '\0';
	cfg->nr_cpus = CFG_DEFAULT_CPUS;
	cfg->mem_size = CFG_DEFAULT_MEMORY;
	cfg->hugepages = cfg->prefault = false;
	cfg->nr_disks = cfg->nr_nets = 0;
	cfg->console = CONSOLE_SERIAL;
	cfg->gpu = (struct gpu_config){
		.mode = GPU_NONE, .width = CFG_GPU_DEFAULT_WIDTH, .height = CFG_GPU_DEFAULT_HEIGHT,
	};
	cfg->display = (struct display_config){ .vnc = false };
	cfg->no_seccomp = cfg->boot_timer = cfg->stats = false;
	cfg->rng_rl = (struct rate_limiter_config){ 0 };
	cfg->vsock = (struct vsock_config){ .enabled = false };
	cfg->balloon = (struct balloon_config){ .enabled = false };
	cfg->nr_shares = 0;
	cfg->irqchip = IRQCHIP_AUTO;
	cfg->cpu_features = (struct cpu_features_config){ .sve = CPU_FEATURE_AUTO };
	cfg->topology = (struct cpu_topology_config){ .sockets = 0 };
}

struct disk_config *vm_config_add_disk(struct vm_config *cfg)
{
	struct disk_config *d;

	if (cfg->nr_disks >= CFG_MAX_DISKS)
		return NULL;
	d = &cfg->disks[cfg->nr_disks++];
	memset(d, 0, sizeof(*d));
	return d;
}

struct net_config *vm_config_add_net(struct vm_config *cfg)
{
	struct net_config *n;

	if (cfg->nr_nets >= CFG_MAX_NETS)
		return NULL;
	n = &cfg->nets[cfg->nr_nets++];
	memset(n, 0, sizeof(*n));
	return n;
}

int vm_config_set_str(char *field, size_t size, const char *value)
{
	size_t len = strlen(value);

	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(field, value, len + 1);
	return 0;
}

struct share_config *vm_config_add_share(struct vm_config *cfg)
{
	struct share_config *sh;

	if (cfg->nr_shares >= CFG_MAX_SHARES)
		return NULL;
	sh = &cfg->shares[cfg->nr_shares++];
	memset(sh, 0, sizeof(*sh));
	return sh;
}

bool vm_config_id_ok(const char *id)
{
	size_t len = strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"0123456789_-");

	return len && len <= CFG_MAX_ID && !id[len];
}

static __printf(4, 5) int refuse(struct vm_config_error *err, const char *field, int index,
				 const char *fmt, ...)
{
	va_list ap;

	err->field = field;
	err->index = index;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* True when @cmdline has the word console=... */
static bool names_console(const char *cmdline)
{
	for (const char *p = cmdline; (p = strstr(p, "console=")); p++)
		if (p == cmdline || p[-1] == ' ')
			return true;
	return false;
}

static const char hvc_arg[] = "console=hvc0";

/* With --console virtio the guest's console is hvc0, unless the user chose one. */
static bool wants_hvc_arg(const struct vm_config *cfg)
{
	return cfg->console == CONSOLE_VIRTIO && !names_console(cfg->cmdline);
}

static int validate_machine(const struct vm_config *cfg, struct vm_config_error *err)
{
	size_t len = strlen(cfg->cmdline);

	if (!cfg->kernel[0])
		return refuse(err, "kernel", -1, "required: the guest's arm64 Linux Image");
	if (cfg->nr_cpus == 0)
		return refuse(err, "cpus", -1, "a VM needs at least one vCPU");
	if (cfg->mem_size < CFG_MIN_MEMORY)
		return refuse(err, "memory", -1, "%lluM is too small, a guest needs at least %lluM",
			      (unsigned long long)(cfg->mem_size / SZ_1M),
			      (unsigned long long)(CFG_MIN_MEMORY / SZ_1M));
	if (!IS_ALIGNED(cfg->mem_size, SZ_2M))
		return refuse(err, "memory", -1, "the size must be a multiple of 2M");
	if (wants_hvc_arg(cfg) && len + (len ? 1 : 0) + strlen(hvc_arg) > CFG_MAX_CMDLINE)
		return refuse(err, "cmdline", -1, "no room left for %s (--console virtio)", hvc_arg);
	return 0;
}

/*
 * A token bucket is all zero (no limit) or has both a size and a refill
 * time, within bounds that keep the limiter's arithmetic from overflowing
 * (src/rate_limiter.c); a one-time burst needs the bucket it tops up.
 */
static const char *bucket_problem(const struct token_bucket_config *tb)
{
	if (!tb->size && !tb->refill_time_ms)
		return tb->one_time_burst ? "one_time_burst needs a size and a refill_time" : NULL;
	if (!tb->size)
		return "a refill_time needs a size above 0";
	if (!tb->refill_time_ms)
		return "a size needs a refill_time above 0";
	if (tb->refill_time_ms > RL_MAX_REFILL_MS)
		return "refill_time is at most an hour (3600000 ms)";
	if (tb->size > RL_MAX_SIZE)
		return "size is at most 2^60";
	return NULL;
}

/* @what's limiter (say "rx rate limiter"): 0, or refused with the bucket named. */
static int validate_limiter(const struct rate_limiter_config *rl, const char *field, int index,
			    const char *what, struct vm_config_error *err)
{
	const char *why = bucket_problem(&rl->bandwidth);

	if (why)
		return refuse(err, field, index, "%s, bandwidth: %s", what, why);
	why = bucket_problem(&rl->ops);
	if (why)
		return refuse(err, field, index, "%s, ops: %s", what, why);
	return 0;
}

static const char *disk_id(const struct vm_config *cfg, unsigned int i)
{
	return cfg->disks[i].id;
}

static const char *net_id(const struct vm_config *cfg, unsigned int i)
{
	return cfg->nets[i].id;
}

/* A device's id, if it has one yet: well-formed, and no earlier one's of its kind. */
static int validate_id(const struct vm_config *cfg, const char *field, unsigned int i,
		       const char *(*id_of)(const struct vm_config *, unsigned int),
		       struct vm_config_error *err)
{
	const char *id = id_of(cfg, i);

	if (!id[0])
		return 0;
	if (!vm_config_id_ok(id))
		return refuse(err, field, (int)i, "id '%s': use 1 to %d letters, digits, '_' or '-'",
			      id, CFG_MAX_ID);
	for (unsigned int j = 0; j < i; j++)
		if (!strcmp(id_of(cfg, j), id))
			return refuse(err, field, (int)i, "id '%s' given twice", id);
	return 0;
}

static int validate_disks(const struct vm_config *cfg, struct vm_config_error *err)
{
	if (cfg->nr_disks > CFG_MAX_DISKS)
		return refuse(err, "disk", -1, "at most %d disks", CFG_MAX_DISKS);
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		if (!d->path[0])
			return refuse(err, "disk", (int)i, "no disk file given");
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(cfg->disks[j].path, d->path))
				return refuse(err, "disk", (int)i, "disk '%s' given twice", d->path);
		if (d->format > DISK_FORMAT_QCOW2)
			return refuse(err, "disk", (int)i, "unknown disk format");
		if (d->ephemeral && d->readonly)
			return refuse(err, "disk", (int)i,
				      "'%s' is both ephemeral and read-only: choose one", d->path);
		if (validate_id(cfg, "disk", i, disk_id, err) ||
		    validate_limiter(&d->rl, "disk", (int)i, "rate limiter", err))
			return -EINVAL;
	}
	return 0;
}

static bool tap_name_ok(const char *s)
{
	return *s && !strpbrk(s, "/: ");
}

static bool mac_ok(const u8 mac[6])
{
	/* A multicast or all-zero address cannot name one NIC. */
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

static const char *const proto_names[] = { [NET_FWD_TCP] = "tcp", [NET_FWD_UDP] = "udp" };

/* Is @f's host port taken by an earlier forward, of this NIC or an earlier one? */
static bool forward_taken(const struct vm_config *cfg, unsigned int nic, unsigned int k)
{
	const struct net_forward *f = &cfg->nets[nic].forwards[k];

	for (unsigned int i = 0; i <= nic; i++) {
		const struct net_config *n = &cfg->nets[i];
		unsigned int end = i == nic ? k : n->nr_forwards;

		for (unsigned int j = 0; n->kind == NET_USER && j < end && j < CFG_MAX_FORWARDS; j++)
			if (n->forwards[j].proto == f->proto && n->forwards[j].host_port == f->host_port)
				return true;
	}
	return false;
}

/* --net user's port forwards: each host port once per protocol, across every NIC. */
static int validate_forwards(const struct vm_config *cfg, unsigned int i,
			     struct vm_config_error *err)
{
	const struct net_config *n = &cfg->nets[i];

	if (n->nr_forwards > CFG_MAX_FORWARDS)
		return refuse(err, "net", (int)i, "at most %d port forwards", CFG_MAX_FORWARDS);
	for (unsigned int k = 0; k < n->nr_forwards; k++) {
		const struct net_forward *f = &n->forwards[k];

		if (f->proto > NET_FWD_UDP)
			return refuse(err, "net", (int)i, "a port forward's protocol is tcp or udp");
		if (!f->host_port || !f->guest_port)
			return refuse(err, "net", (int)i, "%s=%u:%u: ports are 1 to 65535",
				      proto_names[f->proto], f->host_port, f->guest_port);
		if (forward_taken(cfg, i, k))
			return refuse(err, "net", (int)i, "host %s port %u forwarded twice",
				      proto_names[f->proto], f->host_port);
	}
	return 0;
}

/* What one kind of NIC takes, and nothing of another kind's. */
static int validate_net_kind(const struct vm_config *cfg, unsigned int i,
			     struct vm_config_error *err)
{
	const struct net_config *n = &cfg->nets[i];

	if (n->kind > NET_PASST)
		return refuse(err, "net", (int)i, "unknown kind of network device");
	if (n->kind != NET_TAP && n->tap[0])
		return refuse(err, "net", (int)i, "give one of tap=NAME, user or passt=SOCKET");
	if (n->kind != NET_PASST && n->passt_path[0])
		return refuse(err, "net", (int)i, "give one of tap=NAME, user or passt=SOCKET");
	if (n->kind != NET_USER && n->nr_forwards)
		return refuse(err, "net", (int)i, "tcp= and udp= forwards are for --net user");
	if (n->kind != NET_TAP && n->vhost)
		return refuse(err, "net", (int)i, "vhost needs a tap (tap=NAME)");
	if (n->kind == NET_USER)
		return validate_forwards(cfg, i, err);
	if (n->kind == NET_PASST)
		return n->passt_path[0] ? 0 : refuse(err, "net", (int)i, "no socket given (passt=PATH)");
	if (!n->tap[0])
		return refuse(err, "net", (int)i, "no tap given (tap=NAME, or user, or passt=SOCKET)");
	if (!tap_name_ok(n->tap))
		return refuse(err, "net", (int)i, "'%s' is not a tap name", n->tap);
	for (unsigned int j = 0; j < i; j++)
		if (cfg->nets[j].kind == NET_TAP && !strcmp(cfg->nets[j].tap, n->tap))
			return refuse(err, "net", (int)i, "tap '%s' given twice", n->tap);
	return 0;
}

static int validate_nets(const struct vm_config *cfg, struct vm_config_error *err)
{
	if (cfg->nr_nets > CFG_MAX_NETS)
		return refuse(err, "net", -1, "at most %d network devices", CFG_MAX_NETS);
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		const struct net_config *n = &cfg->nets[i];

		if (validate_net_kind(cfg, i, err))
			return -EINVAL;
		if (n->has_mac && !mac_ok(n->mac))
			return refuse(err, "net", (int)i, "the MAC address must be unicast and not zero");
		if (validate_id(cfg, "net", i, net_id, err) ||
		    validate_limiter(&n->rx_rl, "net", (int)i, "rx rate limiter", err) ||
		    validate_limiter(&n->tx_rl, "net", (int)i, "tx rate limiter", err))
			return -EINVAL;
		/* The kernel moves vhost's packets: arkvm never sees them to count. */
		if (n->vhost && (rate_limiter_config_set(&n->rx_rl) ||
				 rate_limiter_config_set(&n->tx_rl)))
			return refuse(err, "net", (int)i,
				      "rate limiters need the tap backend, not vhost");
	}
	return 0;
}

static bool gpu_dim_ok(unsigned int v)
{
	return v >= CFG_GPU_MIN_DIM && v <= CFG_GPU_MAX_DIM;
}

static int validate_display(const struct vm_config *cfg, struct vm_config_error *err)
{
	if (cfg->gpu.mode != GPU_NONE && (!gpu_dim_ok(cfg->gpu.width) || !gpu_dim_ok(cfg->gpu.height)))
		return refuse(err, "gpu", -1, "width and height must each be %d to %d pixels",
			      CFG_GPU_MIN_DIM, CFG_GPU_MAX_DIM);
	if (cfg->screenshot[0] && cfg->gpu.mode == GPU_NONE)
		return refuse(err, "screenshot", -1, "needs a display: add --gpu 2d");
	if (cfg->display.vnc && cfg->gpu.mode == GPU_NONE)
		return refuse(err, "display", -1, "needs a display to show: add --gpu 2d");
	if (cfg->display.vnc && !cfg->display.port)
		return refuse(err, "display", -1, "port 0 cannot be listened on");
	return 0;
}

/* Form only: whether the socket exists is the device's to say, when it binds. */
static int validate_vsock(const struct vsock_config *v, struct vm_config_error *err)
{
	if (!v->enabled)
		return 0;
	if (v->cid < CFG_VSOCK_MIN_CID)
		return refuse(err, "vsock", -1, "the guest's CID must be %d or more (0-2 are reserved)",
			      CFG_VSOCK_MIN_CID);
	if (!v->uds_path[0])
		return refuse(err, "vsock", -1, "needs a unix socket path (socket=PATH)");
	return 0;
}

/* The balloon cannot hold more than the guest has. */
static int validate_balloon(const struct vm_config *cfg, struct vm_config_error *err)
{
	const struct balloon_config *b = &cfg->balloon;

	if (!b->enabled)
		return 0;
	if ((u64)b->amount_mib > cfg->mem_size / SZ_1M)
		return refuse(err, "balloon", -1, "%uM is more than the guest's %lluM of RAM",
			      b->amount_mib, (unsigned long long)(cfg->mem_size / SZ_1M));
	if (b->stats_interval_s > CFG_BALLOON_MAX_STATS_S)
		return refuse(err, "balloon", -1, "statistics every %u s: at most %d",
			      b->stats_interval_s, CFG_BALLOON_MAX_STATS_S);
	return 0;
}

/*
 * A tag is what the guest mounts by (and root=TAG on its command line):
 * 1 to 36 bytes, none of them a space or a control character.
 */
static bool share_tag_ok(const char *tag)
{
	size_t len = strnlen(tag, CFG_SHARE_TAG_MAX + 1);

	if (!len || len > CFG_SHARE_TAG_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((u8)tag[i] <= ' ' || (u8)tag[i] == 0x7f)
			return false;
	return true;
}

/* Form only: whether HOSTDIR is a directory is the device's to say, when it opens it. */
static int validate_shares(const struct vm_config *cfg, struct vm_config_error *err)
{
	if (cfg->nr_shares > CFG_MAX_SHARES)
		return refuse(err, "share", -1, "at most %d shares", CFG_MAX_SHARES);
	for (unsigned int i = 0; i < cfg->nr_shares; i++) {
		const struct share_config *sh = &cfg->shares[i];

		if (!sh->path[0])
			return refuse(err, "share", (int)i, "no directory given");
		if (!sh->tag[0])
			return refuse(err, "share", (int)i,
				      "'%s' needs a tag (tag=TAG), the name the guest mounts it by",
				      sh->path);
		if (!share_tag_ok(sh->tag))
			return refuse(err, "share", (int)i,
				      "tag '%.40s': use 1 to %d bytes, no spaces or control characters",
				      sh->tag, CFG_SHARE_TAG_MAX);
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(cfg->shares[j].tag, sh->tag))
				return refuse(err, "share", (int)i, "tag '%s' given twice", sh->tag);
		if (sh->cache > SHARE_CACHE_NEVER)
			return refuse(err, "share", (int)i, "cache must be auto, always or never");
		if ((sh->uid_map && (sh->uid_host == (u32)-1 || sh->uid_guest == (u32)-1)) ||
		    (sh->gid_map && (sh->gid_host == (u32)-1 || sh->gid_guest == (u32)-1)))
			return refuse(err, "share", (int)i, "an id map cannot name id -1");
	}
	return 0;
}

/* Each part at least 1, the Aff fields within range, and the product N. */
static int validate_topology(const struct vm_config *cfg, struct vm_config_error *err)
{
	const struct cpu_topology_config *t = &cfg->topology;
	unsigned int aff0 = t->threads > 1 ? t->threads : t->cores;
	u64 product = (u64)t->sockets * t->clusters * t->cores * t->threads;

	if (!t->sockets && !t->clusters && !t->cores && !t->threads)
		return 0;
	if (!product)
		return refuse(err, "cpus", -1, "sockets, clusters, cores and threads must each be 1 or more");
	if (product != cfg->nr_cpus)
		return refuse(err, "cpus", -1,
			      "%u sockets x %u clusters x %u cores x %u threads is %llu vCPUs, not %u",
			      t->sockets, t->clusters, t->cores, t->threads,
			      (unsigned long long)product, cfg->nr_cpus);
	if (aff0 > CFG_TOPO_MAX_AFF0)
		return refuse(err, "cpus", -1, "at most %d %s (the GIC reaches 16 CPUs per cluster)",
			      CFG_TOPO_MAX_AFF0, t->threads > 1 ? "threads per core" : "cores per cluster");
	if (t->sockets > CFG_TOPO_MAX_AFF || t->clusters > CFG_TOPO_MAX_AFF ||
	    t->cores > CFG_TOPO_MAX_AFF)
		return refuse(err, "cpus", -1, "at most %d sockets, clusters or cores", CFG_TOPO_MAX_AFF);
	return 0;
}

static int validate_cpu_features(const struct cpu_features_config *f, struct vm_config_error *err)
{
	const enum cpu_feature_mode modes[] = { f->sve, f->pauth, f->pmu, f->steal_time };

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (modes[i] > CPU_FEATURE_OFF)
			return refuse(err, "cpu-features", -1, "a feature is on, off or left out");
	if (!f->sve_max_vl)
		return 0;
	if (f->sve == CPU_FEATURE_OFF)
		return refuse(err, "cpu-features", -1, "sve-max-vl needs SVE, which sve=off turns off");
	if (f->sve_max_vl % CFG_SVE_VL_STEP || f->sve_max_vl > CFG_SVE_VL_MAX)
		return refuse(err, "cpu-features", -1,
			      "sve-max-vl=%u: a vector length is a multiple of %d bits, at most %d",
			      f->sve_max_vl, CFG_SVE_VL_STEP, CFG_SVE_VL_MAX);
	return 0;
}

int vm_config_validate(const struct vm_config *cfg, struct vm_config_error *err)
{
	int ret = validate_machine(cfg, err);

	if (!ret)
		ret = validate_disks(cfg, err);
	if (!ret)
		ret = validate_nets(cfg, err);
	if (!ret)
		ret = validate_display(cfg, err);
	if (!ret)
		ret = validate_limiter(&cfg->rng_rl, "rng-bw", -1, "rate limiter", err);
	if (!ret)
		ret = validate_vsock(&cfg->vsock, err);
	if (!ret)
		ret = validate_balloon(cfg, err);
	if (!ret)
		ret = validate_shares(cfg, err);
	if (!ret)
		ret = validate_topology(cfg, err);
	if (!ret)
		ret = validate_cpu_features(&cfg->cpu_features, err);
	return ret;
}

/* Gives @id, if empty, "<prefix><N>" with the lowest N no other id has. */
static void default_id(char *id, const char *prefix, const char *(*id_of)(const struct vm_config *,
						unsigned int), const struct vm_config *cfg, unsigned int count)
{
	if (id[0])
		return;
	for (unsigned int n = 0;; n++) {
		char name[CFG_MAX_ID + 1];
		bool taken = false;

		snprintf(name, sizeof(name), "%s%u", prefix, n);
		for (unsigned int i = 0; i < count && !taken; i++)
			taken = !strcmp(id_of(cfg, i), name);
		if (!taken) {
			memcpy(id, name, strlen(name) + 1);
			return;
		}
	}
}

void vm_config_complete(struct vm_config *cfg)
{
	size_t len = strlen(cfg->cmdline);

	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		default_id(cfg->disks[i].id, "disk", disk_id, cfg, cfg->nr_disks);
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		default_id(cfg->nets[i].id, "net", net_id, cfg, cfg->nr_nets);
	if (wants_hvc_arg(cfg))
		snprintf(cfg->cmdline + len, sizeof(cfg->cmdline) - len, "%s%s", len ? " " : "",
			 hvc_arg);
}

static void save_bucket(struct state_writer *w, const struct token_bucket_config *tb)
{
	state_put_u64(w, tb->size);
	state_put_u64(w, tb->one_time_burst);
	state_put_u64(w, tb->refill_time_ms);
}

static void save_limiter(struct state_writer *w, const struct rate_limiter_config *rl)
{
	save_bucket(w, &rl->bandwidth);
	save_bucket(w, &rl->ops);
}

static void restore_bucket(struct state_reader *r, struct token_bucket_config *tb)
{
	tb->size = state_get_u64(r);
	tb->one_time_burst = state_get_u64(r);
	tb->refill_time_ms = state_get_u64(r);
}

static void restore_limiter(struct state_reader *r, struct rate_limiter_config *rl)
{
	restore_bucket(r, &rl->bandwidth);
	restore_bucket(r, &rl->ops);
}

static void save_share(struct state_writer *w, const struct share_config *sh)
{
	state_put_str(w, sh->path);
	state_put_str(w, sh->tag);
	state_put_u8(w, sh->readonly);
	state_put_u8(w, (u8)sh->cache);
	state_put_u8(w, sh->uid_map);
	state_put_u32(w, sh->uid_host);
	state_put_u32(w, sh->uid_guest);
	state_put_u8(w, sh->gid_map);
	state_put_u32(w, sh->gid_host);
	state_put_u32(w, sh->gid_guest);
}

static void save_net_kind(struct state_writer *w, const struct net_config *n)
{
	state_put_u8(w, (u8)n->kind);
	state_put_str(w, n->passt_path);
	state_put_u32(w, n->nr_forwards);
	for (unsigned int k = 0; k < n->nr_forwards; k++) {
		state_put_u8(w, (u8)n->forwards[k].proto);
		state_put_u16(w, n->forwards[k].host_port);
		state_put_u16(w, n->forwards[k].guest_port);
	}
}

void vm_config_save(const struct vm_config *cfg, struct state_writer *w)
{
	state_put_str(w, cfg->kernel);
	state_put_str(w, cfg->initrd);
	state_put_str(w, cfg->cmdline);
	state_put_u32(w, cfg->nr_cpus);
	state_put_u64(w, cfg->mem_size);
	state_put_u8(w, cfg->hugepages);
	state_put_u8(w, cfg->track_dirty_pages);
	state_put_u8(w, (u8)cfg->console);
	state_put_u8(w, cfg->boot_timer);
	save_limiter(w, &cfg->rng_rl);
	state_put_u32(w, cfg->nr_disks);
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		state_put_str(w, d->id);
		state_put_str(w, d->path);
		state_put_str(w, d->serial);
		state_put_str(w, d->partuuid);
		state_put_u8(w, d->readonly);
		state_put_u8(w, d->root);
		state_put_u8(w, (u8)d->cache);
		save_limiter(w, &d->rl);
	}
	state_put_u32(w, cfg->nr_nets);
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		const struct net_config *n = &cfg->nets[i];

		state_put_str(w, n->id);
		state_put_str(w, n->tap);
		state_put(w, n->mac, sizeof(n->mac));
		state_put_u8(w, n->has_mac);
		state_put_u8(w, n->vhost);
		save_limiter(w, &n->rx_rl);
		save_limiter(w, &n->tx_rl);
	}
	/* Last, so that a snapshot from before vsock still reads. */
	state_put_u8(w, cfg->vsock.enabled);
	state_put_u32(w, cfg->vsock.cid);
	state_put_str(w, cfg->vsock.uds_path);
	/* After vsock's, for the same reason: a snapshot from before the balloon reads. */
	state_put_u8(w, cfg->balloon.enabled);
	state_put_u32(w, cfg->balloon.amount_mib);
	state_put_u8(w, cfg->balloon.deflate_on_oom);
	state_put_u8(w, cfg->balloon.free_page_reporting);
	state_put_u32(w, cfg->balloon.stats_interval_s);
	/* After the balloon's: a snapshot from before the shares still reads. */
	state_put_u32(w, cfg->nr_shares);
	for (unsigned int i = 0; i < cfg->nr_shares; i++)
		save_share(w, &cfg->shares[i]);
	/* After the shares: a snapshot from before passt reads, its NICs all taps. */
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		save_net_kind(w, &cfg->nets[i]);
	/* After the NICs' kinds: each disk's format. */
	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		state_put_u8(w, (u8)cfg->disks[i].format);
	/*
	 * After the formats: whether each disk is ephemeral (one the guest
	 * never wrote; a restore gives it a fresh overlay).  Older snapshots
	 * had none.
	 */
	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		state_put_u8(w, cfg->disks[i].ephemeral);
}

static void restore_disk(struct state_reader *r, struct disk_config *d)
{
	u8 cache;

	state_get_str(r, d->id, sizeof(d->id));
	state_get_str(r, d->path, sizeof(d->path));
	state_get_str(r, d->serial, sizeof(d->serial));
	state_get_str(r, d->partuuid, sizeof(d->partuuid));
	d->readonly = state_get_u8(r);
	d->root = state_get_u8(r);
	cache = state_get_u8(r);
	state_check(r, cache <= DISK_CACHE_UNSAFE);
	d->cache = cache == DISK_CACHE_UNSAFE ? DISK_CACHE_UNSAFE : DISK_CACHE_WRITEBACK;
	restore_limiter(r, &d->rl);
}

static void restore_net(struct state_reader *r, struct net_config *n)
{
	state_get_str(r, n->id, sizeof(n->id));
	state_get_str(r, n->tap, sizeof(n->tap));
	state_get(r, n->mac, sizeof(n->mac));
	n->has_mac = state_get_u8(r);
	n->vhost = state_get_u8(r);
	restore_limiter(r, &n->rx_rl);
	restore_limiter(r, &n->tx_rl);
}

static void restore_share(struct state_reader *r, struct share_config *sh)
{
	u8 cache;

	state_get_str(r, sh->path, sizeof(sh->path));
	state_get_str(r, sh->tag, sizeof(sh->tag));
	sh->readonly = state_get_u8(r);
	cache = state_get_u8(r);
	state_check(r, cache <= SHARE_CACHE_NEVER);
	sh->cache = cache <= SHARE_CACHE_NEVER ? (enum share_cache)cache : SHARE_CACHE_AUTO;
	sh->uid_map = state_get_u8(r);
	sh->uid_host = state_get_u32(r);
	sh->uid_guest = state_get_u32(r);
	sh->gid_map = state_get_u8(r);
	sh->gid_host = state_get_u32(r);
	sh->gid_guest = state_get_u32(r);
}

/* Each NIC's kind, if the snapshot is recent enough to have them. */
static void restore_net_kinds(struct state_reader *r, struct vm_config *cfg)
{
	for (unsigned int i = 0; i < cfg->nr_nets && !r->err && r->off < r->len; i++) {
		struct net_config *n = &cfg->nets[i];
		u8 kind = state_get_u8(r);

		state_get_str(r, n->passt_path, sizeof(n->passt_path));
		n->nr_forwards = state_get_u32(r);
		if (state_check(r, kind <= NET_PASST && n->nr_forwards <= CFG_MAX_FORWARDS))
			return;
		n->kind = (enum net_kind)kind;
		for (unsigned int k = 0; k < n->nr_forwards; k++) {
			u8 proto = state_get_u8(r);

			state_check(r, proto <= NET_FWD_UDP);
			n->forwards[k].proto = proto == NET_FWD_UDP ? NET_FWD_UDP : NET_FWD_TCP;
			n->forwards[k].host_port = state_get_u16(r);
			n->forwards[k].guest_port = state_get_u16(r);
		}
	}
}

/* The shares, if the snapshot is recent enough to have them. */
static void restore_shares(struct state_reader *r, struct vm_config *cfg)
{
	unsigned int n;

	if (r->err || r->off >= r->len)
		return;
	n = state_get_u32(r);
	if (state_check(r, n <= CFG_MAX_SHARES))
		return;
	for (unsigned int i = 0; i < n && !r->err; i++)
		restore_share(r, vm_config_add_share(cfg));
}

int vm_config_restore(struct vm_config *cfg, struct state_reader *r)
{
	unsigned int n;
	u8 console;

	vm_config_init(cfg);
	state_get_str(r, cfg->kernel, sizeof(cfg->kernel));
	state_get_str(r, cfg->initrd, sizeof(cfg->initrd));
	state_get_str(r, cfg->cmdline, sizeof(cfg->cmdline));
	cfg->nr_cpus = state_get_u32(r);
	cfg->mem_size = state_get_u64(r);
	cfg->hugepages = state_get_u8(r);
	cfg->track_dirty_pages = state_get_u8(r);
	console = state_get_u8(r);
	state_check(r, console <= CONSOLE_VIRTIO);
	cfg->console = console == CONSOLE_VIRTIO ? CONSOLE_VIRTIO : CONSOLE_SERIAL;
	cfg->boot_timer = state_get_u8(r);
	restore_limiter(r, &cfg->rng_rl);
	n = state_get_u32(r);
	if (state_check(r, n <= CFG_MAX_DISKS))
		return r->err;
	for (unsigned int i = 0; i < n; i++)
		restore_disk(r, vm_config_add_disk(cfg));
	n = state_get_u32(r);
	if (state_check(r, n <= CFG_MAX_NETS))
		return r->err;
	for (unsigned int i = 0; i < n; i++)
		restore_net(r, vm_config_add_net(cfg));
	if (!r->err && r->off < r->len) {
		cfg->vsock.enabled = state_get_u8(r);
		cfg->vsock.cid = state_get_u32(r);
		state_get_str(r, cfg->vsock.uds_path, sizeof(cfg->vsock.uds_path));
		state_check(r, !cfg->vsock.enabled || (cfg->vsock.cid >= CFG_VSOCK_MIN_CID &&
							cfg->vsock.uds_path[0]));
	}
	if (!r->err && r->off < r->len) {
		struct balloon_config *b = &cfg->balloon;

		b->enabled = state_get_u8(r);
		b->amount_mib = state_get_u32(r);
		b->deflate_on_oom = state_get_u8(r);
		b->free_page_reporting = state_get_u8(r);
		b->stats_interval_s = state_get_u32(r);
		state_check(r, !b->enabled || ((u64)b->amount_mib <= cfg->mem_size / SZ_1M &&
					       b->stats_interval_s <= CFG_BALLOON_MAX_STATS_S));
	}
	restore_shares(r, cfg);
	restore_net_kinds(r, cfg);
	for (unsigned int i = 0; i < cfg->nr_disks && !r->err && r->off < r->len; i++) {
		u8 format = state_get_u8(r);

		state_check(r, format <= DISK_FORMAT_QCOW2);
		cfg->disks[i].format = format <= DISK_FORMAT_QCOW2 ? format : DISK_FORMAT_AUTO;
	}
	for (unsigned int i = 0; i < cfg->nr_disks && !r->err && r->off < r->len; i++) {
		u8 ephemeral = state_get_u8(r);

		state_check(r, ephemeral <= 1);
		cfg->disks[i].ephemeral = ephemeral == 1;
	}
	return r->err;
}
