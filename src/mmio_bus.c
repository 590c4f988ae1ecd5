// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "log.h"
#include "mmio_bus.h"

int mmio_bus_register(struct mmio_bus *bus, u64 base, u64 len,
		      const struct mmio_ops *ops, void *opaque, const char *name)
{
	unsigned int pos;

	if (!len || base + len < base || !ops || !ops->read || !ops->write)
		return -EINVAL;
	if (bus->nr_ranges == MMIO_BUS_MAX_RANGES)
		return -ENOSPC;

	for (pos = 0; pos < bus->nr_ranges; pos++)
		if (bus->ranges[pos].base >= base)
			break;
	/* Sorted and non-overlapping: only the two neighbours can collide. */
	if (pos > 0) {
		const struct mmio_range *prev = &bus->ranges[pos - 1];

		if (prev->base + prev->len > base)
			return -EEXIST;
	}
	if (pos < bus->nr_ranges && bus->ranges[pos].base < base + len)
		return -EEXIST;

	memmove(&bus->ranges[pos + 1], &bus->ranges[pos],
		(bus->nr_ranges - pos) * sizeof(bus->ranges[0]));
	bus->ranges[pos] = (struct mmio_range){
		.base = base, .len = len, .ops = ops, .opaque = opaque, .name = name,
	};
	bus->nr_ranges++;
	return 0;
}

const struct mmio_range *mmio_bus_find(const struct mmio_bus *bus, u64 addr)
{
	unsigned int lo = 0, hi = bus->nr_ranges;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct mmio_range *r = &bus->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static u64 le_bytes_to_u64(const u8 *data, u32 len)
{
	u64 v = 0;

	for (u32 i = 0; i < len; i++)
		v |= (u64)data[i] << (8 * i);
	return v;
}

static void u64_to_le_bytes(u64 v, u8 *data, u32 len)
{
	for (u32 i = 0; i < len; i++)
		data[i] = (u8)(v >> (8 * i));
}

bool mmio_bus_access(const struct mmio_bus *bus, u64 addr, u8 *data, u32 len,
		     bool is_write)
{
	const struct mmio_range *r = mmio_bus_find(bus, addr);
	u64 off;

	if (len != 1 && len != 2 && len != 4 && len != 8)
		goto unclaimed;
	if (!r)
		goto unclaimed;
	off = addr - r->base;
	if (len > r->len - off)
		goto unclaimed;

	if (is_write)
		r->ops->write(r->opaque, off, le_bytes_to_u64(data, len), len);
	else
		u64_to_le_bytes(r->ops->read(r->opaque, off, len), data, len);
	return true;

unclaimed:
	pr_warn_ratelimited("guest %s of %u bytes at 0x%llx: no device there",
			    is_write ? "write" : "read", len, (unsigned long long)addr);
	if (!is_write)
		memset(data, 0, MIN(len, 8u));
	return false;
}
