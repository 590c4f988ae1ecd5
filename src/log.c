// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"

const struct log_config log_default_config = { .level = LOG_INFO };

/*
 * Logging is the process's, so its state is too: how lines look and where
 * they go.  Lines take the lock shared (a signal handler that logs may take
 * it again); only log_set() and log_open() take it exclusively.
 */
static struct {
	pthread_rwlock_t lock;
	struct log_config cfg;
	int fd;
} logger = {
	.lock = PTHREAD_RWLOCK_INITIALIZER,
	.cfg = { .level = LOG_INFO },
	.fd = STDERR_FILENO,
};

static atomic_ullong missed_lines, rate_limited_lines;

/* The thread's name, read once: after its seccomp filter, prctl is refused. */
static __thread char thread_name[16];

/* Firecracker's names, as its lines show them (the log crate's). */
static const char *const level_names[] = {
	[LOG_ERROR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
	[LOG_TRACE] = "TRACE",
};

int log_level_parse(const char *name, enum log_level *level)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "off", LOG_OFF }, { "trace", LOG_TRACE }, { "debug", LOG_DEBUG },
		{ "info", LOG_INFO }, { "warn", LOG_WARN }, { "warning", LOG_WARN },
		{ "error", LOG_ERROR },
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcasecmp(name, names[i].name)) {
			*level = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

void log_cache_thread_name(void)
{
	char name[16] = "";

	if (prctl(PR_GET_NAME, name, 0, 0, 0) || !name[0])
		strcpy(name, "-");
	memcpy(thread_name, name, sizeof(name));
}

static void log_install(const struct log_config *cfg, int fd)
{
	int old = -1;

	/* localtime_r() reads the zone once; do it here, before any sandbox. */
	tzset();
	pthread_rwlock_wrlock(&logger.lock);
	logger.cfg = *cfg;
	logger.cfg.id[LOG_ID_MAX] = '\0';
	if (fd >= 0) {
		old = logger.fd;
		logger.fd = fd;
	}
	pthread_rwlock_unlock(&logger.lock);
	if (old > STDERR_FILENO)
		close(old);
}

void log_set(const struct log_config *cfg)
{
	log_install(cfg, -1);
}

int log_open_output(const char *path)
{
	int flags = O_APPEND | O_NONBLOCK | O_CLOEXEC | O_CREAT;
	int fd = open(path, O_RDWR | flags, 0600);

	/* A file we may only write (a FIFO made write-only for us). */
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_WRONLY | flags, 0600);
	return fd < 0 ? -errno : fd;
}

int log_open(const struct log_config *cfg, const char *path)
{
	int fd = path ? log_open_output(path) : STDERR_FILENO;

	if (fd < 0)
		return fd;
	log_install(cfg, fd);
	return 0;
}

unsigned long long log_missed_count(void)
{
	return atomic_load_explicit(&missed_lines, memory_order_relaxed);
}

unsigned long long log_rate_limited_count(void)
{
	return atomic_load_explicit(&rate_limited_lines, memory_order_relaxed);
}

/* "2024-05-02T10:11:12.123456789 [id:thread:LEVEL:file:line] " */
static int firecracker_prefix(char *buf, size_t size, const struct log_config *cfg,
			      enum log_level level, const char *file, int line)
{
	struct timespec ts;
	struct tm tm;
	int n, len;

	if (!thread_name[0])
		log_cache_thread_name();
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	len = snprintf(buf, size, "%d-%02d-%02dT%02d:%02d:%02d.%09ld [%s:%s",
		       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		       tm.tm_sec, ts.tv_nsec, cfg->id[0] ? cfg->id : LOG_DEFAULT_ID, thread_name);
	if (cfg->show_level && len < (int)size) {
		n = snprintf(buf + len, size - len, ":%s", level_names[level]);
		len += n;
	}
	if (cfg->show_log_origin && len < (int)size) {
		n = snprintf(buf + len, size - len, ":%s:%d", file, line);
		len += n;
	}
	if (len < (int)size) {
		n = snprintf(buf + len, size - len, "] ");
		len += n;
	}
	return MIN(len, (int)size - 1);
}

static int arkvm_prefix(char *buf, size_t size, enum log_level level)
{
	return snprintf(buf, size, "arkvm: %s", level == LOG_WARN ? "warning: " : "");
}

/* Everything up to the newline fits in the buffer, cut if it must be. */
static __printf(6, 0) size_t log_format(char *buf, size_t size, enum log_level level,
					const char *file, int line, const char *fmt, va_list ap)
{
	int len = logger.cfg.firecracker
		? firecracker_prefix(buf, size - 1, &logger.cfg, level, file, line)
		: arkvm_prefix(buf, size - 1, level);
	int n = vsnprintf(buf + len, size - 1 - len, fmt, ap);

	len += MIN(MAX(n, 0), (int)(size - 2) - len);
	buf[len++] = '\n';
	return (size_t)len;
}

void log_print(enum log_level level, const char *file, int line, const char *fmt, ...)
{
	char buf[1280];
	va_list ap;
	size_t len;
	int saved_errno = errno;

	pthread_rwlock_rdlock(&logger.lock);
	if (level > logger.cfg.level) {
		pthread_rwlock_unlock(&logger.lock);
		return;
	}
	va_start(ap, fmt);
	len = log_format(buf, sizeof(buf), level, file, line, fmt, ap);
	va_end(ap);
	/*
	 * One write per line: lines from threads do not interleave, and a
	 * FIFO takes a line (under PIPE_BUF) whole or not at all.  Non-blocking:
	 * a full FIFO drops the line instead of stopping arkvm.
	 */
	if (write(logger.fd, buf, len) != (ssize_t)len)
		atomic_fetch_add_explicit(&missed_lines, 1, memory_order_relaxed);
	pthread_rwlock_unlock(&logger.lock);
	errno = saved_errno;
}

bool ratelimit_ok(struct ratelimit *rl)
{
	time_t now = time(NULL);

	/* Races between threads only blur the count; they cannot break it. */
	if (now - rl->window_start >= RATELIMIT_INTERVAL) {
		if (rl->missed)
			pr_warn("%u similar messages suppressed", rl->missed);
		rl->window_start = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	if (rl->printed < RATELIMIT_BURST) {
		rl->printed++;
		return true;
	}
	rl->missed++;
	atomic_fetch_add_explicit(&rate_limited_lines, 1, memory_order_relaxed);
	return false;
}
