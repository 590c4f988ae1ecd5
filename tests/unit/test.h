/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_TEST_H
#define ARKVM_TEST_H

#include <stdbool.h>
#include <stdio.h>

/*
 * A minimal harness: each file declares a suite of cases; main.c lists the
 * suites.  A failed CHECK ends its case and is reported with file and line.
 */
struct test_case {
	const char *name;
	void (*fn)(void);
};

struct test_suite {
	const char *name;
	const struct test_case *cases;
	unsigned int nr_cases;
};

#define TEST_SUITE(sname, ...)                                              \
	static const struct test_case sname##_cases[] = { __VA_ARGS__ };    \
	const struct test_suite sname##_suite = {                           \
		#sname, sname##_cases,                                      \
		sizeof(sname##_cases) / sizeof(sname##_cases[0]) }

#define TEST(fn) { #fn, fn }

void test_fail(const char *file, int line, const char *what);
/* Whether a CHECK of the running case failed. */
bool test_failed(void);

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			test_fail(__FILE__, __LINE__, #cond);               \
			return;                                             \
		}                                                           \
	} while (0)

#define CHECK_EQ(a, b)                                                      \
	do {                                                                \
		unsigned long long __a = (unsigned long long)(a);           \
		unsigned long long __b = (unsigned long long)(b);           \
		if (__a != __b) {                                           \
			char __m[256];                                      \
			snprintf(__m, sizeof(__m), "%s == %s (0x%llx != 0x%llx)", \
				 #a, #b, __a, __b);                         \
			test_fail(__FILE__, __LINE__, __m);                 \
			return;                                             \
		}                                                           \
	} while (0)

/*
 * arkvm's command line, parsed quietly: PARSE(cfg, "arkvm", "run", ...)
 * (tests/unit/cli_parse_quiet.c).
 */
struct vm_config;
int test_cli_parse(struct vm_config *cfg, int argc, char *const argv[]);
#define PARSE(cfg, ...) \
	test_cli_parse(cfg, (int)(sizeof((char *const[]){ __VA_ARGS__ }) / sizeof(char *)), \
		       (char *const[]){ __VA_ARGS__ })

#endif
