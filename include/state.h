/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_STATE_H
#define ARKVM_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

/*
 * Device state as bytes, for pause/snapshot: a writer that grows, and a
 * reader that never reads past its end.  Everything is little-endian.
 * Both remember their first error, so a device writes or reads its whole
 * state and checks once at the end (the way libfdt's builder does).
 * What a reader returns comes from a file someone else may have written:
 * callers check every value against the device's own limits.
 */
struct state_writer {
	u8 *data;
	size_t len, cap;
	int err;           /* first error: -ENOMEM */
};

struct state_reader {
	const u8 *data;
	size_t len, off;
	int err;           /* first error: -EINVAL (short, or a check failed) */
};

void state_writer_init(struct state_writer *w);
void state_writer_free(struct state_writer *w);
void state_put(struct state_writer *w, const void *p, size_t n);
void state_put_u8(struct state_writer *w, u8 v);
void state_put_u16(struct state_writer *w, u16 v);
void state_put_u32(struct state_writer *w, u32 v);
void state_put_u64(struct state_writer *w, u64 v);

void state_reader_init(struct state_reader *r, const void *data, size_t len);
/* Zeroes @p and sets r->err when fewer than @n bytes are left. */
void state_get(struct state_reader *r, void *p, size_t n);
u8 state_get_u8(struct state_reader *r);
u16 state_get_u16(struct state_reader *r);
u32 state_get_u32(struct state_reader *r);
u64 state_get_u64(struct state_reader *r);
/* A string as its length (u16) and bytes, without the NUL. */
void state_put_str(struct state_writer *w, const char *s);
/*
 * Reads a string into @dst of @size bytes, NUL-terminated; a string that
 * does not fit, or holds a NUL, is an error (and @dst is "").
 */
void state_get_str(struct state_reader *r, char *dst, size_t size);
/* Records a failed check of a value read (first error wins); returns r->err. */
int state_check(struct state_reader *r, bool ok);

/*
 * A section: a tag and the length of what follows, so a reader can tell
 * one device's bytes from the next and refuse a mismatch.
 */
void state_begin(struct state_writer *w, u32 tag, size_t *mark);
void state_end(struct state_writer *w, size_t mark);
/* Opens the section @tag into @section: -EINVAL if the next one is another. */
int state_enter(struct state_reader *r, u32 tag, struct state_reader *section);

#define STATE_TAG(a, b, c, d) ((u32)(a) | (u32)(b) << 8 | (u32)(c) << 16 | (u32)(d) << 24)

#endif
