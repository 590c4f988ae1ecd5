// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker's command line, as its clients pass it: firecracker-go-sdk
 * ("--api-sock S --id ID --no-seccomp"), firectl ("--api-sock S"), and
 * the jailer (the start-time flags).  "--name value" and "--name=value".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "fc_cli.h"
#include "log.h"

#define FC_VERSION "1.10.0"

enum fc_arg { FC_NONE, FC_PATH, FC_STR, FC_U64 };

struct fc_flag {
	const char *name;
	enum fc_arg arg;
	const char *help;
	int (*set)(struct fc_cli *cli, const char *value);
};

static int set_path(char *dst, size_t size, const char *name, const char *value)
{
	if (!*value || strlen(value) >= size) {
		pr_err("--%s: give a path (at most %zu bytes)", name, size - 1);
		return -EINVAL;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int parse_u64(const char *name, const char *value, u64 *out)
{
	char *end;

	errno = 0;
	if (*value < '0' || *value > '9' || ((*out = strtoull(value, &end, 10)), errno) || *end) {
		pr_err("--%s: '%s' is not a number", name, value);
		return -EINVAL;
	}
	return 0;
}

static int set_api_sock(struct fc_cli *c, const char *v)
{
	return set_path(c->opts.api_sock, sizeof(c->opts.api_sock), "api-sock", v);
}

static int set_id(struct fc_cli *c, const char *v)
{
	size_t len = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");

	if (!len || len > CFG_MAX_ID || v[len]) {
		pr_err("--id '%s': use 1 to %d letters, digits or '-'", v, CFG_MAX_ID);
		return -EINVAL;
	}
	memcpy(c->opts.id, v, len + 1);
	return 0;
}

static int set_config_file(struct fc_cli *c, const char *v)
{
	return set_path(c->opts.config_file, sizeof(c->opts.config_file), "config-file", v);
}

static int set_no_api(struct fc_cli *c, const char *v)
{
	c->no_api = true;
	return 0;
}

static int set_no_seccomp(struct fc_cli *c, const char *v)
{
	c->no_seccomp = true;
	return 0;
}

static int set_seccomp_filter(struct fc_cli *c, const char *v)
{
	pr_err("--seccomp-filter: arkvm builds its own per-thread filters and takes no BPF "
	       "file (--no-seccomp turns them off)");
	return -EINVAL;
}

static int set_boot_timer(struct fc_cli *c, const char *v)
{
	c->boot_timer = true;
	return 0;
}

static int set_log_path(struct fc_cli *c, const char *v)
{
	c->opts.log.set = true;
	return set_path(c->opts.log.path, sizeof(c->opts.log.path), "log-path", v);
}

static int set_level(struct fc_cli *c, const char *v)
{
	static const char *const levels[] = { "Off", "Error", "Warning", "Info", "Debug", "Trace" };

	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (!strcasecmp(levels[i], v)) {
			snprintf(c->opts.log.level, sizeof(c->opts.log.level), "%s", levels[i]);
			c->opts.log.set = true;
			return 0;
		}
	pr_err("--level '%s': one of Off, Error, Warning, Info, Debug, Trace", v);
	return -EINVAL;
}

static int set_show_level(struct fc_cli *c, const char *v)
{
	c->opts.log.show_level = true;
	return 0;
}

static int set_show_origin(struct fc_cli *c, const char *v)
{
	c->opts.log.show_origin = true;
	return 0;
}

static int set_metrics_path(struct fc_cli *c, const char *v)
{
	c->opts.metrics.set = true;
	return set_path(c->opts.metrics.path, sizeof(c->opts.metrics.path), "metrics-path", v);
}

static int set_max_payload(struct fc_cli *c, const char *v)
{
	u64 n;

	if (parse_u64("http-api-max-payload-size", v, &n))
		return -EINVAL;
	if (n < 1024 || n > 64 * SZ_1M) {
		pr_err("--http-api-max-payload-size: %llu is outside 1024 to %llu bytes",
		       (unsigned long long)n, (unsigned long long)(64 * SZ_1M));
		return -EINVAL;
	}
	c->opts.max_payload = (size_t)n;
	return 0;
}

static int set_start_us(struct fc_cli *c, const char *v)
{
	return parse_u64("start-time-us", v, &c->opts.start_time_us);
}

static int set_start_cpu_us(struct fc_cli *c, const char *v)
{
	return parse_u64("start-time-cpu-us", v, &c->opts.start_time_cpu_us);
}

static int set_parent_cpu_us(struct fc_cli *c, const char *v)
{
	return parse_u64("parent-cpu-time-us", v, &c->opts.parent_cpu_time_us);
}

static const struct fc_flag fc_flags[] = {
	{ "api-sock", FC_PATH, "the API's unix socket (default " VMM_DEFAULT_API_SOCK ")",
	  set_api_sock },
	{ "id", FC_STR, "the microVM's id (default " VMM_DEFAULT_ID ")", set_id },
	{ "config-file", FC_PATH, "boot the VM this JSON file describes", set_config_file },
	{ "no-api", FC_NONE, "serve no API (needs --config-file)", set_no_api },
	{ "no-seccomp", FC_NONE, "no syscall filters", set_no_seccomp },
	{ "seccomp-filter", FC_PATH, "refused: arkvm's filters are built in", set_seccomp_filter },
	{ "boot-timer", FC_NONE, "the boot timer device", set_boot_timer },
	{ "log-path", FC_PATH, "write the log there (a file or FIFO)", set_log_path },
	{ "level", FC_STR, "log level: Error, Warning, Info (default), Debug, Trace, Off",
	  set_level },
	{ "show-level", FC_NONE, "put the level in each log line", set_show_level },
	{ "show-log-origin", FC_NONE, "put the file and line in each log line", set_show_origin },
	{ "metrics-path", FC_PATH, "write metrics there (a file or FIFO)", set_metrics_path },
	{ "http-api-max-payload-size", FC_U64, "the largest request body (default 51200)",
	  set_max_payload },
	{ "start-time-us", FC_U64, "the jailer's start time", set_start_us },
	{ "start-time-cpu-us", FC_U64, "the jailer's CPU time at start", set_start_cpu_us },
	{ "parent-cpu-time-us", FC_U64, "the jailer's parent's CPU time", set_parent_cpu_us },
};

static const struct fc_flag *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(fc_flags); i++)
		if (strlen(fc_flags[i].name) == len && !strncmp(fc_flags[i].name, name, len))
			return &fc_flags[i];
	return NULL;
}

bool fc_cli_wanted(int argc, char *const argv[])
{
	const char *slash = argc ? strrchr(argv[0], '/') : NULL;
	const char *base = slash ? slash + 1 : argc ? argv[0] : "";

	if (!strcmp(base, "firecracker"))
		return true;
	if (argc < 2 || strncmp(argv[1], "--", 2))
		return false;
	return find_flag(argv[1] + 2, strcspn(argv[1] + 2, "=")) != NULL;
}

static void fc_help(FILE *out)
{
	fprintf(out, "Usage: firecracker [--api-sock PATH] [--config-file FILE [--no-api]] [options]\n"
		"arkvm, driven through Firecracker's command line and REST API.\n\nOptions:\n");
	for (size_t i = 0; i < ARRAY_SIZE(fc_flags); i++) {
		char left[48];

		snprintf(left, sizeof(left), "--%s%s", fc_flags[i].name,
			 fc_flags[i].arg == FC_NONE ? "" : fc_flags[i].arg == FC_U64 ? " N" : " VALUE");
		fprintf(out, "  %-34s %s\n", left, fc_flags[i].help);
	}
	fprintf(out, "  %-34s %s\n  %-34s %s\n", "--help", "this text", "--version",
		"the Firecracker API version arkvm implements");
	fprintf(out, "\nExit status: 0 guest powered off, 1 error, 2 guest reset, 3 guest crash,\n"
		"152 bad config file, 153 bad arguments, 128+N stopped by signal N.\n");
}

int fc_cli_parse(int argc, char *const argv[], struct fc_cli *cli, FILE *out)
{
	bool seen[ARRAY_SIZE(fc_flags)] = { false };
	bool api_sock = false;

	memset(cli, 0, sizeof(*cli));
	vmm_opts_init(&cli->opts);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *value = NULL;
		const struct fc_flag *f;
		size_t len;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fc_help(out);
			cli->done = true;
			return 0;
		}
		if (!strcmp(arg, "--version")) {
			fprintf(out, "Firecracker v%s (arkvm %s)\n", FC_VERSION, ARKVM_VERSION);
			cli->done = true;
			return 0;
		}
		if (strncmp(arg, "--", 2)) {
			pr_err("unexpected argument '%s' (see --help)", arg);
			return -EINVAL;
		}
		eq = strchr(arg + 2, '=');
		len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		f = find_flag(arg + 2, len);
		if (!f) {
			pr_err("unknown argument '%s' (see --help)", arg);
			return -EINVAL;
		}
		if (seen[f - fc_flags]) {
			pr_err("--%s given twice", f->name);
			return -EINVAL;
		}
		seen[f - fc_flags] = true;
		if (f->arg != FC_NONE) {
			if (!eq && i + 1 >= argc) {
				pr_err("--%s needs a value", f->name);
				return -EINVAL;
			}
			value = eq ? eq + 1 : argv[++i];
		} else if (eq) {
			pr_err("--%s takes no value", f->name);
			return -EINVAL;
		}
		if (f->set(cli, value))
			return -EINVAL;
		api_sock |= f->set == set_api_sock;
	}
	if (cli->no_api && !cli->opts.config_file[0]) {
		pr_err("--no-api needs --config-file: without either nothing could configure the VM");
		return -EINVAL;
	}
	if (cli->no_api && api_sock) {
		pr_err("--no-api and --api-sock contradict each other");
		return -EINVAL;
	}
	if (!cli->no_api && !api_sock)
		snprintf(cli->opts.api_sock, sizeof(cli->opts.api_sock), "%s", VMM_DEFAULT_API_SOCK);
	if (cli->no_api)
		cli->opts.api_sock[0] = '\0';
	return 0;
}
