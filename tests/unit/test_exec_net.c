// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm exec --net user's net= (src/exec_net.c): the default route read
 * from /proc/net/route text, the address from a made-up getifaddrs()
 * list, the nameservers from resolv.conf text as passt passes them on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "test.h"

#define ROUTE_HEADER "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"

/* One /proc/net/route line as the kernel prints it: addresses as their in-memory word. */
static int route_line(char *out, size_t size, const char *dev, u32 dst, u32 gw, unsigned int flags,
		      u32 mask)
{
	return snprintf(out, size, "%s\t%08X\t%08X\t%04X\t0\t0\t%d\t%08X\t0\t0\t0\n", dev,
			htonl(dst), htonl(gw), flags, 100, htonl(mask));
}

static void test_default_route(void)
{
	char text[1024], ifname[EXEC_IFNAME_SIZE];
	size_t n = 0;
	u32 gw = 0;

	n += (size_t)snprintf(text, sizeof(text), ROUTE_HEADER);
	/* A subnet route, a default route without a gateway, then the one. */
	n += (size_t)route_line(text + n, sizeof(text) - n, "eth1", 0x0a000000, 0, 0x1, 0xff000000);
	n += (size_t)route_line(text + n, sizeof(text) - n, "ppp0", 0, 0, 0x1, 0);
	n += (size_t)route_line(text + n, sizeof(text) - n, "wlan0", 0, 0xc0a80101, 0x3, 0);
	n += (size_t)route_line(text + n, sizeof(text) - n, "eth1", 0, 0x0a000001, 0x3, 0);
	CHECK_EQ(exec_net_default_route(text, ifname, &gw), 0);
	CHECK(!strcmp(ifname, "wlan0"));
	CHECK_EQ(gw, 0xc0a80101);

	/* Nothing that routes everywhere through a gateway. */
	n = (size_t)snprintf(text, sizeof(text), ROUTE_HEADER);
	n += (size_t)route_line(text + n, sizeof(text) - n, "eth1", 0x0a000000, 0, 0x1, 0xff000000);
	n += (size_t)route_line(text + n, sizeof(text) - n, "eth0", 0, 0x0a000001, 0x2, 0);
	snprintf(text + n, sizeof(text) - n, "garbage line\n\n");
	CHECK_EQ(exec_net_default_route(text, ifname, &gw), -ENETUNREACH);
	CHECK_EQ(exec_net_default_route("", ifname, &gw), -ENETUNREACH);
	CHECK_EQ(exec_net_default_route(ROUTE_HEADER, ifname, &gw), -ENETUNREACH);
}

struct fake_if {
	struct ifaddrs ifa;
	struct sockaddr_in addr, mask;
	struct sockaddr_in6 addr6;
};

/* Entry @i of @ifs: @name with @addr/@mask (@addr 0: an IPv6 entry), linked to the next. */
static void fake_if(struct fake_if *ifs, unsigned int i, unsigned int nr, const char *name,
		    u32 addr, u32 mask)
{
	struct fake_if *f = &ifs[i];

	memset(f, 0, sizeof(*f));
	f->ifa.ifa_name = (char *)name;
	f->ifa.ifa_next = i + 1 < nr ? &ifs[i + 1].ifa : NULL;
	if (!addr) {
		f->addr6.sin6_family = AF_INET6;
		f->ifa.ifa_addr = (struct sockaddr *)&f->addr6;
		return;
	}
	f->addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(addr) };
	f->mask = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(mask) };
	f->ifa.ifa_addr = (struct sockaddr *)&f->addr;
	f->ifa.ifa_netmask = (struct sockaddr *)&f->mask;
}

static struct fake_if ifs[6];

static void make_ifs(void)
{
	fake_if(ifs, 0, 6, "lo", 0x7f000001, 0xff000000);
	fake_if(ifs, 1, 6, "wlan0", 0, 0);                       /* IPv6 first */
	fake_if(ifs, 2, 6, "eth1", 0x0a000005, 0xff000000);
	fake_if(ifs, 3, 6, "wlan0", 0xc0a8014d, 0xffffff00);     /* 192.168.1.77/24 */
	fake_if(ifs, 4, 6, "wlan0", 0xc0a8014e, 0xffff0000);
	fake_if(ifs, 5, 6, "odd0", 0xc0a8024e, 0xff00ff00);      /* not a prefix */
}

static void test_if_addr(void)
{
	unsigned int prefix = 0;
	u32 addr = 0;

	make_ifs();
	CHECK_EQ(exec_net_if_addr(&ifs[0].ifa, "wlan0", &addr, &prefix), 0);
	CHECK_EQ(addr, 0xc0a8014d);
	CHECK_EQ(prefix, 24);
	CHECK_EQ(exec_net_if_addr(&ifs[0].ifa, "eth1", &addr, &prefix), 0);
	CHECK(addr == 0x0a000005 && prefix == 8);
	CHECK_EQ(exec_net_if_addr(&ifs[0].ifa, "odd0", &addr, &prefix), -EADDRNOTAVAIL);
	CHECK_EQ(exec_net_if_addr(&ifs[0].ifa, "eth9", &addr, &prefix), -EADDRNOTAVAIL);
	CHECK_EQ(exec_net_if_addr(NULL, "eth1", &addr, &prefix), -EADDRNOTAVAIL);
}

static void test_nameservers(void)
{
	struct exec_net_config net = { .nr_dns = 2 };

	/* Loopback ones become the gateway (once); IPv6 ones are skipped; three at most. */
	exec_net_nameservers("# generated\n"
			     "search lab.example\n"
			     "nameserver 127.0.0.53\n"
			     "nameserver fe80::1%eth0\n"
			     "nameserver\t9.9.9.9\n"
			     "  nameserver 5.5.5.5\n"
			     "nameserver 0.0.0.0\n"
			     "nameserver 127.0.0.1\n"
			     "nameserver 1.1.1.1%eth0\n"
			     "nameserver 8.8.8.8\n", 0xc0a80101, &net);
	CHECK_EQ(net.nr_dns, 3);
	CHECK_EQ(net.dns[0], 0xc0a80101);
	CHECK_EQ(net.dns[1], 0x09090909);
	CHECK_EQ(net.dns[2], 0x01010101);

	exec_net_nameservers("", 0xc0a80101, &net);
	CHECK_EQ(net.nr_dns, 0);
	exec_net_nameservers("nameserver 10.0.0.2", 0xc0a80101, &net);   /* no last newline */
	CHECK(net.nr_dns == 1 && net.dns[0] == 0x0a000002);
	exec_net_nameservers("nameserver 10.0.0.02\nnameserver\nnameservers 1.2.3.4\n",
			     0xc0a80101, &net);
	CHECK_EQ(net.nr_dns, 0);
}

static void test_from_all_three(void)
{
	struct exec_net_config net;
	char route[512];
	size_t n = (size_t)snprintf(route, sizeof(route), ROUTE_HEADER);
	u8 buf[256];
	struct exec_run *run = calloc(1, sizeof(*run));
	int len;

	CHECK(run);
	make_ifs();
	route_line(route + n, sizeof(route) - n, "wlan0", 0, 0xc0a80101, 0x3, 0);
	CHECK_EQ(exec_net_from(route, &ifs[0].ifa, "nameserver 127.0.0.53\n", &net), 0);
	CHECK(net.addr == 0xc0a8014d && net.prefix == 24 && net.gw == 0xc0a80101);
	CHECK(net.nr_dns == 1 && net.dns[0] == 0xc0a80101);
	/* What RUN then says. */
	run->argv[0] = "true";
	run->argc = 1;
	run->has_net = true;
	run->net = net;
	len = exec_run_encode(run, buf, sizeof(buf));
	free(run);
	CHECK(len > 0);
	static const char item[] = "net=192.168.1.77/24,192.168.1.1,192.168.1.1";
	CHECK(memmem(buf, (size_t)len, item, sizeof(item)));

	/* The default route's interface has only a loopback address: nothing passt could give. */
	route_line(route + n, sizeof(route) - n, "lo", 0, 0xc0a80101, 0x3, 0);
	CHECK_EQ(exec_net_from(route, &ifs[0].ifa, "", &net), -EADDRNOTAVAIL);
	route_line(route + n, sizeof(route) - n, "eth1", 0x0a000000, 0, 0x1, 0xff000000);
	CHECK_EQ(exec_net_from(route, &ifs[0].ifa, "", &net), -ENETUNREACH);
}

static void test_stamp_without_net(void)
{
	struct exec_opts o = { .net = NULL };
	struct exec_run *run = calloc(1, sizeof(*run));

	CHECK(run);
	run->has_net = true;
	CHECK_EQ(exec_net_stamp(&o, run), 0);
	CHECK(!run->has_net);
	free(run);
}

TEST_SUITE(exec_net,
	   TEST(test_default_route),
	   TEST(test_if_addr),
	   TEST(test_nameservers),
	   TEST(test_from_all_three),
	   TEST(test_stamp_without_net));
