// SPDX-License-Identifier: Apache-2.0
/* The command line: the input is the arguments, separated by NUL bytes. */
#include <stdio.h>

#include "cli.h"
#include "fuzz.h"

#define MAX_ARGS 32

static FILE *devnull;
static struct vm_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	devnull = fopen("/dev/null", "w");
	return devnull ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[4096];
	char *argv[MAX_ARGS + 1] = { "arkvm" };
	int argc = 1;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; argc < MAX_ARGS && i <= size; i += strlen(buf + i) + 1)
		argv[argc++] = buf + i;
	cli_parse(argc, argv, &cfg, devnull);
	return 0;
}
