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

/*
 * The pages arkvm itself writes in guest RAM (a device's buffers, used
 * rings), for diff snapshots: KVM's dirty log sees only the guest's own
 * writes.  One bit per page of [base, base + pages << shift).
 */
struct dirty_bitmap {
	unsigned long *bits;
	u64 base;
	u64 pages;
	unsigned int shift;
};

/* Guest RAM as the host sees it: a few non-overlapping regions. */
struct guest_mem {
	struct mem_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr_regions;
	struct dirty_bitmap dirty;   /* bits NULL: not tracked */
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

/* Tracks arkvm's writes to [base, base + size) from now on; -ENOMEM. */
int guest_mem_track_dirty(struct guest_mem *mem, u64 base, u64 size, unsigned int page_shift);
void guest_mem_untrack_dirty(struct guest_mem *mem);
/* Any thread: the pages of [gpa, gpa + len) were written by arkvm. */
void guest_mem_mark_dirty(const struct guest_mem *mem, u64 gpa, u64 len);
/* ORs the tracked bits into @out (as many words as the bitmap) and clears them. */
void guest_mem_take_dirty(const struct guest_mem *mem, unsigned long *out);

#endif
