// SPDX-License-Identifier: Apache-2.0
/*
 * The device options of `arkvm run` (--disk, --net, --rng-bw, --vsock,
 * --balloon, --share): each parses its comma-separated items into the
 * config and prints one line when it cannot.  The option table and the
 * rest of the command line are src/cli.c's.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "cli_int.h"
#include "log.h"
#include "rate_limiter.h"

/* One of --disk's own items other than the path: 0, or -EINVAL when it is none. */
static int disk_item(struct disk_config *d, const char *item, size_t len)
{
	char cache[16], format[8];
	int ret;

	if ((len == 8 && !strncmp(item, "readonly", 8)) || (len == 2 && !strncmp(item, "ro", 2))) {
		d->readonly = true;
		return 0;
	}
	if (len == 9 && !strncmp(item, "ephemeral", 9)) {
		d->ephemeral = true;
		return 0;
	}
	if (item_value(item, len, "format", format, sizeof(format))) {
		if (strcmp(format, "raw") && strcmp(format, "qcow2"))
			return -EINVAL;
		d->format = !strcmp(format, "raw") ? DISK_FORMAT_RAW : DISK_FORMAT_QCOW2;
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

/* --disk PATH[,format=F][,ephemeral][,readonly][,serial=S][,id=ID][,cache=C][,bw=RATE][,iops=N] */
int cli_set_disk(struct vm_config *cfg, const char *name, const char *arg)
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
			pr_err("--%s '%s': bad disk option '%.*s' (format=raw|qcow2, ephemeral, "
			       "readonly, serial=S of up to %d bytes, id=ID, cache=unsafe|writeback, "
			       "bw=BYTES/s like 4M, iops=N)",
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
int cli_set_net(struct vm_config *cfg, const char *name, const char *arg)
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
int cli_set_rng_bw(struct vm_config *cfg, const char *name, const char *arg)
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
int cli_set_vsock(struct vm_config *cfg, const char *name, const char *arg)
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
int cli_set_balloon(struct vm_config *cfg, const char *name, const char *arg)
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
int cli_set_share(struct vm_config *cfg, const char *name, const char *arg)
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
