// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "test.h"
#include "vm_config.h"

static void base(struct vm_config *cfg)
{
	vm_config_init(cfg);
	VM_CONFIG_SET(cfg->kernel, "Image");
}

/* The error names the field, so each front end can word it its own way. */
#define REFUSED(cfg, want_field)                                               \
	do {                                                                   \
		struct vm_config_error __e = { 0 };                            \
		CHECK_EQ(vm_config_validate(cfg, &__e), -EINVAL);              \
		CHECK(__e.field && !strcmp(__e.field, want_field));            \
		CHECK(__e.msg[0]);                                             \
	} while (0)

static void test_defaults_are_valid(void)
{
	struct vm_config cfg;
	struct vm_config_error err;

	base(&cfg);
	CHECK_EQ(vm_config_validate(&cfg, &err), 0);
	CHECK_EQ(cfg.nr_cpus, CFG_DEFAULT_CPUS);
	CHECK_EQ(cfg.mem_size, CFG_DEFAULT_MEMORY);
	vm_config_init(&cfg);
	REFUSED(&cfg, "kernel");
}

static void test_machine_checks(void)
{
	struct vm_config cfg;

	base(&cfg);
	cfg.nr_cpus = 0;
	REFUSED(&cfg, "cpus");
	base(&cfg);
	cfg.mem_size = 16 * SZ_1M;
	REFUSED(&cfg, "memory");
	cfg.mem_size = 33 * SZ_1M;
	REFUSED(&cfg, "memory");
}

static void test_strings_are_owned(void)
{
	static char longpath[CFG_MAX_PATH + 2];
	struct vm_config cfg, copy;
	char arg[] = "first";

	base(&cfg);
	CHECK_EQ(VM_CONFIG_SET(cfg.initrd, arg), 0);
	arg[0] = 'X';                     /* the caller's buffer changes... */
	copy = cfg;                       /* ...and a copy stands alone */
	CHECK(!strcmp(copy.initrd, "first"));
	memset(longpath, 'a', sizeof(longpath) - 1);
	CHECK_EQ(VM_CONFIG_SET(cfg.initrd, longpath), -ENAMETOOLONG);
	CHECK(!strcmp(cfg.initrd, "first"));
}

static void test_device_ids(void)
{
	struct vm_config cfg;

	base(&cfg);
	VM_CONFIG_SET(vm_config_add_disk(&cfg)->path, "a.img");
	VM_CONFIG_SET(vm_config_add_disk(&cfg)->path, "b.img");
	VM_CONFIG_SET(cfg.disks[1].id, "disk0");    /* taken by the user: the default skips it */
	VM_CONFIG_SET(vm_config_add_disk(&cfg)->path, "c.img");
	VM_CONFIG_SET(cfg.disks[2].id, "rootfs");
	VM_CONFIG_SET(vm_config_add_net(&cfg)->tap, "tap0");
	CHECK_EQ(vm_config_validate(&cfg, &(struct vm_config_error){ 0 }), 0);
	vm_config_complete(&cfg);
	CHECK(!strcmp(cfg.disks[0].id, "disk1"));
	CHECK(!strcmp(cfg.disks[1].id, "disk0"));
	CHECK(!strcmp(cfg.disks[2].id, "rootfs"));
	CHECK(!strcmp(cfg.nets[0].id, "net0"));

	VM_CONFIG_SET(cfg.disks[0].id, "rootfs");
	REFUSED(&cfg, "disk");
	VM_CONFIG_SET(cfg.disks[0].id, "bad id!");
	REFUSED(&cfg, "disk");
	VM_CONFIG_SET(cfg.disks[0].id, "");
	VM_CONFIG_SET(cfg.disks[0].path, "c.img");
	REFUSED(&cfg, "disk");                      /* the same file twice */
}

static void test_net_checks(void)
{
	struct vm_config cfg;

	base(&cfg);
	VM_CONFIG_SET(vm_config_add_net(&cfg)->tap, "tap0");
	VM_CONFIG_SET(vm_config_add_net(&cfg)->tap, "tap0");
	REFUSED(&cfg, "net");
	VM_CONFIG_SET(cfg.nets[1].tap, "../x");
	REFUSED(&cfg, "net");
	VM_CONFIG_SET(cfg.nets[1].tap, "tap1");
	cfg.nets[1].has_mac = true;
	memcpy(cfg.nets[1].mac, "\x01\0\0\0\0\x01", 6);
	REFUSED(&cfg, "net");
	cfg.nets[1].mac[0] = 0x02;
	CHECK_EQ(vm_config_validate(&cfg, &(struct vm_config_error){ 0 }), 0);
}

static void test_device_slots_are_bounded(void)
{
	struct vm_config cfg;

	base(&cfg);
	for (int i = 0; i < CFG_MAX_DISKS; i++)
		CHECK(vm_config_add_disk(&cfg));
	CHECK(!vm_config_add_disk(&cfg));
	CHECK_EQ(cfg.nr_disks, CFG_MAX_DISKS);
	for (int i = 0; i < CFG_MAX_NETS; i++)
		CHECK(vm_config_add_net(&cfg));
	CHECK(!vm_config_add_net(&cfg));
	CHECK_EQ(cfg.nr_nets, CFG_MAX_NETS);
}

static void test_display_checks(void)
{
	struct vm_config cfg;

	base(&cfg);
	VM_CONFIG_SET(cfg.screenshot, "s.png");
	REFUSED(&cfg, "screenshot");
	base(&cfg);
	cfg.display.vnc = true;
	cfg.display.port = 5900;
	REFUSED(&cfg, "display");
	cfg.gpu.mode = GPU_2D;
	CHECK_EQ(vm_config_validate(&cfg, &(struct vm_config_error){ 0 }), 0);
	cfg.gpu.width = 63;
	REFUSED(&cfg, "gpu");
}

static void test_console_cmdline(void)
{
	struct vm_config cfg;

	base(&cfg);
	cfg.console = CONSOLE_VIRTIO;
	VM_CONFIG_SET(cfg.cmdline, "quiet");
	vm_config_complete(&cfg);
	CHECK(!strcmp(cfg.cmdline, "quiet console=hvc0"));
	/* No room for it: refused, not cut. */
	memset(cfg.cmdline, 'a', CFG_MAX_CMDLINE - 4);
	cfg.cmdline[CFG_MAX_CMDLINE - 4] = '\0';
	REFUSED(&cfg, "cmdline");
}

static void test_topology_checks(void)
{
	struct vm_config cfg;

	base(&cfg);
	cfg.nr_cpus = 8;
	cfg.topology = (struct cpu_topology_config){ 2, 1, 2, 2 };
	CHECK_EQ(vm_config_validate(&cfg, &(struct vm_config_error){ 0 }), 0);
	cfg.topology.cores = 3;                       /* 12, not 8 */
	REFUSED(&cfg, "cpus");
	cfg.topology = (struct cpu_topology_config){ 1, 1, 0, 8 };
	REFUSED(&cfg, "cpus");
	/* Aff0 reaches 16 CPUs at most: cores without threads, or threads. */
	cfg.nr_cpus = 17;
	cfg.topology = (struct cpu_topology_config){ 1, 1, 17, 1 };
	REFUSED(&cfg, "cpus");
	cfg.topology = (struct cpu_topology_config){ 1, 1, 1, 17 };
	REFUSED(&cfg, "cpus");
	cfg.nr_cpus = 32;
	cfg.topology = (struct cpu_topology_config){ 1, 2, 16, 1 };
	CHECK_EQ(vm_config_validate(&cfg, &(struct vm_config_error){ 0 }), 0);
	/* Products that wrap 32 bits are still wrong. */
	cfg.nr_cpus = 1;
	cfg.topology = (struct cpu_topology_config){ 65536, 65536, 1, 1 };
	REFUSED(&cfg, "cpus");
}

static void test_cpu_feature_checks(void)
{
	struct vm_config cfg;

	base(&cfg);
	CHECK_EQ(cfg.cpu_features.sve, CPU_FEATURE_AUTO);
	CHECK_EQ(cfg.cpu_features.steal_time, CPU_FEATURE_AUTO);
	cfg.cpu_features.sve_max_vl = 512;
	CHECK_EQ(vm_config_validate(&cfg, &(struct vm_config_error){ 0 }), 0);
	cfg.cpu_features.sve_max_vl = 384;            /* a multiple of 128 need not be a power of 2 */
	CHECK_EQ(vm_config_validate(&cfg, &(struct vm_config_error){ 0 }), 0);
	cfg.cpu_features.sve_max_vl = 200;
	REFUSED(&cfg, "cpu-features");
	cfg.cpu_features.sve_max_vl = 4096;
	REFUSED(&cfg, "cpu-features");
	cfg.cpu_features.sve_max_vl = 256;
	cfg.cpu_features.sve = CPU_FEATURE_OFF;
	REFUSED(&cfg, "cpu-features");
	cfg.cpu_features.sve_max_vl = 0;
	cfg.cpu_features.pmu = (enum cpu_feature_mode)7;
	REFUSED(&cfg, "cpu-features");
}

TEST_SUITE(vm_config,
	   TEST(test_defaults_are_valid),
	   TEST(test_machine_checks),
	   TEST(test_strings_are_owned),
	   TEST(test_device_ids),
	   TEST(test_net_checks),
	   TEST(test_device_slots_are_bounded),
	   TEST(test_display_checks),
	   TEST(test_console_cmdline),
	   TEST(test_topology_checks),
	   TEST(test_cpu_feature_checks));
