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
	"Usage: arkvm restore --snapshot FILE --mem FILE [--net-override ID=TAP]...\n"
	"                     [--vsock-override PATH] [--share-override TAG=PATH[,readonly]]...\n"
	"                     [--api-sock PATH] [--paused]\n"
	"                     [--track-dirty-pages] [--no-seccomp]\n"
	"Resumes the VM a snapshot holds (PUT /snapshot/create wrote both files).\n";

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
		} else if (restore_flag(a, "snapshot") || restore_flag(a, "mem") ||
			   restore_flag(a, "api-sock") || restore_flag(a, "vsock-override")) {
			static const char *const names[] = { "snapshot", "mem", "api-sock",
							     "vsock-override" };
			char *const dsts[] = { rs->snapshot, rs->mem, opts->api_sock, rs->vsock_uds };
			const size_t max[] = { CFG_MAX_PATH, CFG_MAX_PATH, CFG_MAX_PATH,
					       CFG_VSOCK_MAX_PATH };
			const char *name = a + 2;
			unsigned int k = 0;
			char *dst;

			while (!restore_flag(a, names[k]))
				k++;
			dst = dsts[k];
			v = restore_value(argc, argv, &i, names[k]);
			if (!v)
				return -EINVAL;
			if (!*v || strlen(v) > max[k]) {
				pr_err("--%.*s: give a path", (int)strcspn(name, "="), name);
				return -EINVAL;
			}
			memcpy(dst, v, strlen(v) + 1);
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
	if (!rs->snapshot[0] || !rs->mem[0]) {
		pr_err("restore needs --snapshot FILE and --mem FILE (see arkvm restore --help)");
		return -EINVAL;
	}
	return 0;
}
