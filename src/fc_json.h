/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FC_JSON_H
#define ARKVM_FC_JSON_H

/*
 * The strict JSON readers behind Firecracker's objects (src/fc_json.c),
 * shared by src/fc_config.c and arkvm's own extensions (src/fc_shares.c).
 * Each says what was wrong in @e, as one sentence naming the object
 * (@what) and the field, and returns -EINVAL; a getter returns 1 when
 * the field was present, 0 when absent (and not @required).
 */
#include <stdbool.h>

#include <jansson.h>

#include "compiler.h"
#include "fc_config.h"

__printf(2, 3) int fc_fail(struct fc_error *e, const char *fmt, ...);
/* Every key of @o is one of @allowed (NULL-terminated). */
int fc_only_keys(const json_t *o, const char *what, const char *const *allowed,
		 struct fc_error *e);
int fc_get_str(const json_t *o, const char *what, const char *key, bool required,
	       char *dst, size_t size, struct fc_error *e);
int fc_get_u64(const json_t *o, const char *what, const char *key, bool required,
	       u64 *dst, struct fc_error *e);
int fc_get_bool(const json_t *o, const char *what, const char *key, bool required,
		bool *dst, struct fc_error *e);
/* One of @names (case as given): its index in *@dst. */
int fc_get_enum(const json_t *o, const char *what, const char *key,
		const char *const *names, unsigned int *dst, struct fc_error *e);
/* A RateLimiter object under @key. */
int fc_get_limiter(const json_t *o, const char *key, struct rate_limiter_config *rl,
		   struct fc_error *e);
/* The config's own judgement (vm_config_validate), worded for the API. */
int fc_check_config(const struct vm_config *cfg, struct fc_error *e);

#endif
