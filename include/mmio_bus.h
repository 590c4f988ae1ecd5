/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_MMIO_BUS_H
#define ARKVM_MMIO_BUS_H

#include <stdbool.h>

#include "compiler.h"

struct fdt_writer;

/*
 * A device on the MMIO bus sees offsets relative to its own base, never
 * guest physical addresses.  Values are host-endian; the bus converts from
 * and to the little-endian bytes KVM hands over.  @size is 1, 2, 4 or 8 and
 * offset + size never leaves the device's range.
 */
struct mmio_ops {
	u64 (*read)(void *opaque, u64 offset, u32 size);
	void (*write)(void *opaque, u64 offset, u64 value, u32 size);
	/* Optional: adds the device's node to the guest device tree. */
	void (*fdt_node)(void *opaque, struct fdt_writer *w, u64 base, u64 len);
};

struct mmio_range {
	u64 base;
	u64 len;
	const struct mmio_ops *ops;
	void *opaque;
	const char *name;
};

#define MMIO_BUS_MAX_RANGES 64

/*
 * A table of ranges sorted by base.  All registration happens before the
 * first vCPU runs; after that the table is only read, so lookups from
 * several vCPU threads need no lock.
 */
struct mmio_bus {
	struct mmio_range ranges[MMIO_BUS_MAX_RANGES];
	unsigned int nr_ranges;
};

/* 0, or -EINVAL (empty or wrapping range, no ops), -EEXIST (overlap), -ENOSPC. */
int mmio_bus_register(struct mmio_bus *bus, u64 base, u64 len,
		      const struct mmio_ops *ops, void *opaque, const char *name);

const struct mmio_range *mmio_bus_find(const struct mmio_bus *bus, u64 addr);

/*
 * Performs one guest access of @len bytes at @addr on the little-endian
 * buffer @data.  Returns false when no device claims the whole access: a
 * read then yields zeroes and a write is dropped.
 */
bool mmio_bus_access(const struct mmio_bus *bus, u64 addr, u8 *data, u32 len,
		     bool is_write);

#endif
