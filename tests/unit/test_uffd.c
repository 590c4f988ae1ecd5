// SPDX-License-Identifier: Apache-2.0
/*
 * The Uffd backend's handshake, against a page server played by a test
 * thread: the region list and the fd arrive in one message, and the
 * memory then reads what the server copied in from its "memory file".
 * A failed attach leaves plain anonymous memory behind, never a range
 * whose faults nobody serves.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "test.h"
#include "uffd.h"

#define PAGES 8

struct fake_server {
	int listen_fd;
	u8 *image;              /* what the "memory file" holds */
	size_t page;
	atomic_int stop;
	/* What it received. */
	char json[1024];
	int got_fd;             /* 1 when an SCM_RIGHTS fd came with the text */
	u64 base, size, offset, page_size, page_size_kib;
	unsigned int copied;
};

static int fake_listen(struct fake_server *s, char *path, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(path, size, "/tmp/arkvm-uffd-%d.sock", getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(s->listen_fd, 1))
		return -1;
	return 0;
}

static int fake_receive(struct fake_server *s, int conn)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = s->json, .iov_len = sizeof(s->json) - 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	int fd = -1;

	if (n <= 0)
		return -1;
	s->json[n] = 0;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int))) {
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
		s->got_fd = 1;
	}
	if (sscanf(s->json, "[{\"base_host_virt_addr\":%" SCNu64 ",\"size\":%" SCNu64
		   ",\"offset\":%" SCNu64 ",\"page_size\":%" SCNu64 ",\"page_size_kib\":%" SCNu64 "}]",
		   &s->base, &s->size, &s->offset, &s->page_size, &s->page_size_kib) != 5)
		return fd >= 0 ? close(fd), -1 : -1;
	return fd;
}

/* Fills each faulting page from the image, until told to stop. */
static void fake_serve(struct fake_server *s, int uffd)
{
	while (!atomic_load(&s->stop)) {
		struct pollfd p = { .fd = uffd, .events = POLLIN };
		struct uffd_msg m;
		struct uffdio_copy cp;
		u64 dst;

		if (poll(&p, 1, 50) <= 0)
			continue;
		if (read(uffd, &m, sizeof(m)) != sizeof(m) || m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		dst = m.arg.pagefault.address & ~(u64)(s->page - 1);
		if (dst < s->base || dst - s->base >= s->size)
			continue;
		cp = (struct uffdio_copy){
			.dst = dst, .src = (u64)(uintptr_t)(s->image + (dst - s->base)),
			.len = s->page,
		};
		if (!ioctl(uffd, UFFDIO_COPY, &cp))
			s->copied++;
	}
}

static void *fake_server_thread(void *arg)
{
	struct fake_server *s = arg;
	int conn = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	int uffd;

	if (conn < 0)
		return NULL;
	uffd = fake_receive(s, conn);
	if (uffd >= 0) {
		fake_serve(s, uffd);
		close(uffd);
	}
	close(conn);
	return NULL;
}

static void test_mappings_json(void)
{
	char buf[256];
	int n = uffd_mappings_json(buf, sizeof(buf), 0x7f0000200000ULL, 256ULL << 20, 0, 4096);

	CHECK_EQ(n, strlen(buf));
	CHECK(!strcmp(buf, "[{\"base_host_virt_addr\":139637978824704,\"size\":268435456,"
		      "\"offset\":0,\"page_size\":4096,\"page_size_kib\":4096}]"));
	CHECK_EQ(uffd_mappings_json(buf, 20, 1, 2, 3, 4), -ENOSPC);
}

static void test_pages_come_from_the_server(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = PAGES * page;
	struct fake_server *s = calloc(1, sizeof(*s));
	struct uffd_backend b;
	char path[108], err[256];
	pthread_t t;
	u8 *ram;
	int ret;

	CHECK(s);
	s->page = page;
	s->image = malloc(len);
	CHECK(s->image);
	for (size_t i = 0; i < len; i++)
		s->image[i] = (u8)(i / page * 16 + i % 13);
	CHECK_EQ(fake_listen(s, path, sizeof(path)), 0);
	ram = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ram != MAP_FAILED);
	CHECK_EQ(pthread_create(&t, NULL, fake_server_thread, s), 0);
	ret = uffd_attach(&b, ram, len, page, path, err, sizeof(err));
	if (ret)
		fprintf(stderr, "uffd_attach: %s\n", err);
	if (ret == -EPERM || ret == -ENOSYS) {
		/* No userfaultfd in this sandbox: the lab's case covers it. */
		shutdown(s->listen_fd, SHUT_RDWR);
		pthread_join(t, NULL);
		goto out;
	}
	CHECK_EQ(ret, 0);
	/* Every page reads what the server's image holds, last page first. */
	for (int p = PAGES - 1; p >= 0; p--)
		CHECK(!memcmp(ram + (size_t)p * page, s->image + (size_t)p * page, page));
	atomic_store(&s->stop, 1);
	pthread_join(t, NULL);
	CHECK(s->got_fd);
	CHECK_EQ(s->base, (u64)(uintptr_t)ram);
	CHECK_EQ(s->size, len);
	CHECK_EQ(s->offset, 0);
	CHECK_EQ(s->page_size, page);
	CHECK_EQ(s->page_size_kib, page);
	CHECK_EQ(s->copied, PAGES);
	uffd_backend_close(&b);
	CHECK_EQ(b.uffd, -1);
	CHECK_EQ(b.sock, -1);
out:
	munmap(ram, len);
	close(s->listen_fd);
	unlink(path);
	free(s->image);
	free(s);
}

static void test_no_server(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct uffd_backend b;
	char err[256];
	u8 *ram = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	CHECK(ram != MAP_FAILED);
	ret = uffd_attach(&b, ram, 4 * page, page, "/nonexistent/uffd.sock", err, sizeof(err));
	CHECK(ret < 0);
	CHECK_EQ(b.uffd, -1);
	CHECK_EQ(b.sock, -1);
	if (ret != -EPERM && ret != -ENOSYS) {
		CHECK_EQ(ret, -ENOENT);
		CHECK(strstr(err, "/nonexistent/uffd.sock"));
	}
	/* The range is plain memory again: a touch reads zero, and does not hang. */
	CHECK_EQ(ram[page], 0);
	/* RAM that is not in whole pages is refused before anything opens. */
	CHECK_EQ(uffd_attach(&b, ram + 1, page, page, "/x", err, sizeof(err)), -EINVAL);
	CHECK_EQ(uffd_attach(&b, ram, page, 3000, "/x", err, sizeof(err)), -EINVAL);
	munmap(ram, 4 * page);
}

TEST_SUITE(uffd,
	   TEST(test_mappings_json),
	   TEST(test_pages_come_from_the_server),
	   TEST(test_no_server));
