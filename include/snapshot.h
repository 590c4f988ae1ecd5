/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_SNAPSHOT_H
#define ARKVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

/*
 * The snapshot file: a fixed header, then the payload (sections written
 * with state.h: the config, each vCPU, the interrupt controller, the
 * devices).  Guest RAM is in a file of its own, the memory file.
 *
 * The header says what the snapshot needs of the host that restores it:
 * the format version (bumped whenever the payload's layout changes), the
 * host's page size, the guest's IPA size and the GIC's version.  The
 * payload's CRC-32 catches a file that was cut short or changed.  A
 * snapshot file is untrusted input: snapshot_decode() checks every field
 * before anything is used, and the payload is read with state_reader.
 */

#define SNAPSHOT_MAGIC          "ARKVMSNP"
#define SNAPSHOT_FORMAT_VERSION 2   /* 2: the UART, boot timer and virtio-console sections */
#define SNAPSHOT_HEADER_SIZE    128   /* 68 used; the rest zero, room to grow */
#define SNAPSHOT_MAX_PAYLOAD    (64u << 20)

enum snapshot_type {
	SNAPSHOT_FULL,
	SNAPSHOT_DIFF,       /* only the pages dirtied since the last snapshot */
};

/* What a restoring host must match. */
struct snapshot_host {
	u32 page_size;
	u32 ipa_bits;
	u32 gic_version;
};

struct snapshot_header {
	u32 format;
	char arkvm_version[16];          /* who wrote it, for messages */
	struct snapshot_host host;
	u32 type;                        /* enum snapshot_type */
	u32 nr_vcpus;
	u64 mem_size;
	u64 payload_len;
	u32 payload_crc;
};

/* The whole file for @h and @payload into @out (malloc'd); its length, or -ENOMEM. */
long snapshot_encode(const struct snapshot_header *h, const void *payload, size_t len,
		     u8 **out);

/*
 * Checks a snapshot file's bytes against @host: 0 with @h filled and
 * *@payload pointing into @file, or -EINVAL with @why saying what is
 * wrong in one sentence (a different format version, another host's page
 * size, a cut-short file, a changed byte).
 */
int snapshot_decode(const void *file, size_t len, const struct snapshot_host *host,
		    struct snapshot_header *h, const u8 **payload, char *why, size_t why_size);

/* PUT /snapshot/create: what to write, and why it could not (one line). */
struct snapshot_request {
	enum snapshot_type type;
	char snapshot_path[4096];
	char mem_path[4096];
	char err[512];
};

#include "state.h"

/* A snapshot file read and checked, for a restore. */
struct snapshot_image {
	u8 *file;
	size_t len;
	struct snapshot_header header;
	struct state_reader payload;   /* past the config, at the first vCPU */
};

struct vm;
struct vm_config;

/* Main thread, the VM paused: both files written, or -errno with req->err. */
int vm_snapshot_create(struct vm *vm, struct snapshot_request *req);
/*
 * Reads and checks the snapshot at @path, and the config it holds into
 * @cfg (which the caller validates): 0, or -EINVAL with @err's one line.
 */
int snapshot_image_load(struct snapshot_image *img, const char *path, struct vm_config *cfg,
			char *err, size_t err_size);
void snapshot_image_free(struct snapshot_image *img);
/*
 * A diff's memory file onto its base's, in place (arkvm snapshot-merge):
 * 0, -ERANGE when their sizes differ, or -errno.
 */
int snapshot_merge(const char *base, const char *diff);
/* The init step after the devices: the vCPUs', VGIC's and devices' state. */
int vm_restore_state(struct vm *vm);

#endif
