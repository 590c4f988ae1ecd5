/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FC_CLI_H
#define ARKVM_FC_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "vmm.h"

/* Firecracker's exit statuses where they differ from arkvm's. */
#define FC_EXIT_BAD_CONFIG 152   /* the JSON config file */
#define FC_EXIT_BAD_ARGS   153   /* the command line */

struct fc_cli {
	struct vmm_opts opts;
	bool no_api;
	bool no_seccomp;
	bool boot_timer;
	bool done;                   /* --help or --version printed */
};

/* Started as firecracker, or with one of its flags first. */
bool fc_cli_wanted(int argc, char *const argv[]);

/* 0, or -EINVAL with one line said (exit FC_EXIT_BAD_ARGS). */
int fc_cli_parse(int argc, char *const argv[], struct fc_cli *cli, FILE *out);

#endif
