// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <unistd.h>

#include "host_pages.h"

u64 host_page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (u64)page : 4096;
}

/* A table level resolves page / 8 entries (8-byte descriptors), each a page. */
u64 pmd_block_size(u64 page)
{
	return page * (page / 8);
}

u64 host_hugepage_size(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kib = 0;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib ? kib * 1024 : pmd_block_size(host_page_size());
}

u64 ram_map_align(u64 page)
{
	u64 block = pmd_block_size(page);

	return block > SZ_2M ? block : SZ_2M;
}
