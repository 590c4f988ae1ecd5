// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker's Uffd memory backend, the VMM's half (include/uffd.h):
 * a userfaultfd over guest RAM, handed to a page server on a unix socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "uffd.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)  /* Linux 6.1: /dev/userfaultfd */
#endif

static int fail(char *err, size_t err_size, int ret, const char *fmt, ...)
	__printf(4, 5);

static int fail(char *err, size_t err_size, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return ret;
}

int uffd_mappings_json(char *buf, size_t size, u64 base, u64 len, u64 offset, u64 page_size)
{
	/*
	 * Firecracker's field order.  page_size_kib is deprecated and, despite
	 * its name, holds bytes too: handlers written for older Firecrackers
	 * read it.
	 */
	int n = snprintf(buf, size,
			 "[{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%llu,"
			 "\"page_size\":%llu,\"page_size_kib\":%llu}]",
			 (unsigned long long)base, (unsigned long long)len,
			 (unsigned long long)offset, (unsigned long long)page_size,
			 (unsigned long long)page_size);

	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}

/*
 * Not UFFD_USER_MODE_ONLY: KVM's stage-2 faults and arkvm's own copies
 * from guest RAM are kernel-mode faults, which that mode refuses.  Without
 * it the syscall needs CAP_SYS_PTRACE (or vm.unprivileged_userfaultfd);
 * Linux 6.1 also offers /dev/userfaultfd, whose file mode decides instead.
 */
static int uffd_create(void)
{
	int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int dev, err;

	if (fd >= 0 || (errno != EPERM && errno != ENOSYS))
		return fd >= 0 ? fd : -errno;
	err = errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -err;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	err = errno;
	close(dev);
	return fd >= 0 ? fd : -err;
}

/*
 * UFFD_FEATURE_EVENT_REMOVE as Firecracker asks for it: arkvm never
 * discards guest RAM, but a page server written for Firecracker may
 * expect the feature to be on.
 */
static int uffd_setup(int uffd, void *ram, u64 size, char *err, size_t err_size)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	struct uffdio_register reg = {
		.range = { .start = (u64)(uintptr_t)ram, .len = size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (ioctl(uffd, UFFDIO_API, &api))
		return fail(err, err_size, -errno, "userfaultfd: UFFDIO_API: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return fail(err, err_size, -errno, "userfaultfd: registering guest RAM: %s",
			    strerror(errno));
	if (!(reg.ioctls & (1ULL << _UFFDIO_COPY)))
		return fail(err, err_size, -EOPNOTSUPP,
			    "userfaultfd: the kernel offers no UFFDIO_COPY on guest RAM");
	return 0;
}

static int uffd_connect(const char *path, char *err, size_t err_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return fail(err, err_size, -ENAMETOOLONG, "Uffd backend '%.200s': path too long",
			    path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(err, err_size, -errno, "Uffd backend: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		close(fd);
		return fail(err, err_size, ret, "Uffd backend '%.200s': connecting: %s", path,
			    strerror(-ret));
	}
	return fd;
}

/* The JSON and the fd in one sendmsg: the fd rides on the text's first byte. */
static int uffd_send(int sock, int uffd, const char *json, size_t len, char *err,
		     size_t err_size)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)json, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	ssize_t n;

	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &uffd, sizeof(int));
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return fail(err, err_size, -errno, "Uffd backend: sending the handshake: %s",
			    strerror(errno));
	/* A stream socket's buffer takes a few hundred bytes whole, or says why not. */
	if ((size_t)n != len)
		return fail(err, err_size, -EIO, "Uffd backend: the handshake went out cut short");
	return 0;
}

int uffd_attach(struct uffd_backend *b, void *ram, u64 size, u64 page_size,
		const char *socket_path, char *err, size_t err_size)
{
	char json[512];
	int len, ret;

	uffd_backend_init(b);
	if (!page_size || (page_size & (page_size - 1)) || !size ||
	    !IS_ALIGNED(size, page_size) || !IS_ALIGNED((u64)(uintptr_t)ram, page_size))
		return fail(err, err_size, -EINVAL, "Uffd backend: RAM not in whole pages");
	len = uffd_mappings_json(json, sizeof(json), (u64)(uintptr_t)ram, size, 0, page_size);
	if (len < 0)
		return fail(err, err_size, len, "Uffd backend: handshake too long");
	b->uffd = uffd_create();
	if (b->uffd < 0) {
		ret = b->uffd;
		b->uffd = -1;
		return fail(err, err_size, ret, "userfaultfd: %s%s", strerror(-ret),
			    ret == -EPERM ? " (needs CAP_SYS_PTRACE or access to /dev/userfaultfd)" : "");
	}
	ret = uffd_setup(b->uffd, ram, size, err, err_size);
	if (ret)
		goto out;
	b->sock = uffd_connect(socket_path, err, err_size);
	if (b->sock < 0) {
		ret = b->sock;
		b->sock = -1;
		goto out;
	}
	ret = uffd_send(b->sock, b->uffd, json, (size_t)len, err, err_size);
	if (!ret)
		return 0;
out:
	uffd_backend_close(b);
	return ret;
}

void uffd_backend_close(struct uffd_backend *b)
{
	if (b->sock >= 0)
		close(b->sock);
	if (b->uffd >= 0)
		close(b->uffd);
	uffd_backend_init(b);
}
