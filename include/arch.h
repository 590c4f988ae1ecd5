/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_ARCH_H
#define ARKVM_ARCH_H

/*
 * The one way into architecture-specific code from outside src/arch/: the
 * guest memory map and the hooks (VGIC, vCPU init, boot registers) of the
 * architecture arkvm is built for.  arkvm is arm64-only today (the Makefile
 * refuses any other ARCH); a second architecture adds its branch here,
 * chosen by ARCH, and nothing else outside src/arch/ changes.
 */
#include "arch/arm64/arm64.h"
#include "arch/arm64/layout.h"

#endif
