// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm exec's command line, and what it turns into: the VM's config
 * (built by arkvm run's own parser, so that every value is checked the
 * same way) and the RUN the agent gets.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "exec.h"
#include "log.h"

static const char exec_usage[] =
	"Usage: arkvm exec [--kernel K] [--modules DIR] (--rootfs DIR | --image FILE)\n"
	"                  [--share HOST[:GUEST][,readonly]]... [--workdir DIR] [--env K=V]...\n"
	"                  [--user UID[:GID]] [--cpus N] [--memory SIZE] [--net user[,...]]\n"
	"                  [--timeout SECONDS] [--tty] [--warm CACHE_DIR] -- COMMAND [ARGS...]\n"
	"Runs COMMAND in a fresh microVM and exits with its status: 128+N for signal N,\n"
	"124 when --timeout expired, 125 when arkvm or the VM failed before the command\n"
	"ran, 126 not executable, 127 not found.  The kernel defaults to $ARKVM_KERNEL,\n"
	"else the one `make guest-kernel` built; a modular kernel needs --modules\n"
	"/lib/modules/VERSION.  --image is always ephemeral: the image is never written.\n"
	"--warm: the first run snapshots the VM once its agent waits, into CACHE_DIR;\n"
	"later runs of the same kernel, root and machine restore it instead of booting.\n";

struct exec_flag {
	const char *name;
	bool value;             /* takes a value */
	int (*set)(struct exec_opts *o, const char *v);
};

static int set_str(const char **dst, const char *name, const char *v)
{
	if (*dst) {
		pr_err("exec: --%s given twice", name);
		return -EINVAL;
	}
	if (!*v) {
		pr_err("exec: --%s needs a value", name);
		return -EINVAL;
	}
	*dst = v;
	return 0;
}

#define STR_FLAG(field)                                             \
	static int set_##field(struct exec_opts *o, const char *v) \
	{                                                           \
		return set_str(&o->field, #field, v);               \
	}
STR_FLAG(kernel)
STR_FLAG(modules)
STR_FLAG(rootfs)
STR_FLAG(image)
STR_FLAG(workdir)
STR_FLAG(memory)

STR_FLAG(warm)

static int set_tty(struct exec_opts *o, const char *v)
{
	o->tty = true;
	return 0;
}

static int set_net(struct exec_opts *o, const char *v)
{
	if (strncmp(v, "user", 4) || (v[4] && v[4] != ',')) {
		pr_err("exec: --net '%s': only user[,tcp=H:G][,udp=H:G]... (passt)", v);
		return -EINVAL;
	}
	return set_str(&o->net, "net", v);
}

static int set_number(unsigned int *dst, const char *name, const char *v)
{
	if (parse_uint(v, dst) || !*dst) {
		pr_err("exec: --%s '%s': give a number above 0", name, v);
		return -EINVAL;
	}
	return 0;
}

static int set_cpus(struct exec_opts *o, const char *v)
{
	return set_number(&o->cpus, "cpus", v);
}

static int set_timeout(struct exec_opts *o, const char *v)
{
	return set_number(&o->timeout_s, "timeout", v);
}

static int set_env(struct exec_opts *o, const char *v)
{
	const char *eq = strchr(v, '=');

	if (!eq || eq == v || memchr(v, '\n', strlen(v))) {
		pr_err("exec: --env '%s': give NAME=VALUE", v);
		return -EINVAL;
	}
	if (o->nr_env == EXEC_MAX_OPT_ENV) {
		pr_err("exec: at most %d --env", EXEC_MAX_OPT_ENV);
		return -EINVAL;
	}
	o->env[o->nr_env++] = v;
	return 0;
}

/* UID[:GID]; the group is the uid's number when not given. */
static int set_user(struct exec_opts *o, const char *v)
{
	char buf[32];
	char *colon;
	unsigned int uid, gid;

	if (strlen(v) >= sizeof(buf))
		goto bad;
	strcpy(buf, v);
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (parse_uint(buf, &uid) || (colon && parse_uint(colon + 1, &gid)))
		goto bad;
	o->has_user = true;
	o->uid = uid;
	o->gid = colon ? gid : uid;
	return 0;
bad:
	pr_err("exec: --user '%s': give UID[:GID] as numbers", v);
	return -EINVAL;
}

/* HOST[:GUEST][,readonly]; the guest path is absolute, the host one any. */
static int set_share(struct exec_opts *o, const char *v)
{
	struct exec_share *sh = &o->shares[o->nr_shares];
	const char *comma = strchr(v, ','), *colon;
	size_t len = comma ? (size_t)(comma - v) : strlen(v), host_len;

	if (o->nr_shares == EXEC_MAX_SHARES) {
		pr_err("exec: at most %d --share", EXEC_MAX_SHARES);
		return -EINVAL;
	}
	memset(sh, 0, sizeof(*sh));
	if (comma && strcmp(comma, ",readonly")) {
		pr_err("exec: --share '%s': the only option is ,readonly (no commas in paths)", v);
		return -EINVAL;
	}
	sh->readonly = comma != NULL;
	colon = memchr(v, ':', len);
	host_len = colon ? (size_t)(colon - v) : len;
	if (!host_len || host_len > CFG_MAX_PATH || (colon && (colon[1] != '/' ||
	    len - host_len - 1 > CFG_MAX_PATH))) {
		pr_err("exec: --share '%s': give HOST[:GUEST] with an absolute GUEST path", v);
		return -EINVAL;
	}
	memcpy(sh->host, v, host_len);
	if (colon) {
		memcpy(sh->guest, colon + 1, len - host_len - 1);
	} else if (!realpath(sh->host, sh->guest)) {
		pr_err("exec: --share '%s': %s", sh->host, strerror(errno));
		return -EINVAL;
	}
	o->nr_shares++;
	return 0;
}

static const struct exec_flag exec_flags[] = {
	{ "kernel", true, set_kernel },
	{ "modules", true, set_modules },
	{ "rootfs", true, set_rootfs },
	{ "image", true, set_image },
	{ "share", true, set_share },
	{ "workdir", true, set_workdir },
	{ "env", true, set_env },
	{ "user", true, set_user },
	{ "cpus", true, set_cpus },
	{ "memory", true, set_memory },
	{ "net", true, set_net },
	{ "timeout", true, set_timeout },
	{ "tty", false, set_tty },
	{ "warm", true, set_warm },
};

static const struct exec_flag *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(exec_flags); i++)
		if (strlen(exec_flags[i].name) == len && !strncmp(exec_flags[i].name, name, len))
			return &exec_flags[i];
	return NULL;
}

/* One "--flag[=value]" at argv[*i]: 0, or -EINVAL (said). */
static int parse_flag(int argc, char *const argv[], int *i, struct exec_opts *o)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct exec_flag *f = find_flag(name, len);

	if (!f) {
		pr_err("exec: unknown option '%s' (see arkvm exec --help)", argv[*i]);
		return -EINVAL;
	}
	if (!f->value) {
		if (eq) {
			pr_err("exec: --%s takes no value", f->name);
			return -EINVAL;
		}
		return f->set(o, NULL);
	}
	if (!eq && *i + 1 >= argc) {
		pr_err("exec: --%s needs a value", f->name);
		return -EINVAL;
	}
	return f->set(o, eq ? eq + 1 : argv[++*i]);
}

/* $ARKVM_KERNEL, else make guest-kernel's Image in the cache, if there is one. */
static const char *default_kernel(void)
{
	static char path[CFG_MAX_PATH + 1];
	const char *env = getenv("ARKVM_KERNEL"), *cache = getenv("ARKVM_CACHE");
	const char *home = getenv("HOME");

	if (env && *env)
		return env;
	if (cache && *cache)
		snprintf(path, sizeof(path), "%s/guest-kernel/Image", cache);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/.cache/arkvm/guest-kernel/Image", home);
	else
		return NULL;
	return access(path, R_OK) ? NULL : path;
}

static int check_opts(struct exec_opts *o)
{
	if (!o->argc) {
		pr_err("exec: no command given (arkvm exec [options] -- COMMAND [ARGS...])");
		return -EINVAL;
	}
	if (!o->rootfs == !o->image) {
		pr_err("exec: give the root as --rootfs DIR or --image FILE (one of them)");
		return -EINVAL;
	}
	if (o->argc > EXEC_MAX_ARGS || o->nr_env > EXEC_MAX_ENV) {
		pr_err("exec: too many arguments (at most %d)", EXEC_MAX_ARGS);
		return -EINVAL;
	}
	if (!o->kernel)
		o->kernel = default_kernel();
	if (!o->kernel) {
		pr_err("exec: no kernel: give --kernel K or set ARKVM_KERNEL (or run make guest-kernel)");
		return -EINVAL;
	}
	return 0;
}

int exec_parse(int argc, char *const argv[], struct exec_opts *o, FILE *out)
{
	int i, ret;

	memset(o, 0, sizeof(*o));
	for (i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(exec_usage, out);
			return EXEC_PARSE_HELP;
		}
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (strncmp(a, "--", 2))
			break;          /* the command */
		ret = parse_flag(argc, argv, &i, o);
		if (ret)
			return ret;
	}
	o->argv = argv + i;
	o->argc = (unsigned int)(argc - i);
	return check_opts(o);
}

void exec_share_tag(unsigned int i, char tag[8])
{
	snprintf(tag, 8, "s%u", i);
}

/* The arguments arkvm run's parser gets, in @sc's strings. */
struct exec_argv {
	char *argv[16 + 2 * CFG_MAX_SHARES];
	int argc;
	char cmdline[CFG_MAX_CMDLINE + 1];
	char vsock[CFG_VSOCK_MAX_PATH + 32];
	char disk[CFG_MAX_PATH + 16];
	char shares[CFG_MAX_SHARES][CFG_MAX_PATH + 32];
	char cpus[16];
};

static void add_arg(struct exec_argv *a, const char *flag, const char *value)
{
	a->argv[a->argc++] = (char *)flag;
	a->argv[a->argc++] = (char *)value;
}

static int build_argv(const struct exec_opts *o, const char *initrd, const char *vsock_path,
		      struct exec_argv *a)
{
	unsigned int n = 0;

	a->argc = 0;
	a->argv[a->argc++] = (char *)"arkvm";
	a->argv[a->argc++] = (char *)"run";
	add_arg(a, "--kernel", o->kernel);
	add_arg(a, "--initrd", initrd);
	/* panic=-1: a guest that panics resets, and the VM ends, rather than hangs. */
	snprintf(a->cmdline, sizeof(a->cmdline), "quiet panic=-1 arkvm.root=%s",
		 o->rootfs ? "virtiofs:" EXEC_ROOT_TAG : "blk:/dev/vda");
	add_arg(a, "--cmdline", a->cmdline);
	if (snprintf(a->vsock, sizeof(a->vsock), "cid=3,socket=%s", vsock_path) >=
	    (int)sizeof(a->vsock))
		return -ENAMETOOLONG;
	add_arg(a, "--vsock", a->vsock);
	if (o->rootfs) {
		if (strchr(o->rootfs, ','))
			return -EINVAL;
		snprintf(a->shares[n], sizeof(a->shares[n]), "%s,tag=" EXEC_ROOT_TAG, o->rootfs);
		add_arg(a, "--share", a->shares[n++]);
	} else {
		if (strchr(o->image, ','))
			return -EINVAL;
		snprintf(a->disk, sizeof(a->disk), "%s,ephemeral", o->image);
		add_arg(a, "--disk", a->disk);
	}
	for (unsigned int i = 0; i < o->nr_shares; i++, n++) {
		char tag[8];

		exec_share_tag(i, tag);
		snprintf(a->shares[n], sizeof(a->shares[n]), "%s,tag=%s%s", o->shares[i].host,
			 tag, o->shares[i].readonly ? ",readonly" : "");
		add_arg(a, "--share", a->shares[n]);
	}
	return 0;
}

int exec_vm_config(const struct exec_opts *o, const char *initrd, const char *vsock_path,
		   struct vm_config *cfg)
{
	struct exec_argv *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return -ENOMEM;
	ret = build_argv(o, initrd, vsock_path, a);
	if (ret) {
		pr_err("exec: %s", ret == -ENAMETOOLONG ? "$TMPDIR is too long for the vsock socket's path"
			: "no commas in --rootfs or --image paths, please");
		goto out;
	}
	if (o->cpus) {
		snprintf(a->cpus, sizeof(a->cpus), "%u", o->cpus);
		add_arg(a, "--cpus", a->cpus);
	}
	if (o->memory)
		add_arg(a, "--memory", o->memory);
	if (o->net)
		add_arg(a, "--net", o->net);
	ret = cli_parse(a->argc, a->argv, cfg, stderr) == CLI_RUN ? 0 : -EINVAL;
out:
	free(a);
	return ret;
}

void exec_make_run(const struct exec_opts *o, struct exec_run *run,
		   struct exec_run_scratch *scratch)
{
	memset(run, 0, sizeof(*run));
	for (unsigned int i = 0; i < o->argc; i++)
		run->argv[run->argc++] = o->argv[i];
	for (unsigned int i = 0; i < o->nr_env; i++)
		run->envp[run->envc++] = o->env[i];
	run->cwd = o->workdir;
	run->uid = o->uid;
	run->gid = o->gid;
	run->tty = o->tty;
	for (unsigned int i = 0; i < o->nr_shares && i < EXEC_MAX_MOUNTS; i++) {
		struct exec_mount *m = &run->mounts[run->nr_mounts++];

		exec_share_tag(i, scratch->tags[i]);
		m->tag = scratch->tags[i];
		m->path = o->shares[i].guest;
		m->readonly = o->shares[i].readonly;
	}
}
