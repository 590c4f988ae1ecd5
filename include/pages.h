/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_PAGES_H
#define ARKVM_PAGES_H

#include <stddef.h>
#include <sys/mman.h>

/*
 * Zeroed memory straight from the kernel, whose pages become resident only
 * when they are touched.  For state that is large and mostly idle (struct
 * vm, a device's chain of 1024 iovecs): calloc() from the heap clears, and
 * so makes resident, every byte of it, and arkvm's own memory is one of the
 * figures it is judged by.  NULL when out of memory.
 */
static inline void *pages_zalloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline void pages_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

#endif
