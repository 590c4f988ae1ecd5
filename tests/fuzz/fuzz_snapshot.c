// SPDX-License-Identifier: Apache-2.0
/*
 * A snapshot file is untrusted input: its header and the config it keeps
 * are read from arbitrary bytes, as a restore reads them, and must never
 * read out of bounds or crash.
 */
#include <stdint.h>
#include <stdlib.h>

#include "snapshot.h"
#include "state.h"
#include "vm_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct snapshot_host host = { 4096, 48, 3 };
	static struct vm_config cfg;
	struct vm_config_error err;
	struct snapshot_header h;
	struct state_reader r, conf;
	const u8 *payload;
	char why[256];

	/* As read from the file, and the payload alone (a forged checksum is easy). */
	if (!snapshot_decode(data, size, &host, &h, &payload, why, sizeof(why)))
		state_reader_init(&r, payload, h.payload_len);
	else
		state_reader_init(&r, data, size);
	if (!state_enter(&r, STATE_TAG('C', 'O', 'N', 'F'), &conf) && !vm_config_restore(&cfg, &conf))
		vm_config_validate(&cfg, &err);
	state_reader_init(&conf, data, size);
	if (!vm_config_restore(&cfg, &conf))
		vm_config_validate(&cfg, &err);
	return 0;
}
