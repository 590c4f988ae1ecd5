/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_HOST_PAGES_H
#define ARKVM_HOST_PAGES_H

#include "compiler.h"

/*
 * The host's page sizes: arm64 hosts run 4K, 16K or 64K pages, and every
 * alignment that concerns host memory (guest RAM, its memory slot, what
 * madvise and userfaultfd take whole, the snapshot's memory file) follows
 * from them, never from a constant 4096.
 */

/* sysconf(_SC_PAGESIZE). */
u64 host_page_size(void);

/*
 * The size of a level-2 block (a PMD) with @page-sized pages: 2M for 4K,
 * 32M for 16K, 512M for 64K.  Transparent huge pages, and the default
 * hugetlb page, have this size.
 */
u64 pmd_block_size(u64 page);

/*
 * The hugetlb pages MAP_HUGETLB gets: /proc/meminfo's Hugepagesize when
 * it says, else pmd_block_size() of the host's page.
 */
u64 host_hugepage_size(void);

/*
 * Where guest RAM's mapping starts: at a multiple of the huge page that
 * can back it (THP's block), at least 2M, so KVM maps the guest in blocks.
 */
u64 ram_map_align(u64 page);

#endif
