// SPDX-License-Identifier: Apache-2.0
/*
 * api-call SOCKET METHOD PATH [BODY]: one HTTP/1.1 request on a unix
 * socket, the way Firecracker's clients send it; prints the status code
 * on the first line and the body after it.  Exit 0 for 2xx, 1 for other
 * answers, 2 when no answer came.  The lab has no curl.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *body = argc > 4 ? argv[4] : "";
	char req[8192], resp[65536];
	size_t len = 0;
	ssize_t n;
	int fd, status = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: api-call SOCKET METHOD PATH [BODY]\n");
		return 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("api-call: connect");
		return 2;
	}
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		     argv[2], argv[3], strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
		perror("api-call: write");
		return 2;
	}
	shutdown(fd, SHUT_WR);
	while (len + 1 < sizeof(resp) && (n = read(fd, resp + len, sizeof(resp) - len - 1)) > 0)
		len += (size_t)n;
	resp[len] = '\0';
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1) {
		fprintf(stderr, "api-call: no answer\n");
		return 2;
	}
	printf("%d\n%s\n", status, strstr(resp, "\r\n\r\n") ? strstr(resp, "\r\n\r\n") + 4 : "");
	return status >= 200 && status < 300 ? 0 : 1;
}
