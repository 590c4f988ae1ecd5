/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FUZZ_H
#define ARKVM_FUZZ_H

/*
 * Shared by the libFuzzer targets: each is one file with
 * LLVMFuzzerTestOneInput(), built by `make fuzz` with clang and
 * -fsanitize=fuzzer,address,undefined against the same sources as arkvm.
 */
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input, read front to back; past the end it reads as zeros. */
struct fuzz_in {
	const u8 *p;
	size_t n;
};

static inline u64 fz_take(struct fuzz_in *in, unsigned int bytes)
{
	u64 v = 0;

	for (unsigned int i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (u64)*in->p << (8 * i);
	return v;
}

/* Copies up to @len bytes of the input to @dst; returns how many. */
static inline size_t fz_copy(struct fuzz_in *in, void *dst, size_t len)
{
	len = MIN(len, in->n);
	memcpy(dst, in->p, len);
	in->p += len;
	in->n -= len;
	return len;
}

static inline int fz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

/*
 * A scratch directory of the target's, removed when the fuzzer exits:
 * make test runs every target, and /tmp should not keep their trees.
 */
static char fz_scratch[64];

static inline void fz_scratch_remove(void)
{
	if (fz_scratch[0])
		nftw(fz_scratch, fz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void fz_scratch_adopt(const char *dir)
{
	snprintf(fz_scratch, sizeof(fz_scratch), "%s", dir);
	atexit(fz_scratch_remove);
}

#endif
