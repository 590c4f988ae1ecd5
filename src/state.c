// SPDX-License-Identifier: Apache-2.0
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

void state_writer_init(struct state_writer *w)
{
	*w = (struct state_writer){ 0 };
}

void state_writer_free(struct state_writer *w)
{
	free(w->data);
	*w = (struct state_writer){ 0 };
}

static bool state_grow(struct state_writer *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 256;
	u8 *p;

	if (n > SIZE_MAX - w->len)
		return false;
	while (cap < w->len + n)
		cap *= 2;
	if (cap == w->cap)
		return true;
	p = realloc(w->data, cap);
	if (!p)
		return false;
	w->data = p;
	w->cap = cap;
	return true;
}

void state_put(struct state_writer *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (!state_grow(w, n)) {
		w->err = -ENOMEM;
		return;
	}
	memcpy(w->data + w->len, p, n);
	w->len += n;
}

void state_put_u8(struct state_writer *w, u8 v)
{
	state_put(w, &v, 1);
}

void state_put_u16(struct state_writer *w, u16 v)
{
	u16 le = htole16(v);

	state_put(w, &le, sizeof(le));
}

void state_put_u32(struct state_writer *w, u32 v)
{
	u32 le = htole32(v);

	state_put(w, &le, sizeof(le));
}

void state_put_u64(struct state_writer *w, u64 v)
{
	u64 le = htole64(v);

	state_put(w, &le, sizeof(le));
}

void state_reader_init(struct state_reader *r, const void *data, size_t len)
{
	*r = (struct state_reader){ .data = data, .len = len };
}

void state_get(struct state_reader *r, void *p, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = -EINVAL;
		memset(p, 0, n);
		return;
	}
	memcpy(p, r->data + r->off, n);
	r->off += n;
}

u8 state_get_u8(struct state_reader *r)
{
	u8 v;

	state_get(r, &v, 1);
	return v;
}

u16 state_get_u16(struct state_reader *r)
{
	u16 v;

	state_get(r, &v, sizeof(v));
	return le16toh(v);
}

u32 state_get_u32(struct state_reader *r)
{
	u32 v;

	state_get(r, &v, sizeof(v));
	return le32toh(v);
}

u64 state_get_u64(struct state_reader *r)
{
	u64 v;

	state_get(r, &v, sizeof(v));
	return le64toh(v);
}

int state_check(struct state_reader *r, bool ok)
{
	if (!ok && !r->err)
		r->err = -EINVAL;
	return r->err;
}

void state_begin(struct state_writer *w, u32 tag, size_t *mark)
{
	state_put_u32(w, tag);
	*mark = w->len;
	state_put_u32(w, 0); /* the length, filled in by state_end() */
}

void state_end(struct state_writer *w, size_t mark)
{
	u32 len;

	if (w->err)
		return;
	len = htole32((u32)(w->len - mark - sizeof(u32)));
	memcpy(w->data + mark, &len, sizeof(len));
}

void state_put_str(struct state_writer *w, const char *s)
{
	size_t len = strlen(s);

	if (len > UINT16_MAX) {
		if (!w->err)
			w->err = -ENAMETOOLONG;
		return;
	}
	state_put_u16(w, (u16)len);
	state_put(w, s, len);
}

void state_get_str(struct state_reader *r, char *dst, size_t size)
{
	size_t len = state_get_u16(r);

	dst[0] = '\0';
	if (state_check(r, len < size && len <= r->len - r->off))
		return;
	state_get(r, dst, len);
	dst[len] = '\0';
	if (state_check(r, strlen(dst) == len))
		dst[0] = '\0';
}

int state_enter(struct state_reader *r, u32 tag, struct state_reader *section)
{
	u32 got = state_get_u32(r), len = state_get_u32(r);

	if (state_check(r, got == tag && len <= r->len - r->off))
		return r->err;
	state_reader_init(section, r->data + r->off, len);
	r->off += len;
	return 0;
}
