// SPDX-License-Identifier: Apache-2.0
/* arkvm restore's command line (src/restore_cli.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vmm.h"

/* What one parse fills, on the heap: a struct vmm_restore is large. */
struct parsed {
	struct vmm_restore rs;
	struct vmm_opts opts;
	bool no_seccomp;
	char *help;        /* what --help wrote */
	size_t help_len;
};

static int parse(struct parsed *p, int argc, char *const argv[])
{
	FILE *out;
	int ret;

	free(p->help);  /* the last parse's */
	out = open_memstream(&p->help, &p->help_len);
	if (!out)
		return -12345;
	ret = vmm_restore_parse(argc, argv, &p->rs, &p->opts, &p->no_seccomp, out);
	fclose(out);
	return ret;
}

#define RPARSE(p, ...) \
	parse(p, (int)(sizeof((char *const[]){ "arkvm", "restore", __VA_ARGS__ }) / sizeof(char *)), \
	      (char *const[]){ "arkvm", "restore", __VA_ARGS__ })

static struct parsed *parsed_new(void)
{
	return calloc(1, sizeof(struct parsed));
}

static void parsed_free(struct parsed *p)
{
	if (p)
		free(p->help);
	free(p);
}

/* A string of @len 'a's after @prefix, on the heap. */
static char *long_arg(const char *prefix, size_t len)
{
	size_t n = strlen(prefix);
	char *s = malloc(n + len + 1);

	if (s) {
		memcpy(s, prefix, n);
		memset(s + n, 'a', len);
		s[n + len] = '\0';
	}
	return s;
}

static void test_minimal(void)
{
	struct parsed *p = parsed_new();

	CHECK(p);
	CHECK_EQ(RPARSE(p, "--snapshot", "/s/vm.snap", "--mem", "/s/vm.mem"), 0);
	CHECK(p->rs.asked);
	CHECK(p->rs.resume);
	CHECK(!p->rs.uffd);
	CHECK(!p->rs.track_dirty);
	CHECK(!strcmp(p->rs.snapshot, "/s/vm.snap"));
	CHECK(!strcmp(p->rs.mem, "/s/vm.mem"));
	CHECK_EQ(p->rs.nr_overrides, 0);
	CHECK_EQ(p->rs.nr_share_overrides, 0);
	CHECK_EQ(p->rs.vsock_uds[0], 0);
	CHECK_EQ(p->opts.api_sock[0], 0);
	CHECK(!p->no_seccomp);
	CHECK_EQ(p->help_len, 0);
	parsed_free(p);
}

/* Each value flag as "--name=value" and as "--name value". */
static void test_both_forms(void)
{
	struct parsed *p = parsed_new(), *q = parsed_new();

	CHECK(p && q);
	CHECK_EQ(RPARSE(p, "--snapshot=/a.snap", "--mem=/a.mem", "--api-sock=/run/a.sock",
			"--vsock-override=/run/v.sock", "--net-override=net0=tap7",
			"--share-override=work=/w"), 0);
	CHECK_EQ(RPARSE(q, "--snapshot", "/a.snap", "--mem", "/a.mem", "--api-sock", "/run/a.sock",
			"--vsock-override", "/run/v.sock", "--net-override", "net0=tap7",
			"--share-override", "work=/w"), 0);
	CHECK(!strcmp(p->rs.snapshot, "/a.snap"));
	CHECK(!strcmp(p->rs.mem, "/a.mem"));
	CHECK(!strcmp(p->opts.api_sock, "/run/a.sock"));
	CHECK(!strcmp(p->rs.vsock_uds, "/run/v.sock"));
	CHECK_EQ(p->rs.nr_overrides, 1);
	CHECK_EQ(p->rs.nr_share_overrides, 1);
	CHECK(!memcmp(&p->rs, &q->rs, sizeof(p->rs)));
	CHECK(!strcmp(p->opts.api_sock, q->opts.api_sock));
	parsed_free(p);
	parsed_free(q);
}

static void test_switches(void)
{
	struct parsed *p = parsed_new();

	CHECK(p);
	CHECK_EQ(RPARSE(p, "--paused", "--snapshot", "s", "--track-dirty-pages", "--mem", "m",
			"--no-seccomp"), 0);
	CHECK(!p->rs.resume);
	CHECK(p->rs.track_dirty);
	CHECK(p->no_seccomp);
	parsed_free(p);
}

static void test_help(void)
{
	struct parsed *p = parsed_new(), *q = parsed_new();

	CHECK(p && q);
	CHECK_EQ(RPARSE(p, "--help"), 1);
	CHECK(p->help && strstr(p->help, "Usage: arkvm restore --snapshot FILE"));
	CHECK(strstr(p->help, "--share-override"));
	/* -h anywhere, even after the required flags. */
	CHECK_EQ(RPARSE(q, "--snapshot", "s", "--mem", "m", "-h"), 1);
	CHECK(q->help_len > 0);
	parsed_free(p);
	parsed_free(q);
}

static void test_unknown_option(void)
{
	struct parsed *p = parsed_new();

	CHECK(p);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--bogus"), -EINVAL);
	/* A flag's name must match whole: no prefixes, no longer names. */
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--memory=m"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--me=m"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--paused=1"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "extra"), -EINVAL);
	CHECK_EQ(p->help_len, 0);
	parsed_free(p);
}

static void test_missing_values(void)
{
	struct parsed *p = parsed_new();

	CHECK(p);
	CHECK_EQ(RPARSE(p, "--mem", "m", "--snapshot"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--api-sock"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--share-override"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--vsock-override"), -EINVAL);
	/* An empty value is no path. */
	CHECK_EQ(RPARSE(p, "--snapshot=", "--mem", "m"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", ""), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--api-sock="), -EINVAL);
	parsed_free(p);
}

/* Both files are required. */
static void test_required(void)
{
	struct parsed *p = parsed_new();

	CHECK(p);
	CHECK_EQ(RPARSE(p, "--snapshot", "s"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--mem", "m"), -EINVAL);
	CHECK_EQ(parse(p, 2, (char *const[]){ "arkvm", "restore" }), -EINVAL);
	parsed_free(p);
}

static void test_too_long_paths(void)
{
	struct parsed *p = parsed_new();
	char *fits = long_arg("/", CFG_MAX_PATH - 1), *over = long_arg("/", CFG_MAX_PATH);
	char *vfits = long_arg("/", CFG_VSOCK_MAX_PATH - 1), *vover = long_arg("/", CFG_VSOCK_MAX_PATH);

	CHECK(p && fits && over && vfits && vover);
	CHECK_EQ(RPARSE(p, "--snapshot", fits, "--mem", fits, "--api-sock", fits,
			"--vsock-override", vfits), 0);
	CHECK_EQ(strlen(p->rs.snapshot), CFG_MAX_PATH);
	CHECK_EQ(strlen(p->rs.vsock_uds), CFG_VSOCK_MAX_PATH);
	CHECK_EQ(RPARSE(p, "--snapshot", over, "--mem", "m"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", over), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--api-sock", over), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--vsock-override", vover), -EINVAL);
	free(fits);
	free(over);
	free(vfits);
	free(vover);
	parsed_free(p);
}

static void test_net_override(void)
{
	struct parsed *p = parsed_new();
	char long_id[CFG_MAX_ID + 8], *long_tap = long_arg("id=", CFG_MAX_IFNAME + 1);

	memset(long_id, 'i', CFG_MAX_ID + 1);
	memcpy(long_id + CFG_MAX_ID + 1, "=tap1", 6);
	CHECK(p && long_tap);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override", "net0=tap1",
			"--net-override=net1=tap2"), 0);
	CHECK_EQ(p->rs.nr_overrides, 2);
	CHECK(!strcmp(p->rs.overrides[0].id, "net0"));
	CHECK(!strcmp(p->rs.overrides[0].tap, "tap1"));
	CHECK(!strcmp(p->rs.overrides[1].id, "net1"));
	CHECK(!strcmp(p->rs.overrides[1].tap, "tap2"));
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override", "net0"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override", "=tap1"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override", "net0="), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override", long_id), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override", long_tap), -EINVAL);
	CHECK_EQ(CFG_MAX_NETS, 4);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override", "a=t0",
			"--net-override", "b=t1", "--net-override", "c=t2", "--net-override", "d=t3"), 0);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override", "a=t0",
			"--net-override", "b=t1", "--net-override", "c=t2", "--net-override", "d=t3",
			"--net-override", "e=t4"), -EINVAL);
	free(long_tap);
	parsed_free(p);
}

static void test_share_override(void)
{
	struct parsed *p = parsed_new();

	CHECK(p);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--share-override", "work=/new/work",
			"--share-override=root=/new/root,readonly"), 0);
	CHECK_EQ(p->rs.nr_share_overrides, 2);
	CHECK(!strcmp(p->rs.share_overrides[0].tag, "work"));
	CHECK(!strcmp(p->rs.share_overrides[0].path, "/new/work"));
	CHECK(!p->rs.share_overrides[0].readonly);
	CHECK(!strcmp(p->rs.share_overrides[1].tag, "root"));
	CHECK(!strcmp(p->rs.share_overrides[1].path, "/new/root"));
	CHECK(p->rs.share_overrides[1].readonly);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--share-override", "work"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--share-override=work="), -EINVAL);
	parsed_free(p);
}

/* A second parse starts from nothing: no override is left from the first. */
static void test_parse_clears(void)
{
	struct parsed *p = parsed_new();

	CHECK(p);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--net-override", "a=t0", "--paused"), 0);
	CHECK_EQ(RPARSE(p, "--snapshot", "s2", "--mem", "m2"), 0);
	CHECK_EQ(p->rs.nr_overrides, 0);
	CHECK(p->rs.resume);
	CHECK(!strcmp(p->rs.snapshot, "s2"));
	parsed_free(p);
}

/* --uffd SOCKET: the memory comes from a page server, as mem_backend's Uffd. */
static void test_uffd(void)
{
	struct parsed *p = parsed_new(), *q = parsed_new();

	CHECK(p && q);
	CHECK_EQ(RPARSE(p, "--snapshot", "/s/vm.snap", "--uffd", "/run/pages.sock"), 0);
	CHECK_EQ(RPARSE(q, "--uffd=/run/pages.sock", "--snapshot=/s/vm.snap"), 0);
	CHECK(p->rs.uffd);
	CHECK(!strcmp(p->rs.mem, "/run/pages.sock"));
	CHECK(!strcmp(p->rs.snapshot, "/s/vm.snap"));
	CHECK(!memcmp(&p->rs, &q->rs, sizeof(p->rs)));
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--uffd"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--uffd="), -EINVAL);
	CHECK_EQ(RPARSE(p, "--uffd", "u"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--uffdx", "u"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--help"), 1);
	CHECK(strstr(p->help, "--uffd SOCKET"));
	parsed_free(p);
	parsed_free(q);
}

/* The memory is a file or a page server: exactly one of the two. */
static void test_mem_or_uffd(void)
{
	struct parsed *p = parsed_new();

	CHECK(p);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m", "--uffd", "u"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--uffd", "u", "--mem", "m"), -EINVAL);
	CHECK_EQ(RPARSE(p, "--snapshot", "s"), -EINVAL);
	/* Given twice, the last one counts, as for every path. */
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--uffd", "u1", "--uffd", "u2"), 0);
	CHECK(p->rs.uffd);
	CHECK(!strcmp(p->rs.mem, "u2"));
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--mem", "m1", "--mem", "m2"), 0);
	CHECK(!p->rs.uffd);
	CHECK(!strcmp(p->rs.mem, "m2"));
	parsed_free(p);
}

static void test_uffd_too_long(void)
{
	struct parsed *p = parsed_new();
	char *fits = long_arg("/", CFG_MAX_PATH - 1), *over = long_arg("/", CFG_MAX_PATH);

	CHECK(p && fits && over);
	/* As long as mem_backend's backend_path: connecting says if a socket can't be there. */
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--uffd", fits), 0);
	CHECK_EQ(RPARSE(p, "--snapshot", "s", "--uffd", over), -EINVAL);
	free(fits);
	free(over);
	parsed_free(p);
}

TEST_SUITE(restore_cli,
	TEST(test_minimal),
	TEST(test_both_forms),
	TEST(test_switches),
	TEST(test_help),
	TEST(test_unknown_option),
	TEST(test_missing_values),
	TEST(test_required),
	TEST(test_too_long_paths),
	TEST(test_net_override),
	TEST(test_share_override),
	TEST(test_parse_clears),
	TEST(test_uffd),
	TEST(test_mem_or_uffd),
	TEST(test_uffd_too_long),
);
