// SPDX-License-Identifier: Apache-2.0
/*
 * Strict readers of Firecracker-shaped JSON (src/fc_json.h): a field of
 * the wrong type, an unknown key or a value out of range is refused with a
 * sentence that names it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_json.h"

__printf(2, 3) int fc_fail(struct fc_error *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Every key of @o is one of @allowed (NULL-terminated). */
int fc_only_keys(const json_t *o, const char *what, const char *const *allowed,
		     struct fc_error *e)
{
	const char *key;
	json_t *v;

	if (!json_is_object(o))
		return fc_fail(e, "%s: expected a JSON object", what);
	json_object_foreach((json_t *)o, key, v) {
		const char *const *a = allowed;

		while (*a && strcmp(*a, key))
			a++;
		if (!*a)
			return fc_fail(e, "%s: unknown field `%s`", what, key);
	}
	return 0;
}

/* A string field: 1 when present (copied), 0 when absent, -EINVAL. */
int fc_get_str(const json_t *o, const char *what, const char *key, bool required,
		   char *dst, size_t size, struct fc_error *e)
{
	const json_t *v = json_object_get(o, key);
	size_t len;

	if (!v || json_is_null(v)) {
		if (required)
			return fc_fail(e, "%s: missing field `%s`", what, key);
		return 0;
	}
	if (!json_is_string(v))
		return fc_fail(e, "%s: `%s` must be a string", what, key);
	len = json_string_length(v);
	if (len >= size)
		return fc_fail(e, "%s: `%s` is longer than %zu bytes", what, key, size - 1);
	memcpy(dst, json_string_value(v), len + 1);
	return 1;
}

int fc_get_u64(const json_t *o, const char *what, const char *key, bool required,
		   u64 *dst, struct fc_error *e)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		if (required)
			return fc_fail(e, "%s: missing field `%s`", what, key);
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return fc_fail(e, "%s: `%s` must be a non-negative integer", what, key);
	*dst = (u64)json_integer_value(v);
	return 1;
}

int fc_get_bool(const json_t *o, const char *what, const char *key, bool required,
		    bool *dst, struct fc_error *e)
{
	const json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		if (required)
			return fc_fail(e, "%s: missing field `%s`", what, key);
		return 0;
	}
	if (!json_is_boolean(v))
		return fc_fail(e, "%s: `%s` must be true or false", what, key);
	*dst = json_is_true(v);
	return 1;
}

/* One of @names (case as given): its index, 0 when absent. */
int fc_get_enum(const json_t *o, const char *what, const char *key,
		    const char *const *names, unsigned int *dst, struct fc_error *e)
{
	char s[32];
	int ret = fc_get_str(o, what, key, false, s, sizeof(s), e);

	if (ret <= 0)
		return ret;
	for (unsigned int i = 0; names[i]; i++)
		if (!strcmp(names[i], s)) {
			*dst = i;
			return 1;
		}
	return fc_fail(e, "%s: `%s` cannot be \"%s\"", what, key, s);
}

static int get_bucket(const json_t *o, const char *what, struct token_bucket_config *tb,
		      struct fc_error *e)
{
	static const char *const keys[] = { "size", "one_time_burst", "refill_time", NULL };
	struct token_bucket_config t = { 0 };

	if (fc_only_keys(o, what, keys, e) ||
	    fc_get_u64(o, what, "size", true, &t.size, e) < 0 ||
	    fc_get_u64(o, what, "one_time_burst", false, &t.one_time_burst, e) < 0 ||
	    fc_get_u64(o, what, "refill_time", true, &t.refill_time_ms, e) < 0)
		return -EINVAL;
	*tb = t;
	return 0;
}

/* A RateLimiter object under @key: 1 when present. */
int fc_get_limiter(const json_t *o, const char *key, struct rate_limiter_config *rl,
		       struct fc_error *e)
{
	static const char *const keys[] = { "bandwidth", "ops", NULL };
	const json_t *v = json_object_get(o, key), *b;
	struct rate_limiter_config r = { 0 };
	char what[64];

	if (!v || json_is_null(v))
		return 0;
	snprintf(what, sizeof(what), "%s", key);
	if (fc_only_keys(v, what, keys, e))
		return -EINVAL;
	b = json_object_get(v, "bandwidth");
	if (b && !json_is_null(b) && get_bucket(b, "bandwidth", &r.bandwidth, e))
		return -EINVAL;
	b = json_object_get(v, "ops");
	if (b && !json_is_null(b) && get_bucket(b, "ops", &r.ops, e))
		return -EINVAL;
	*rl = r;
	return 1;
}

/*
 * The config's own judgement, worded for the API.  Before boot-source is
 * given the kernel is missing, which only InstanceStart may refuse.
 */
int fc_check_config(const struct vm_config *cfg, struct fc_error *e)
{
	struct vm_config_error err;
	struct vm_config *t = malloc(sizeof(*t));
	int ret;

	if (!t)
		return fc_fail(e, "out of memory");
	*t = *cfg;
	if (!t->kernel[0])
		strcpy(t->kernel, "-");
	ret = vm_config_validate(t, &err);
	free(t);
	if (!ret)
		return 0;
	if (err.index >= 0)
		return fc_fail(e, "%s %d: %s", err.field, err.index, err.msg);
	return fc_fail(e, "%s: %s", err.field, err.msg);
}
