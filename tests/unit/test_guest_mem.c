// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "arch.h"
#include "guest_mem.h"
#include "test.h"

static void test_translate_inside(void)
{
	static char ram[4096];
	struct guest_mem mem = { 0 };

	CHECK_EQ(guest_mem_add(&mem, 0x80000000, sizeof(ram), ram), 0);
	CHECK(gpa_to_hva(&mem, 0x80000000, 1) == ram);
	CHECK(gpa_to_hva(&mem, 0x80000000, sizeof(ram)) == ram);
	CHECK(gpa_to_hva(&mem, 0x80000fff, 1) == ram + 4095);
}

static void test_translate_refuses_outside(void)
{
	static char ram[4096];
	struct guest_mem mem = { 0 };

	guest_mem_add(&mem, 0x80000000, sizeof(ram), ram);
	CHECK(!gpa_to_hva(&mem, 0x7fffffff, 1));          /* below */
	CHECK(!gpa_to_hva(&mem, 0x7fffffff, 2));          /* straddles the start */
	CHECK(!gpa_to_hva(&mem, 0x80000fff, 2));          /* straddles the end */
	CHECK(!gpa_to_hva(&mem, 0x80001000, 1));          /* just past */
	CHECK(!gpa_to_hva(&mem, 0x80000000, 0));          /* empty */
	CHECK(!gpa_to_hva(&mem, 0x80000000, 4097));       /* too long */
}

static void test_translate_refuses_wrap(void)
{
	static char ram[4096];
	struct guest_mem mem = { 0 };

	guest_mem_add(&mem, 0x80000000, sizeof(ram), ram);
	CHECK(!gpa_to_hva(&mem, 0x80000010, UINT64_MAX));
	CHECK(!gpa_to_hva(&mem, UINT64_MAX, 2));
	CHECK(!gpa_to_hva(&mem, 0x80000001, UINT64_MAX - 0x80000000ULL));
}

static void test_add_rejects_overlap(void)
{
	static char a[8192], b[8192];
	struct guest_mem mem = { 0 };

	CHECK_EQ(guest_mem_add(&mem, 0x1000, 0x2000, a), 0);
	CHECK_EQ(guest_mem_add(&mem, 0x2000, 0x2000, b), -EEXIST);
	CHECK_EQ(guest_mem_add(&mem, 0x0, 0x1001, b), -EEXIST);
	CHECK_EQ(guest_mem_add(&mem, 0x3000, 0x2000, b), 0);
	CHECK_EQ(guest_mem_add(&mem, 0x10000, 0, b), -EINVAL);
	CHECK_EQ(guest_mem_add(&mem, UINT64_MAX - 10, 0x100, b), -EINVAL);
	/* A range that spans two adjacent regions is still refused. */
	CHECK(!gpa_to_hva(&mem, 0x2fff, 2));
	CHECK(gpa_to_hva(&mem, 0x3000, 1) == b);
}

static void test_copy_helpers(void)
{
	static char ram[64];
	struct guest_mem mem = { 0 };
	char buf[4] = "abc";

	guest_mem_add(&mem, 0x100, sizeof(ram), ram);
	CHECK_EQ(guest_mem_write(&mem, 0x100 + 60, buf, 4), 0);
	CHECK_EQ(guest_mem_write(&mem, 0x100 + 61, buf, 4), -EFAULT);
	CHECK_EQ(guest_mem_read(&mem, 0x100 + 60, buf, 4), 0);
	CHECK(ram[60] == 'a' && ram[62] == 'c');
}

static void test_layout_is_consistent(void)
{
	/* The map in layout.h: no two regions overlap, RAM comes last. */
	CHECK(ARM64_GICD_BASE + ARM64_GICD_SIZE <= ARM64_GICR_BASE);
	CHECK(ARM64_GICR_BASE + ARM64_GICR_SIZE <= ARM64_UART_BASE);
	CHECK(ARM64_UART_BASE + ARM64_UART_SIZE <= ARM64_VIRTIO_BASE);
	CHECK(ARM64_VIRTIO_BASE + ARM64_VIRTIO_SLOTS * ARM64_VIRTIO_SLOT_SIZE <= ARM64_RAM_BASE);
	CHECK(IS_ALIGNED(ARM64_RAM_BASE, SZ_2M));
	CHECK(ARM64_GICR_MAX_VCPUS >= 8);
	CHECK(ARM64_VIRTIO_IRQ_BASE + ARM64_VIRTIO_SLOTS <= ARM64_NR_IRQS);
	CHECK(ARM64_UART_IRQ < ARM64_VIRTIO_IRQ_BASE);
}

/* arkvm's own writes, page by page, for diff snapshots; taking them clears them. */
static void test_dirty_tracking(void)
{
	struct guest_mem mem = { 0 };
	unsigned long bits[2] = { 0 };

	guest_mem_mark_dirty(&mem, 0x1000, 8);   /* not tracked: nothing happens */
	CHECK_EQ(guest_mem_track_dirty(&mem, 0x40000000, 100 * 4096, 12), 0);
	guest_mem_mark_dirty(&mem, 0x40000000 + 4095, 2);     /* pages 0 and 1 */
	guest_mem_mark_dirty(&mem, 0x40000000 + 70 * 4096, 1);
	guest_mem_mark_dirty(&mem, 0x40000000 + 99 * 4096, 4096 * 5);  /* clipped at the end */
	guest_mem_mark_dirty(&mem, 0x3fffffff, 1);             /* below: ignored */
	guest_mem_take_dirty(&mem, bits);
	CHECK_EQ(bits[0], 3);
	CHECK_EQ(bits[1], (1UL << (70 - 64)) | (1UL << (99 - 64)));
	bits[0] = bits[1] = 0;
	guest_mem_take_dirty(&mem, bits);
	CHECK_EQ(bits[0] | bits[1], 0);
	guest_mem_untrack_dirty(&mem);
}

TEST_SUITE(guest_mem,
	   TEST(test_dirty_tracking),
	   TEST(test_translate_inside),
	   TEST(test_translate_refuses_outside),
	   TEST(test_translate_refuses_wrap),
	   TEST(test_add_rejects_overlap),
	   TEST(test_copy_helpers),
	   TEST(test_layout_is_consistent));
