// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch.h"
#include "cpu_topology.h"
#include "fdt_build.h"
#include "loader.h"
#include "log.h"
#include "mmio_bus.h"

#define GIC_FDT_SPI 0
#define GIC_FDT_PPI 1

/* MPIDR_EL1 affinity fields Aff3..Aff0; the rest is not part of the id. */
#define MPIDR_HWID_MASK 0xff00ffffffULL

void fdt_w_begin_node(struct fdt_writer *w, const char *name)
{
	if (!w->err)
		w->err = fdt_begin_node(w->fdt, name);
}

void fdt_w_end_node(struct fdt_writer *w)
{
	if (!w->err)
		w->err = fdt_end_node(w->fdt);
}

void fdt_w_prop(struct fdt_writer *w, const char *name, const void *val, int len)
{
	if (!w->err)
		w->err = fdt_property(w->fdt, name, val, len);
}

void fdt_w_prop_empty(struct fdt_writer *w, const char *name)
{
	fdt_w_prop(w, name, NULL, 0);
}

void fdt_w_prop_u32(struct fdt_writer *w, const char *name, u32 val)
{
	if (!w->err)
		w->err = fdt_property_u32(w->fdt, name, val);
}

void fdt_w_prop_u64(struct fdt_writer *w, const char *name, u64 val)
{
	if (!w->err)
		w->err = fdt_property_u64(w->fdt, name, val);
}

void fdt_w_prop_str(struct fdt_writer *w, const char *name, const char *str)
{
	if (!w->err)
		w->err = fdt_property_string(w->fdt, name, str);
}

void fdt_w_prop_cells(struct fdt_writer *w, const char *name, const u32 *cells, int n)
{
	fdt32_t be[16];

	if (n > (int)ARRAY_SIZE(be)) {
		w->err = w->err ? w->err : -FDT_ERR_BADVALUE;
		return;
	}
	for (int i = 0; i < n; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	fdt_w_prop(w, name, be, n * (int)sizeof(be[0]));
}

void fdt_w_prop_reg(struct fdt_writer *w, u64 base, u64 size)
{
	u32 cells[] = { (u32)(base >> 32), (u32)base, (u32)(size >> 32), (u32)size };

	fdt_w_prop_cells(w, "reg", cells, 4);
}

void fdt_w_begin_mmio_node(struct fdt_writer *w, const char *prefix, u64 base, u64 len,
			   const char *compatible)
{
	char name[64];

	snprintf(name, sizeof(name), "%s@%llx", prefix, (unsigned long long)base);
	fdt_w_begin_node(w, name);
	fdt_w_prop_str(w, "compatible", compatible);
	fdt_w_prop_reg(w, base, len);
}

void fdt_w_prop_spi(struct fdt_writer *w, u32 intid, u32 type)
{
	u32 cells[] = { GIC_FDT_SPI, intid - ARM64_SPI_BASE, type };

	fdt_w_prop_cells(w, "interrupts", cells, 3);
}

static void fdt_add_memory(struct fdt_writer *w, const struct boot_layout *b)
{
	char name[32];

	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)b->ram_base);
	fdt_w_begin_node(w, name);
	fdt_w_prop_str(w, "device_type", "memory");
	fdt_w_prop_reg(w, b->ram_base, b->ram_size);
	fdt_w_end_node(w);
}

static void fdt_begin_numbered(struct fdt_writer *w, const char *kind, unsigned int n)
{
	char name[24];

	snprintf(name, sizeof(name), "%s%u", kind, n);
	fdt_w_begin_node(w, name);
}

/*
 * /cpus/cpu-map: socketN/clusterN/coreN[/threadN], each leaf pointing at
 * its cpu node.  With one socket the clusters sit right under cpu-map:
 * socket 0 to kernels that read socket nodes, and the only form that
 * older ones (Debian 12's 6.1) understand.  vCPUs count threads fastest, so
 * each level's nodes open and close in vCPU order.
 */
static void fdt_add_cpu_map(struct fdt_writer *w, const struct cpu_topology_config *t,
			    unsigned int nr_cpus)
{
	bool sockets = t->sockets > 1, threads = t->threads > 1;
	struct cpu_place p;

	fdt_w_begin_node(w, "cpu-map");
	for (unsigned int i = 0; i < nr_cpus; i++) {
		cpu_topology_place(t, i, &p);
		if (sockets && !p.cluster && !p.core && !p.thread)
			fdt_begin_numbered(w, "socket", p.socket);
		if (!p.core && !p.thread)
			fdt_begin_numbered(w, "cluster", p.cluster);
		if (!p.thread)
			fdt_begin_numbered(w, "core", p.core);
		if (threads)
			fdt_begin_numbered(w, "thread", p.thread);
		fdt_w_prop_u32(w, "cpu", FDT_PHANDLE_CPU(i));
		if (threads)
			fdt_w_end_node(w);
		if (p.thread == t->threads - 1)
			fdt_w_end_node(w);                /* core */
		if (p.thread == t->threads - 1 && p.core == t->cores - 1)
			fdt_w_end_node(w);                /* cluster */
		if (sockets && p.thread == t->threads - 1 && p.core == t->cores - 1 &&
		    p.cluster == t->clusters - 1)
			fdt_w_end_node(w);                /* socket */
	}
	fdt_w_end_node(w);
}

static void fdt_add_cpus(struct fdt_writer *w, const struct fdt_info *info)
{
	fdt_w_begin_node(w, "cpus");
	fdt_w_prop_u32(w, "#address-cells", 2);
	fdt_w_prop_u32(w, "#size-cells", 0);
	for (unsigned int i = 0; i < info->nr_cpus; i++) {
		u64 hwid = info->mpidrs[i] & MPIDR_HWID_MASK;
		char name[32];

		snprintf(name, sizeof(name), "cpu@%llx", (unsigned long long)hwid);
		fdt_w_begin_node(w, name);
		fdt_w_prop_str(w, "device_type", "cpu");
		fdt_w_prop_str(w, "compatible", "arm,armv8");
		fdt_w_prop_str(w, "enable-method", "psci");
		fdt_w_prop_u64(w, "reg", hwid);
		if (info->topology)
			fdt_w_prop_u32(w, "phandle", FDT_PHANDLE_CPU(i));
		fdt_w_end_node(w);
	}
	if (info->topology)
		fdt_add_cpu_map(w, info->topology, info->nr_cpus);
	fdt_w_end_node(w);
}

static void fdt_add_psci(struct fdt_writer *w)
{
	fdt_w_begin_node(w, "psci");
	fdt_w_prop_str(w, "compatible", "arm,psci-0.2");
	fdt_w_prop_str(w, "method", "hvc");
	fdt_w_end_node(w);
}

void fdt_ppi_cells(const struct fdt_info *info, u32 ppi, u32 type, u32 cells[3])
{
	u32 mask = 0;

	if (info->gic_version == 2)
		mask = (u32)(((1u << MIN(info->nr_cpus, 8u)) - 1) << 8);
	cells[0] = GIC_FDT_PPI;
	cells[1] = ppi;
	cells[2] = type | mask;
}

/* A GICv2: distributor and CPU interface (no GICv2m: virtio-mmio needs no MSI). */
static void fdt_add_gicv2(struct fdt_writer *w)
{
	u32 reg[] = {
		(u32)(ARM64_GICV2_DIST_BASE >> 32), (u32)ARM64_GICV2_DIST_BASE,
		(u32)(ARM64_GICV2_DIST_SIZE >> 32), (u32)ARM64_GICV2_DIST_SIZE,
		(u32)(ARM64_GICC_BASE >> 32), (u32)ARM64_GICC_BASE,
		(u32)(ARM64_GICC_SIZE >> 32), (u32)ARM64_GICC_SIZE,
	};
	char name[32];

	snprintf(name, sizeof(name), "intc@%llx", (unsigned long long)ARM64_GICV2_DIST_BASE);
	fdt_w_begin_node(w, name);
	fdt_w_prop_str(w, "compatible", "arm,cortex-a15-gic");
	fdt_w_prop_u32(w, "#interrupt-cells", 3);
	fdt_w_prop_empty(w, "interrupt-controller");
	fdt_w_prop_cells(w, "reg", reg, 8);
	fdt_w_prop_u32(w, "phandle", FDT_PHANDLE_GIC);
	fdt_w_end_node(w);
}

static void fdt_add_gic(struct fdt_writer *w, unsigned int nr_cpus)
{
	u32 reg[] = {
		(u32)(ARM64_GICD_BASE >> 32), (u32)ARM64_GICD_BASE,
		(u32)(ARM64_GICD_SIZE >> 32), (u32)ARM64_GICD_SIZE,
		(u32)(ARM64_GICR_BASE >> 32), (u32)ARM64_GICR_BASE,
		0, (u32)(nr_cpus * ARM64_GICR_STRIDE),
	};
	char name[32];

	snprintf(name, sizeof(name), "intc@%llx", (unsigned long long)ARM64_GICD_BASE);
	fdt_w_begin_node(w, name);
	fdt_w_prop_str(w, "compatible", "arm,gic-v3");
	fdt_w_prop_u32(w, "#interrupt-cells", 3);
	fdt_w_prop_empty(w, "interrupt-controller");
	fdt_w_prop_cells(w, "reg", reg, 8);
	fdt_w_prop_u32(w, "phandle", FDT_PHANDLE_GIC);
	fdt_w_end_node(w);
}

static void fdt_add_timer(struct fdt_writer *w, const struct fdt_info *info)
{
	static const u32 ppis[] = {
		ARM64_TIMER_PPI_SEC_PHYS, ARM64_TIMER_PPI_NONSEC_PHYS,
		ARM64_TIMER_PPI_VIRT, ARM64_TIMER_PPI_HYP,
	};
	u32 irqs[3 * ARRAY_SIZE(ppis)];

	for (size_t i = 0; i < ARRAY_SIZE(ppis); i++)
		fdt_ppi_cells(info, ppis[i], FDT_IRQ_TYPE_LEVEL_HIGH, &irqs[3 * i]);
	fdt_w_begin_node(w, "timer");
	fdt_w_prop_str(w, "compatible", "arm,armv8-timer");
	fdt_w_prop_cells(w, "interrupts", irqs, ARRAY_SIZE(irqs));
	fdt_w_prop_empty(w, "always-on");
	fdt_w_end_node(w);
}

/* The PMUv3's overflow interrupt: a PPI, written as the timer's are (with a GICv2's CPU mask). */
static void fdt_add_pmu(struct fdt_writer *w, const struct fdt_info *info)
{
	u32 irq[3];

	fdt_ppi_cells(info, ARM64_PMU_PPI, FDT_IRQ_TYPE_LEVEL_HIGH, irq);

	fdt_w_begin_node(w, "pmu");
	fdt_w_prop_str(w, "compatible", "arm,armv8-pmuv3");
	fdt_w_prop_cells(w, "interrupts", irq, ARRAY_SIZE(irq));
	fdt_w_end_node(w);
}

static void fdt_add_chosen(struct fdt_writer *w, const struct fdt_info *info)
{
	const struct boot_layout *b = info->boot;

	fdt_w_begin_node(w, "chosen");
	fdt_w_prop_str(w, "bootargs", info->cmdline ? info->cmdline : "");
	if (info->stdout_path)
		fdt_w_prop_str(w, "stdout-path", info->stdout_path);
	if (b->initrd_size) {
		fdt_w_prop_u64(w, "linux,initrd-start", b->initrd_gpa);
		fdt_w_prop_u64(w, "linux,initrd-end", b->initrd_gpa + b->initrd_size);
	}
	fdt_w_prop(w, "rng-seed", info->rng_seed, sizeof(info->rng_seed));
	fdt_w_prop_u64(w, "kaslr-seed", info->kaslr_seed);
	fdt_w_end_node(w);
}

static void fdt_add_devices(struct fdt_writer *w, const struct mmio_bus *bus)
{
	for (unsigned int i = 0; i < bus->nr_ranges; i++) {
		const struct mmio_range *r = &bus->ranges[i];

		if (r->ops->fdt_node)
			r->ops->fdt_node(r->opaque, w, r->base, r->len);
	}
}

static int fdt_build_into(void *buf, int size, const struct fdt_info *info)
{
	struct fdt_writer w = { .fdt = buf };

	w.err = fdt_create(buf, size);
	if (!w.err)
		w.err = fdt_finish_reservemap(buf);

	fdt_w_begin_node(&w, "");
	fdt_w_prop_str(&w, "compatible", "linux,dummy-virt");
	fdt_w_prop_str(&w, "model", "arkvm");
	fdt_w_prop_u32(&w, "#address-cells", 2);
	fdt_w_prop_u32(&w, "#size-cells", 2);
	fdt_w_prop_u32(&w, "interrupt-parent", FDT_PHANDLE_GIC);

	fdt_add_chosen(&w, info);
	fdt_add_memory(&w, info->boot);
	fdt_add_cpus(&w, info);
	fdt_add_psci(&w);
	if (info->gic_version == 2)
		fdt_add_gicv2(&w);
	else
		fdt_add_gic(&w, info->nr_cpus);
	fdt_add_timer(&w, info);
	if (info->pmu)
		fdt_add_pmu(&w, info);
	fdt_add_devices(&w, info->bus);

	fdt_w_end_node(&w);
	if (!w.err)
		w.err = fdt_finish(buf);
	return w.err;
}

int fdt_build(const struct fdt_info *info, void **blob, size_t *size)
{
	int len = 16 * 1024, err;
	void *buf = NULL;

	for (;;) {
		void *bigger = realloc(buf, (size_t)len);

		if (!bigger) {
			free(buf);
			return -ENOMEM;
		}
		buf = bigger;
		err = fdt_build_into(buf, len, info);
		if (err != -FDT_ERR_NOSPACE || (u64)len >= ARM64_FDT_MAX_SIZE)
			break;
		len *= 2;
	}
	if (err) {
		pr_err("building the device tree: %s", fdt_strerror(err));
		free(buf);
		return -EINVAL;
	}
	*blob = buf;
	*size = fdt_totalsize(buf);
	return 0;
}
