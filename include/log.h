/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_LOG_H
#define ARKVM_LOG_H

#include <stdbool.h>
#include <time.h>

#include "compiler.h"

/*
 * Every message is one line, by default on stderr prefixed "arkvm: ".
 * Errors a user can fix are said once, where the failure is understood,
 * and the caller only propagates the -errno.
 *
 * Started as Firecracker, arkvm writes Firecracker's line instead
 * (log_set(), log_open()):
 *
 *   2024-05-02T10:11:12.123456789 [ID:THREAD(:LEVEL)(:FILE:LINE)] message
 *
 * the local time with nanoseconds, the instance id, the thread's name,
 * and with show_level / show_log_origin the level and where it was said.
 */
enum log_level {
	LOG_OFF,
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

#define LOG_DEFAULT_ID "anonymous-instance"
#define LOG_ID_MAX     64

struct log_config {
	bool firecracker;           /* Firecracker's line; false: "arkvm: message" */
	char id[LOG_ID_MAX + 1];    /* the instance id; empty: LOG_DEFAULT_ID */
	enum log_level level;       /* what is written: this level and the ones above */
	bool show_level;
	bool show_log_origin;
};

/* What arkvm logs with until told otherwise: "arkvm: ", stderr, up to Info. */
extern const struct log_config log_default_config;

/*
 * Firecracker's level names, any case: Off, Trace, Debug, Info, Warn or
 * Warning, Error.  0, or -EINVAL for anything else.
 */
int log_level_parse(const char *name, enum log_level *level);

/*
 * How lines look from now on (copied); the output stays where it is.
 * Any thread; a line being written meanwhile finishes the old way.
 */
void log_set(const struct log_config *cfg);

/*
 * The same, and lines go to @path from now on: a file (appended to,
 * created 0600 if absent) or a FIFO, opened non-blocking: a line that
 * does not fit (a FIFO nobody reads) is dropped and counted, never waited
 * for.  @path NULL: stderr again.  0, or -errno with nothing changed.
 */
int log_open(const struct log_config *cfg, const char *path);

/*
 * Opens @path as log_open() does, for the metrics too: read-write when
 * allowed, as Firecracker does, so a FIFO opens before its reader does
 * and a reader that goes away never raises SIGPIPE.  An fd or -errno.
 */
int log_open_output(const char *path);

/* Lines dropped (the output full or failing), and rate-limited ones: totals. */
unsigned long long log_missed_count(void);
unsigned long long log_rate_limited_count(void);

/*
 * The calling thread's name, read once and kept for its lines: call it
 * before the thread's seccomp filter (prctl is not allowed after).
 */
void log_cache_thread_name(void);

void log_print(enum log_level level, const char *file, int line, const char *fmt, ...)
	__printf(4, 5);

#define pr_err(fmt, ...)   log_print(LOG_ERROR, __FILE__, __LINE__, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)  log_print(LOG_WARN, __FILE__, __LINE__, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  log_print(LOG_INFO, __FILE__, __LINE__, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_print(LOG_DEBUG, __FILE__, __LINE__, fmt, ##__VA_ARGS__)

/*
 * Complaints about the guest are rate-limited: a hostile guest must not be
 * able to flood the host's logs.  At most RATELIMIT_BURST lines per
 * RATELIMIT_INTERVAL seconds per call site.
 */
#define RATELIMIT_INTERVAL 5
#define RATELIMIT_BURST    10

struct ratelimit {
	time_t window_start;
	unsigned int printed;
	unsigned int missed;
};

bool ratelimit_ok(struct ratelimit *rl);

/* n / d for --stats lines, 0 when there is nothing to divide by. */
static inline double ratio(unsigned long n, unsigned long d)
{
	return d ? (double)n / (double)d : 0.0;
}

#define pr_warn_ratelimited(fmt, ...)                                  \
	do {                                                           \
		static struct ratelimit __rl;                          \
		if (ratelimit_ok(&__rl))                               \
			pr_warn(fmt, ##__VA_ARGS__);                   \
	} while (0)

#endif
