// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-balloon against a fake driver on its queues, over fake guest RAM
 * that is a real anonymous mapping (so MADV_DONTNEED really drops pages)
 * with a guard page on each side, which must never be touched.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "device.h"
#include "fake_driver.h"
#include "state.h"
#include "test.h"
#include "virtio_balloon.h"

#define PAGES_GPA  (FAKE_RAM_BASE + 0x80000)   /* the pages the guest gives */
#define LIST_GPA   (FAKE_BUF)                  /* page lists, statistics */
#define LIST2_GPA  (FAKE_BUF + 0x8000)
#define RAM_END    (FAKE_RAM_BASE + FAKE_RAM_SIZE)
#define F(bit)     (1ULL << (bit))

struct balloon_env {
	struct fake_driver q[4];
	struct virtio_balloon *b;
	u8 *map;                /* guard page, RAM, guard page */
	size_t page;            /* the host's */
	unsigned int interrupts;
};

static void count_interrupt(void *opaque)
{
	((struct balloon_env *)opaque)->interrupts++;
}

static u8 *guard_after(struct balloon_env *e)
{
	return e->map + e->page + FAKE_RAM_SIZE;
}

/* The device from @cfg; the driver's queues laid out but not yet brought up. */
static void env_setup(struct balloon_env *e, const struct balloon_config *cfg)
{
	memset(e, 0, sizeof(*e));
	e->page = (size_t)sysconf(_SC_PAGESIZE);
	e->map = mmap(NULL, FAKE_RAM_SIZE + 2 * e->page, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->map == MAP_FAILED)
		abort();
	memset(e->map, 0xaa, e->page);
	memset(guard_after(e), 0xaa, e->page);
	fake_driver_init(&e->q[0], 64);
	free(e->q[0].ram);
	e->q[0].ram = e->map + e->page;
	e->q[0].mem = (struct guest_mem){ .nr_regions = 0 };
	guest_mem_add(&e->q[0].mem, FAKE_RAM_BASE, FAKE_RAM_SIZE, e->q[0].ram);
	e->q[0].shares_ram = true; /* the mapping is the test's */
	for (unsigned int i = 1; i < 4; i++)
		fake_driver_init_queue(&e->q[i], &e->q[0], FAKE_RAM_BASE + i * 0x4000, 64);
	e->b = calloc(1, sizeof(*e->b));
	if (!e->b || virtio_balloon_init(e->b, cfg, e->page, &e->q[0].mem, NULL))
		abort();
	e->b->vdev.interrupt = count_interrupt;
	e->b->vdev.interrupt_opaque = e;
}

static void env_up(struct balloon_env *e, u64 features, unsigned int nr_queues)
{
	struct fake_driver *queues[] = { &e->q[0], &e->q[1], &e->q[2], &e->q[3] };

	fake_bring_up_queues(&e->b->vdev, features, queues, nr_queues);
}

static void env_teardown(struct balloon_env *e)
{
	virtio_balloon_close(e->b);
	free(e->b);
	munmap(e->map, FAKE_RAM_SIZE + 2 * e->page);
}

static void kick(struct balloon_env *e, unsigned int q)
{
	virtio_mmio_ops.write(&e->b->vdev, VIRTIO_MMIO_QUEUE_NOTIFY, q, 4);
}

static bool needs_reset(struct balloon_env *e)
{
	return e->b->vdev.status & VIRTIO_CONFIG_S_NEEDS_RESET;
}

static u8 *hva(struct balloon_env *e, u64 gpa)
{
	return fake_hva(&e->q[0], gpa);
}

/* A page list at @list_gpa: @n page numbers from @pfns, posted on driver @d. */
static void post_pfns(struct balloon_env *e, struct fake_driver *d, u64 list_gpa,
		      const u32 *pfns, unsigned int n)
{
	struct fake_seg seg = { .gpa = list_gpa, .len = n * 4 };
	u32 *list = (u32 *)hva(e, list_gpa);

	for (unsigned int i = 0; i < n; i++)
		list[i] = htole32(pfns[i]);
	fake_post(d, &seg, 1, false);
}

static u32 pfn(u64 gpa)
{
	return (u32)(gpa >> 12);
}

/* Every 4 KiB page number of the host page at @gpa (one, on a 4 KiB host). */
static unsigned int host_page_pfns(struct balloon_env *e, u64 gpa, u32 *pfns)
{
	unsigned int n = (unsigned int)(e->page / BALLOON_PAGE_SIZE);

	for (unsigned int i = 0; i < n; i++)
		pfns[i] = pfn(gpa) + i;
	return n;
}

static bool all_bytes(const u8 *p, size_t len, u8 v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static const struct balloon_config plain = { .enabled = true };

static void test_inflate_releases_pages(void)
{
	struct balloon_env e;
	u32 pfns[64], id, len;
	unsigned int n;

	env_setup(&e, &plain);
	env_up(&e, 0, 2);
	memset(hva(&e, PAGES_GPA), 0x5a, 2 * e.page);
	n = host_page_pfns(&e, PAGES_GPA, pfns);
	post_pfns(&e, &e.q[0], LIST_GPA, pfns, n);
	kick(&e, 0);
	CHECK(fake_used(&e.q[0], &id, &len));
	CHECK_EQ(len, 0);
	CHECK(all_bytes(hva(&e, PAGES_GPA), e.page, 0));          /* given back: zero */
	CHECK(all_bytes(hva(&e, PAGES_GPA) + e.page, e.page, 0x5a)); /* its neighbour kept */
	CHECK_EQ(atomic_load(&e.b->inflated_pages), n);
	CHECK_EQ(atomic_load(&e.b->metrics.inflate_count.total), 1);
	CHECK(!needs_reset(&e));
	env_teardown(&e);
}

/*
 * Where RAM is dropped in larger pieces than the guest's pages (a 64 KiB
 * host page, hugetlb): only whole pieces go, never one the guest still
 * partly uses.  Here a piece is four host pages.
 */
static void test_release_trimmed_to_whole_pieces(void)
{
	struct balloon_env e;
	u32 pfns[256], id, len;
	unsigned int n = 0;
	size_t piece;
	u64 g;

	env_setup(&e, &plain);
	piece = 4 * e.page;
	virtio_balloon_close(e.b);
	CHECK_EQ(virtio_balloon_init(e.b, &plain, piece, &e.q[0].mem, NULL), 0);
	e.b->vdev.interrupt = count_interrupt;
	e.b->vdev.interrupt_opaque = &e;
	env_up(&e, 0, 2);
	for (g = PAGES_GPA; (uintptr_t)hva(&e, g) % piece; g += e.page)
		;
	memset(hva(&e, g), 0x5a, 2 * piece);
	/* Four host pages straddling two pieces: neither is whole. */
	for (u64 a = g + e.page; a < g + e.page + piece; a += BALLOON_PAGE_SIZE)
		pfns[n++] = pfn(a);
	post_pfns(&e, &e.q[0], LIST_GPA, pfns, n);
	kick(&e, 0);
	CHECK(fake_used(&e.q[0], &id, &len));
	CHECK(all_bytes(hva(&e, g), 2 * piece, 0x5a));
	CHECK_EQ(atomic_load(&e.b->inflated_pages), n);
	/* The rest of the first piece: it is whole now, in one list. */
	n = 0;
	for (u64 a = g; a < g + piece; a += BALLOON_PAGE_SIZE)
		pfns[n++] = pfn(a);
	post_pfns(&e, &e.q[0], LIST2_GPA, pfns, n);
	kick(&e, 0);
	CHECK(fake_used(&e.q[0], &id, &len));
	CHECK(all_bytes(hva(&e, g), piece, 0));
	CHECK(all_bytes(hva(&e, g + piece), piece, 0x5a));
	env_teardown(&e);
}

/* A page number past RAM resets the device; nothing of the buffer is used. */
static void test_pfn_outside_ram_resets(void)
{
	static const u64 bad[] = { RAM_END, FAKE_RAM_BASE - BALLOON_PAGE_SIZE, 0,
				   0xfffff000ULL };
	u32 id, len;

	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		struct balloon_env e;
		u32 pfns[2] = { pfn(PAGES_GPA), pfn(bad[i]) };

		env_setup(&e, &plain);
		env_up(&e, 0, 2);
		memset(hva(&e, PAGES_GPA), 0x5a, e.page);
		post_pfns(&e, &e.q[0], LIST_GPA, pfns, 2);
		kick(&e, 0);
		CHECK(needs_reset(&e));
		CHECK(!fake_used(&e.q[0], &id, &len));
		CHECK(all_bytes(hva(&e, PAGES_GPA), e.page, 0x5a)); /* checked whole, first */
		CHECK(all_bytes(guard_after(&e), e.page, 0xaa));
		CHECK(all_bytes(e.map, e.page, 0xaa));
		CHECK_EQ(atomic_load(&e.b->inflated_pages), 0);
		env_teardown(&e);
	}
}

/* The last page of RAM and the one after it: a run crossing the end is refused. */
static void test_run_crossing_ram_end_refused(void)
{
	struct balloon_env e;
	u32 pfns[32], id, len;
	u64 last;
	unsigned int n;

	env_setup(&e, &plain);
	last = RAM_END - e.page;
	env_up(&e, 0, 2);
	memset(hva(&e, last), 0x5a, e.page);
	n = host_page_pfns(&e, last, pfns);
	pfns[n] = pfn(RAM_END);
	post_pfns(&e, &e.q[0], LIST_GPA, pfns, n + 1);
	kick(&e, 0);
	CHECK(needs_reset(&e));
	CHECK(!fake_used(&e.q[0], &id, &len));
	CHECK(all_bytes(hva(&e, last), e.page, 0x5a));
	CHECK(all_bytes(guard_after(&e), e.page, 0xaa));
	env_teardown(&e);
}

static void test_deflate_only_counts(void)
{
	struct balloon_env e;
	u32 pfns[3] = { pfn(PAGES_GPA), pfn(PAGES_GPA) + 1, pfn(PAGES_GPA) + 7 };
	u32 id, len;

	env_setup(&e, &plain);
	env_up(&e, 0, 2);
	memset(hva(&e, PAGES_GPA), 0x5a, 8 * BALLOON_PAGE_SIZE);
	post_pfns(&e, &e.q[1], LIST_GPA, pfns, 3);
	kick(&e, 1);
	CHECK(fake_used(&e.q[1], &id, &len));
	CHECK_EQ(len, 0);
	CHECK_EQ(atomic_load(&e.b->deflated_pages), 3);
	CHECK(all_bytes(hva(&e, PAGES_GPA), 8 * BALLOON_PAGE_SIZE, 0x5a));
	/* Deflating a page that is not RAM is refused the same way. */
	pfns[0] = pfn(RAM_END);
	post_pfns(&e, &e.q[1], LIST2_GPA, pfns, 1);
	kick(&e, 1);
	CHECK(needs_reset(&e));
	env_teardown(&e);
}

/* Buffers of the wrong shape on the inflate queue. */
static void test_malformed_page_lists(void)
{
	struct fake_seg cases[][2] = {
		{ { .gpa = LIST_GPA, .len = 8, .write = true } },                  /* write-only */
		{ { .gpa = LIST_GPA, .len = 6 } },                                  /* not whole le32s */
		{ { .gpa = LIST_GPA, .len = 4 }, { .gpa = LIST2_GPA, .len = 4, .write = true } },
		{ { .gpa = LIST_GPA, .len = (BALLOON_MAX_PFNS + 1) * 4 } },        /* too long */
	};
	unsigned int nsegs[] = { 1, 1, 2, 1 };
	u32 id, len;

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		struct balloon_env e;

		env_setup(&e, &plain);
		env_up(&e, 0, 2);
		for (unsigned int p = 0; p < BALLOON_MAX_PFNS + 1; p++)
			((u32 *)hva(&e, LIST_GPA))[p] = htole32(pfn(PAGES_GPA));
		fake_post(&e.q[0], cases[i], nsegs[i], false);
		kick(&e, 0);
		CHECK(needs_reset(&e));
		CHECK(!fake_used(&e.q[0], &id, &len));
		CHECK_EQ(atomic_load(&e.b->metrics.event_fails.total), 1);
		env_teardown(&e);
	}
}

static u32 cfg_read(struct balloon_env *e, u32 off)
{
	return (u32)virtio_mmio_ops.read(&e->b->vdev, VIRTIO_MMIO_CONFIG + off, 4);
}

static void test_target_sets_num_pages_and_interrupts(void)
{
	struct balloon_config cfg = { .enabled = true, .amount_mib = 1 };
	struct balloon_info info;
	struct balloon_env e;
	u32 gen;

	env_setup(&e, &cfg);
	CHECK_EQ(cfg_read(&e, 0), BALLOON_PAGES_PER_MIB);   /* the boot target */
	env_up(&e, 0, 2);
	gen = (u32)virtio_mmio_ops.read(&e.b->vdev, VIRTIO_MMIO_CONFIG_GENERATION, 4);
	CHECK_EQ(virtio_balloon_set_target(e.b, 0), 0);
	CHECK_EQ(cfg_read(&e, 0), 0);
	CHECK_EQ(e.interrupts, 1);
	CHECK(virtio_mmio_ops.read(&e.b->vdev, VIRTIO_MMIO_INTERRUPT_STATUS, 4) & VIRTIO_ISR_CONFIG);
	CHECK(virtio_mmio_ops.read(&e.b->vdev, VIRTIO_MMIO_CONFIG_GENERATION, 4) != gen);
	/* More than the guest's 1 MiB: refused, nothing changes. */
	CHECK_EQ(virtio_balloon_set_target(e.b, 2), -EINVAL);
	CHECK_EQ(e.interrupts, 1);
	CHECK_EQ(virtio_balloon_set_target(e.b, 1), 0);
	/* The driver writes actual, and cannot write num_pages. */
	virtio_mmio_ops.write(&e.b->vdev, VIRTIO_MMIO_CONFIG + 4, 128, 4);
	virtio_mmio_ops.write(&e.b->vdev, VIRTIO_MMIO_CONFIG + 0, 7, 4);
	virtio_mmio_ops.write(&e.b->vdev, VIRTIO_MMIO_CONFIG + 2, 7, 4);  /* straddles both */
	virtio_balloon_get_info(e.b, &info);
	CHECK_EQ(info.target_pages, 256);
	CHECK_EQ(info.target_mib, 1);
	CHECK_EQ(info.actual_pages, 128);
	CHECK_EQ(info.actual_mib, 0);
	env_teardown(&e);
}

/* A statistics buffer: @n entries, then @extra stray bytes. */
static void post_stats(struct balloon_env *e, struct fake_driver *d, u64 gpa, const u16 *tags,
		       const u64 *vals, unsigned int n, unsigned int extra)
{
	struct fake_seg seg = { .gpa = gpa, .len = n * BALLOON_STAT_SIZE + extra };
	u8 *p = hva(e, gpa);

	for (unsigned int i = 0; i < n; i++) {
		u16 t = htole16(tags[i]);
		u64 v = htole64(vals[i]);

		memcpy(p + i * BALLOON_STAT_SIZE, &t, 2);
		memcpy(p + i * BALLOON_STAT_SIZE + 2, &v, 8);
	}
	memset(p + n * BALLOON_STAT_SIZE, 0xff, extra);
	fake_post(d, &seg, 1, false);
}

static const struct balloon_config with_stats = { .enabled = true, .stats_interval_s = 1 };

/*
 * Linux posts its statistics buffer before DRIVER_OK: the device takes it
 * then, keeps the tags it knows, holds the buffer until the tick.
 */
static void test_stats_held_until_tick(void)
{
	static const u16 tags[] = { VIRTIO_BALLOON_S_MEMFREE, VIRTIO_BALLOON_S_MEMTOT, 99,
				    15 };
	static const u64 vals[] = { 1000, 2000, 7, 42 };
	struct balloon_stats st;
	struct balloon_env e;
	u32 id, len;
	u16 head;

	env_setup(&e, &with_stats);
	CHECK_EQ(e.b->vdev.nr_queues, 3);
	post_stats(&e, &e.q[2], LIST_GPA, tags, vals, 4, 3);
	head = 0;
	env_up(&e, F(VIRTIO_BALLOON_F_STATS_VQ), 3);
	virtio_balloon_get_stats(e.b, &st);
	CHECK_EQ(st.valid, (1u << 4) | (1u << 5) | (1u << 15));
	CHECK_EQ(st.val[4], 1000);
	CHECK_EQ(st.val[5], 2000);
	CHECK_EQ(st.val[15], 42);
	CHECK_EQ(atomic_load(&e.b->metrics.stats_update_fails.total), 1); /* tag 99 */
	CHECK(!fake_used(&e.q[2], &id, &len));                             /* held */
	virtio_balloon_stats_tick(e.b);
	CHECK(fake_used(&e.q[2], &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	/* The driver refills it. */
	post_stats(&e, &e.q[2], LIST2_GPA, tags, (const u64[]){ 5, 6, 0, 0 }, 2, 0);
	kick(&e, 2);
	virtio_balloon_get_stats(e.b, &st);
	CHECK_EQ(st.val[4], 5);
	CHECK_EQ(st.val[5], 6);
	CHECK_EQ(atomic_load(&e.b->metrics.stats_updates_count.total), 2);
	/* A second buffer while one is held: the older comes back. */
	post_stats(&e, &e.q[2], LIST_GPA, tags, vals, 1, 0);
	kick(&e, 2);
	CHECK(fake_used(&e.q[2], &id, &len));
	CHECK(!needs_reset(&e));
	env_teardown(&e);
}

static void test_stats_writable_buffer_refused(void)
{
	struct fake_seg seg = { .gpa = LIST_GPA, .len = 20, .write = true };
	struct balloon_env e;

	env_setup(&e, &with_stats);
	env_up(&e, F(VIRTIO_BALLOON_F_STATS_VQ), 3);
	fake_post(&e.q[2], &seg, 1, false);
	kick(&e, 2);
	CHECK(needs_reset(&e));
	env_teardown(&e);
}

static void test_stats_interval_rules(void)
{
	struct balloon_env e;

	env_setup(&e, &plain);
	CHECK(!virtio_balloon_stats_enabled(e.b));
	CHECK_EQ(virtio_balloon_set_stats_interval(e.b, 5), -EOPNOTSUPP);
	CHECK_EQ(virtio_balloon_set_stats_interval(e.b, 0), 0);
	env_teardown(&e);
	env_setup(&e, &with_stats);
	CHECK(virtio_balloon_stats_enabled(e.b));
	CHECK_EQ(virtio_balloon_set_stats_interval(e.b, 0), -EINVAL);
	CHECK_EQ(virtio_balloon_set_stats_interval(e.b, 30), 0);
	CHECK_EQ(e.b->stats_interval_s, 30);
	env_teardown(&e);
}

static const struct balloon_config with_reporting = { .enabled = true,
						      .free_page_reporting = true };

/* A report of @len bytes at @gpa on driver @d (device-writable). */
static void post_report(struct fake_driver *d, u64 gpa, u32 len)
{
	struct fake_seg seg = { .gpa = gpa, .len = len, .write = true };

	fake_post(d, &seg, 1, false);
}

static void test_reporting_releases_ranges(void)
{
	struct balloon_env e;
	u32 id, len;

	env_setup(&e, &with_reporting);
	env_up(&e, F(VIRTIO_BALLOON_F_REPORTING), 3);
	memset(hva(&e, PAGES_GPA), 0x5a, 3 * e.page);
	post_report(&e.q[2], PAGES_GPA, 2 * (u32)e.page);
	kick(&e, 2);
	CHECK(fake_used(&e.q[2], &id, &len));
	CHECK_EQ(len, 0);
	CHECK(all_bytes(hva(&e, PAGES_GPA), 2 * e.page, 0));
	CHECK(all_bytes(hva(&e, PAGES_GPA) + 2 * e.page, e.page, 0x5a));
	CHECK_EQ(atomic_load(&e.b->reported_bytes), 2 * e.page);
	CHECK(!needs_reset(&e));
	env_teardown(&e);
}

/* A range running past the end of RAM, or one the device would read: a reset. */
static void test_reporting_bad_ranges_refused(void)
{
	struct fake_seg readable = { .gpa = PAGES_GPA, .len = 4096 };
	u32 id, len;

	for (unsigned int i = 0; i < 2; i++) {
		struct balloon_env e;

		env_setup(&e, &with_reporting);
		env_up(&e, F(VIRTIO_BALLOON_F_REPORTING), 3);
		memset(hva(&e, RAM_END - e.page), 0x5a, e.page);
		memset(hva(&e, PAGES_GPA), 0x5a, e.page);
		if (i == 0)
			post_report(&e.q[2], RAM_END - e.page, 2 * (u32)e.page);
		else
			fake_post(&e.q[2], &readable, 1, false);
		kick(&e, 2);
		CHECK(needs_reset(&e));
		CHECK(!fake_used(&e.q[2], &id, &len));
		CHECK(all_bytes(hva(&e, RAM_END - e.page), e.page, 0x5a));
		CHECK(all_bytes(hva(&e, PAGES_GPA), e.page, 0x5a));
		CHECK(all_bytes(guard_after(&e), e.page, 0xaa));
		env_teardown(&e);
	}
}

/*
 * Offered statistics and reporting: with both accepted, reporting is
 * queue 3; a driver that declines statistics finds reporting at 2.
 */
static void test_queue_index_follows_features(void)
{
	struct balloon_config cfg = { .enabled = true, .stats_interval_s = 5,
				      .free_page_reporting = true };
	struct balloon_env e;
	u32 id, len;

	env_setup(&e, &cfg);
	CHECK_EQ(e.b->vdev.nr_queues, 4);
	env_up(&e, F(VIRTIO_BALLOON_F_STATS_VQ) | F(VIRTIO_BALLOON_F_REPORTING), 4);
	memset(hva(&e, PAGES_GPA), 0x5a, e.page);
	post_report(&e.q[3], PAGES_GPA, (u32)e.page);
	kick(&e, 3);
	CHECK(fake_used(&e.q[3], &id, &len));
	CHECK(all_bytes(hva(&e, PAGES_GPA), e.page, 0));
	CHECK(!needs_reset(&e));
	env_teardown(&e);

	env_setup(&e, &cfg);
	env_up(&e, F(VIRTIO_BALLOON_F_REPORTING), 3);
	memset(hva(&e, PAGES_GPA), 0x5a, e.page);
	post_report(&e.q[2], PAGES_GPA, (u32)e.page);
	kick(&e, 2);
	CHECK(fake_used(&e.q[2], &id, &len));
	CHECK(all_bytes(hva(&e, PAGES_GPA), e.page, 0));
	CHECK(!needs_reset(&e));
	/* Without reporting accepted queue 3 is nothing: its kick is dropped. */
	env_teardown(&e);

	env_setup(&e, &cfg);
	env_up(&e, F(VIRTIO_BALLOON_F_STATS_VQ), 3);
	post_stats(&e, &e.q[2], LIST_GPA, (const u16[]){ 4 }, (const u64[]){ 9 }, 1, 0);
	kick(&e, 2);
	CHECK_EQ(e.b->stats.val[4], 9);
	CHECK(!needs_reset(&e));
	env_teardown(&e);
}

static struct device as_device(struct virtio_balloon *b)
{
	return (struct device){ .cls = &virtio_balloon_class, .id = "balloon", .priv = b,
				.vdev = &b->vdev };
}

/*
 * A snapshot of a paused balloon: the held statistics buffer goes back to
 * the ring, and the restored device takes it again, with the target,
 * actual, interval and statistics as they were.
 */
static void test_snapshot_keeps_target_and_stats_buffer(void)
{
	struct balloon_config cfg = { .enabled = true, .stats_interval_s = 3 };
	struct balloon_env e;
	struct virtio_balloon *b2;
	struct device dev, dev2;
	struct state_writer w;
	struct state_reader r;
	struct balloon_info info;
	u32 id, len;

	env_setup(&e, &cfg);
	env_up(&e, F(VIRTIO_BALLOON_F_STATS_VQ), 3);
	post_stats(&e, &e.q[2], LIST_GPA, (const u16[]){ 6 }, (const u64[]){ 11 }, 1, 0);
	kick(&e, 2);
	CHECK_EQ(virtio_balloon_set_target(e.b, 1), 0);
	CHECK_EQ(virtio_balloon_set_stats_interval(e.b, 9), 0);
	CHECK(fake_used(&e.q[2], &id, &len));   /* a new interval asks for numbers at once */
	post_stats(&e, &e.q[2], LIST2_GPA, (const u16[]){ 6 }, (const u64[]){ 77 }, 1, 0);
	kick(&e, 2);
	virtio_mmio_ops.write(&e.b->vdev, VIRTIO_MMIO_CONFIG + 4, 100, 4);
	dev = as_device(e.b);
	CHECK_EQ(virtio_balloon_class.quiesce(&dev), 0);
	state_writer_init(&w);
	CHECK_EQ(device_save(&dev, &w), 0);
	/* The same device resumes: it takes its buffer again, nothing goes to the guest. */
	virtio_balloon_class.resume(&dev);
	CHECK(!fake_used(&e.q[2], &id, &len));
	CHECK_EQ(e.b->stats_held, true);

	b2 = calloc(1, sizeof(*b2));
	CHECK(b2 && !virtio_balloon_init(b2, &cfg, e.page, &e.q[0].mem, NULL));
	b2->vdev.interrupt = count_interrupt;
	b2->vdev.interrupt_opaque = &e;
	dev2 = as_device(b2);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(device_restore(&dev2, &r), 0);
	state_writer_free(&w);
	virtio_balloon_get_info(b2, &info);
	CHECK_EQ(info.target_pages, 256);
	CHECK_EQ(info.actual_pages, 100);
	CHECK_EQ(b2->stats_interval_s, 9);
	CHECK_EQ(b2->stats.val[6], 77);
	CHECK(b2->stats_held);                   /* taken again from the restored ring */
	virtio_balloon_stats_tick(b2);
	CHECK(fake_used(&e.q[2], &id, &len));
	virtio_balloon_close(b2);
	free(b2);
	env_teardown(&e);
}

/* A snapshot from a VM whose balloon had other statistics settings is refused. */
static void test_restore_refuses_other_config(void)
{
	struct balloon_env e;
	struct virtio_balloon *b2;
	struct device dev, dev2;
	struct state_writer w;
	struct state_reader r;

	env_setup(&e, &with_stats);
	env_up(&e, F(VIRTIO_BALLOON_F_STATS_VQ), 3);
	dev = as_device(e.b);
	virtio_balloon_class.quiesce(&dev);
	state_writer_init(&w);
	CHECK_EQ(device_save(&dev, &w), 0);
	b2 = calloc(1, sizeof(*b2));
	CHECK(b2 && !virtio_balloon_init(b2, &plain, e.page, &e.q[0].mem, NULL));
	dev2 = as_device(b2);
	state_reader_init(&r, w.data, w.len);
	CHECK(device_restore(&dev2, &r) < 0);
	state_writer_free(&w);
	virtio_balloon_close(b2);
	free(b2);
	env_teardown(&e);
}

/* PATCH through the class's update op: checked whole, so a refusal changes nothing. */
static void test_update_op(void)
{
	struct balloon_config cfg = with_stats;
	struct balloon_env e;
	struct device dev;

	env_setup(&e, &with_stats);
	dev = as_device(e.b);
	cfg.amount_mib = 1;
	cfg.stats_interval_s = 4;
	CHECK_EQ(virtio_balloon_class.update(&dev, &cfg), 0);
	CHECK_EQ(le32toh(e.b->config.num_pages), 256);
	CHECK_EQ(e.b->stats_interval_s, 4);
	cfg.amount_mib = 0;
	cfg.deflate_on_oom = true;
	CHECK_EQ(virtio_balloon_class.update(&dev, &cfg), -EINVAL);
	cfg.deflate_on_oom = false;
	cfg.stats_interval_s = 0;
	CHECK_EQ(virtio_balloon_class.update(&dev, &cfg), -EINVAL);
	cfg.stats_interval_s = 4;
	cfg.amount_mib = 5;
	CHECK_EQ(virtio_balloon_class.update(&dev, &cfg), -EINVAL);
	CHECK_EQ(le32toh(e.b->config.num_pages), 256);
	env_teardown(&e);
}

static void test_features_offered(void)
{
	struct balloon_config cfg = { .enabled = true, .deflate_on_oom = true };
	struct balloon_env e;
	u64 f;

	env_setup(&e, &cfg);
	f = virtio_dev_offered(&e.b->vdev);
	CHECK(f & F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
	CHECK(!(f & F(VIRTIO_BALLOON_F_STATS_VQ)));
	CHECK(!(f & F(VIRTIO_BALLOON_F_REPORTING)));
	CHECK(!(f & F(VIRTIO_BALLOON_F_FREE_PAGE_HINT)));
	CHECK(!(f & F(VIRTIO_BALLOON_F_MUST_TELL_HOST)));
	CHECK_EQ(e.b->vdev.nr_queues, 2);
	CHECK_EQ(e.b->vdev.device_id, 5);
	env_teardown(&e);
}

/* The balloon's settings travel with a snapshot's config; older ones read as none. */
static void test_config_saved_with_snapshot(void)
{
	struct vm_config a, b;
	struct state_writer w;
	struct state_reader r;

	vm_config_init(&a);
	a.balloon = (struct balloon_config){ .enabled = true, .amount_mib = 64,
					     .free_page_reporting = true, .stats_interval_s = 2 };
	state_writer_init(&w);
	vm_config_save(&a, &w);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(vm_config_restore(&b, &r), 0);
	CHECK(b.balloon.enabled && b.balloon.free_page_reporting && !b.balloon.deflate_on_oom);
	CHECK_EQ(b.balloon.amount_mib, 64);
	CHECK_EQ(b.balloon.stats_interval_s, 2);
	/* One from before the balloon (so before the shares' count after it). */
	state_reader_init(&r, w.data, w.len - 4 - (1 + 4 + 1 + 1 + 4));
	CHECK_EQ(vm_config_restore(&b, &r), 0);
	CHECK(!b.balloon.enabled);
	state_writer_free(&w);
}

TEST_SUITE(virtio_balloon,
	   TEST(test_inflate_releases_pages),
	   TEST(test_release_trimmed_to_whole_pieces),
	   TEST(test_pfn_outside_ram_resets),
	   TEST(test_run_crossing_ram_end_refused),
	   TEST(test_deflate_only_counts),
	   TEST(test_malformed_page_lists),
	   TEST(test_target_sets_num_pages_and_interrupts),
	   TEST(test_stats_held_until_tick),
	   TEST(test_stats_writable_buffer_refused),
	   TEST(test_stats_interval_rules),
	   TEST(test_reporting_releases_ranges),
	   TEST(test_reporting_bad_ranges_refused),
	   TEST(test_queue_index_follows_features),
	   TEST(test_snapshot_keeps_target_and_stats_buffer),
	   TEST(test_restore_refuses_other_config),
	   TEST(test_update_op),
	   TEST(test_features_offered),
	   TEST(test_config_saved_with_snapshot));
