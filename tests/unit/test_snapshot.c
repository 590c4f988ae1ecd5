// SPDX-License-Identifier: Apache-2.0
/*
 * The snapshot file: what it keeps of the config comes back the same, and
 * the header refuses each kind of bad file with its own reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"
#include "state.h"
#include "test.h"
#include "vm_config.h"
#include "vmm.h"

static const struct snapshot_host host = { .page_size = 4096, .ipa_bits = 40, .gic_version = 3 };

static void sample_config(struct vm_config *cfg)
{
	struct disk_config *d;
	struct net_config *n;

	vm_config_init(cfg);
	VM_CONFIG_SET(cfg->kernel, "/k/Image");
	VM_CONFIG_SET(cfg->cmdline, "console=ttyS0 quiet");
	cfg->nr_cpus = 2;
	cfg->mem_size = 128ULL << 20;
	d = vm_config_add_disk(cfg);
	VM_CONFIG_SET(d->id, "rootfs");
	VM_CONFIG_SET(d->path, "/images/root.img");
	d->root = true;
	d->rl.bandwidth = (struct token_bucket_config){ 1 << 20, 0, 1000 };
	d = vm_config_add_disk(cfg);
	VM_CONFIG_SET(d->id, "scratch");
	VM_CONFIG_SET(d->path, "/images/scratch.qcow2");
	d->ephemeral = true;
	n = vm_config_add_net(cfg);
	VM_CONFIG_SET(n->id, "eth0");
	VM_CONFIG_SET(n->tap, "tap7");
	n->has_mac = true;
	memcpy(n->mac, "\x06\x00\x0a\x00\x00\x02", 6);
}

static void test_config_round_trip(void)
{
	struct vm_config *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct state_writer w, w2;
	struct state_reader r;

	CHECK(a && b);
	sample_config(a);
	state_writer_init(&w);
	vm_config_save(a, &w);
	CHECK_EQ(w.err, 0);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(vm_config_restore(b, &r), 0);
	CHECK_EQ(r.off, r.len);
	/* Saved again, the bytes are the same. */
	state_writer_init(&w2);
	vm_config_save(b, &w2);
	CHECK_EQ(w2.len, w.len);
	CHECK(!memcmp(w2.data, w.data, w.len));
	CHECK(!strcmp(b->disks[0].path, "/images/root.img"));
	CHECK(!b->disks[0].ephemeral);
	CHECK(b->disks[1].ephemeral);
	CHECK_EQ(b->nets[0].mac[5], 2);
	/*
	 * Cut anywhere, it is refused rather than read past its end; but
	 * where an older snapshot's config ended (before the disks' formats,
	 * before their ephemeral flags), it reads as that one.
	 */
	for (size_t cut = 0; cut < w.len; cut += 7) {
		if (cut == w.len - a->nr_disks || cut == w.len - 2 * a->nr_disks)
			continue;
		state_reader_init(&r, w.data, cut);
		CHECK(vm_config_restore(b, &r) != 0);
	}
	state_writer_free(&w);
	state_writer_free(&w2);
	free(a);
	free(b);
}

/*
 * A snapshot written before disks said whether they were ephemeral (its
 * config ends at the disks' formats) reads, its disks not ephemeral.
 */
static void test_config_without_ephemeral_reads(void)
{
	struct vm_config *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct state_writer w;
	struct state_reader r;

	CHECK(a && b);
	sample_config(a);
	state_writer_init(&w);
	vm_config_save(a, &w);
	CHECK_EQ(w.err, 0);
	state_reader_init(&r, w.data, w.len - a->nr_disks);  /* one byte a disk, last */
	CHECK_EQ(vm_config_restore(b, &r), 0);
	CHECK_EQ(b->nr_disks, 2);
	CHECK(!b->disks[0].ephemeral && !b->disks[1].ephemeral);
	CHECK_EQ(b->disks[1].format, a->disks[1].format);
	state_writer_free(&w);
	free(a);
	free(b);
}

/* A snapshot's config with two shares and vsock, as a restore loads it. */
static void sample_restored(struct vm_config *cfg)
{
	struct share_config *sh;

	sample_config(cfg);
	sh = vm_config_add_share(cfg);
	VM_CONFIG_SET(sh->path, "/old/root");
	VM_CONFIG_SET(sh->tag, "root");
	sh = vm_config_add_share(cfg);
	VM_CONFIG_SET(sh->path, "/old/work");
	VM_CONFIG_SET(sh->tag, "work");
	sh->readonly = true;
	cfg->vsock.enabled = true;
	cfg->vsock.cid = 3;
	VM_CONFIG_SET(cfg->vsock.uds_path, "/old/v.sock");
}

/* A restore's overrides: a NIC's tap, vsock's socket, a share's directory and mode. */
static void test_restore_overrides(void)
{
	struct vm_config *cfg = malloc(sizeof(*cfg));
	struct vmm_restore *rs = calloc(1, sizeof(*rs));
	char err[256] = "";

	CHECK(cfg && rs);
	sample_restored(cfg);
	rs->nr_overrides = 1;
	VM_CONFIG_SET(rs->overrides[0].id, "eth0");
	VM_CONFIG_SET(rs->overrides[0].tap, "tap9");
	VM_CONFIG_SET(rs->vsock_uds, "/new/v.sock");
	rs->nr_share_overrides = 2;
	VM_CONFIG_SET(rs->share_overrides[0].tag, "work");
	VM_CONFIG_SET(rs->share_overrides[0].path, "/new/work");
	VM_CONFIG_SET(rs->share_overrides[1].tag, "root");
	VM_CONFIG_SET(rs->share_overrides[1].path, "/new/root");
	rs->share_overrides[1].readonly = true;
	CHECK_EQ(vmm_restore_apply_overrides(rs, cfg, err, sizeof(err)), 0);
	CHECK(!strcmp(cfg->nets[0].tap, "tap9"));
	CHECK(!strcmp(cfg->vsock.uds_path, "/new/v.sock"));
	CHECK(!strcmp(cfg->shares[0].path, "/new/root") && cfg->shares[0].readonly);
	CHECK(!strcmp(cfg->shares[1].path, "/new/work") && !cfg->shares[1].readonly);
	CHECK(!strcmp(cfg->shares[1].tag, "work"));

	/* Each one the snapshot has nothing for is refused with its line. */
	sample_restored(cfg);
	VM_CONFIG_SET(rs->share_overrides[1].tag, "scratch");
	CHECK(vmm_restore_apply_overrides(rs, cfg, err, sizeof(err)) != 0);
	CHECK(!strcmp(err, "share override: the snapshot has no share 'scratch'"));
	rs->nr_share_overrides = 0;
	VM_CONFIG_SET(rs->overrides[0].id, "eth1");
	CHECK(vmm_restore_apply_overrides(rs, cfg, err, sizeof(err)) != 0);
	CHECK(!strcmp(err, "network_overrides: the snapshot has no interface 'eth1'"));
	rs->nr_overrides = 0;
	cfg->vsock.enabled = false;
	CHECK(vmm_restore_apply_overrides(rs, cfg, err, sizeof(err)) != 0);
	CHECK(!strcmp(err, "vsock_override: the snapshot has no vsock device"));
	free(cfg);
	free(rs);
}

/* arkvm restore's --share-override TAG=PATH[,readonly]. */
static void test_parse_share_override(void)
{
	struct vmm_restore *rs = calloc(1, sizeof(*rs));

	CHECK(rs);
	CHECK_EQ(vmm_parse_share_override("work=/new/work", rs), 0);
	CHECK_EQ(vmm_parse_share_override("root=/new/root,readonly", rs), 0);
	CHECK_EQ(rs->nr_share_overrides, 2);
	CHECK(!strcmp(rs->share_overrides[0].tag, "work"));
	CHECK(!strcmp(rs->share_overrides[0].path, "/new/work"));
	CHECK(!rs->share_overrides[0].readonly);
	CHECK(!strcmp(rs->share_overrides[1].tag, "root"));
	CHECK(!strcmp(rs->share_overrides[1].path, "/new/root"));
	CHECK(rs->share_overrides[1].readonly);
	CHECK(vmm_parse_share_override("noequals", rs) != 0);
	CHECK(vmm_parse_share_override("=/path", rs) != 0);
	CHECK(vmm_parse_share_override("tag=", rs) != 0);
	CHECK(vmm_parse_share_override("tag=,readonly", rs) != 0);
	CHECK(vmm_parse_share_override("abcdefghijabcdefghijabcdefghijabcdefg=/p", rs) != 0);
	CHECK_EQ(rs->nr_share_overrides, 2);
	free(rs);
}

static u8 *sample_file(long *len)
{
	static const u8 payload[] = "some state";
	struct snapshot_header h = { .host = host, .type = SNAPSHOT_FULL, .nr_vcpus = 2,
				     .mem_size = 128ULL << 20, .arkvm_version = "0.1.0" };
	u8 *file = NULL;

	*len = snapshot_encode(&h, payload, sizeof(payload), &file);
	return file;
}

static int decode(const u8 *file, size_t len, const struct snapshot_host *hh, char *why)
{
	struct snapshot_header h;
	const u8 *payload;

	return snapshot_decode(file, len, hh, &h, &payload, why, 256);
}

static void test_header_checks(void)
{
	struct snapshot_host other = host;
	char why[256];
	long len;
	u8 *file = sample_file(&len);

	CHECK(file && len == SNAPSHOT_HEADER_SIZE + 11);
	CHECK_EQ(decode(file, (size_t)len, &host, why), 0);
	CHECK_EQ(decode(file, (size_t)len - 1, &host, why), -EINVAL);
	CHECK(strstr(why, "cut short"));
	CHECK_EQ(decode(file, 40, &host, why), -EINVAL);
	CHECK(strstr(why, "shorter than a snapshot's header"));
	other.page_size = 16384;
	CHECK_EQ(decode(file, (size_t)len, &other, why), -EINVAL);
	CHECK(strstr(why, "4 KiB pages; this one has 16 KiB"));
	other = host;
	other.gic_version = 2;
	CHECK_EQ(decode(file, (size_t)len, &other, why), -EINVAL);
	CHECK(strstr(why, "GICv3"));
	/* A load before the VM exists: any real GIC, the restore asks KVM for it. */
	other.gic_version = 0;
	CHECK_EQ(decode(file, (size_t)len, &other, why), 0);
	file[len - 2] ^= 1;
	CHECK_EQ(decode(file, (size_t)len, &host, why), -EINVAL);
	CHECK(strstr(why, "checksum"));
	file[len - 2] ^= 1;
	file[8] = 9;   /* the format version */
	CHECK_EQ(decode(file, (size_t)len, &host, why), -EINVAL);
	CHECK(strstr(why, "format 9"));
	file[0] = 'X';
	CHECK_EQ(decode(file, (size_t)len, &host, why), -EINVAL);
	CHECK(strstr(why, "not an arkvm snapshot"));
	free(file);
}

static int make_mem(const char *path, u64 size, const u64 *pages, size_t n, u8 fill)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	u8 buf[4096];

	if (fd < 0)
		return -1;
	memset(buf, fill, sizeof(buf));
	for (size_t i = 0; i < n; i++)
		if (pwrite(fd, buf, sizeof(buf), (off_t)(pages[i] * 4096)) != sizeof(buf))
			return -1;
	if (ftruncate(fd, (off_t)size))
		return -1;
	return close(fd);
}

static u8 byte_at(const char *path, u64 off)
{
	int fd = open(path, O_RDONLY);
	u8 b = 0xEE;

	if (fd >= 0) {
		if (pread(fd, &b, 1, (off_t)off) != 1)
			b = 0xEE;
		close(fd);
	}
	return b;
}

/* The diff's pages land on the base; the base's others stay. */
static void test_merge(void)
{
	char base[64], diff[64];
	const u64 base_pages[] = { 0, 1, 7 }, diff_pages[] = { 1, 5 };

	snprintf(base, sizeof(base), "/tmp/arkvm-merge-%d.base", getpid());
	snprintf(diff, sizeof(diff), "/tmp/arkvm-merge-%d.diff", getpid());
	CHECK_EQ(make_mem(base, 16 * 4096, base_pages, 3, 0xAA), 0);
	CHECK_EQ(make_mem(diff, 16 * 4096, diff_pages, 2, 0x55), 0);
	CHECK_EQ(snapshot_merge(base, diff), 0);
	CHECK_EQ(byte_at(base, 0), 0xAA);
	CHECK_EQ(byte_at(base, 1 * 4096 + 9), 0x55);
	CHECK_EQ(byte_at(base, 5 * 4096), 0x55);
	CHECK_EQ(byte_at(base, 7 * 4096), 0xAA);
	CHECK_EQ(byte_at(base, 9 * 4096), 0);
	/* Another machine's diff does not fit. */
	CHECK_EQ(make_mem(diff, 8 * 4096, diff_pages, 1, 0x55), 0);
	CHECK_EQ(snapshot_merge(base, diff), -ERANGE);
	unlink(base);
	unlink(diff);
}

TEST_SUITE(snapshot,
	   TEST(test_merge),
	   TEST(test_config_round_trip),
	   TEST(test_config_without_ephemeral_reads),
	   TEST(test_restore_overrides),
	   TEST(test_parse_share_override),
	   TEST(test_header_checks));
