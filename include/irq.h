/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_IRQ_H
#define ARKVM_IRQ_H

#include <stdbool.h>

#include "compiler.h"

/*
 * A device's interrupt line.  The VM fills it in; unit tests point it at
 * a recorder.  @intid is the GIC interrupt ID (an SPI, so 32 or more).
 */
struct irq_line {
	void (*set_level)(void *opaque, u32 intid, bool level);
	void *opaque;
	u32 intid;
};

static inline void irq_line_set(const struct irq_line *l, bool level)
{
	l->set_level(l->opaque, l->intid, level);
}

#endif
