// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm restore's command line: what PUT /snapshot/load asks, given from
 * the terminal.  Apart from main.c so the unit tests can reach it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "vmm.h"

static const char restore_usage[] =
	"Usage: arkvm restore --snapshot FILE (--mem FILE | --uffd SOCKET)\n"
	"                     [--net-override ID=TAP]... [--vsock-override PATH]\n"
	"                     [--share-override TAG=PATH[,readonly]]... [--api-sock PATH]\n"
	"                     [--paused] [--track-dirty-pages] [--no-seccomp]\n"
	"Resumes the VM a snapshot holds (PUT /snapshot/create wrote both files).\n"
	"Guest memory comes from the memory file (--mem), or from a page server\n"
	"listening on SOCKET (--uffd: Firecracker's Uffd backend, which gets the\n"
	"userfaultfd and the memory's layout over the socket and serves the faults).\n";

/* The value of "--name VALUE" / "--name=VALUE" at argv[*i], or NULL (said). */
static const char *restore_value(int argc, char *const argv[], int *i, const char *name)
{
	size_t len = strlen(name);
	const char *a = argv[*i] + 2;

	if (a[len] == '=')
		return a + len + 1;
	if (*i + 1 < argc)
		return argv[++*i];
	pr_err("--%s needs a value", name);
	return NULL;
}

static bool restore_flag(const char *arg, const char *name)
{
	size_t len = strlen(name);

	return !strncmp(arg, "--", 2) && !strncmp(arg + 2, name, len) &&
	       (arg[2 + len] == '\0' || arg[2 + len] == '=');
}

/* The flags whose value is a path, and where each one goes. */
enum { PATH_SNAPSHOT, PATH_MEM, PATH_UFFD, PATH_API_SOCK, PATH_VSOCK };

struct path_flag {
	const char *name;
	char *dst;
	size_t max;        /* the longest path @dst holds */
};

/* @arg's entry among the @n @paths, or NULL. */
static const struct path_flag *restore_path_flag(const struct path_flag *paths, size_t n,
						 const char *arg)
{
	for (size_t k = 0; k < n; k++)
		if (restore_flag(arg, paths[k].name))
			return &paths[k];
	return NULL;
}

/* @p's value at argv[*i] into its place: 0, or -EINVAL (said). */
static int restore_path(int argc, char *const argv[], int *i, const struct path_flag *p)
{
	const char *v = restore_value(argc, argv, i, p->name);

	if (!v)
		return -EINVAL;
	if (!*v || strlen(v) > p->max) {
		pr_err("--%s: give a path", p->name);
		return -EINVAL;
	}
	memcpy(p->dst, v, strlen(v) + 1);
	return 0;
}

/* --net-override ID=TAP into @rs's next network override: 0, or -EINVAL (said). */
static int restore_net_override(const char *v, struct vmm_restore *rs)
{
	const char *eq = strchr(v, '=');
	unsigned int n = rs->nr_overrides;

	if (n == CFG_MAX_NETS || !eq || eq == v || (size_t)(eq - v) > CFG_MAX_ID ||
	    !eq[1] || strlen(eq + 1) > CFG_MAX_IFNAME) {
		pr_err("--net-override '%s': give ID=TAP (at most %d)", v, CFG_MAX_NETS);
		return -EINVAL;
	}
	memcpy(rs->overrides[n].id, v, (size_t)(eq - v));
	memcpy(rs->overrides[n].tap, eq + 1, strlen(eq + 1) + 1);
	rs->nr_overrides++;
	return 0;
}

int vmm_restore_parse(int argc, char *const argv[], struct vmm_restore *rs,
		      struct vmm_opts *opts, bool *no_seccomp, FILE *out)
{
	const struct path_flag paths[] = {
		[PATH_SNAPSHOT] = { "snapshot", rs->snapshot, CFG_MAX_PATH },
		[PATH_MEM] = { "mem", rs->mem, CFG_MAX_PATH },
		/* The page server's socket goes where mem_backend's backend_path does. */
		[PATH_UFFD] = { "uffd", rs->mem, CFG_MAX_PATH },
		[PATH_API_SOCK] = { "api-sock", opts->api_sock, CFG_MAX_PATH },
		[PATH_VSOCK] = { "vsock-override", rs->vsock_uds, CFG_VSOCK_MAX_PATH },
	};
	const struct path_flag *p;
	bool mem = false, uffd = false;
	const char *v;

	*rs = (struct vmm_restore){ .asked = true, .resume = true };
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(restore_usage, out);
			return 1;
		} else if (!strcmp(a, "--paused")) {
			rs->resume = false;
		} else if (!strcmp(a, "--no-seccomp")) {
			*no_seccomp = true;
		} else if (!strcmp(a, "--track-dirty-pages")) {
			rs->track_dirty = true;
		} else if ((p = restore_path_flag(paths, ARRAY_SIZE(paths), a))) {
			if (restore_path(argc, argv, &i, p))
				return -EINVAL;
			mem |= p == &paths[PATH_MEM];
			uffd |= p == &paths[PATH_UFFD];
		} else if (restore_flag(a, "net-override")) {
			v = restore_value(argc, argv, &i, "net-override");
			if (!v || restore_net_override(v, rs))
				return -EINVAL;
		} else if (restore_flag(a, "share-override")) {
			v = restore_value(argc, argv, &i, "share-override");
			if (!v || vmm_parse_share_override(v, rs))
				return -EINVAL;
		} else {
			pr_err("unknown option '%s' (see arkvm restore --help)", a);
			return -EINVAL;
		}
	}
	if (mem && uffd) {
		pr_err("restore takes --mem FILE or --uffd SOCKET, not both");
		return -EINVAL;
	}
	if (!rs->snapshot[0] || !rs->mem[0]) {
		pr_err("restore needs --snapshot FILE and one of --mem FILE and --uffd SOCKET "
		       "(see arkvm restore --help)");
		return -EINVAL;
	}
	rs->uffd = uffd;
	return 0;
}
