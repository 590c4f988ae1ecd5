// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest_mem.h"

static bool range_overlaps(u64 a, u64 alen, u64 b, u64 blen)
{
	return a < b + blen && b < a + alen;
}

int guest_mem_add(struct guest_mem *mem, u64 gpa, u64 size, void *hva)
{
	unsigned int i;

	if (!size || !hva || gpa + size < gpa)
		return -EINVAL;
	if (mem->nr_regions == GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	for (i = 0; i < mem->nr_regions; i++)
		if (range_overlaps(gpa, size, mem->regions[i].gpa, mem->regions[i].size))
			return -EEXIST;

	mem->regions[mem->nr_regions++] = (struct mem_region){
		.gpa = gpa, .size = size, .hva = hva,
	};
	return 0;
}

void *gpa_to_hva(const struct guest_mem *mem, u64 gpa, u64 len)
{
	unsigned int i;

	if (!len)
		return NULL;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		u64 off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		/* Written so that no sum can wrap: off < size, len <= size - off. */
		if (off >= r->size || len > r->size - off)
			continue;
		return (char *)r->hva + off;
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *mem, u64 gpa, const void *src, u64 len)
{
	void *dst = gpa_to_hva(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *mem, u64 gpa, void *dst, u64 len)
{
	const void *src = gpa_to_hva(mem, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

#define BITS_PER_LONG (8 * sizeof(unsigned long))

int guest_mem_track_dirty(struct guest_mem *mem, u64 base, u64 size, unsigned int page_shift)
{
	u64 pages = size >> page_shift;
	unsigned long *bits = calloc((pages + BITS_PER_LONG - 1) / BITS_PER_LONG, sizeof(*bits));

	if (!bits)
		return -ENOMEM;
	mem->dirty = (struct dirty_bitmap){ .bits = bits, .base = base, .pages = pages,
					    .shift = page_shift };
	return 0;
}

void guest_mem_untrack_dirty(struct guest_mem *mem)
{
	free(mem->dirty.bits);
	mem->dirty = (struct dirty_bitmap){ 0 };
}

void guest_mem_mark_dirty(const struct guest_mem *mem, u64 gpa, u64 len)
{
	const struct dirty_bitmap *d = &mem->dirty;
	u64 first, last;

	if (!d->bits || !len || gpa < d->base)
		return;
	first = (gpa - d->base) >> d->shift;
	last = (gpa - d->base + len - 1) >> d->shift;
	for (u64 p = first; p <= last && p < d->pages; p++)
		__atomic_fetch_or(&d->bits[p / BITS_PER_LONG], 1UL << (p % BITS_PER_LONG),
				  __ATOMIC_RELAXED);
}

void guest_mem_take_dirty(const struct guest_mem *mem, unsigned long *out)
{
	const struct dirty_bitmap *d = &mem->dirty;

	for (u64 i = 0; d->bits && i < (d->pages + BITS_PER_LONG - 1) / BITS_PER_LONG; i++)
		out[i] |= __atomic_exchange_n(&d->bits[i], 0UL, __ATOMIC_RELAXED);
}
