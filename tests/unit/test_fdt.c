// SPDX-License-Identifier: Apache-2.0
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "cpu_topology.h"
#include "fdt_build.h"
#include "loader.h"
#include "mmio_bus.h"
#include "test.h"
#include "uart_16550.h"

static void no_irq(void *opaque, u32 intid, bool level) {}
static unsigned int no_tx(void *opaque, const u8 *buf, unsigned int len) { return len; }
static const struct uart_backend_ops quiet_ops = { .tx = no_tx };

struct built {
	void *blob;
	size_t size;
	struct uart_16550 uart;
	struct mmio_bus bus;
	struct boot_layout boot;
	u64 mpidrs[4];
};

static int build_full(struct built *b, unsigned int cpus, const char *cmdline, bool initrd,
		      unsigned int gic_version, const struct cpu_topology_config *topology,
		      bool pmu)
{
	const struct irq_line irq = { .set_level = no_irq, .intid = ARM64_UART_IRQ };
	struct fdt_info info = {
		.cmdline = cmdline,
		.nr_cpus = cpus,
		.stdout_path = "/uart@9000000",
		.kaslr_seed = 0x1122334455667788ULL,
		.gic_version = gic_version,
		.topology = topology,
		.pmu = pmu,
	};

	memset(b, 0, sizeof(*b));
	for (unsigned int i = 0; i < 4; i++)
		b->mpidrs[i] = topology ? cpu_topology_mpidr(topology, i) :
			       0x80000000ULL | i; /* bit 31 (RES1) is not part of the id */
	uart_init(&b->uart, &irq, &quiet_ops, NULL);
	mmio_bus_register(&b->bus, ARM64_UART_BASE, ARM64_UART_SIZE, &uart_16550_mmio_ops,
			  &b->uart, "uart");
	boot_layout_init(&b->boot, ARM64_RAM_BASE, 512 * SZ_1M);
	if (initrd) {
		b->boot.initrd_gpa = ARM64_RAM_BASE + 0x4000000;
		b->boot.initrd_size = 0x123456;
	}
	info.boot = &b->boot;
	info.bus = &b->bus;
	info.mpidrs = b->mpidrs;
	memset(info.rng_seed, 0x5a, sizeof(info.rng_seed));
	return fdt_build(&info, &b->blob, &b->size);
}

static int build_gic(struct built *b, unsigned int cpus, const char *cmdline, bool initrd,
		     unsigned int gic_version)
{
	return build_full(b, cpus, cmdline, initrd, gic_version, NULL, false);
}

static int build_cpus(struct built *b, unsigned int cpus, const char *cmdline, bool initrd,
		      const struct cpu_topology_config *topology, bool pmu)
{
	return build_full(b, cpus, cmdline, initrd, 3, topology, pmu);
}

static int build(struct built *b, unsigned int cpus, const char *cmdline, bool initrd)
{
	return build_gic(b, cpus, cmdline, initrd, 3);
}

static u64 prop_u64(const void *fdt, const char *path, const char *name, int idx)
{
	int node = fdt_path_offset(fdt, path), len;
	const u8 *p = node < 0 ? NULL : fdt_getprop(fdt, node, name, &len);

	/* Properties are only 4-byte aligned: read through libfdt's loader. */
	if (!p || len < (idx + 1) * 8)
		return ~0ULL;
	return fdt64_ld((const fdt64_t *)(p + idx * 8));
}

static u32 prop_u32(const void *fdt, const char *path, const char *name, int idx)
{
	int node = fdt_path_offset(fdt, path), len;
	const fdt32_t *p = node < 0 ? NULL : fdt_getprop(fdt, node, name, &len);

	if (!p || len < (int)((idx + 1) * sizeof(*p)))
		return ~0U;
	return fdt32_to_cpu(p[idx]);
}

static const char *prop_str(const void *fdt, const char *path, const char *name)
{
	int node = fdt_path_offset(fdt, path);

	return node < 0 ? NULL : fdt_getprop(fdt, node, name, NULL);
}

static void test_tree_is_valid(void)
{
	struct built b;

	CHECK_EQ(build(&b, 4, "console=ttyS0", true), 0);
	CHECK_EQ(fdt_check_full(b.blob, b.size), 0);
	CHECK(b.size <= ARM64_FDT_MAX_SIZE);
	CHECK_EQ(prop_u32(b.blob, "/", "#address-cells", 0), 2);
	CHECK_EQ(prop_u32(b.blob, "/", "#size-cells", 0), 2);
	CHECK_EQ(prop_u32(b.blob, "/", "interrupt-parent", 0), FDT_PHANDLE_GIC);
	CHECK(prop_str(b.blob, "/", "compatible"));
	free(b.blob);
}

static void test_memory_and_cpus(void)
{
	struct built b;

	CHECK_EQ(build(&b, 4, "", false), 0);
	CHECK_EQ(prop_u64(b.blob, "/memory@80000000", "reg", 0), ARM64_RAM_BASE);
	CHECK_EQ(prop_u64(b.blob, "/memory@80000000", "reg", 1), 512 * SZ_1M);
	CHECK(!strcmp(prop_str(b.blob, "/memory@80000000", "device_type"), "memory"));
	CHECK(!strcmp(prop_str(b.blob, "/psci", "method"), "hvc"));
	for (unsigned int i = 0; i < 4; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/cpus/cpu@%u", i);
		CHECK_EQ(prop_u64(b.blob, path, "reg", 0), i);
		CHECK(!strcmp(prop_str(b.blob, path, "enable-method"), "psci"));
	}
	CHECK(fdt_path_offset(b.blob, "/cpus/cpu@4") < 0);
	free(b.blob);
}

static void test_chosen(void)
{
	struct built b;
	const void *seed;
	int len;

	CHECK_EQ(build(&b, 1, "root=/dev/vda quiet", true), 0);
	CHECK(!strcmp(prop_str(b.blob, "/chosen", "bootargs"), "root=/dev/vda quiet"));
	CHECK(!strcmp(prop_str(b.blob, "/chosen", "stdout-path"), "/uart@9000000"));
	CHECK_EQ(prop_u64(b.blob, "/chosen", "linux,initrd-start", 0), ARM64_RAM_BASE + 0x4000000);
	CHECK_EQ(prop_u64(b.blob, "/chosen", "linux,initrd-end", 0),
		 ARM64_RAM_BASE + 0x4000000 + 0x123456);
	CHECK_EQ(prop_u64(b.blob, "/chosen", "kaslr-seed", 0), 0x1122334455667788ULL);
	seed = fdt_getprop(b.blob, fdt_path_offset(b.blob, "/chosen"), "rng-seed", &len);
	CHECK(seed && len == FDT_RNG_SEED_SIZE && ((const u8 *)seed)[0] == 0x5a);
	/* The stdout-path points at a node that exists. */
	CHECK(fdt_path_offset(b.blob, "/uart@9000000") >= 0);
	free(b.blob);

	CHECK_EQ(build(&b, 1, "", false), 0);
	CHECK(fdt_getprop(b.blob, fdt_path_offset(b.blob, "/chosen"), "linux,initrd-start", NULL) == NULL);
	free(b.blob);
}

static void test_gic_timer_uart(void)
{
	struct built b;

	CHECK_EQ(build(&b, 2, "", false), 0);
	CHECK(!strcmp(prop_str(b.blob, "/intc@8000000", "compatible"), "arm,gic-v3"));
	CHECK_EQ(prop_u32(b.blob, "/intc@8000000", "#interrupt-cells", 0), 3);
	CHECK_EQ(prop_u32(b.blob, "/intc@8000000", "phandle", 0), FDT_PHANDLE_GIC);
	CHECK_EQ(prop_u64(b.blob, "/intc@8000000", "reg", 0), ARM64_GICD_BASE);
	CHECK_EQ(prop_u64(b.blob, "/intc@8000000", "reg", 2), ARM64_GICR_BASE);
	CHECK_EQ(prop_u64(b.blob, "/intc@8000000", "reg", 3), 2 * ARM64_GICR_STRIDE);
	CHECK(!strcmp(prop_str(b.blob, "/timer", "compatible"), "arm,armv8-timer"));
	CHECK_EQ(prop_u32(b.blob, "/timer", "interrupts", 1), 13);
	CHECK_EQ(prop_u32(b.blob, "/timer", "interrupts", 7), 11);
	CHECK(!strcmp(prop_str(b.blob, "/uart@9000000", "compatible"), "ns16550a"));
	CHECK_EQ(prop_u32(b.blob, "/uart@9000000", "interrupts", 0), 0);   /* SPI */
	CHECK_EQ(prop_u32(b.blob, "/uart@9000000", "interrupts", 1), ARM64_UART_IRQ - 32);
	CHECK_EQ(prop_u64(b.blob, "/uart@9000000", "reg", 0), ARM64_UART_BASE);
	free(b.blob);
}

/* A GICv2: its own node, and every PPI says which CPUs it goes to. */
static void test_gicv2_node_and_ppi_masks(void)
{
	struct built b;

	CHECK_EQ(build_gic(&b, 2, "", false, 2), 0);
	CHECK_EQ(fdt_check_full(b.blob, b.size), 0);
	CHECK(!strcmp(prop_str(b.blob, "/intc@8000000", "compatible"), "arm,cortex-a15-gic"));
	CHECK_EQ(prop_u32(b.blob, "/intc@8000000", "#interrupt-cells", 0), 3);
	CHECK_EQ(prop_u32(b.blob, "/intc@8000000", "phandle", 0), FDT_PHANDLE_GIC);
	CHECK_EQ(prop_u64(b.blob, "/intc@8000000", "reg", 0), ARM64_GICV2_DIST_BASE);
	CHECK_EQ(prop_u64(b.blob, "/intc@8000000", "reg", 1), ARM64_GICV2_DIST_SIZE);
	CHECK_EQ(prop_u64(b.blob, "/intc@8000000", "reg", 2), ARM64_GICC_BASE);
	CHECK_EQ(prop_u64(b.blob, "/intc@8000000", "reg", 3), ARM64_GICC_SIZE);
	CHECK(ARM64_GICC_SIZE >= 0x2000 && !(ARM64_GICC_BASE & 0xffff));
	CHECK(ARM64_GICC_BASE >= ARM64_GICV2_DIST_BASE + ARM64_GICV2_DIST_SIZE);
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(prop_u32(b.blob, "/timer", "interrupts", 3 * i), 1);   /* PPI */
		CHECK_EQ(prop_u32(b.blob, "/timer", "interrupts", 3 * i + 2),
			 (0x3 << 8) | FDT_IRQ_TYPE_LEVEL_HIGH);
	}
	CHECK_EQ(prop_u32(b.blob, "/timer", "interrupts", 7), ARM64_TIMER_PPI_VIRT);
	/* The SPIs are the same on both. */
	CHECK_EQ(prop_u32(b.blob, "/uart@9000000", "interrupts", 2), FDT_IRQ_TYPE_LEVEL_HIGH);
	free(b.blob);

	/* A GICv3's PPIs carry no mask. */
	CHECK_EQ(build(&b, 2, "", false), 0);
	CHECK_EQ(prop_u32(b.blob, "/timer", "interrupts", 2), FDT_IRQ_TYPE_LEVEL_HIGH);
	free(b.blob);
}

static void test_ppi_cells_masks(void)
{
	struct fdt_info info = { .gic_version = 2, .nr_cpus = 1 };
	u32 c[3];

	fdt_ppi_cells(&info, 7, FDT_IRQ_TYPE_LEVEL_HIGH, c);
	CHECK(c[0] == 1 && c[1] == 7 && c[2] == ((0x1 << 8) | 4));
	info.nr_cpus = 8;
	fdt_ppi_cells(&info, 7, FDT_IRQ_TYPE_LEVEL_HIGH, c);
	CHECK_EQ(c[2], (0xff << 8) | 4);
	info.gic_version = 3;
	fdt_ppi_cells(&info, 7, FDT_IRQ_TYPE_LEVEL_HIGH, c);
	CHECK_EQ(c[2], 4);
	info.gic_version = 0;   /* unset: a GICv3 */
	fdt_ppi_cells(&info, 7, FDT_IRQ_TYPE_EDGE_RISING, c);
	CHECK_EQ(c[2], 1);
}

static void test_grows_for_big_trees(void)
{
	static char cmdline[2048];
	struct built b;

	/* Larger than the first 16 KiB try, with the longest command line. */
	memset(cmdline, 'x', sizeof(cmdline) - 1);
	CHECK_EQ(build(&b, 4, cmdline, true), 0);
	CHECK_EQ(fdt_check_full(b.blob, b.size), 0);
	CHECK_EQ(strlen(prop_str(b.blob, "/chosen", "bootargs")), sizeof(cmdline) - 1);
	free(b.blob);
}

/* The cpu node a cpu-map leaf points at, by its phandle. */
static const char *cpu_map_target(const void *fdt, const char *leaf, char *buf, int size)
{
	int node = fdt_path_offset(fdt, leaf), len;
	const fdt32_t *ph = node < 0 ? NULL : fdt_getprop(fdt, node, "cpu", &len);
	int target = ph ? fdt_node_offset_by_phandle(fdt, fdt32_to_cpu(*ph)) : -1;

	if (target < 0 || fdt_get_path(fdt, target, buf, size))
		return "";
	return buf;
}

static void test_default_has_no_cpu_map_or_pmu(void)
{
	struct built b;

	CHECK_EQ(build(&b, 4, "", false), 0);
	CHECK(fdt_path_offset(b.blob, "/cpus/cpu-map") < 0);
	CHECK(fdt_path_offset(b.blob, "/pmu") < 0);
	/* Today's tree: the cpu nodes need no phandle without a cpu-map. */
	CHECK(!fdt_getprop(b.blob, fdt_path_offset(b.blob, "/cpus/cpu@0"), "phandle", NULL));
	free(b.blob);
}

static void test_pmu_node(void)
{
	struct built b;

	CHECK_EQ(build_cpus(&b, 2, "", false, NULL, true), 0);
	CHECK_EQ(fdt_check_full(b.blob, b.size), 0);
	CHECK(!strcmp(prop_str(b.blob, "/pmu", "compatible"), "arm,armv8-pmuv3"));
	CHECK_EQ(prop_u32(b.blob, "/pmu", "interrupts", 0), 1);              /* PPI */
	CHECK_EQ(prop_u32(b.blob, "/pmu", "interrupts", 1), 7);              /* INTID 23 */
	CHECK_EQ(prop_u32(b.blob, "/pmu", "interrupts", 2), FDT_IRQ_TYPE_LEVEL_HIGH);
	free(b.blob);
}

static void test_cpu_map_threads(void)
{
	const struct cpu_topology_config t = { .sockets = 1, .clusters = 1, .cores = 2, .threads = 2 };
	char buf[64];
	struct built b;

	CHECK_EQ(build_cpus(&b, 4, "", false, &t, false), 0);
	CHECK_EQ(fdt_check_full(b.blob, b.size), 0);
	/* One socket: clusters right under cpu-map, which every kernel reads. */
	CHECK(!strcmp(cpu_map_target(b.blob, "/cpus/cpu-map/cluster0/core0/thread0", buf, 64),
		      "/cpus/cpu@0"));
	CHECK(!strcmp(cpu_map_target(b.blob, "/cpus/cpu-map/cluster0/core0/thread1", buf, 64),
		      "/cpus/cpu@1"));
	/* Core 1's threads: MPIDR Aff1 = 1, so cpu@100 and cpu@101. */
	CHECK(!strcmp(cpu_map_target(b.blob, "/cpus/cpu-map/cluster0/core1/thread0", buf, 64),
		      "/cpus/cpu@100"));
	CHECK(!strcmp(cpu_map_target(b.blob, "/cpus/cpu-map/cluster0/core1/thread1", buf, 64),
		      "/cpus/cpu@101"));
	CHECK(fdt_path_offset(b.blob, "/cpus/cpu-map/cluster0/core2") < 0);
	CHECK(fdt_path_offset(b.blob, "/cpus/cpu-map/socket0") < 0);
	CHECK_EQ(prop_u32(b.blob, "/cpus/cpu@101", "phandle", 0), FDT_PHANDLE_CPU(3));
	free(b.blob);
}

static void test_cpu_map_sockets(void)
{
	const struct cpu_topology_config t = { .sockets = 2, .clusters = 2, .cores = 1, .threads = 1 };
	char buf[64];
	struct built b;

	CHECK_EQ(build_cpus(&b, 4, "", false, &t, false), 0);
	CHECK_EQ(fdt_check_full(b.blob, b.size), 0);
	/* One thread per core: the core node is the leaf; Aff0 core, Aff1 cluster, Aff2 socket. */
	CHECK(!strcmp(cpu_map_target(b.blob, "/cpus/cpu-map/socket0/cluster0/core0", buf, 64),
		      "/cpus/cpu@0"));
	CHECK(!strcmp(cpu_map_target(b.blob, "/cpus/cpu-map/socket0/cluster1/core0", buf, 64),
		      "/cpus/cpu@100"));
	CHECK(!strcmp(cpu_map_target(b.blob, "/cpus/cpu-map/socket1/cluster0/core0", buf, 64),
		      "/cpus/cpu@10000"));
	CHECK(!strcmp(cpu_map_target(b.blob, "/cpus/cpu-map/socket1/cluster1/core0", buf, 64),
		      "/cpus/cpu@10100"));
	CHECK(fdt_path_offset(b.blob, "/cpus/cpu-map/socket0/cluster0/core0/thread0") < 0);
	free(b.blob);
}

TEST_SUITE(fdt,
	   TEST(test_tree_is_valid),
	   TEST(test_memory_and_cpus),
	   TEST(test_chosen),
	   TEST(test_gic_timer_uart),
	   TEST(test_gicv2_node_and_ppi_masks),
	   TEST(test_ppi_cells_masks),
	   TEST(test_grows_for_big_trees),
	   TEST(test_default_has_no_cpu_map_or_pmu),
	   TEST(test_pmu_node),
	   TEST(test_cpu_map_threads),
	   TEST(test_cpu_map_sockets));
