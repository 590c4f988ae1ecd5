// SPDX-License-Identifier: Apache-2.0
/*
 * The snapshot file: what it keeps of the config comes back the same, and
 * the header refuses each kind of bad file with its own reason.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "state.h"
#include "test.h"
#include "vm_config.h"

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
	CHECK_EQ(b->nets[0].mac[5], 2);
	/* Cut anywhere, it is refused rather than read past its end. */
	for (size_t cut = 0; cut < w.len; cut += 7) {
		state_reader_init(&r, w.data, cut);
		CHECK(vm_config_restore(b, &r) != 0);
	}
	state_writer_free(&w);
	state_writer_free(&w2);
	free(a);
	free(b);
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

TEST_SUITE(snapshot,
	   TEST(test_config_round_trip),
	   TEST(test_header_checks));
