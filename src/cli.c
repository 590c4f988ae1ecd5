// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "cli_int.h"
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

int parse_digits(const char *s, u64 limit, u64 *out, const char **end)
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

/* --irqchip auto|gicv2|gicv3 */
static int set_irqchip(struct vm_config *cfg, const char *name, const char *arg)
{
	if (!strcmp(arg, "auto"))
		cfg->irqchip = IRQCHIP_AUTO;
	else if (!strcmp(arg, "gicv2"))
		cfg->irqchip = IRQCHIP_GICV2;
	else if (!strcmp(arg, "gicv3"))
		cfg->irqchip = IRQCHIP_GICV3;
	else {
		pr_err("--%s '%s': not an interrupt controller (auto, gicv2 or gicv3)", name, arg);
		return -EINVAL;
	}
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
bool next_item(const char **p, const char **item, size_t *len)
{
	if (!*p)
		return false;
	*item = *p;
	*len = strcspn(*p, ",");
	*p = (*p)[*len] ? *p + *len + 1 : NULL;
	return true;
}

/* Copies the value of an item "key=value" into @buf (@size bytes), if it is one. */
bool item_value(const char *item, size_t len, const char *key, char *buf, size_t size)
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
int parse_rate(const char *s, bool bytes, u64 *out)
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
int rate_item(const char *item, size_t len, const char *key, bool bytes,
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

/* One of --cpus's topology items: 0, or -EINVAL when it is none. */
static int topology_item(struct cpu_topology_config *t, const char *item, size_t len)
{
	static const char *const keys[] = { "sockets", "clusters", "cores", "threads" };
	unsigned int *dsts[] = { &t->sockets, &t->clusters, &t->cores, &t->threads };
	char num[16];

	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		if (item_value(item, len, keys[k], num, sizeof(num)))
			return parse_uint(num, dsts[k]) || !*dsts[k] ? -EINVAL : 0;
	return -EINVAL;
}

/*
 * --cpus N[,sockets=S][,clusters=C][,cores=K][,threads=T]: with any of
 * them, the rest default to 1 socket, 1 cluster, 1 thread, and as many
 * cores as make N (vm_config_validate() checks that the product is N).
 */
static int set_cpus(struct vm_config *cfg, const char *name, const char *arg)
{
	struct cpu_topology_config t = { 0 };
	const char *p = arg, *item = arg;
	char num[16];
	size_t len = 0;
	unsigned int n;

	next_item(&p, &item, &len);
	if (len < sizeof(num)) {
		memcpy(num, item, len);
		num[len] = '\0';
	}
	if (len >= sizeof(num) || parse_uint(num, &n)) {
		pr_err("--%s '%s': not a number of vCPUs", name, arg);
		return -EINVAL;
	}
	cfg->nr_cpus = n;
	if (!p)
		return 0;
	while (next_item(&p, &item, &len)) {
		if (topology_item(&t, item, len)) {
			pr_err("--%s '%s': bad topology option '%.*s' (sockets=S, clusters=C, cores=K, "
			       "threads=T, each 1 or more)", name, arg, (int)len, item);
			return -EINVAL;
		}
	}
	t.sockets = t.sockets ? t.sockets : 1;
	t.clusters = t.clusters ? t.clusters : 1;
	t.threads = t.threads ? t.threads : 1;
	if (!t.cores) {
		unsigned int rest = t.sockets * t.clusters * t.threads;

		t.cores = n % rest ? 1 : n / rest;
	}
	cfg->topology = t;
	return 0;
}

/* "on" or "off" into @mode. */
static int parse_on_off(const char *s, enum cpu_feature_mode *mode)
{
	if (!strcmp(s, "on"))
		*mode = CPU_FEATURE_ON;
	else if (!strcmp(s, "off"))
		*mode = CPU_FEATURE_OFF;
	else
		return -EINVAL;
	return 0;
}

/* One of --cpu-features's items: 0, or -EINVAL when it is none. */
static int cpu_feature_item(struct cpu_features_config *f, const char *item, size_t len)
{
	static const char *const keys[] = { "sve", "pauth", "pmu", "steal-time" };
	enum cpu_feature_mode *dsts[] = { &f->sve, &f->pauth, &f->pmu, &f->steal_time };
	char val[16];

	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		if (item_value(item, len, keys[k], val, sizeof(val)))
			return parse_on_off(val, dsts[k]);
	if (item_value(item, len, "sve-max-vl", val, sizeof(val)))
		return parse_uint(val, &f->sve_max_vl) || !f->sve_max_vl ? -EINVAL : 0;
	return -EINVAL;
}

/* --cpu-features sve=on|off,sve-max-vl=BITS,pauth=on|off,pmu=on|off,steal-time=on|off */
static int set_cpu_features(struct vm_config *cfg, const char *name, const char *arg)
{
	const char *p = arg, *item = arg;
	size_t len;

	while (next_item(&p, &item, &len)) {
		if (cpu_feature_item(&cfg->cpu_features, item, len)) {
			pr_err("--%s '%s': bad option '%.*s' (sve=on|off, sve-max-vl=BITS, pauth=on|off, "
			       "pmu=on|off, steal-time=on|off)", name, arg, (int)len, item);
			return -EINVAL;
		}
	}
	return 0;
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
	{ "cpus", "N[,sockets=S][,clusters=C][,cores=K][,threads=T]",
	  "number of vCPUs (default 1); a topology (S*C*K*T = N) goes into the device tree's "
	  "cpu-map and each vCPU's MPIDR (default: N cores, no cpu-map)", false, set_cpus },
	{ "cpu-features", "LIST",
	  "sve=on|off, sve-max-vl=BITS, pauth=on|off, pmu=on|off, steal-time=on|off, comma "
	  "separated; each is on where the host's KVM offers it, off where not; 'on' refuses "
	  "a host without it", false, set_cpu_features },
	{ "memory", "SIZE[,hugepages][,prefault][,track-dirty]",
	  "guest RAM, like 256M or 2G (default 256M), on 2M hugepages, touched up front, its dirty pages tracked (diff snapshots)",
	  false, set_memory },
	{ "disk", "PATH[,format=F][,ephemeral][,readonly][,serial=S][,id=ID][,cache=C][,bw=RATE][,iops=N]",
	  "a virtio-blk disk (repeat for vdb, vdc, ...): a raw or qcow2 image, told apart by "
	  "its header unless format=raw|qcow2 says; ephemeral: the guest's writes go to a "
	  "private overlay deleted at exit; id names it for the API; cache=unsafe offers no flush (default writeback); bw: bytes/s, a bare number is "
	  "bytes, K/M/G are KiB/MiB/GiB; iops: requests/s",
	  true, cli_set_disk },
	{ "net", "tap=NAME|user|passt=SOCKET[,mac=MAC][,vhost][,id=ID][,rx-bw=RATE][,tx-bw=RATE][,rx-pps=N][,tx-pps=N]",
	  "a virtio-net NIC (repeat for eth1, ...) on an existing tap, or on user-mode "
	  "networking through passt without privileges: user starts passt from PATH "
	  "(add tcp=HOSTPORT:GUESTPORT or udp=... to forward a host port to the guest), "
	  "passt=SOCKET connects to a running one; vhost: the host kernel's vhost-net moves "
	  "a tap's packets; rx/tx-bw: bytes/s to/from the guest (as --disk bw), rx/tx-pps: "
	  "packets/s (not with vhost)",
	  true, cli_set_net },
	{ "rng-bw", "RATE", "limit the entropy device to RATE bytes/s (as --disk bw)",
	  false, cli_set_rng_bw },
	{ "vsock", "cid=N,socket=PATH",
	  "a virtio-vsock for guest CID N: host programs connect to PATH and write "
	  "'CONNECT <port>\\n'; the guest's connections to CID 2 port P reach PATH_P",
	  false, cli_set_vsock },
	{ "balloon", "[size=MiB][,deflate-on-oom][,free-page-reporting][,stats=SECONDS]",
	  "a virtio-balloon asking the guest for MiB of its RAM back (default 0); "
	  "deflate-on-oom: the guest takes pages back when it runs out; free-page-reporting: "
	  "pages it frees go back to the host; stats: ask its memory statistics every SECONDS",
	  false, cli_set_balloon },
	{ "share", "DIR,tag=TAG[,readonly][,cache=auto|always|never][,uid-map=H:G][,gid-map=H:G]",
	  "share the host directory DIR with the guest over virtio-fs (repeat for more): "
	  "mount -t virtiofs TAG /mnt, or boot it as root with rootfstype=virtiofs root=TAG; "
	  "readonly refuses every change; cache: how long the guest trusts what it read "
	  "(always: nothing else changes DIR; never: the host does too; default auto); "
	  "uid-map/gid-map: host id H shows as guest id G (1000:0 shows you as root)",
	  true, cli_set_share },
	{ "console", "serial|virtio", "guest console: the UART (ttyS0, default) or virtio (hvc0)",
	  false, set_console },
	{ "gpu", "2d|virgl[,width=W,height=H]",
	  "a virtio-gpu with one display (default 1024x768); virgl adds 3D", false, set_gpu },
	{ "display", "vnc=ADDR:PORT",
	  "with --gpu: serve the display over VNC, with a keyboard and tablet for the viewer",
	  false, set_display },
	{ "screenshot", "FILE", "with --gpu: write the display as PNG on SIGUSR1 and at exit",
	  false, set_screenshot },
	{ "irqchip", "auto|gicv2|gicv3",
	  "the guest's interrupt controller: KVM's GICv3 where the host offers one, else "
	  "its GICv2 (auto, default; a GICv2 serves at most 8 vCPUs)", false, set_irqchip },
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
