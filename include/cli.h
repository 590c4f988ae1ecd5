/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_CLI_H
#define ARKVM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "compiler.h"
#include "vm_config.h"

#define ARKVM_VERSION "0.1.0"

enum cli_action {
	CLI_RUN,     /* start a VM with the config */
	CLI_DONE,    /* help or version printed: exit 0 */
};

/*
 * Parses argv into @cfg (which it initialises), then validates and
 * completes it.  Help and version go to @out.  On bad input prints one
 * line on stderr and returns -EINVAL.
 */
int cli_parse(int argc, char *const argv[], struct vm_config *cfg, FILE *out);
/* The same, with --api-sock PATH taken into @opts. */
struct vmm_opts;
int cli_parse_vmm(int argc, char *const argv[], struct vm_config *cfg, struct vmm_opts *opts,
		  FILE *out);

/* "256M", "2G", "1024K", "512" (MiB); -EINVAL when malformed or too big. */
int parse_size(const char *s, u64 *out);

/* "52:54:00:12:34:56": a unicast MAC address; -EINVAL otherwise. */
int parse_mac(const char *s, u8 mac[6]);

/* A plain decimal number that fits in unsigned int. */
int parse_uint(const char *s, unsigned int *out);

#endif
