// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel Image loader on any file, plain or gzip (the loader decides by
 * the magic, as for a user's file): it must refuse or load inside RAM.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "loader.h"

#define RAM_BASE 0x80000000ULL
#define RAM_SIZE (64ULL << 20)

static struct guest_mem mem;
static int fd;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	fd = memfd_create("fuzz-image", 0);
	if (ram == MAP_FAILED || fd < 0)
		return -1;
	return guest_mem_add(&mem, RAM_BASE, RAM_SIZE, ram);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct boot_layout boot;

	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	boot_layout_init(&boot, RAM_BASE, RAM_SIZE);
	load_kernel_fd(&mem, &boot, fd, "fuzz");
	return 0;
}
