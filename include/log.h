/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_LOG_H
#define ARKVM_LOG_H

#include <stdbool.h>
#include <time.h>

#include "compiler.h"

/*
 * Every message is one line on stderr, prefixed "arkvm: ".  Errors a user
 * can fix are said once, where the failure is understood, and the caller
 * only propagates the -errno.
 */
void pr_err(const char *fmt, ...) __printf(1, 2);
void pr_warn(const char *fmt, ...) __printf(1, 2);
void pr_info(const char *fmt, ...) __printf(1, 2);

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
