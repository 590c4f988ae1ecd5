// SPDX-License-Identifier: Apache-2.0
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "device.h"
#include "fdt_build.h"
#include "loader.h"
#include "pl031.h"
#include "state.h"
#include "test.h"

/* A clock the test moves, and the line's level as the GIC would see it. */
struct rig {
	int64_t now;
	bool level;
	unsigned int changes;
	struct pl031 rtc;
};

static int64_t rig_clock(void *opaque)
{
	return ((struct rig *)opaque)->now;
}

static void rig_irq(void *opaque, u32 intid, bool level)
{
	struct rig *r = opaque;

	r->level = level;
	r->changes++;
}

static void rig_init(struct rig *r, int64_t now)
{
	const struct irq_line irq = { .set_level = rig_irq, .opaque = r, .intid = ARM64_RTC_IRQ };

	memset(r, 0, sizeof(*r));
	r->now = now;
	pl031_init(&r->rtc, &irq, rig_clock, r);
}

static u32 rd(struct rig *r, u64 off)
{
	return (u32)pl031_mmio_ops.read(&r->rtc, off, 4);
}

static void wr(struct rig *r, u64 off, u32 v)
{
	pl031_mmio_ops.write(&r->rtc, off, v, 4);
}

static void test_counts_host_wall_clock(void)
{
	struct rig r;

	rig_init(&r, 1700000000);
	CHECK_EQ(rd(&r, PL031_DR), 1700000000);
	r.now += 5;
	CHECK_EQ(rd(&r, PL031_DR), 1700000005);
	CHECK_EQ(rd(&r, PL031_CR), 1);
	pl031_destroy(&r.rtc);
}

static void test_load_sets_offset(void)
{
	struct rig r;

	rig_init(&r, 1700000000);
	wr(&r, PL031_LR, 1000);
	CHECK_EQ(rd(&r, PL031_DR), 1000);
	CHECK_EQ(rd(&r, PL031_LR), 1000);
	r.now += 7;
	CHECK_EQ(rd(&r, PL031_DR), 1007);
	/* Past 2^32 the count wraps, as a 32-bit counter does. */
	wr(&r, PL031_LR, 0xfffffffe);
	r.now += 3;
	CHECK_EQ(rd(&r, PL031_DR), 1);
	pl031_destroy(&r.rtc);
}

/* The AMBA bus matches 0x00041031 and the PrimeCell cell ID. */
static void test_primecell_ids(void)
{
	static const u8 want[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };
	struct rig r;
	u32 periph = 0;

	rig_init(&r, 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(rd(&r, PL031_ID + 4 * i), want[i]);
	for (int i = 0; i < 4; i++)
		periph |= (rd(&r, PL031_ID + 4 * i) & 0xff) << (8 * i);
	CHECK_EQ(periph & 0x000fffff, 0x00041031);
	pl031_destroy(&r.rtc);
}

static void test_match_raises_masked_line(void)
{
	struct rig r;

	rig_init(&r, 5000);
	wr(&r, PL031_MR, 5010);
	CHECK_EQ(rd(&r, PL031_RIS), 0);
	r.now = 5009;
	pl031_alarm(&r.rtc);
	CHECK_EQ(rd(&r, PL031_RIS), 0);
	r.now = 5010;
	pl031_alarm(&r.rtc);
	CHECK_EQ(rd(&r, PL031_RIS), 1);
	CHECK_EQ(rd(&r, PL031_MIS), 0);
	CHECK(!r.level);              /* masked */
	wr(&r, PL031_IMSC, 1);
	CHECK(r.level);
	CHECK_EQ(rd(&r, PL031_MIS), 1);
	wr(&r, PL031_ICR, 1);
	CHECK(!r.level);
	CHECK_EQ(rd(&r, PL031_RIS), 0);
	/* Once latched and cleared, the same match does not come back. */
	r.now = 5011;
	pl031_alarm(&r.rtc);
	CHECK_EQ(rd(&r, PL031_RIS), 0);
	pl031_destroy(&r.rtc);
}

static void test_match_now_and_reload(void)
{
	struct rig r;

	rig_init(&r, 100);
	wr(&r, PL031_IMSC, 1);
	wr(&r, PL031_MR, 100);          /* the count equals it already */
	CHECK(r.level);
	wr(&r, PL031_ICR, 1);
	CHECK(!r.level);
	/* A match set, then the count loaded past it: due only after a wrap. */
	wr(&r, PL031_MR, 200);
	wr(&r, PL031_LR, 300);
	r.now += 150;
	pl031_alarm(&r.rtc);
	CHECK(!r.level);
	/* Loaded back before it: due 50 s on. */
	wr(&r, PL031_LR, 150);
	r.now += 50;
	pl031_alarm(&r.rtc);
	CHECK(r.level);
	pl031_destroy(&r.rtc);
}

/* Any offset and width: never a crash, and odd accesses change nothing. */
static void test_hostile_accesses(void)
{
	struct rig r;

	rig_init(&r, 42);
	for (u64 off = 0; off < 0x1000; off++)
		for (u32 size = 1; size <= 8; size *= 2) {
			if (size != 4 || (off & 3))
				CHECK_EQ(pl031_mmio_ops.read(&r.rtc, off, size), 0);
			if (off != PL031_LR && off != PL031_MR)
				pl031_mmio_ops.write(&r.rtc, off, ~0ULL, size);
		}
	CHECK_EQ(rd(&r, PL031_DR), 42);   /* no odd write loaded the count */
	CHECK_EQ(rd(&r, PL031_CR), 1);
	CHECK_EQ(rd(&r, 0xffc), 0xb1);
	pl031_destroy(&r.rtc);
}

/* Snapshots keep the offset: the restored clock goes on from the host's. */
static void test_snapshot_keeps_offset(void)
{
	struct device dev = { .cls = &pl031_class };
	struct state_writer w;
	struct state_reader sr;
	struct rig a, b;

	rig_init(&a, 1000000);
	wr(&a, PL031_LR, 2000000);     /* the guest runs 1000000 s ahead */
	wr(&a, PL031_IMSC, 1);
	wr(&a, PL031_MR, 2000100);
	dev.priv = &a.rtc;
	state_writer_init(&w);
	CHECK_EQ(pl031_class.save(&dev, &w), 0);

	rig_init(&b, 1000060);          /* a minute later, elsewhere */
	dev.priv = &b.rtc;
	state_reader_init(&sr, w.data, w.len);
	CHECK_EQ(pl031_class.restore(&dev, &sr), 0);
	CHECK_EQ(rd(&b, PL031_DR), 2000060);
	CHECK_EQ(rd(&b, PL031_LR), 2000000);
	CHECK(!b.level);
	b.now = 1000100;
	pl031_alarm(&b.rtc);
	CHECK(b.level);                 /* the saved alarm went on too */

	/* A corrupt section is refused and changes nothing. */
	w.data[w.len - 1] = 7;
	rig_init(&b, 5);
	state_reader_init(&sr, w.data, w.len);
	CHECK(pl031_class.restore(&dev, &sr) != 0);
	CHECK_EQ(rd(&b, PL031_DR), 5);
	state_writer_free(&w);
	pl031_destroy(&a.rtc);
	pl031_destroy(&b.rtc);
}

static void test_fdt_node(void)
{
	struct boot_layout boot;
	struct mmio_bus bus = { 0 };
	u64 mpidr = 0;
	struct fdt_info info = { .cmdline = "", .nr_cpus = 1, .mpidrs = &mpidr, .bus = &bus,
				 .boot = &boot };
	const fdt32_t *p;
	const char *s;
	void *blob;
	size_t size;
	struct rig r;
	int node, clk, len;

	rig_init(&r, 0);
	boot_layout_init(&boot, ARM64_RAM_BASE, 256 * SZ_1M);
	CHECK_EQ(mmio_bus_register(&bus, ARM64_RTC_BASE, ARM64_RTC_SIZE, &pl031_mmio_ops, &r.rtc,
				   "rtc"), 0);
	CHECK_EQ(fdt_build(&info, &blob, &size), 0);
	node = fdt_path_offset(blob, "/rtc@9020000");
	CHECK(node >= 0);
	CHECK(fdt_node_check_compatible(blob, node, "arm,pl031") == 0);
	CHECK(fdt_node_check_compatible(blob, node, "arm,primecell") == 0);
	s = fdt_getprop(blob, node, "clock-names", NULL);
	CHECK(s && !strcmp(s, "apb_pclk"));
	p = fdt_getprop(blob, node, "interrupts", &len);
	CHECK(p && len == 12);
	CHECK_EQ(fdt32_to_cpu(p[1]), ARM64_RTC_IRQ - 32);
	CHECK_EQ(fdt32_to_cpu(p[2]), FDT_IRQ_TYPE_LEVEL_HIGH);
	p = fdt_getprop(blob, node, "clocks", &len);
	CHECK(p && len == 4);
	clk = fdt_node_offset_by_phandle(blob, fdt32_to_cpu(*p));
	CHECK(clk >= 0);
	CHECK(fdt_node_check_compatible(blob, clk, "fixed-clock") == 0);
	free(blob);
	pl031_destroy(&r.rtc);
}

TEST_SUITE(pl031,
	TEST(test_counts_host_wall_clock),
	TEST(test_load_sets_offset),
	TEST(test_primecell_ids),
	TEST(test_match_raises_masked_line),
	TEST(test_match_now_and_reload),
	TEST(test_hostile_accesses),
	TEST(test_snapshot_keeps_offset),
	TEST(test_fdt_node));
