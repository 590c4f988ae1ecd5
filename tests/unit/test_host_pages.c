// SPDX-License-Identifier: Apache-2.0
#include "host_pages.h"
#include "test.h"

static void test_pmd_block_per_page_size(void)
{
	CHECK_EQ(pmd_block_size(4096), SZ_2M);
	CHECK_EQ(pmd_block_size(16384), 32 * SZ_1M);
	CHECK_EQ(pmd_block_size(65536), 512 * SZ_1M);
}

static void test_ram_align_per_page_size(void)
{
	CHECK_EQ(ram_map_align(4096), SZ_2M);
	CHECK_EQ(ram_map_align(16384), 32 * SZ_1M);
	CHECK_EQ(ram_map_align(65536), 512 * SZ_1M);
	/* Always a multiple of the page, whatever the host's. */
	for (u64 page = 4096; page <= 65536; page *= 4)
		CHECK(IS_ALIGNED(ram_map_align(page), page));
}

static void test_host_sizes_agree(void)
{
	u64 page = host_page_size(), huge = host_hugepage_size();

	CHECK(page == 4096 || page == 16384 || page == 65536);
	CHECK(huge >= page && IS_ALIGNED(huge, page));
}

TEST_SUITE(host_pages,
	TEST(test_pmd_block_per_page_size),
	TEST(test_ram_align_per_page_size),
	TEST(test_host_sizes_agree));
