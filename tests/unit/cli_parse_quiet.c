// SPDX-License-Identifier: Apache-2.0
/* The command line as the tests give it, with --help's text thrown away. */
#include <stdio.h>

#include "cli.h"
#include "test.h"

int test_cli_parse(struct vm_config *cfg, int argc, char *const argv[])
{
	FILE *out = fopen("/dev/null", "w");
	int ret = cli_parse(argc, argv, cfg, out);

	fclose(out);
	return ret;
}
