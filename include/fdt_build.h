/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FDT_BUILD_H
#define ARKVM_FDT_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

struct boot_layout;
struct cpu_topology_config;
struct mmio_bus;

/*
 * A thin layer over libfdt's sequential-write API that remembers the first
 * error, so that node builders read as a plain list of properties and the
 * error is looked at once, at the end.
 */
struct fdt_writer {
	void *fdt;
	int err;          /* first -FDT_ERR_* seen, or 0 */
};

void fdt_w_begin_node(struct fdt_writer *w, const char *name);
void fdt_w_end_node(struct fdt_writer *w);
void fdt_w_prop(struct fdt_writer *w, const char *name, const void *val, int len);
void fdt_w_prop_empty(struct fdt_writer *w, const char *name);
void fdt_w_prop_u32(struct fdt_writer *w, const char *name, u32 val);
void fdt_w_prop_u64(struct fdt_writer *w, const char *name, u64 val);
void fdt_w_prop_str(struct fdt_writer *w, const char *name, const char *str);
/* Writes @n 32-bit cells, converting each to big-endian. */
void fdt_w_prop_cells(struct fdt_writer *w, const char *name, const u32 *cells, int n);
/* reg = <base size> with two cells each, as the root declares. */
void fdt_w_prop_reg(struct fdt_writer *w, u64 base, u64 size);
/* Opens "<prefix>@<base>" with compatible and reg: the start of every MMIO device node. */
void fdt_w_begin_mmio_node(struct fdt_writer *w, const char *prefix, u64 base, u64 len,
			   const char *compatible);
/* interrupts = <GIC_SPI (intid - 32) type> for a shared peripheral interrupt. */
void fdt_w_prop_spi(struct fdt_writer *w, u32 intid, u32 type);

#define FDT_IRQ_TYPE_EDGE_RISING 1
#define FDT_IRQ_TYPE_LEVEL_HIGH  4

#define FDT_PHANDLE_GIC 1
/* The PL031's fixed "apb_pclk" (devices/pl031.c): far from any other phandle. */
#define FDT_PHANDLE_APB_PCLK 0x8000
/* Each cpu node's, with a --cpus topology (the cpu-map points at them). */
#define FDT_PHANDLE_CPU(i) (0x100u + (i))

#define FDT_RNG_SEED_SIZE 64

/* Everything the guest device tree describes. */
struct fdt_info {
	const struct boot_layout *boot;
	const char *cmdline;
	unsigned int nr_cpus;
	const u64 *mpidrs;           /* as read back from KVM, one per vCPU */
	const struct mmio_bus *bus;  /* each device with an fdt_node op adds its node */
	const char *stdout_path;     /* the console's node path, or NULL */
	const struct cpu_topology_config *topology;  /* NULL: none given, no cpu-map */
	bool pmu;                    /* the vCPUs have a PMUv3: its node */
	u8 rng_seed[FDT_RNG_SEED_SIZE];
	u64 kaslr_seed;
	unsigned int gic_version;    /* 2, or 3 (0 says 3 too) */
};

/*
 * The three interrupt cells of PPI @ppi (INTID - 16) with trigger @type,
 * as the guest's GIC wants them: a GICv2's carry in bits 8-15 of the flags
 * the CPUs the PPI goes to (all of them).  Every node with a PPI (timer,
 * PMU) writes its cells with it.
 */
void fdt_ppi_cells(const struct fdt_info *info, u32 ppi, u32 type, u32 cells[3]);

/*
 * Builds the blob into a malloc()ed buffer that grows until the tree fits
 * (at most ARM64_FDT_MAX_SIZE).  Returns 0 or a negative errno; the caller
 * frees *@blob.
 */
int fdt_build(const struct fdt_info *info, void **blob, size_t *size);

#endif
