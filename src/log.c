// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static __printf(2, 0) void vlog(const char *level, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write per line, so lines from threads do not interleave. */
	fprintf(stderr, "arkvm: %s%s\n", level, line);
}

void pr_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void pr_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void pr_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
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
	return false;
}
