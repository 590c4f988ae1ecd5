// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "mmio_bus.h"
#include "test.h"

struct fake_dev {
	u64 last_off, last_val;
	u32 last_size;
	unsigned int reads, writes;
};

static u64 fake_read(void *opaque, u64 off, u32 size)
{
	struct fake_dev *d = opaque;

	d->reads++;
	d->last_off = off;
	d->last_size = size;
	return 0x1122334455667788ULL;
}

static void fake_write(void *opaque, u64 off, u64 val, u32 size)
{
	struct fake_dev *d = opaque;

	d->writes++;
	d->last_off = off;
	d->last_val = val;
	d->last_size = size;
}

static const struct mmio_ops fake_ops = { .read = fake_read, .write = fake_write };

static void test_register_rejects_bad_ranges(void)
{
	struct mmio_bus bus = { 0 };
	struct fake_dev d;

	CHECK_EQ(mmio_bus_register(&bus, 0x1000, 0x100, &fake_ops, &d, "a"), 0);
	CHECK_EQ(mmio_bus_register(&bus, 0x1000, 0x100, &fake_ops, &d, "same"), -EEXIST);
	CHECK_EQ(mmio_bus_register(&bus, 0x10ff, 0x10, &fake_ops, &d, "tail"), -EEXIST);
	CHECK_EQ(mmio_bus_register(&bus, 0xff0, 0x11, &fake_ops, &d, "head"), -EEXIST);
	CHECK_EQ(mmio_bus_register(&bus, 0x800, 0x2000, &fake_ops, &d, "around"), -EEXIST);
	CHECK_EQ(mmio_bus_register(&bus, 0x2000, 0, &fake_ops, &d, "empty"), -EINVAL);
	CHECK_EQ(mmio_bus_register(&bus, UINT64_MAX - 5, 0x10, &fake_ops, &d, "wrap"), -EINVAL);
	CHECK_EQ(mmio_bus_register(&bus, 0x1100, 0x100, &fake_ops, &d, "adjacent"), 0);
	CHECK_EQ(mmio_bus_register(&bus, 0xf00, 0x100, &fake_ops, &d, "before"), 0);
	CHECK_EQ(bus.nr_ranges, 3);
	CHECK(bus.ranges[0].base == 0xf00 && bus.ranges[1].base == 0x1000 &&
	      bus.ranges[2].base == 0x1100);
}

static void test_register_full(void)
{
	struct mmio_bus bus = { 0 };
	struct fake_dev d;

	for (unsigned int i = 0; i < MMIO_BUS_MAX_RANGES; i++)
		CHECK_EQ(mmio_bus_register(&bus, (MMIO_BUS_MAX_RANGES - i) * 0x1000ULL, 0x1000,
					   &fake_ops, &d, "x"), 0);
	CHECK_EQ(mmio_bus_register(&bus, 0x100000, 0x10, &fake_ops, &d, "x"), -ENOSPC);
	for (unsigned int i = 1; i < MMIO_BUS_MAX_RANGES; i++)
		CHECK(bus.ranges[i - 1].base < bus.ranges[i].base);
}

static void test_find(void)
{
	struct mmio_bus bus = { 0 };
	struct fake_dev a, b;

	mmio_bus_register(&bus, 0x9000000, 0x1000, &fake_ops, &a, "a");
	mmio_bus_register(&bus, 0xa000000, 0x200, &fake_ops, &b, "b");
	CHECK(mmio_bus_find(&bus, 0x9000000)->opaque == &a);
	CHECK(mmio_bus_find(&bus, 0x9000fff)->opaque == &a);
	CHECK(!mmio_bus_find(&bus, 0x9001000));
	CHECK(mmio_bus_find(&bus, 0xa0001ff)->opaque == &b);
	CHECK(!mmio_bus_find(&bus, 0xa000200));
	CHECK(!mmio_bus_find(&bus, 0));
}

static void test_access_relative_offsets_and_endianness(void)
{
	struct mmio_bus bus = { 0 };
	struct fake_dev d = { 0 };
	u8 data[8] = { 0x78, 0x56, 0x34, 0x12 };

	mmio_bus_register(&bus, 0x9000000, 0x1000, &fake_ops, &d, "d");
	CHECK(mmio_bus_access(&bus, 0x9000010, data, 4, true));
	CHECK_EQ(d.last_off, 0x10);
	CHECK_EQ(d.last_val, 0x12345678);
	CHECK_EQ(d.last_size, 4);

	memset(data, 0, sizeof(data));
	CHECK(mmio_bus_access(&bus, 0x9000ff8, data, 8, false));
	CHECK_EQ(d.last_off, 0xff8);
	CHECK(data[0] == 0x88 && data[7] == 0x11);

	memset(data, 0, sizeof(data));
	CHECK(mmio_bus_access(&bus, 0x9000000, data, 2, false));
	CHECK(data[0] == 0x88 && data[1] == 0x77 && data[2] == 0);
}

static void test_access_unclaimed(void)
{
	struct mmio_bus bus = { 0 };
	struct fake_dev d = { 0 };
	u8 data[8];

	mmio_bus_register(&bus, 0x9000000, 0x1000, &fake_ops, &d, "d");
	memset(data, 0xaa, sizeof(data));
	CHECK(!mmio_bus_access(&bus, 0x8000000, data, 4, false));
	CHECK(data[0] == 0 && data[3] == 0);
	/* Straddling the end of a device is refused, not split. */
	CHECK(!mmio_bus_access(&bus, 0x9000ffc, data, 8, true));
	/* Odd sizes are refused. */
	CHECK(!mmio_bus_access(&bus, 0x9000000, data, 3, true));
	CHECK_EQ(d.writes, 0);
	CHECK_EQ(d.reads, 0);
}

TEST_SUITE(mmio_bus,
	   TEST(test_register_rejects_bad_ranges),
	   TEST(test_register_full),
	   TEST(test_find),
	   TEST(test_access_relative_offsets_and_endianness),
	   TEST(test_access_unclaimed));
