// SPDX-License-Identifier: Apache-2.0
#include <string.h>

#include "console.h"
#include "test.h"

static unsigned int filter(struct console *c, const char *in, char *out, bool *quit)
{
	return console_filter_escape(c, (const u8 *)in, (unsigned int)strlen(in), (u8 *)out, quit);
}

static void test_plain_input_passes(void)
{
	struct console c = { 0 };
	bool quit = false;
	char out[32];

	CHECK_EQ(filter(&c, "ls -l\r", out, &quit), 6);
	CHECK(!memcmp(out, "ls -l\r", 6));
	CHECK(!quit);
}

static void test_ctrl_a_x_quits(void)
{
	struct console c = { 0 };
	bool quit = false;
	char out[32];

	CHECK_EQ(filter(&c, "ab\x01x", out, &quit), 2);
	CHECK(quit);
}

static void test_escape_split_across_reads(void)
{
	struct console c = { 0 };
	bool quit = false;
	char out[32];

	CHECK_EQ(filter(&c, "\x01", out, &quit), 0);
	CHECK(!quit);
	CHECK_EQ(filter(&c, "x", out, &quit), 0);
	CHECK(quit);
}

static void test_double_ctrl_a_and_others(void)
{
	struct console c = { 0 };
	bool quit = false;
	char out[32];

	CHECK_EQ(filter(&c, "\x01\x01", out, &quit), 1);
	CHECK_EQ(out[0], 0x01);
	CHECK_EQ(filter(&c, "\x01q", out, &quit), 2);   /* unknown command: both go through */
	CHECK(out[0] == 0x01 && out[1] == 'q');
	CHECK(!quit);
}

TEST_SUITE(console,
	   TEST(test_plain_input_passes),
	   TEST(test_ctrl_a_x_quits),
	   TEST(test_escape_split_across_reads),
	   TEST(test_double_ctrl_a_and_others));
