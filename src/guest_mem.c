// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
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
