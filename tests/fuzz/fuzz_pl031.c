// SPDX-License-Identifier: Apache-2.0
/* The PL031 RTC: register accesses of any offset, width and value, and a clock that moves. */
#include "fuzz.h"
#include "pl031.h"

static struct pl031 rtc;
static int64_t now = 1700000000;

static int64_t fuzz_clock(void *opaque)
{
	return now;
}

static void set_level(void *opaque, u32 intid, bool level)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct irq_line irq = { .set_level = set_level, .intid = 33 };

	pl031_init(&rtc, &irq, fuzz_clock, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };

	while (in.n) {
		u8 op = (u8)fz_take(&in, 1);
		u64 off = fz_take(&in, 2) & 0xfff;
		u32 width = 1u << (op >> 2 & 3);
		u64 val = fz_take(&in, 8);

		if (off + width > 0x1000)
			off = 0x1000 - width;
		switch (op & 3) {
		case 0:
			pl031_mmio_ops.read(&rtc, off, width);
			break;
		case 1:
			pl031_mmio_ops.write(&rtc, off, val, width);
			break;
		case 2:
			now += (int64_t)(val & 0xffffffff) - 0x80000000LL;
			pl031_alarm(&rtc);
			break;
		default:
			pl031_count(&rtc);
			break;
		}
	}
	return 0;
}
