// SPDX-License-Identifier: Apache-2.0
/*
 * vsock-tool: both ends of the lab's vsock cases, for the guest (AF_VSOCK)
 * and for the host side of Firecracker's hybrid unix-socket protocol.
 * busybox has no vsock.  Data goes from stdin to the peer and from the
 * peer to stdout; the sender's end of data reaches the receiver as EOF.
 *
 *   vsock-tool listen PORT           guest: take one connection on PORT
 *   vsock-tool connect CID PORT      guest: connect to CID:PORT
 *   vsock-tool ulisten PATH          host: take one connection on PATH
 *                                    (arkvm's uds_path_PORT)
 *   vsock-tool uconnect PATH PORT    host: "CONNECT PORT" on arkvm's uds_path
 *
 * Exit 0 when the transfer ended cleanly, 1 when the peer refused or
 * went away, 2 for bad arguments.  With VSOCK_TOOL_STATS set in the
 * environment (make bench), it says on stderr how many bytes went each way
 * and in how long, from the connection made to both directions done;
 * with VSOCK_TOOL_ZEROS=N it sends N zero bytes instead of its stdin.
 */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

static int die(const char *what)
{
	fprintf(stderr, "vsock-tool: %s: %s\n", what, strerror(errno));
	return 1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * stdin -> sock and sock -> stdout until both are done: the peer's end of
 * data does not end ours, nor the other way round.  0, or -1.
 */
static unsigned long long sent, received;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int relay_both(int sock);

/*
 * make bench's source: @n zero bytes in 64 KiB writes instead of stdin
 * (a pipe from head would hand the socket 4 KiB writes, one packet each),
 * then the peer's data to EOF.
 */
static int send_zeros(int sock, unsigned long long n)
{
	static char zeros[65536];
	char buf[65536];
	ssize_t got;

	while (n) {
		size_t len = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);

		if (write_all(sock, zeros, len))
			return -1;
		sent += len;
		n -= len;
	}
	shutdown(sock, SHUT_WR);
	while ((got = read(sock, buf, sizeof(buf))) > 0)
		received += (unsigned long long)got;
	return got < 0 ? -1 : 0;
}

static int relay(int sock)
{
	const char *zeros = getenv("VSOCK_TOOL_ZEROS");
	double t0 = now_s();
	int ret = zeros ? send_zeros(sock, strtoull(zeros, NULL, 10)) : relay_both(sock);

	if (getenv("VSOCK_TOOL_STATS"))
		fprintf(stderr, "vsock-tool: sent %llu received %llu bytes in %.3f s\n", sent, received,
			now_s() - t0);
	return ret;
}

static int relay_both(int sock)
{
	struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = sock, .events = POLLIN } };
	char buf[65536];
	bool in_open = true, sock_open = true;

	while (sock_open || in_open) {
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (in_open && (p[0].revents & (POLLIN | POLLHUP))) {
			n = read(0, buf, sizeof(buf));
			if (n > 0 && write_all(sock, buf, (size_t)n))
				return -1;
			if (n > 0)
				sent += (unsigned long long)n;
			if (n <= 0) {
				in_open = false;
				p[0].fd = -1;
				shutdown(sock, SHUT_WR);
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(sock, buf, sizeof(buf));
			if (n > 0 && write_all(1, buf, (size_t)n))
				return -1;
			if (n > 0)
				received += (unsigned long long)n;
			if (n < 0)
				return -1;
			if (n == 0) {
				sock_open = false;
				p[1].fd = -1;
			}
		}
	}
	return 0;
}

static int vsock_listen(unsigned int port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0), c;

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1))
		return die("listen");
	fprintf(stderr, "vsock-tool: listening on %u\n", port);
	c = accept(s, NULL, NULL);
	if (c < 0)
		return die("accept");
	return relay(c) ? die("relay") : 0;
}

static int vsock_connect(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		return die("connect");
	return relay(s) ? die("relay") : 0;
}

static int unix_socket(const char *path, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa->sun_path, path);
	return socket(AF_UNIX, SOCK_STREAM, 0);
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa;
	int s = unix_socket(path, &sa), c;

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 1))
		return die("listen");
	c = accept(s, NULL, NULL);
	if (c < 0)
		return die("accept");
	return relay(c) ? die("relay") : 0;
}

/* Firecracker's hybrid handshake: "CONNECT PORT\n", then "OK N\n" or a close. */
static int unix_connect(const char *path, const char *port)
{
	struct sockaddr_un sa;
	char line[64];
	size_t len = 0;
	int s = unix_socket(path, &sa);

	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)))
		return die("connect");
	snprintf(line, sizeof(line), "CONNECT %s\n", port);
	if (write_all(s, line, strlen(line)))
		return die("write");
	while (len + 1 < sizeof(line)) {
		ssize_t n = read(s, line + len, 1);

		if (n <= 0) {
			fprintf(stderr, "vsock-tool: refused: the socket closed before OK\n");
			return 1;
		}
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	if (strncmp(line, "OK ", 3)) {
		fprintf(stderr, "vsock-tool: refused: '%s'\n", line);
		return 1;
	}
	fprintf(stderr, "vsock-tool: %s", line);
	return relay(s) ? die("relay") : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "listen"))
		return vsock_listen((unsigned int)strtoul(argv[2], NULL, 10));
	if (argc == 4 && !strcmp(argv[1], "connect"))
		return vsock_connect((unsigned int)strtoul(argv[2], NULL, 10),
				     (unsigned int)strtoul(argv[3], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "ulisten"))
		return unix_listen(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "uconnect"))
		return unix_connect(argv[2], argv[3]);
	fprintf(stderr, "usage: vsock-tool listen PORT | connect CID PORT | "
		"ulisten PATH | uconnect PATH PORT\n");
	return 2;
}
