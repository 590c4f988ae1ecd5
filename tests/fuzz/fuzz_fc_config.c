// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker's --config-file: the input is the file's text.  A config
 * that loads is finished as InstanceStart would, and dumped as GET
 * /vm/config shows it.  Nothing here opens a file: loading only records
 * the paths.
 */
#include <stdlib.h>

#include <jansson.h>

#include "fc_config.h"
#include "fuzz.h"
#include "vmm.h"

static struct vm_config cfg, boot;
static struct vmm_opts opts;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object_seed(1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_error e;
	char *text = malloc(size + 1);
	json_t *dump;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* What main.c loads it into: vmm_alloc()'s config, with Firecracker's 128 MiB. */
	vm_config_init(&cfg);
	cfg.mem_size = 128 * SZ_1M;
	vmm_opts_init(&opts);
	if (!fc_load_config(&cfg, &opts, text, &e)) {
		boot = cfg;
		fc_finish_config(&boot, &e);
		dump = fc_dump_config(&cfg, &opts);
		json_decref(dump);
	}
	free(text);
	return 0;
}
