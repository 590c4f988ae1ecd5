// SPDX-License-Identifier: Apache-2.0
/*
 * RUN's net=: eth0 configured as passt's DHCP server would have done it
 * (the host worked out the same values, src/exec_net.c), so that the
 * command has a network without a DHCP client in its root.  The old
 * ioctls do it all on one AF_INET socket, with no netlink to speak.
 *
 * The nameservers go into /run/arkvm-resolv.conf (/run is the agent's
 * tmpfs, moved into the root), bind-mounted over the root's
 * /etc/resolv.conf: the root may be a directory of the host's, which the
 * guest must not rewrite.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define NET_IF          "eth0"          /* the VM's only virtio-net NIC */
#define RESOLV_RUN      "/run/arkvm-resolv.conf"
#define RESOLV_ETC      "/etc/resolv.conf"

static struct sockaddr_in sin_of(u32 addr)
{
	return (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(addr) };
}

static u32 prefix_mask(unsigned int prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

/* virtio_net may still be probing (its module was loaded just now): up to 2 s. */
static int wait_for_if(int fd, struct ifreq *ifr)
{
	struct timespec tick = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 200; i++) {
		if (!ioctl(fd, SIOCGIFFLAGS, ifr))
			return 0;
		if (errno != ENODEV)
			return -errno;
		nanosleep(&tick, NULL);
	}
	return -ENODEV;
}

static int set_addr(int fd, unsigned long req, u32 addr)
{
	struct ifreq ifr = { .ifr_name = NET_IF };
	struct sockaddr_in sin = sin_of(addr);

	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return ioctl(fd, req, &ifr) ? -errno : 0;
}

/* A route through eth0 to @dst/@mask, via @gw when not 0.  EEXIST: it is there. */
static int add_route(int fd, u32 dst, u32 mask, u32 gw)
{
	struct rtentry rt = {
		.rt_flags = RTF_UP | (gw ? RTF_GATEWAY : 0) | (mask == ~0u ? RTF_HOST : 0),
		.rt_dev = (char *)NET_IF,
	};
	struct sockaddr_in d = sin_of(dst), m = sin_of(mask), g = sin_of(gw);

	memcpy(&rt.rt_dst, &d, sizeof(d));
	memcpy(&rt.rt_genmask, &m, sizeof(m));
	memcpy(&rt.rt_gateway, &g, sizeof(g));
	return ioctl(fd, SIOCADDRT, &rt) && errno != EEXIST ? -errno : 0;
}

/* eth0 up with the address, netmask and default route: 0, or -errno (logged). */
static int configure_if(int fd, const struct exec_net_config *net)
{
	struct ifreq ifr = { .ifr_name = NET_IF };
	u32 mask = prefix_mask(net->prefix);
	const char *step = NET_IF;
	int ret = wait_for_if(fd, &ifr);

	if (ret)
		goto fail;
	step = "its address";
	ret = set_addr(fd, SIOCSIFADDR, net->addr);
	if (ret)
		goto fail;
	/* After the address, which set a classful mask of its own. */
	step = "its netmask";
	ret = set_addr(fd, SIOCSIFNETMASK, mask);
	if (ret)
		goto fail;
	step = "bringing it up";
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr)) {
		ret = -errno;
		goto fail;
	}
	/* A gateway outside the prefix (a /32 address, say) is reached on the link. */
	step = "the route to the gateway";
	if ((net->gw & mask) != (net->addr & mask)) {
		ret = add_route(fd, net->gw, ~0u, 0);
		if (ret)
			goto fail;
	}
	step = "the default route";
	ret = add_route(fd, 0, 0, net->gw);
	if (ret)
		goto fail;
	return 0;
fail:
	agent_log("network: %s: %s", step, strerror(-ret));
	return ret;
}

static int write_resolv(const struct exec_net_config *net)
{
	char text[32 * EXEC_MAX_DNS + 64];
	int n = snprintf(text, sizeof(text), "# from arkvm exec --net user\n");
	int fd, ret = 0;

	for (unsigned int i = 0; i < net->nr_dns; i++) {
		struct in_addr a = { htonl(net->dns[i]) };
		char s[INET_ADDRSTRLEN];

		n += snprintf(text + n, sizeof(text) - (size_t)n, "nameserver %s\n",
			      inet_ntop(AF_INET, &a, s, sizeof(s)));
	}
	fd = open(RESOLV_RUN, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	ssize_t done = write(fd, text, (size_t)n);

	if (done != n)
		ret = done < 0 ? -errno : -EIO;
	close(fd);
	return ret;
}

/*
 * The root's /etc/resolv.conf, made if missing (an empty file to mount
 * on): 0, or -errno.  A symlink (to systemd-resolved's file, say) is
 * followed, as mount() will.
 */
static int resolv_mount_point(void)
{
	struct stat st;
	int fd;

	if (!stat(RESOLV_ETC, &st))
		return S_ISREG(st.st_mode) ? 0 : -EINVAL;
	if (errno != ENOENT)
		return -errno;
	/* A symlink to a file not there (systemd-resolved's, in a /run that is ours). */
	if (!lstat(RESOLV_ETC, &st))
		return -ENOENT;
	fd = open(RESOLV_ETC, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* The nameservers for the command; failures are only logged: it may need none. */
static void setup_dns(const struct exec_net_config *net)
{
	int ret;

	if (!net->nr_dns)
		return;
	ret = write_resolv(net);
	if (ret) {
		agent_log("network: %s: %s", RESOLV_RUN, strerror(-ret));
		return;
	}
	ret = resolv_mount_point();
	if (!ret && mount(RESOLV_RUN, RESOLV_ETC, NULL, MS_BIND, NULL))
		ret = -errno;
	if (ret)
		agent_log("network: no nameservers in %s: %s", RESOLV_ETC, strerror(-ret));
}

int agent_net_setup(const struct exec_net_config *net)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0) {
		ret = -errno;
		agent_log("network: socket: %s", strerror(-ret));
		return ret;
	}
	ret = configure_if(fd, net);
	close(fd);
	if (!ret)
		setup_dns(net);
	return ret;
}
