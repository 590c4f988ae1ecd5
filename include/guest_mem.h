/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_GUEST_MEM_H
#define ARKVM_GUEST_MEM_H

#include <stdbool.h>

#include "compiler.h"

#define GUEST_MEM_MAX_REGIONS 8

struct mem_region {
	u64 gpa;
	u64 size;
	void *hva;
};

/* Guest RAM as the host sees it: a few non-overlapping regions. */
struct guest_mem {
	struct mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr_regions;
};

/* Adds [gpa, gpa + size) backed by @hva; -EINVAL, -EEXIST or -ENOSPC. */
int guest_mem_add(struct guest_mem *mem, u64 gpa, u64 size, void *hva);

/*
 * The one translation from guest physical to host virtual address.  It
 * returns NULL unless the whole range [gpa, gpa + len) lies inside a single
 * RAM region, with every sum checked for overflow; a zero length is refused.
 * All access to guest memory goes through here.
 */
void *gpa_to_hva(const struct guest_mem *mem, u64 gpa, u64 len);

/* Copies into or out of guest RAM; -EFAULT when the range is not RAM. */
int guest_mem_write(const struct guest_mem *mem, u64 gpa, const void *src, u64 len);
int guest_mem_read(const struct guest_mem *mem, u64 gpa, void *dst, u64 len);

#endif
