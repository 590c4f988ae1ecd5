// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cpu_topology.h"
#include "test.h"

static void test_sizes(void)
{
	u64 v;

	CHECK_EQ(parse_size("256M", &v), 0);
	CHECK_EQ(v, 256ULL << 20);
	CHECK_EQ(parse_size("2G", &v), 0);
	CHECK_EQ(v, 2ULL << 30);
	CHECK_EQ(parse_size("2g", &v), 0);
	CHECK_EQ(v, 2ULL << 30);
	CHECK_EQ(parse_size("1024K", &v), 0);
	CHECK_EQ(v, 1ULL << 20);
	CHECK_EQ(parse_size("512", &v), 0);
	CHECK_EQ(v, 512ULL << 20);
	CHECK_EQ(parse_size("1GiB", &v), 0);
	CHECK_EQ(v, 1ULL << 30);
	CHECK_EQ(parse_size("1MB", &v), 0);
	CHECK_EQ(parse_size("", &v), -EINVAL);
	CHECK_EQ(parse_size("M", &v), -EINVAL);
	CHECK_EQ(parse_size("12X", &v), -EINVAL);
	CHECK_EQ(parse_size("-1G", &v), -EINVAL);
	CHECK_EQ(parse_size(" 1G", &v), -EINVAL);
	CHECK_EQ(parse_size("1G ", &v), -EINVAL);
	CHECK_EQ(parse_size("1.5G", &v), -EINVAL);
	CHECK_EQ(parse_size("99999999999999999999", &v), -ERANGE);
	CHECK_EQ(parse_size("17179869184G", &v), -ERANGE);
}

static void test_uint(void)
{
	unsigned int n;

	CHECK_EQ(parse_uint("4", &n), 0);
	CHECK_EQ(n, 4);
	CHECK_EQ(parse_uint("4294967295", &n), 0);
	CHECK_EQ(parse_uint("4294967296", &n), -ERANGE);
	CHECK_EQ(parse_uint("4a", &n), -EINVAL);
	CHECK_EQ(parse_uint("", &n), -EINVAL);
	CHECK_EQ(parse_uint("+4", &n), -EINVAL);
}

static void test_run_defaults(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "Image"), CLI_RUN);
	CHECK(!strcmp(cfg.kernel, "Image"));
	CHECK_EQ(cfg.nr_cpus, 1);
	CHECK_EQ(cfg.mem_size, 256ULL << 20);
	CHECK(!cfg.initrd[0] && !cfg.dump_dtb[0]);
	CHECK(!strcmp(cfg.cmdline, ""));
	CHECK(!cfg.no_seccomp && !cfg.boot_timer);
	CHECK(!cfg.hugepages && !cfg.prefault);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory", "1G,hugepages,prefault"),
		 CLI_RUN);
	CHECK(cfg.mem_size == 1ULL << 30 && cfg.hugepages && cfg.prefault);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory", "64M,prefault"), CLI_RUN);
	CHECK(!cfg.hugepages && cfg.prefault);
	CHECK_EQ(cfg.irqchip, IRQCHIP_AUTO);
}

static void test_irqchip(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--irqchip", "gicv2"), CLI_RUN);
	CHECK_EQ(cfg.irqchip, IRQCHIP_GICV2);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--irqchip", "gicv3"), CLI_RUN);
	CHECK_EQ(cfg.irqchip, IRQCHIP_GICV3);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--irqchip", "auto"), CLI_RUN);
	CHECK_EQ(cfg.irqchip, IRQCHIP_AUTO);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--irqchip", "gicv4"), -EINVAL);
}

static void test_run_all_options(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel=K", "--initrd", "I", "--cmdline",
		       "console=ttyS0 quiet", "--cpus", "4", "--memory=1G", "--dump-dtb", "x.dtb",
		       "--no-seccomp", "--boot-timer", "--stats"),
		 CLI_RUN);
	CHECK(cfg.no_seccomp && cfg.boot_timer && cfg.stats);
	CHECK(!strcmp(cfg.kernel, "K") && !strcmp(cfg.initrd, "I"));
	CHECK(!strcmp(cfg.cmdline, "console=ttyS0 quiet"));
	CHECK_EQ(cfg.nr_cpus, 4);
	CHECK_EQ(cfg.mem_size, 1ULL << 30);
	CHECK(!strcmp(cfg.dump_dtb, "x.dtb"));
}

static void test_bad_input(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "start"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run"), -EINVAL);                         /* no kernel */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel"), -EINVAL);             /* no value */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--bogus", "1"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--kernel", "L"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "0"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "two"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory", "12X"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory", "1M"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory", "33M"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory", "1G,huge"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory", ",hugepages"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory",
		       "123456789012345678901234567890123M"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "stray"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--kernelx", "K"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--no-seccomp=1"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--no-seccomp", "--no-seccomp"),
		 -EINVAL);
}

static void test_cmdline_too_long(void)
{
	static char longline[CFG_MAX_CMDLINE + 2];
	struct vm_config cfg;

	memset(longline, 'a', sizeof(longline) - 1);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cmdline", longline), -EINVAL);
	longline[CFG_MAX_CMDLINE] = '\0';
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cmdline", longline), CLI_RUN);
}

static void test_net(void)
{
	struct vm_config cfg;
	u8 mac[6];

	CHECK_EQ(parse_mac("52:54:00:AB:cd:0f", mac), 0);
	CHECK(!memcmp(mac, "\x52\x54\x00\xab\xcd\x0f", 6));
	CHECK_EQ(parse_mac("01:00:5e:00:00:01", mac), -EINVAL);   /* multicast */
	CHECK_EQ(parse_mac("00:00:00:00:00:00", mac), -EINVAL);
	CHECK_EQ(parse_mac("52:54:00:ab:cd", mac), -EINVAL);
	CHECK_EQ(parse_mac("52:54:00:ab:cd:0f:", mac), -EINVAL);
	CHECK_EQ(parse_mac("52-54-00-ab-cd-0f", mac), -EINVAL);
	CHECK_EQ(parse_mac("5g:54:00:ab:cd:0f", mac), -EINVAL);

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "tap=tap0",
		       "--net", "tap=tap1,mac=02:00:00:00:00:01"), CLI_RUN);
	CHECK_EQ(cfg.nr_nets, 2);
	CHECK(!strcmp(cfg.nets[0].tap, "tap0") && !cfg.nets[0].has_mac);
	CHECK(!strcmp(cfg.nets[1].tap, "tap1") && cfg.nets[1].has_mac && cfg.nets[1].mac[5] == 1);
	CHECK(!cfg.nets[0].vhost && !cfg.nets[1].vhost);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "tap=tap0,vhost"), CLI_RUN);
	CHECK(cfg.nets[0].vhost && !cfg.nets[0].has_mac);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "tap=tap0,vhost=1"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "vhost"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "tap=a", "--net", "tap=a"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "mac=02:00:00:00:00:01"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "tap="), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "tap=a,speed=10"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net", "tap=../x"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--net",
		       "tap=a-name-that-is-too-long"), -EINVAL);
}

static void test_console(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K"), CLI_RUN);
	CHECK_EQ(cfg.console, CONSOLE_SERIAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--console", "virtio",
		       "--cmdline", "quiet"), CLI_RUN);
	CHECK_EQ(cfg.console, CONSOLE_VIRTIO);
	CHECK(!strcmp(cfg.cmdline, "quiet console=hvc0"));
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--console", "virtio"), CLI_RUN);
	CHECK(!strcmp(cfg.cmdline, "console=hvc0"));
	/* The user's own choice of console stands. */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--console", "virtio",
		       "--cmdline", "console=ttyS0"), CLI_RUN);
	CHECK(!strcmp(cfg.cmdline, "console=ttyS0"));
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--console", "usb"), -EINVAL);
}

static void test_gpu(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K"), CLI_RUN);
	CHECK_EQ(cfg.gpu.mode, GPU_NONE);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d",
		       "--screenshot", "s.png"), CLI_RUN);
	CHECK_EQ(cfg.gpu.mode, GPU_2D);
	CHECK_EQ(cfg.gpu.width, 1024);
	CHECK_EQ(cfg.gpu.height, 768);
	CHECK(!strcmp(cfg.screenshot, "s.png"));
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu=virgl,height=600,width=800"),
		 CLI_RUN);
	CHECK_EQ(cfg.gpu.mode, GPU_VIRGL);
	CHECK_EQ(cfg.gpu.width, 800);
	CHECK_EQ(cfg.gpu.height, 600);

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "3d"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d,width=63"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d,height=4096"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d,width="), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d,depth=32"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d,width=99999999999"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d", "--display",
		       "vnc=127.0.0.1:5901"), CLI_RUN);
	CHECK(cfg.display.vnc);
	CHECK(!memcmp(cfg.display.addr, "\x7f\0\0\x01", 4));
	CHECK_EQ(cfg.display.port, 5901);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d", "--display",
		       "vnc=0.0.0.0:65535"), CLI_RUN);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d", "--display",
		       "vnc=127.0.0.1:0"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d", "--display",
		       "vnc=127.0.0.256:5900"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d", "--display",
		       "vnc=localhost:5900"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--gpu", "2d", "--display",
		       "sdl"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--display", "vnc=127.0.0.1:5900"),
		 -EINVAL);
	/* A screenshot of nothing is a mistake. */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--screenshot", "s.png"), -EINVAL);
}

static void test_balloon(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K"), CLI_RUN);
	CHECK(!cfg.balloon.enabled);
	/* Alone, last or before another option: a balloon of 0 MiB, nothing else. */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon"), CLI_RUN);
	CHECK(cfg.balloon.enabled);
	CHECK_EQ(cfg.balloon.amount_mib, 0);
	CHECK(!cfg.balloon.deflate_on_oom && !cfg.balloon.free_page_reporting);
	CHECK_EQ(cfg.balloon.stats_interval_s, 0);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--balloon", "--kernel", "K"), CLI_RUN);
	CHECK(cfg.balloon.enabled);
	CHECK(!strcmp(cfg.kernel, "K"));
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon",
		       "size=64,deflate-on-oom,free-page-reporting,stats=5"), CLI_RUN);
	CHECK_EQ(cfg.balloon.amount_mib, 64);
	CHECK(cfg.balloon.deflate_on_oom && cfg.balloon.free_page_reporting);
	CHECK_EQ(cfg.balloon.stats_interval_s, 5);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon=stats=1"), CLI_RUN);
	CHECK_EQ(cfg.balloon.stats_interval_s, 1);
	CHECK_EQ(cfg.balloon.amount_mib, 0);
	/* All of RAM may be asked for, not more. */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory", "256M", "--balloon",
		       "size=256"), CLI_RUN);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--memory", "256M", "--balloon",
		       "size=257"), -EINVAL);

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon", "size=1G"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon", "size="), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon", "64"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon", "hinting"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon", "stats=-1"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon", "stats=65536"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon", "size=99999999999"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon", "--balloon"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--balloon", "size=1,"), -EINVAL);
}

static void test_cpus_topology(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "4"), CLI_RUN);
	CHECK_EQ(cfg.nr_cpus, 4);
	CHECK(!cpu_topology_given(&cfg.topology));
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus",
		       "8,sockets=2,clusters=1,cores=2,threads=2"), CLI_RUN);
	CHECK_EQ(cfg.nr_cpus, 8);
	CHECK(cfg.topology.sockets == 2 && cfg.topology.clusters == 1 &&
	      cfg.topology.cores == 2 && cfg.topology.threads == 2);
	/* Left out: 1 socket, 1 cluster, 1 thread, and the cores that make N. */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "4,threads=2"), CLI_RUN);
	CHECK(cfg.topology.sockets == 1 && cfg.topology.clusters == 1 &&
	      cfg.topology.cores == 2 && cfg.topology.threads == 2);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus=2,cores=2"), CLI_RUN);
	CHECK_EQ(cfg.topology.cores, 2);

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "4,threads=3"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "4,cores=3"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "4,cores=0"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "4,dies=2"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "4,"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", ",cores=4"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpus", "x"), -EINVAL);
}

static void test_cpu_features(void)
{
	struct vm_config cfg;
	const struct cpu_features_config *f = &cfg.cpu_features;

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K"), CLI_RUN);
	CHECK(f->sve == CPU_FEATURE_AUTO && f->pauth == CPU_FEATURE_AUTO &&
	      f->pmu == CPU_FEATURE_AUTO && f->steal_time == CPU_FEATURE_AUTO && !f->sve_max_vl);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpu-features",
		       "sve=on,sve-max-vl=256,pauth=off,pmu=on,steal-time=off"), CLI_RUN);
	CHECK(f->sve == CPU_FEATURE_ON && f->pauth == CPU_FEATURE_OFF &&
	      f->pmu == CPU_FEATURE_ON && f->steal_time == CPU_FEATURE_OFF && f->sve_max_vl == 256);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpu-features", "sve=off"), CLI_RUN);
	CHECK(f->sve == CPU_FEATURE_OFF && f->pmu == CPU_FEATURE_AUTO);

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpu-features", "sve=yes"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpu-features", "sve"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpu-features", "mte=on"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpu-features", "sve-max-vl=0"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpu-features", "sve-max-vl=100"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpu-features",
		       "sve=off,sve-max-vl=256"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--cpu-features", "pmu=on,"),
		 -EINVAL);
}

static void test_help_and_version(void)
{
	struct vm_config cfg;

	CHECK_EQ(PARSE(&cfg, "arkvm", "--help"), CLI_DONE);
	CHECK_EQ(PARSE(&cfg, "arkvm", "--version"), CLI_DONE);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--help"), CLI_DONE);
}

TEST_SUITE(cli,
	   TEST(test_sizes),
	   TEST(test_uint),
	   TEST(test_run_defaults),
	   TEST(test_irqchip),
	   TEST(test_run_all_options),
	   TEST(test_bad_input),
	   TEST(test_cmdline_too_long),
	   TEST(test_net),
	   TEST(test_console),
	   TEST(test_gpu),
	   TEST(test_balloon),
	   TEST(test_cpus_topology),
	   TEST(test_cpu_features),
	   TEST(test_help_and_version));
