/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_CLI_INT_H
#define ARKVM_CLI_INT_H

/* Inside the command line parser: what src/cli.c and src/cli_devices.c share. */
#include <stdbool.h>
#include <stddef.h>

#include "rate_limiter.h"
#include "vm_config.h"

/* A decimal number of at most @limit; *@end after its last digit.  0 or -errno. */
int parse_digits(const char *s, u64 limit, u64 *out, const char **end);
/*
 * A rate: a count per second, bare (a bare byte rate is bytes); with
 * @bytes also K, M, G.  0 is refused.  0 or -errno.
 */
int parse_rate(const char *s, bool bytes, u64 *out);
/*
 * Steps through "a,b,c" without changing it: sets *@item and *@len to the
 * next comma-separated item and returns false at the end.
 */
bool next_item(const char **p, const char **item, size_t *len);
/* Copies the value of an item "key=value" into @buf (@size bytes), if it is one. */
bool item_value(const char *item, size_t len, const char *key, char *buf, size_t size);
/*
 * The item "key=RATE" as a bucket of RATE tokens refilled every second:
 * 1 when it is @key, 0 when it is another item, -EINVAL for a bad rate.
 */
int rate_item(const char *item, size_t len, const char *key, bool bytes,
	      struct token_bucket_config *tb);

/* src/cli_devices.c: the device options, as the option table calls them. */
int cli_set_disk(struct vm_config *cfg, const char *name, const char *arg);
int cli_set_net(struct vm_config *cfg, const char *name, const char *arg);
int cli_set_rng_bw(struct vm_config *cfg, const char *name, const char *arg);
int cli_set_vsock(struct vm_config *cfg, const char *name, const char *arg);
int cli_set_balloon(struct vm_config *cfg, const char *name, const char *arg);
int cli_set_share(struct vm_config *cfg, const char *name, const char *arg);

#endif
