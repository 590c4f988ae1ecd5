// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm exec --net user: what passt will hand the guest, worked out on
 * the host so that RUN can carry it (net=) and the agent needs no DHCP
 * client.  passt's defaults, which arkvm does not override (it runs
 * `passt -f -q --fd N` plus port forwards):
 *
 *   - the address and prefix length of the host interface that holds the
 *     first IPv4 default route, and that route's gateway;
 *   - the nameservers of the host's /etc/resolv.conf, where a loopback
 *     one (127.0.0.53 of systemd-resolved, 127.0.0.1 of dnsmasq) is
 *     replaced by the gateway: the guest cannot reach the host's
 *     loopback, but passt maps what the guest sends to the gateway
 *     address onto the host (newer passt forwards port 53 there to the
 *     host's first resolver; passt before 2023's dns_match rework sends
 *     it to 127.0.0.1:53, so there a stub listening only on 127.0.0.53
 *     does not answer).
 *
 * The parsers take the files' text (and getifaddrs()'s list) so that the
 * unit tests can feed their own; exec_net_host() reads the real ones.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"

_Static_assert(EXEC_IFNAME_SIZE == IF_NAMESIZE, "an interface name's size");

#define NET_TEXT_MAX 65536       /* of /proc/net/route or resolv.conf: more is not read */

/* One line of @text from *@pos into @line (cut to @size), *@pos past it: false at the end. */
static bool next_line(const char *text, size_t *pos, char *line, size_t size)
{
	size_t len;

	if (!text[*pos])
		return false;
	len = strcspn(text + *pos, "\n");
	snprintf(line, size, "%.*s", (int)MIN(len, size - 1), text + *pos);
	*pos += len + (text[*pos + len] == '\n');
	return true;
}

/*
 * /proc/net/route prints each address as the 32-bit word it is in
 * memory (network order), in hex: "0102A8C0" is 192.168.2.1 on a
 * little-endian host.  Its lines, after a header:
 *   Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
 */
int exec_net_default_route(const char *route, char ifname[EXEC_IFNAME_SIZE], u32 *gw)
{
	char line[256], name[EXEC_IFNAME_SIZE];
	unsigned int dst, via, flags, mask;
	size_t pos = 0;

	next_line(route, &pos, line, sizeof(line));            /* the header */
	while (next_line(route, &pos, line, sizeof(line))) {
		if (sscanf(line, "%15s %x %x %x %*d %*u %*d %x", name, &dst, &via, &flags,
			   &mask) != 5)
			continue;
		/* The kernel lists a prefix's routes best metric first, as passt takes them. */
		if (dst || mask || (flags & (RTF_UP | RTF_GATEWAY)) != (RTF_UP | RTF_GATEWAY) ||
		    !via)
			continue;
		memcpy(ifname, name, sizeof(name));
		*gw = ntohl(via);
		return 0;
	}
	return -ENETUNREACH;
}

/* A netmask's prefix length, or -1 when its ones are not contiguous. */
static int mask_prefix(u32 mask)
{
	int n = __builtin_popcount(mask);

	return mask == (n ? ~0u << (32 - n) : 0) ? n : -1;
}

int exec_net_if_addr(const struct ifaddrs *ifa, const char *ifname, u32 *addr,
		     unsigned int *prefix)
{
	for (; ifa; ifa = ifa->ifa_next) {
		struct sockaddr_in a, m;
		int n;

		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET || !ifa->ifa_netmask ||
		    strcmp(ifa->ifa_name, ifname))
			continue;
		/* Copied: a struct sockaddr promises less alignment than a sockaddr_in needs. */
		memcpy(&a, ifa->ifa_addr, sizeof(a));
		memcpy(&m, ifa->ifa_netmask, sizeof(m));
		/* The first address, as passt's netlink dump takes it. */
		n = mask_prefix(ntohl(m.sin_addr.s_addr));
		if (n < 1)
			return -EADDRNOTAVAIL;
		*addr = ntohl(a.sin_addr.s_addr);
		*prefix = (unsigned int)n;
		return 0;
	}
	return -EADDRNOTAVAIL;
}

/* Whether a nameserver may go into net= (what exec_net_config_valid() wants). */
static bool dns_usable(u32 a)
{
	return a >> 24 && a >> 24 != 127 && a >> 24 < 224;
}

static void add_nameserver(struct exec_net_config *net, u32 a)
{
	if (!dns_usable(a) || net->nr_dns >= EXEC_MAX_DNS)
		return;
	for (unsigned int i = 0; i < net->nr_dns; i++)
		if (net->dns[i] == a)
			return;                 /* two loopback ones both became the gateway */
	net->dns[net->nr_dns++] = a;
}

void exec_net_nameservers(const char *resolv, u32 gw, struct exec_net_config *net)
{
	char line[256], addr[64];
	size_t pos = 0;

	net->nr_dns = 0;
	while (next_line(resolv, &pos, line, sizeof(line))) {
		struct in_addr in;

		/*
		 * "nameserver ADDR[%SCOPE]" at the start of a line, as the C
		 * library and passt read it; IPv6 ones are not for an
		 * IPv4-only guest.
		 */
		if (strncmp(line, "nameserver", 10) || (line[10] != ' ' && line[10] != '\t') ||
		    sscanf(line + 10, "%63s", addr) != 1)
			continue;
		addr[strcspn(addr, "%")] = '\0';
		if (inet_pton(AF_INET, addr, &in) != 1)
			continue;
		if (ntohl(in.s_addr) >> 24 == 127)
			add_nameserver(net, gw);
		else
			add_nameserver(net, ntohl(in.s_addr));
	}
}

int exec_net_from(const char *route, const struct ifaddrs *ifa, const char *resolv,
		  struct exec_net_config *net)
{
	char ifname[EXEC_IFNAME_SIZE];
	int ret;

	memset(net, 0, sizeof(*net));
	ret = exec_net_default_route(route, ifname, &net->gw);
	if (!ret)
		ret = exec_net_if_addr(ifa, ifname, &net->addr, &net->prefix);
	if (ret)
		return ret;
	exec_net_nameservers(resolv, net->gw, net);
	return exec_net_config_valid(net) ? 0 : -EADDRNOTAVAIL;
}

/* A small file's text, NUL-terminated, into @buf: "" when it cannot be read. */
static void read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t have = 0;
	ssize_t n;

	while (fd >= 0 && have < size - 1) {
		n = read(fd, buf + have, size - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	buf[have] = '\0';
}

int exec_net_host(struct exec_net_config *net)
{
	char *route = malloc(NET_TEXT_MAX), *resolv = malloc(NET_TEXT_MAX);
	struct ifaddrs *ifa = NULL;
	int ret = -ENOMEM;

	if (!route || !resolv) {
		pr_err("exec: --net user: out of memory");
		goto out;
	}
	read_text("/proc/net/route", route, NET_TEXT_MAX);
	read_text("/etc/resolv.conf", resolv, NET_TEXT_MAX);
	if (getifaddrs(&ifa)) {
		ret = -errno;
		pr_err("exec: --net user: getifaddrs: %s", strerror(errno));
		goto out;
	}
	ret = exec_net_from(route, ifa, resolv, net);
	if (ret == -ENETUNREACH)
		pr_err("exec: --net user: the host has no IPv4 default route via a gateway");
	else if (ret)
		pr_err("exec: --net user: the default route's interface has no usable IPv4 address");
out:
	if (ifa)
		freeifaddrs(ifa);
	free(route);
	free(resolv);
	return ret;
}

int exec_net_stamp(const struct exec_opts *o, struct exec_run *run)
{
	int ret;

	run->has_net = false;
	if (!o->net)
		return 0;
	ret = exec_net_host(&run->net);
	run->has_net = !ret;
	return ret;
}
