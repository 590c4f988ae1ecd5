// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "cli.h"
#include "log.h"

struct cli_option {
	const char *name;
	const char *metavar;    /* NULL: the option takes no value */
	const char *help;
	bool repeatable;
	int (*set)(struct vm_config *cfg, const char *name, const char *arg);
};

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

static int set_kernel(struct vm_config *cfg, const char *name __unused, const char *arg)
{
	cfg->kernel = arg;
	return 0;
}

static int set_initrd(struct vm_config *cfg, const char *name __unused, const char *arg)
{
	cfg->initrd = arg;
	return 0;
}

static int set_cmdline(struct vm_config *cfg, const char *name, const char *arg)
{
	if (strlen(arg) > CFG_MAX_CMDLINE) {
		pr_err("--%s: the command line is longer than %d bytes", name, CFG_MAX_CMDLINE);
		return -EINVAL;
	}
	cfg->cmdline = arg;
	return 0;
}

static int set_cpus(struct vm_config *cfg, const char *name, const char *arg)
{
	unsigned int n;

	if (parse_uint(arg, &n)) {
		pr_err("--%s '%s': not a number of vCPUs", name, arg);
		return -EINVAL;
	}
	if (n == 0) {
		pr_err("--%s 0: a VM needs at least one vCPU", name);
		return -EINVAL;
	}
	cfg->nr_cpus = n;
	return 0;
}

static int set_memory(struct vm_config *cfg, const char *name, const char *arg)
{
	u64 size;

	if (parse_size(arg, &size)) {
		pr_err("--%s '%s': not a size (write it like 256M or 2G)", name, arg);
		return -EINVAL;
	}
	if (size < CFG_MIN_MEMORY) {
		pr_err("--%s %s: too small, a guest needs at least %lluM", name, arg,
		       (unsigned long long)(CFG_MIN_MEMORY / SZ_1M));
		return -EINVAL;
	}
	if (!IS_ALIGNED(size, SZ_2M)) {
		pr_err("--%s %s: must be a multiple of 2M", name, arg);
		return -EINVAL;
	}
	cfg->mem_size = size;
	return 0;
}

static int set_dump_dtb(struct vm_config *cfg, const char *name __unused, const char *arg)
{
	cfg->dump_dtb = arg;
	return 0;
}

/* --disk PATH[,readonly][,serial=S] */
static int set_disk(struct vm_config *cfg, const char *name, const char *arg)
{
	struct disk_config *d = &cfg->disks[cfg->nr_disks];
	char *copy, *opt, *save = NULL;

	if (cfg->nr_disks == CFG_MAX_DISKS) {
		pr_err("--%s: at most %d disks", name, CFG_MAX_DISKS);
		return -EINVAL;
	}
	copy = strdup(arg); /* lives as long as the config */
	if (!copy)
		return -ENOMEM;
	d->path = strtok_r(copy, ",", &save);
	if (!d->path || !*d->path || *arg == ',') {
		pr_err("--%s '%s': no disk file given", name, arg);
		return -EINVAL;
	}
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (!strcmp(opt, "readonly") || !strcmp(opt, "ro")) {
			d->readonly = true;
		} else if (!strncmp(opt, "serial=", 7) && strlen(opt + 7) <= CFG_MAX_SERIAL) {
			d->serial = opt + 7;
		} else {
			pr_err("--%s '%s': unknown disk option '%s' (readonly, serial=S of up to %d bytes)",
			       name, arg, opt, CFG_MAX_SERIAL);
			return -EINVAL;
		}
	}
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		if (!strcmp(cfg->disks[i].path, d->path)) {
			pr_err("--%s: disk '%s' given twice", name, d->path);
			return -EINVAL;
		}
	}
	cfg->nr_disks++;
	return 0;
}

static const struct cli_option run_options[] = {
	{ "kernel", "PATH", "arm64 Linux Image, plain or gzip-compressed (required)", false, set_kernel },
	{ "initrd", "PATH", "initramfs or initrd, loaded after the kernel", false, set_initrd },
	{ "cmdline", "STR", "kernel command line", false, set_cmdline },
	{ "cpus", "N", "number of vCPUs (default 1)", false, set_cpus },
	{ "memory", "SIZE", "guest RAM, like 256M or 2G (default 256M)", false, set_memory },
	{ "disk", "PATH[,readonly][,serial=S]", "a virtio-blk disk (repeat for vdb, vdc, ...)",
	  true, set_disk },
	{ "dump-dtb", "FILE", "write the guest device tree to FILE and exit", false, set_dump_dtb },
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
		char left[48];

		snprintf(left, sizeof(left), "--%s %s", o->name, o->metavar ? o->metavar : "");
		fprintf(out, "  %-34s %s\n", left, o->help);
	}
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

static int parse_run(int argc, char *const argv[], struct vm_config *cfg, FILE *out)
{
	bool seen[ARRAY_SIZE(run_options)] = { false };
	int i;

	for (i = 0; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *value;
		const struct cli_option *o;
		size_t name_len;
		int ret;

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

		if (eq) {
			value = eq + 1;
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

	if (!cfg->kernel) {
		pr_err("no kernel: give one with --kernel PATH");
		return -EINVAL;
	}
	return CLI_RUN;
}

int cli_parse(int argc, char *const argv[], struct vm_config *cfg, FILE *out)
{
	*cfg = (struct vm_config){
		.nr_cpus = CFG_DEFAULT_CPUS,
		.mem_size = CFG_DEFAULT_MEMORY,
		.cmdline = "",
	};

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
	return parse_run(argc - 2, argv + 2, cfg, out);
}
