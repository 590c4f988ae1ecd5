// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-balloon's queues: the input is the features the driver accepts
 * (which move the statistics and reporting queues), guest RAM (the four
 * rings, page lists, statistics, report ranges), then a script of kicks,
 * statistics ticks, new targets, config writes and pauses.  Guest RAM is
 * a real mapping between two guard pages: whatever the guest sends, the
 * guards must read back as they were (nothing outside RAM is released).
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_driver.h"
#include "fuzz.h"
#include "virtio_balloon.h"

#define RAM_USED 0x10000
#define GUARD_BYTE 0xaa

static struct fake_driver q[4];
static struct virtio_balloon *b;
static u8 *map;
static size_t page;

static void no_interrupt(void *opaque)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct balloon_config cfg = {
		.enabled = true, .amount_mib = 1, .deflate_on_oom = true,
		.free_page_reporting = true, .stats_interval_s = 1,
	};

	page = (size_t)sysconf(_SC_PAGESIZE);
	map = mmap(NULL, FAKE_RAM_SIZE + 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -1;
	memset(map, GUARD_BYTE, page);
	memset(map + page + FAKE_RAM_SIZE, GUARD_BYTE, page);
	fake_driver_init(&q[0], 8);
	free(q[0].ram);
	q[0].ram = map + page;
	q[0].mem = (struct guest_mem){ .nr_regions = 0 };
	guest_mem_add(&q[0].mem, FAKE_RAM_BASE, FAKE_RAM_SIZE, q[0].ram);
	q[0].shares_ram = true;
	for (unsigned int i = 1; i < 4; i++)
		fake_driver_init_queue(&q[i], &q[0], FAKE_RAM_BASE + i * 0x4000, 8);
	b = calloc(1, sizeof(*b));
	if (!b || virtio_balloon_init(b, &cfg, page, &q[0].mem, NULL))
		return -1;
	b->vdev.interrupt = no_interrupt;
	return 0;
}

static void step(struct fuzz_in *in)
{
	unsigned int op = (unsigned int)fz_take(in, 1);
	u64 val;

	switch (op % 8) {
	case 0: case 1: case 2: case 3:
		virtio_dev_queue_notify(&b->vdev, op % 8);
		break;
	case 4:
		virtio_balloon_stats_tick(b);
		break;
	case 5:
		virtio_balloon_set_target(b, (u32)fz_take(in, 1) % 3);  /* 2 MiB is refused */
		break;
	case 6:
		val = fz_take(in, 4);
		virtio_mmio_ops.write(&b->vdev, 0x100 + (op >> 3) % 20, val, 1u << ((op >> 6) % 3));
		break;
	default:
		virtio_balloon_quiesce(b);
		virtio_balloon_resume(b);
		break;
	}
}

static bool guards_intact(void)
{
	for (size_t i = 0; i < page; i++)
		if (map[i] != GUARD_BYTE || map[page + FAKE_RAM_SIZE + i] != GUARD_BYTE)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_driver *queues[] = { &q[0], &q[1], &q[2], &q[3] };
	struct fuzz_in in = { data, size };
	u64 features = fz_take(&in, 8);

	memset(q[0].ram, 0, RAM_USED);
	fz_copy(&in, q[0].ram, RAM_USED);
	fake_bring_up_queues(&b->vdev, features, queues, 4);
	for (unsigned int steps = 0; in.n && steps < 64; steps++)
		step(&in);
	/* The driver goes away. */
	virtio_mmio_ops.write(&b->vdev, 0x070, 0, 4);
	if (!guards_intact())
		__builtin_trap(); /* released memory that is not guest RAM */
	return 0;
}
