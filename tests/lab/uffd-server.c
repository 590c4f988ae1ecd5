// SPDX-License-Identifier: Apache-2.0
/*
 * uffd-server SOCKET MEMFILE: the lab's page server for Firecracker's Uffd
 * memory backend.  It listens on SOCKET, takes one connection (the VMM's),
 * receives the region list (JSON) and the userfaultfd that came with it,
 * and fills each page of guest RAM from MEMFILE the first time it is
 * touched.  Pages that are all zero in the file get the shared zero page;
 * a range the VMM discarded (UFFD_EVENT_REMOVE) reads zero afterwards.
 *
 * It ends when the VMM does (its end of the connection closes), or on
 * SIGTERM/SIGINT, and says on stderr how many pages it served.  Exit 0, or
 * 1 with one line that says why.  Everything the VMM sends is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/userfaultfd.h>

#define MAX_REGIONS 16
#define MAX_HANDSHAKE 65536
#define HANDSHAKE_MS 10000   /* the VMM sends at once after connecting */

struct region {
	uint64_t base, size, offset, page_size;
	uint8_t *removed;   /* one bit a page: discarded, reads zero from now on */
};

struct server {
	int listen_fd, conn, uffd, sig_fd;
	const uint8_t *file;   /* MEMFILE, mapped read-only */
	uint64_t file_size;
	uint8_t *zero;         /* a zeroed page of the largest page size */
	struct region regions[MAX_REGIONS];
	unsigned int nr_regions;
	unsigned long copied, zeroed, removes, retries;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("uffd-server: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void map_file(struct server *s, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st))
		die("%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size <= 0)
		die("%s: not a regular, non-empty file", path);
	s->file_size = (uint64_t)st.st_size;
	s->file = mmap(NULL, s->file_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (s->file == MAP_FAILED)
		die("%s: mmap: %s", path, strerror(errno));
	close(fd);
}

/* SIGTERM and SIGINT arrive as reads on a signalfd, polled with the rest. */
static void take_signals(struct server *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		die("sigprocmask: %s", strerror(errno));
	sigdelset(&set, SIGPIPE);
	s->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sig_fd < 0)
		die("signalfd: %s", strerror(errno));
}

static void listen_on(struct server *s, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		die("%s: socket path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		die("socket: %s", strerror(errno));
	if (bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->listen_fd, 1))
		die("%s: %s", path, strerror(errno));
}

/* Waits for @fd or a signal: 1 when @fd is ready, 0 on a signal, -1 on timing out. */
static int wait_for(struct server *s, int fd, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = s->sig_fd, .events = POLLIN } };
	int n;

	do {
		n = poll(p, 2, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		die("poll: %s", strerror(errno));
	if (n == 0)
		return -1;
	return !(p[1].revents & POLLIN);
}

/* The fd that came with a message: exactly one, and a userfaultfd. */
static int take_fd(struct msghdr *msg)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(msg);
	char link[64] = "";
	char proc[64];
	int fd;

	if (msg->msg_flags & MSG_CTRUNC)
		die("the handshake carried more than one fd");
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)) || CMSG_NXTHDR(msg, c))
		die("the handshake carried no fd, or more than one");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (readlink(proc, link, sizeof(link) - 1) < 0 || strcmp(link, "anon_inode:[userfaultfd]"))
		die("the fd the VMM sent is not a userfaultfd (%s)", link);
	return fd;
}

/*
 * The region list and the userfaultfd.  The fd rides on the text's first
 * byte; the text may in principle arrive in pieces, so read until it
 * parses (the VMM keeps the connection open, so there is no EOF to wait for).
 */
static json_t *receive(struct server *s)
{
	static char buf[MAX_HANDSHAKE + 1];
	size_t len = 0;
	json_error_t jerr = { .text = "nothing received" };

	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = buf + len, .iov_len = MAX_HANDSHAKE - len };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
		};
		ssize_t n;
		json_t *j;
		int ready = wait_for(s, s->conn, HANDSHAKE_MS);

		if (ready < 0)
			die("no whole handshake within %d ms: %s", HANDSHAKE_MS, jerr.text);
		if (!ready)
			exit(0);
		n = recvmsg(s->conn, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("reading the handshake: %s", strerror(errno));
		if (n == 0)
			die("the VMM closed the connection before its handshake ended");
		if (len == 0)
			s->uffd = take_fd(&msg);
		else if (msg.msg_controllen)
			die("an fd came after the handshake's first byte");
		len += (size_t)n;
		buf[len] = 0;
		j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
		if (j)
			return j;
		if (len == MAX_HANDSHAKE)
			die("the handshake is larger than %d bytes", MAX_HANDSHAKE);
	}
}

static uint64_t get_u64(json_t *o, const char *key, bool required, uint64_t dflt)
{
	json_t *v = json_object_get(o, key);

	if (!v && !required)
		return dflt;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		die("region: `%s` must be a non-negative integer", key);
	return (uint64_t)json_integer_value(v);
}

static bool overlaps(const struct region *a, const struct region *b)
{
	return a->base < b->base + b->size && b->base < a->base + a->size;
}

/*
 * Each region: whole pages of a power-of-two size at least the host's,
 * no wrap-around, inside the file, and apart from the others.
 */
static void check_region(struct server *s, struct region *r)
{
	uint64_t host_page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t ps = r->page_size;

	if (ps < host_page || (ps & (ps - 1)) || ps > (1ULL << 30))
		die("region: page_size %llu is not a power of two from the host's page up to 1G",
		    (unsigned long long)ps);
	if (!r->size || r->base % ps || r->size % ps || r->offset % ps)
		die("region: base, size and offset must be whole pages");
	if (r->base + r->size < r->base || r->offset + r->size < r->offset)
		die("region: wraps around");
	if (r->offset + r->size > s->file_size)
		die("region: [%llu, +%llu) lies past the memory file's %llu bytes",
		    (unsigned long long)r->offset, (unsigned long long)r->size,
		    (unsigned long long)s->file_size);
	for (unsigned int i = 0; i < s->nr_regions; i++)
		if (overlaps(r, &s->regions[i]))
			die("region: overlaps another");
	r->removed = calloc(r->size / ps / 8 + 1, 1);
	if (!r->removed)
		die("out of memory");
}

static void parse_regions(struct server *s, json_t *j)
{
	uint64_t max_page = 0;
	json_t *o;
	size_t i;

	if (!json_is_array(j) || !json_array_size(j) || json_array_size(j) > MAX_REGIONS)
		die("the handshake is not an array of 1 to %d regions", MAX_REGIONS);
	json_array_foreach(j, i, o) {
		struct region *r = &s->regions[s->nr_regions];
		uint64_t kib;

		if (!json_is_object(o))
			die("region %zu is not an object", i);
		r->base = get_u64(o, "base_host_virt_addr", true, 0);
		r->size = get_u64(o, "size", true, 0);
		r->offset = get_u64(o, "offset", true, 0);
		r->page_size = get_u64(o, "page_size", true, 0);
		/* Deprecated, and in bytes despite its name: it must agree when present. */
		kib = get_u64(o, "page_size_kib", false, r->page_size);
		if (kib != r->page_size)
			die("region %zu: page_size_kib %llu differs from page_size %llu", i,
			    (unsigned long long)kib, (unsigned long long)r->page_size);
		check_region(s, r);
		if (r->page_size > max_page)
			max_page = r->page_size;
		s->nr_regions++;
	}
	s->zero = mmap(NULL, max_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->zero == MAP_FAILED)
		die("mmap: %s", strerror(errno));
}

static struct region *find_region(struct server *s, uint64_t addr)
{
	for (unsigned int i = 0; i < s->nr_regions; i++)
		if (addr >= s->regions[i].base && addr - s->regions[i].base < s->regions[i].size)
			return &s->regions[i];
	return NULL;
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i += 8)
		if (*(const uint64_t *)(const void *)(p + i))
			return false;
	return true;
}

/*
 * One fault: 0 when served (or already there), -EAGAIN to try again after
 * the events still queued (a REMOVE is pending), -ESRCH when the VMM's
 * memory is gone.
 */
static int serve_fault(struct server *s, uint64_t addr)
{
	struct region *r = find_region(s, addr);
	uint64_t dst, page, idx;
	const uint8_t *src;
	int ret;

	if (!r)
		die("a fault at 0x%llx, outside every region the VMM announced",
		    (unsigned long long)addr);
	dst = addr & ~(r->page_size - 1);
	page = (dst - r->base) / r->page_size;
	src = s->file + r->offset + (dst - r->base);
	idx = page / 8;
	if ((r->removed[idx] >> (page % 8)) & 1)
		src = s->zero;
	/* UFFDIO_ZEROPAGE maps the shared zero page: no memory until written.  Not for hugetlb. */
	if (r->page_size == (uint64_t)sysconf(_SC_PAGESIZE) && all_zero(src, r->page_size)) {
		struct uffdio_zeropage z = { .range = { .start = dst, .len = r->page_size } };

		ret = ioctl(s->uffd, UFFDIO_ZEROPAGE, &z);
		if (!ret)
			s->zeroed++;
	} else {
		struct uffdio_copy c = {
			.dst = dst, .src = (uint64_t)(uintptr_t)src, .len = r->page_size,
		};

		ret = ioctl(s->uffd, UFFDIO_COPY, &c);
		if (!ret)
			s->copied++;
	}
	if (!ret || errno == EEXIST)   /* EEXIST: two threads faulted on it; one fill won */
		return 0;
	if (errno == EAGAIN || errno == ESRCH)
		return -errno;
	die("filling the page at 0x%llx: %s", (unsigned long long)dst, strerror(errno));
}

/* A range the VMM discarded: it reads zero from now on, as fresh memory would. */
static void mark_removed(struct server *s, uint64_t start, uint64_t end)
{
	s->removes++;
	for (unsigned int i = 0; i < s->nr_regions; i++) {
		struct region *r = &s->regions[i];
		uint64_t lo = start > r->base ? start : r->base;
		uint64_t hi = end < r->base + r->size ? end : r->base + r->size;

		for (uint64_t a = lo; a < hi; a += r->page_size) {
			uint64_t page = (a - r->base) / r->page_size;

			r->removed[page / 8] |= (uint8_t)(1u << (page % 8));
		}
	}
}

/* The end: what was served, on stderr, and exit 0. */
static void __attribute__((noreturn)) finish(struct server *s)
{
	fprintf(stderr, "uffd-server: served %lu pages (%lu copied, %lu zero), %lu removes, "
		"%lu retries\n", s->copied + s->zeroed, s->copied, s->zeroed, s->removes, s->retries);
	for (unsigned int i = 0; i < s->nr_regions; i++)
		free(s->regions[i].removed);
	exit(0);
}

/* Reads every queued event; faults that must wait go to @deferred. */
static unsigned int drain(struct server *s, uint64_t *deferred, unsigned int nr, unsigned int max)
{
	struct uffd_msg msgs[32];

	for (;;) {
		ssize_t n = read(s->uffd, msgs, sizeof(msgs));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return nr;
		if (n <= 0) {
			/* 0, or an error: this userfaultfd will deliver nothing more. */
			finish(s);
		}
		if (n % (ssize_t)sizeof(msgs[0]))
			die("a short read from the userfaultfd");
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++) {
			const struct uffd_msg *m = &msgs[i];

			switch (m->event) {
			case UFFD_EVENT_PAGEFAULT:
				if (nr == max)
					die("more than %u faults waiting", max);
				deferred[nr++] = m->arg.pagefault.address;
				break;
			case UFFD_EVENT_REMOVE:
			case UFFD_EVENT_UNMAP:
				mark_removed(s, m->arg.remove.start, m->arg.remove.end);
				break;
			case UFFD_EVENT_FORK:
				/* Not asked for; its new fd is ours to close all the same. */
				close((int)m->arg.fork.ufd);
				break;
			default:
				fprintf(stderr, "uffd-server: event 0x%x ignored\n", m->event);
				break;
			}
		}
	}
}

/*
 * Events first, then their faults: a REMOVE that is still queued makes
 * every fill fail with EAGAIN, so a fault that meets one waits for the
 * next round, after the REMOVE has been read.
 */
static void __attribute__((noreturn)) serve(struct server *s)
{
	static uint64_t faults[4096];
	unsigned int nr = 0;

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = s->uffd, .events = POLLIN },
			{ .fd = s->conn, .events = POLLIN | POLLRDHUP },
			{ .fd = s->sig_fd, .events = POLLIN },
		};
		unsigned int left = 0;

		if (poll(p, 3, nr ? 1 : -1) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (p[2].revents & POLLIN)
			break;
		/* The VMM's end closed: it has gone. */
		if (p[1].revents & (POLLHUP | POLLRDHUP | POLLERR))
			break;
		if (p[1].revents & POLLIN) {
			char junk[256];

			if (read(s->conn, junk, sizeof(junk)) == 0)
				break;
		}
		if (p[0].revents & POLLERR)
			break;
		nr = drain(s, faults, nr, (unsigned int)(sizeof(faults) / sizeof(faults[0])));
		for (unsigned int i = 0; i < nr; i++) {
			int ret = serve_fault(s, faults[i]);

			if (ret == -ESRCH)
				finish(s);
			if (ret == -EAGAIN) {
				faults[left++] = faults[i];
				s->retries++;
			}
		}
		nr = left;
	}
	finish(s);
}

int main(int argc, char **argv)
{
	struct server s = { .listen_fd = -1, .conn = -1, .uffd = -1, .sig_fd = -1 };
	json_t *j;

	if (argc != 3) {
		fprintf(stderr, "usage: uffd-server SOCKET MEMFILE\n");
		return 2;
	}
	take_signals(&s);
	map_file(&s, argv[2]);
	listen_on(&s, argv[1]);
	if (wait_for(&s, s.listen_fd, -1) <= 0) {
		unlink(argv[1]);
		return 0;
	}
	s.conn = accept4(s.listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (s.conn < 0)
		die("accept: %s", strerror(errno));
	close(s.listen_fd);
	unlink(argv[1]);
	j = receive(&s);
	parse_regions(&s, j);
	json_decref(j);
	fprintf(stderr, "uffd-server: serving %u region(s) from %s\n", s.nr_regions, argv[2]);
	serve(&s);
}
