/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_COMPILER_H
#define ARKVM_COMPILER_H

#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define SZ_4K  0x1000ULL
#define SZ_64K 0x10000ULL
#define SZ_1M  0x100000ULL
#define SZ_2M  0x200000ULL
#define SZ_1G  0x40000000ULL

/* Power-of-two alignment helpers; @a must be a power of two. */
#define ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((u64)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((u64)(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((u64)(a) - 1)) == 0)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define __unused __attribute__((unused))
#define __printf(a, b) __attribute__((format(printf, a, b)))

#endif
