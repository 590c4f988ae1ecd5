// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "vmm.h"
#include "rate_limiter.h"

struct cli_option {
	const char *name;
	const char *metavar;    /* NULL: the option takes no value */
	const char *help;
	bool repeatable;
	int (*set)(struct vm_config *cfg, const char *name, const char *arg);
};

/*
 * A metavar wholly in brackets ("[size=MiB][,...]"): the value may be left
 * out (--balloon alone), and set() gets NULL then.
 */
static bool value_optional(const struct cli_option *o)
{
	return o->metavar && o->metavar[0] == '[';
}

static int parse_digits(const char *s, u64 limit, u64 *out, const char **end)
{
	u64 v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (v > (limit - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	*end = s;
	return 0;
}

int parse_uint(const char *s, unsigned int *out)
{
	const char *end;
	u64 v;
	int ret = parse_digits(s, UINT_MAX, &v, &end);

	if (ret)
		return ret;
	if (*end)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int parse_size(const char *s, u64 *out)
{
	static const struct { char c; unsigned int shift; } units[] = {
		{ 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 },
	};
	unsigned int shift = 20; /* a bare number is MiB, as with QEMU */
	const char *end;
	u64 v;
	int ret = parse_digits(s, UINT64_MAX, &v, &end);

	if (ret)
		return ret;
	if (*end) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(units); i++)
			if ((end[0] & ~0x20) == units[i].c)
				break;
		if (i == ARRAY_SIZE(units))
			return -EINVAL;
		shift = units[i].shift;
		end++;
		/* Accept "M", "MB" and "MiB" alike: all mean 2^20 here. */
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

/* Copies a string option into the config's own array, if it fits. */
static int set_string(char *field, size_t size, const char *name, const char *arg)
{
	if (vm_config_set_str(field, size, arg)) {
		pr_err("--%s: longer than %zu bytes", name, size - 1);
		return -EINVAL;
	}
	return 0;
}

static int set_kernel(struct vm_config *cfg, const char *name, const char *arg)
{
	return set_string(cfg->kernel, sizeof(cfg->kernel), name, arg);
}

static int set_initrd(struct vm_config *cfg, const char *name, const char *arg)
{
	return set_string(cfg->initrd, sizeof(cfg->initrd), name, arg);
}

static int set_cmdline(struct vm_config *cfg, const char *name, const char *arg)
{
	return set_string(cfg->cmdline, sizeof(cfg->cmdline), name, arg);
}

static int set_cpus(struct vm_config *cfg, const char *name, const char *arg)
{
	unsigned int n;

	if (parse_uint(arg, &n)) {
		pr_err("--%s '%s': not a number of vCPUs", name, arg);
		return -EINVAL;
	}
	cfg->nr_cpus = n;
	return 0;
}

static int set_dump_dtb(struct vm_config *cfg, const char *name, const char *arg)
{
	return set_string(cfg->dump_dtb, sizeof(cfg->dump_dtb), name, arg);
}

static int set_boot_timer(struct vm_config *cfg, const char *name __unused,
			  const char *arg __unused)
{
	cfg->boot_timer = true;
	return 0;
}

static int set_stats(struct vm_config *cfg, const char *name __unused, const char *arg __unused)
{
	cfg->stats = true;
	return 0;
}

static int set_no_seccomp(struct vm_config *cfg, const char *name __unused,
			  const char *arg __unused)
{
	cfg->no_seccomp = true;
	return 0;
}

/*
 * Steps through "a,b,c" without changing it: sets *@item and *@len to the
 * next comma-separated item and returns false at the end.
 */
static bool next_item(const char **p, const char **item, size_t *len)
{
	if (!*p)
		return false;
	*item = *p;
	*len = strcspn(*p, ",");
	*p = (*p)[*len] ? *p + *len + 1 : NULL;
	return true;
}

/* Copies the value of an item "key=value" into @buf (@size bytes), if it is one. */
static bool item_value(const char *item, size_t len, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);

	if (len <= klen || strncmp(item, key, klen) || item[klen] != '=' || len - klen - 1 >= size)
		return false;
	memcpy(buf, item + klen + 1, len - klen - 1);
	buf[len - klen - 1] = '\0';
	return true;
}

/*
 * A rate: a count per second, bare (no suffix: a bare byte rate is bytes,
 * unlike parse_size()'s MiB); with @bytes also K, M, G (binary, like
 * parse_size()).  0 is refused: no limit is written by leaving it out.
 */
static int parse_rate(const char *s, bool bytes, u64 *out)
{
	const char *end;
	u64 v;
	int ret = parse_digits(s, RL_MAX_SIZE, &v, &end);

	if (ret)
		return ret;
	if (*end && bytes) {
		ret = parse_size(s, &v);
		if (ret)
			return ret;
	} else if (*end) {
		return -EINVAL;
	}
	if (!v || v > RL_MAX_SIZE)
		return -ERANGE;
	*out = v;
	return 0;
}

/*
 * The item "key=RATE" as a bucket of RATE tokens refilled every second:
 * 1 when it is @key, 0 when it is another item, -EINVAL for a bad rate.
 */
static int rate_item(const char *item, size_t len, const char *key, bool bytes,
		     struct token_bucket_config *tb)
{
	char buf[32];
	u64 v;

	if (!item_value(item, len, key, buf, sizeof(buf)))
		return 0;
	if (parse_rate(buf, bytes, &v))
		return -EINVAL;
	*tb = (struct token_bucket_config){ .size = v, .refill_time_ms = 1000 };
	return 1;
}

/* --memory SIZE[,hugepages][,prefault] */
static int set_memory(struct vm_config *cfg, const char *name, const char *arg)
{
	char num[32];
	const char *p = arg, *item = arg;
	size_t len = 0;
	u64 size;

	next_item(&p, &item, &len);
	if (len >= sizeof(num)) {
		pr_err("--%s '%s': not a size (write it like 256M or 2G)", name, arg);
		return -EINVAL;
	}
	memcpy(num, item, len);
	num[len] = '\0';
	while (next_item(&p, &item, &len)) {
		if (len == 9 && !strncmp(item, "hugepages", 9)) {
			cfg->hugepages = true;
		} else if (len == 8 && !strncmp(item, "prefault", 8)) {
			cfg->prefault = true;
		} else if (len == 11 && !strncmp(item, "track-dirty", 11)) {
			cfg->track_dirty_pages = true;
		} else {
			pr_err("--%s '%s': unknown memory option '%.*s' (hugepages, prefault, track-dirty)",
			       name, arg, (int)len, item);
			return -EINVAL;
		}
	}
	if (parse_size(num, &size)) {
		pr_err("--%s '%s': not a size (write it like 256M or 2G)", name, arg);
		return -EINVAL;
	}
	cfg->mem_size = size;
	return 0;
}

/* One of --disk's own items other than the path: 0, or -EINVAL when it is none. */
static int disk_item(struct disk_config *d, const char *item, size_t len)
{
	char cache[16];
	int ret;

	if ((len == 8 && !strncmp(item, "readonly", 8)) || (len == 2 && !strncmp(item, "ro", 2))) {
		d->readonly = true;
		return 0;
	}
	if (item_value(item, len, "cache", cache, sizeof(cache))) {
		if (strcmp(cache, "unsafe") && strcmp(cache, "writeback"))
			return -EINVAL;
		d->cache = !strcmp(cache, "unsafe") ? DISK_CACHE_UNSAFE : DISK_CACHE_WRITEBACK;
		return 0;
	}
	ret = rate_item(item, len, "bw", true, &d->rl.bandwidth);
	if (!ret)
		ret = rate_item(item, len, "iops", false, &d->rl.ops);
	if (ret)
		return ret < 0 ? ret : 0;
	if (item_value(item, len, "serial", d->serial, sizeof(d->serial)) ||
	    item_value(item, len, "id", d->id, sizeof(d->id)))
		return 0;
	return -EINVAL;
}

/* --disk PATH[,readonly][,serial=S][,id=ID][,cache=C][,bw=RATE][,iops=N] */
static int set_disk(struct vm_config *cfg, const char *name, const char *arg)
{
	struct disk_config *d = vm_config_add_disk(cfg);
	const char *p = arg, *item = arg;
	size_t len = 0;

	if (!d) {
		pr_err("--%s: at most %d disks", name, CFG_MAX_DISKS);
		return -EINVAL;
	}
	next_item(&p, &item, &len);
	if (!len || len > CFG_MAX_PATH) {
		pr_err("--%s '%s': %s", name, arg, len ? "path too long" : "no disk file given");
		return -EINVAL;
	}
	memcpy(d->path, item, len);
	while (next_item(&p, &item, &len)) {
		if (disk_item(d, item, len)) {
			pr_err("--%s '%s': bad disk option '%.*s' (readonly, serial=S of up to %d "
			       "bytes, id=ID, cache=unsafe|writeback, bw=BYTES/s like 4M, iops=N)",
			       name, arg, (int)len, item, CFG_MAX_SERIAL);
			return -EINVAL;
		}
	}
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int parse_mac(const char *s, u8 mac[6])
{
	for (int i = 0; i < 6; i++, s += 3) {
		int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);

		if (lo < 0 || s[2] != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		mac[i] = (u8)(hi << 4 | lo);
	}
	/* A multicast or all-zero address cannot name one NIC. */
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

/* --net's rate items: 1 when @item is one, 0 when not, -EINVAL for a bad rate. */
static int net_rate_item(struct net_config *n, const char *item, size_t len)
{
	int ret = rate_item(item, len, "rx-bw", true, &n->rx_rl.bandwidth);

	if (!ret)
		ret = rate_item(item, len, "tx-bw", true, &n->tx_rl.bandwidth);
	if (!ret)
		ret = rate_item(item, len, "rx-pps", false, &n->rx_rl.ops);
	if (!ret)
		ret = rate_item(item, len, "tx-pps", false, &n->tx_rl.ops);
	return ret;
}

/* "HOSTPORT:GUESTPORT" into @f; the ports' range (1 and up) is vm_config_validate()'s. */
static int parse_forward(const char *s, struct net_forward *f)
{
	const char *end;
	u64 host, guest;

	if (parse_digits(s, 65535, &host, &end) || *end != ':' ||
	    parse_digits(end + 1, 65535, &guest, &end) || *end)
		return -EINVAL;
	f->host_port = (u16)host;
	f->guest_port = (u16)guest;
	return 0;
}

/* --net user's tcp=H:G and udp=H:G: 1 when @item is one, 0 when not, -EINVAL when bad. */
static int net_forward_item(struct net_config *n, const char *item, size_t len)
{
	static const char *const keys[] = { [NET_FWD_TCP] = "tcp", [NET_FWD_UDP] = "udp" };
	char buf[16];

	for (unsigned int proto = 0; proto < ARRAY_SIZE(keys); proto++) {
		struct net_forward *f = &n->forwards[n->nr_forwards];

		if (!item_value(item, len, keys[proto], buf, sizeof(buf)))
			continue;
		if (n->nr_forwards == CFG_MAX_FORWARDS || parse_forward(buf, f))
			return -EINVAL;
		f->proto = (enum net_proto)proto;
		n->nr_forwards++;
		return 1;
	}
	return 0;
}

/* tap=NAME, user or passt=SOCKET: true when @item names the NIC's kind. */
static bool net_kind_item(struct net_config *n, const char *item, size_t len)
{
	if (len == 4 && !strncmp(item, "user", 4)) {
		n->kind = NET_USER;
		return true;
	}
	if (item_value(item, len, "passt", n->passt_path, sizeof(n->passt_path)) &&
	    n->passt_path[0]) {
		n->kind = NET_PASST;
		return true;
	}
	return item_value(item, len, "tap", n->tap, sizeof(n->tap)) && n->tap[0];
}

/*
 * --net tap=NAME[,mac=MAC][,vhost][,id=ID][,rx-bw=RATE][,tx-bw=RATE][,rx-pps=N][,tx-pps=N]
 * --net user[,tcp=HOSTPORT:GUESTPORT]...[,udp=HOSTPORT:GUESTPORT]...[,mac=MAC][,id=ID]
 * --net passt=SOCKET[,mac=MAC][,id=ID]
 */
static int set_net(struct vm_config *cfg, const char *name, const char *arg)
{
	struct net_config *n = vm_config_add_net(cfg);
	const char *p = arg, *item = arg;
	unsigned int kinds = 0;
	char mac[18];
	size_t len;
	int ret;

	if (!n) {
		pr_err("--%s: at most %d network devices", name, CFG_MAX_NETS);
		return -EINVAL;
	}
	while (next_item(&p, &item, &len)) {
		if (net_kind_item(n, item, len)) {
			if (!kinds++)
				continue;
			pr_err("--%s '%s': give one of tap=NAME, user or passt=SOCKET", name, arg);
			return -EINVAL;
		} else if ((ret = net_forward_item(n, item, len)) != 0) {
			if (ret > 0)
				continue;
			pr_err("--%s '%s': bad forward '%.*s' (tcp=HOSTPORT:GUESTPORT or udp=..., "
			       "ports up to 65535, at most %d)", name, arg, (int)len, item,
			       CFG_MAX_FORWARDS);
			return -EINVAL;
		} else if (item_value(item, len, "id", n->id, sizeof(n->id))) {
			continue;
		} else if (item_value(item, len, "mac", mac, sizeof(mac)) && !parse_mac(mac, n->mac)) {
			n->has_mac = true;
		} else if (len == 5 && !strncmp(item, "vhost", 5)) {
			n->vhost = true;
		} else if (net_rate_item(n, item, len) <= 0) {
			pr_err("--%s '%s': bad option '%.*s' (tap=NAME of up to %d bytes, user, "
			       "passt=SOCKET, mac=MAC as unicast aa:bb:cc:dd:ee:ff, vhost, id=ID, "
			       "rx-bw=/tx-bw=BYTES/s like 1M, rx-pps=/tx-pps=N)", name, arg, (int)len,
			       item, CFG_MAX_IFNAME);
			return -EINVAL;
		}
	}
	return 0;
}

/* --rng-bw RATE: bytes of entropy per second the guest may draw. */
static int set_rng_bw(struct vm_config *cfg, const char *name, const char *arg)
{
	u64 v;

	if (parse_rate(arg, true, &v)) {
		pr_err("--%s '%s': not a rate in bytes per second (like 4096 or 64K)", name, arg);
		return -EINVAL;
	}
	cfg->rng_rl.bandwidth = (struct token_bucket_config){ .size = v, .refill_time_ms = 1000 };
	return 0;
}

/* --vsock cid=N,socket=PATH */
static int set_vsock(struct vm_config *cfg, const char *name, const char *arg)
{
	struct vsock_config *v = &cfg->vsock;
	const char *p = arg, *item = arg;
	char num[16];
	size_t len;

	*v = (struct vsock_config){ .enabled = true };
	while (next_item(&p, &item, &len)) {
		if (item_value(item, len, "socket", v->uds_path, sizeof(v->uds_path)) && v->uds_path[0])
			continue;
		if (item_value(item, len, "cid", num, sizeof(num)) && !parse_uint(num, &v->cid))
			continue;
		pr_err("--%s '%s': bad option '%.*s' (cid=N of 3 or more, socket=PATH of up to %d "
		       "bytes)", name, arg, (int)len, item, CFG_VSOCK_MAX_PATH);
		return -EINVAL;
	}
	return 0;
}

/* One of --balloon's flags: true when @item is one, set in @b. */
static bool balloon_flag(struct balloon_config *b, const char *item, size_t len)
{
	if (len == 14 && !strncmp(item, "deflate-on-oom", 14))
		b->deflate_on_oom = true;
	else if (len == 19 && !strncmp(item, "free-page-reporting", 19))
		b->free_page_reporting = true;
	else
		return false;
	return true;
}

/* --balloon [size=MiB][,deflate-on-oom][,free-page-reporting][,stats=SECONDS] */
static int set_balloon(struct vm_config *cfg, const char *name, const char *arg)
{
	struct balloon_config *b = &cfg->balloon;
	const char *p = arg, *item = arg;
	char num[16];
	size_t len;

	*b = (struct balloon_config){ .enabled = true };
	while (next_item(&p, &item, &len)) {
		if (balloon_flag(b, item, len))
			continue;
		if (item_value(item, len, "size", num, sizeof(num)) && !parse_uint(num, &b->amount_mib))
			continue;
		if (item_value(item, len, "stats", num, sizeof(num)) &&
		    !parse_uint(num, &b->stats_interval_s))
			continue;
		pr_err("--%s '%s': bad option '%.*s' (size=MiB, deflate-on-oom, "
		       "free-page-reporting, stats=SECONDS)", name, arg, (int)len, item);
		return -EINVAL;
	}
	return 0;
}

/* "HOST:GUEST", two ids (not -1: chown's "no change"). */
static int parse_id_map(const char *s, u32 *host, u32 *guest)
{
	const char *end;
	u64 h, g;

	if (parse_digits(s, UINT32_MAX - 1, &h, &end) || *end != ':' ||
	    parse_digits(end + 1, UINT32_MAX - 1, &g, &end) || *end)
		return -EINVAL;
	*host = (u32)h;
	*guest = (u32)g;
	return 0;
}

static int parse_share_cache(const char *s, enum share_cache *cache)
{
	static const char *const names[] = {
		[SHARE_CACHE_AUTO] = "auto", [SHARE_CACHE_ALWAYS] = "always",
		[SHARE_CACHE_NEVER] = "never",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i])) {
			*cache = (enum share_cache)i;
			return 0;
		}
	return -EINVAL;
}

/* One of --share's items after the directory: 0, or -EINVAL when it is none. */
static int share_item(struct share_config *sh, const char *item, size_t len)
{
	char val[32];

	if ((len == 8 && !strncmp(item, "readonly", 8)) || (len == 2 && !strncmp(item, "ro", 2))) {
		sh->readonly = true;
		return 0;
	}
	if (item_value(item, len, "tag", sh->tag, sizeof(sh->tag)))
		return 0;
	if (item_value(item, len, "cache", val, sizeof(val)))
		return parse_share_cache(val, &sh->cache);
	if (item_value(item, len, "uid-map", val, sizeof(val))) {
		sh->uid_map = true;
		return parse_id_map(val, &sh->uid_host, &sh->uid_guest);
	}
	if (item_value(item, len, "gid-map", val, sizeof(val))) {
		sh->gid_map = true;
		return parse_id_map(val, &sh->gid_host, &sh->gid_guest);
	}
	return -EINVAL;
}

/* --share HOSTDIR,tag=TAG[,readonly][,cache=auto|always|never][,uid-map=H:G][,gid-map=H:G] */
static int set_share(struct vm_config *cfg, const char *name, const char *arg)
{
	struct share_config *sh = vm_config_add_share(cfg);
	const char *p = arg, *item = arg;
	size_t len = 0;

	if (!sh) {
		pr_err("--%s: at most %d shares", name, CFG_MAX_SHARES);
		return -EINVAL;
	}
	next_item(&p, &item, &len);
	if (!len || len > CFG_MAX_PATH) {
		pr_err("--%s '%s': %s", name, arg, len ? "path too long" : "no directory given");
		return -EINVAL;
	}
	memcpy(sh->path, item, len);
	while (next_item(&p, &item, &len)) {
		if (share_item(sh, item, len)) {
			pr_err("--%s '%s': bad option '%.*s' (tag=TAG of 1 to %d bytes, readonly, "
			       "cache=auto|always|never, uid-map=HOST:GUEST, gid-map=HOST:GUEST)",
			       name, arg, (int)len, item, CFG_SHARE_TAG_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

static int set_console(struct vm_config *cfg, const char *name, const char *arg)
{
	if (!strcmp(arg, "serial")) {
		cfg->console = CONSOLE_SERIAL;
	} else if (!strcmp(arg, "virtio")) {
		cfg->console = CONSOLE_VIRTIO;
	} else {
		pr_err("--%s '%s': not a console kind (serial or virtio)", name, arg);
		return -EINVAL;
	}
	return 0;
}

/* --gpu 2d|virgl[,width=W,height=H] */
static int set_gpu(struct vm_config *cfg, const char *name, const char *arg)
{
	const char *p = arg, *item = arg;
	struct gpu_config *g = &cfg->gpu;
	size_t len = 0;
	char num[16];

	next_item(&p, &item, &len);
	if (len == 2 && !strncmp(item, "2d", 2)) {
		g->mode = GPU_2D;
	} else if (len == 5 && !strncmp(item, "virgl", 5)) {
		g->mode = GPU_VIRGL;
	} else {
		pr_err("--%s '%s': not a GPU kind (2d or virgl)", name, arg);
		return -EINVAL;
	}
	while (next_item(&p, &item, &len)) {
		unsigned int *dim = NULL;

		if (item_value(item, len, "width", num, sizeof(num)))
			dim = &g->width;
		else if (item_value(item, len, "height", num, sizeof(num)))
			dim = &g->height;
		if (!dim || parse_uint(num, dim)) {
			pr_err("--%s '%s': bad option '%.*s' (width=W, height=H, each %d to %d pixels)",
			       name, arg, (int)len, item, CFG_GPU_MIN_DIM, CFG_GPU_MAX_DIM);
			return -EINVAL;
		}
	}
	return 0;
}

/* "a.b.c.d:port", an IPv4 address and a port that is not 0. */
static int parse_addr_port(const char *s, u8 addr[4], u16 *port)
{
	const char *end;
	u64 v;

	for (int i = 0; i < 4; i++) {
		if (parse_digits(s, 255, &v, &end) || *end != (i == 3 ? ':' : '.'))
			return -EINVAL;
		addr[i] = (u8)v;
		s = end + 1;
	}
	if (parse_digits(s, 65535, &v, &end) || *end || !v)
		return -EINVAL;
	*port = (u16)v;
	return 0;
}

/* --display vnc=ADDR:PORT */
static int set_display(struct vm_config *cfg, const char *name, const char *arg)
{
	struct display_config *d = &cfg->display;

	if (strncmp(arg, "vnc=", 4) || parse_addr_port(arg + 4, d->addr, &d->port)) {
		pr_err("--%s '%s': not a display (vnc=ADDR:PORT, like vnc=127.0.0.1:5900)", name,
		       arg);
		return -EINVAL;
	}
	d->vnc = true;
	return 0;
}

static int set_screenshot(struct vm_config *cfg, const char *name, const char *arg)
{
	return set_string(cfg->screenshot, sizeof(cfg->screenshot), name, arg);
}

static const struct cli_option run_options[] = {
	{ "kernel", "PATH", "arm64 Linux Image, plain or gzip-compressed (required)", false, set_kernel },
	{ "initrd", "PATH", "initramfs or initrd, loaded after the kernel", false, set_initrd },
	{ "cmdline", "STR", "kernel command line", false, set_cmdline },
	{ "cpus", "N", "number of vCPUs (default 1)", false, set_cpus },
	{ "memory", "SIZE[,hugepages][,prefault][,track-dirty]",
	  "guest RAM, like 256M or 2G (default 256M), on 2M hugepages, touched up front, its dirty pages tracked (diff snapshots)",
	  false, set_memory },
	{ "disk", "PATH[,readonly][,serial=S][,id=ID][,cache=C][,bw=RATE][,iops=N]",
	  "a virtio-blk disk (repeat for vdb, vdc, ...); id names it for the API; "
	  "cache=unsafe offers no flush (default writeback); bw: bytes/s, a bare number is "
	  "bytes, K/M/G are KiB/MiB/GiB; iops: requests/s",
	  true, set_disk },
	{ "net", "tap=NAME|user|passt=SOCKET[,mac=MAC][,vhost][,id=ID][,rx-bw=RATE][,tx-bw=RATE][,rx-pps=N][,tx-pps=N]",
	  "a virtio-net NIC (repeat for eth1, ...) on an existing tap, or on user-mode "
	  "networking through passt without privileges: user starts passt from PATH "
	  "(add tcp=HOSTPORT:GUESTPORT or udp=... to forward a host port to the guest), "
	  "passt=SOCKET connects to a running one; vhost: the host kernel's vhost-net moves "
	  "a tap's packets; rx/tx-bw: bytes/s to/from the guest (as --disk bw), rx/tx-pps: "
	  "packets/s (not with vhost)",
	  true, set_net },
	{ "rng-bw", "RATE", "limit the entropy device to RATE bytes/s (as --disk bw)",
	  false, set_rng_bw },
	{ "vsock", "cid=N,socket=PATH",
	  "a virtio-vsock for guest CID N: host programs connect to PATH and write "
	  "'CONNECT <port>\\n'; the guest's connections to CID 2 port P reach PATH_P",
	  false, set_vsock },
	{ "balloon", "[size=MiB][,deflate-on-oom][,free-page-reporting][,stats=SECONDS]",
	  "a virtio-balloon asking the guest for MiB of its RAM back (default 0); "
	  "deflate-on-oom: the guest takes pages back when it runs out; free-page-reporting: "
	  "pages it frees go back to the host; stats: ask its memory statistics every SECONDS",
	  false, set_balloon },
	{ "share", "DIR,tag=TAG[,readonly][,cache=auto|always|never][,uid-map=H:G][,gid-map=H:G]",
	  "share the host directory DIR with the guest over virtio-fs (repeat for more): "
	  "mount -t virtiofs TAG /mnt, or boot it as root with rootfstype=virtiofs root=TAG; "
	  "readonly refuses every change; cache: how long the guest trusts what it read "
	  "(always: nothing else changes DIR; never: the host does too; default auto); "
	  "uid-map/gid-map: host id H shows as guest id G (1000:0 shows you as root)",
	  true, set_share },
	{ "console", "serial|virtio", "guest console: the UART (ttyS0, default) or virtio (hvc0)",
	  false, set_console },
	{ "gpu", "2d|virgl[,width=W,height=H]",
	  "a virtio-gpu with one display (default 1024x768); virgl adds 3D", false, set_gpu },
	{ "display", "vnc=ADDR:PORT",
	  "with --gpu: serve the display over VNC, with a keyboard and tablet for the viewer",
	  false, set_display },
	{ "screenshot", "FILE", "with --gpu: write the display as PNG on SIGUSR1 and at exit",
	  false, set_screenshot },
	{ "dump-dtb", "FILE", "write the guest device tree to FILE and exit", false, set_dump_dtb },
	{ "boot-timer", NULL, "print how long the boot took once the guest's init says so",
	  false, set_boot_timer },
	{ "stats", NULL, "print arkvm's counters (exits, kicks, interrupts) when the VM stops",
	  false, set_stats },
	{ "no-seccomp", NULL, "run without the per-thread syscall filters (debugging only)",
	  false, set_no_seccomp },
};

static void print_help(FILE *out)
{
	fprintf(out,
		"Usage: arkvm run --kernel PATH [options]\n"
		"       arkvm --help | --version\n"
		"\n"
		"Boots an arm64 Linux guest on /dev/kvm with a serial console on\n"
		"stdin/stdout. On a terminal, Ctrl-A x quits.\n"
		"\n"
		"Options for run:\n");
	for (size_t i = 0; i < ARRAY_SIZE(run_options); i++) {
		const struct cli_option *o = &run_options[i];
		char left[160];

		/* A long synopsis gets a line of its own, not cut short. */
		snprintf(left, sizeof(left), "--%s %s", o->name, o->metavar ? o->metavar : "");
		if (strlen(left) > 34)
			fprintf(out, "  %s\n  %-34s %s\n", left, "", o->help);
		else
			fprintf(out, "  %-34s %s\n", left, o->help);
	}
	fprintf(out, "  %-34s %s\n", "--api-sock PATH",
		"also serve Firecracker's API on a unix socket (mode 0600)");
	fprintf(out,
		"\n"
		"Firecracker's command line: when started as 'firecracker', or when the first\n"
		"argument is one of its flags (--api-sock, --config-file, --no-api, --id, ...),\n"
		"arkvm takes Firecracker's flags and serves its API (see 'arkvm --api-sock X --help').\n");
	fprintf(out,
		"\n"
		"Exit status: 0 guest powered off, 1 arkvm error, 2 guest reset,\n"
		"3 guest crash, 128+N stopped by signal N.\n");
}

static const struct cli_option *find_option(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(run_options); i++)
		if (strlen(run_options[i].name) == len && !strncmp(run_options[i].name, name, len))
			return &run_options[i];
	return NULL;
}

/* The one line a refused config gets on the command line. */
static int report_invalid(const struct vm_config_error *err)
{
	pr_err("--%s: %s", err->field, err->msg);
	return -EINVAL;
}

/* --api-sock PATH: the process's, not the VM's; NULL @opts: not taken. */
static int set_api_sock(struct vmm_opts *opts, const char *arg)
{
	if (!opts) {
		pr_err("unknown option '--api-sock' (see arkvm --help)");
		return -EINVAL;
	}
	if (!*arg || strlen(arg) >= sizeof(opts->api_sock)) {
		pr_err("--api-sock: give the path of a socket to create");
		return -EINVAL;
	}
	memcpy(opts->api_sock, arg, strlen(arg) + 1);
	return 0;
}

static int parse_run(int argc, char *const argv[], struct vm_config *cfg, struct vmm_opts *opts,
		     FILE *out)
{
	bool seen[ARRAY_SIZE(run_options)] = { false };
	struct vm_config_error err;
	int i, ret;

	for (i = 0; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		const struct cli_option *o;
		size_t name_len;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			print_help(out);
			return CLI_DONE;
		}
		if (strncmp(arg, "--", 2) || !arg[2]) {
			pr_err("unexpected argument '%s' (see arkvm --help)", arg);
			return -EINVAL;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		name_len = eq ? (size_t)(eq - name) : strlen(name);
		if (name_len == 8 && !strncmp(name, "api-sock", 8)) {
			if (!eq && i + 1 >= argc) {
				pr_err("option --api-sock needs a value (PATH)");
				return -EINVAL;
			}
			ret = set_api_sock(opts, eq ? eq + 1 : argv[++i]);
			if (ret)
				return ret;
			continue;
		}
		o = find_option(name, name_len);
		if (!o) {
			pr_err("unknown option '--%.*s' (see arkvm --help)", (int)name_len, name);
			return -EINVAL;
		}
		if (seen[o - run_options] && !o->repeatable) {
			pr_err("option --%s given twice", o->name);
			return -EINVAL;
		}
		seen[o - run_options] = true;

		if (!o->metavar) {
			if (eq) {
				pr_err("option --%s takes no value", o->name);
				return -EINVAL;
			}
			value = NULL;
		} else if (eq) {
			value = eq + 1;
		} else if (value_optional(o) && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))) {
			value = NULL;
		} else {
			if (i + 1 >= argc) {
				pr_err("option --%s needs a value (%s)", o->name, o->metavar);
				return -EINVAL;
			}
			value = argv[++i];
		}
		ret = o->set(cfg, o->name, value);
		if (ret)
			return ret;
	}

	ret = vm_config_validate(cfg, &err);
	if (ret)
		return report_invalid(&err);
	vm_config_complete(cfg);
	return CLI_RUN;
}

int cli_parse(int argc, char *const argv[], struct vm_config *cfg, FILE *out)
{
	return cli_parse_vmm(argc, argv, cfg, NULL, out);
}

int cli_parse_vmm(int argc, char *const argv[], struct vm_config *cfg, struct vmm_opts *opts,
		  FILE *out)
{
	vm_config_init(cfg);

	if (argc < 2) {
		pr_err("no command given (see arkvm --help)");
		return -EINVAL;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		print_help(out);
		return CLI_DONE;
	}
	if (!strcmp(argv[1], "--version")) {
		fprintf(out, "arkvm %s\n", ARKVM_VERSION);
		return CLI_DONE;
	}
	if (strcmp(argv[1], "run")) {
		pr_err("unknown command '%s' (see arkvm --help)", argv[1]);
		return -EINVAL;
	}
	return parse_run(argc - 2, argv + 2, cfg, opts, out);
}
