// SPDX-License-Identifier: Apache-2.0
/*
 * The snapshot file's header: written field by field, little-endian, and
 * read back with every field checked (src/snapshot.c fills the payload).
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cli.h"
#include "snapshot.h"
#include "state.h"

static void header_put(struct state_writer *w, const struct snapshot_header *h)
{
	char version[16] = { 0 };

	snprintf(version, sizeof(version), "%s", h->arkvm_version);
	state_put(w, SNAPSHOT_MAGIC, 8);
	state_put_u32(w, h->format);
	state_put(w, version, sizeof(version));
	state_put_u32(w, h->host.page_size);
	state_put_u32(w, h->host.ipa_bits);
	state_put_u32(w, h->host.gic_version);
	state_put_u32(w, h->type);
	state_put_u32(w, h->nr_vcpus);
	state_put_u64(w, h->mem_size);
	state_put_u64(w, h->payload_len);
	state_put_u32(w, h->payload_crc);
}

long snapshot_encode(const struct snapshot_header *h, const void *payload, size_t len,
		     u8 **out)
{
	struct snapshot_header hh = *h;
	struct state_writer w;

	hh.format = SNAPSHOT_FORMAT_VERSION;
	hh.payload_len = len;
	hh.payload_crc = (u32)crc32(0, payload, (uInt)len);
	state_writer_init(&w);
	header_put(&w, &hh);
	while (!w.err && w.len < SNAPSHOT_HEADER_SIZE)
		state_put_u8(&w, 0);
	state_put(&w, payload, len);
	if (w.err) {
		state_writer_free(&w);
		return w.err ? w.err : -ENOMEM;
	}
	*out = w.data;
	return (long)w.len;
}

static __printf(3, 4) int refuse(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int snapshot_decode(const void *file, size_t len, const struct snapshot_host *host,
		    struct snapshot_header *h, const u8 **payload, char *why, size_t why_size)
{
	struct state_reader r;
	char magic[8];

	if (len < SNAPSHOT_HEADER_SIZE)
		return refuse(why, why_size, "the file is %zu bytes, shorter than a snapshot's header",
			      len);
	state_reader_init(&r, file, len);
	state_get(&r, magic, sizeof(magic));
	if (memcmp(magic, SNAPSHOT_MAGIC, sizeof(magic)))
		return refuse(why, why_size, "not an arkvm snapshot (no %s at its start)",
			      SNAPSHOT_MAGIC);
	memset(h, 0, sizeof(*h));
	h->format = state_get_u32(&r);
	state_get(&r, h->arkvm_version, sizeof(h->arkvm_version));
	h->arkvm_version[sizeof(h->arkvm_version) - 1] = '\0';
	h->host.page_size = state_get_u32(&r);
	h->host.ipa_bits = state_get_u32(&r);
	h->host.gic_version = state_get_u32(&r);
	h->type = state_get_u32(&r);
	h->nr_vcpus = state_get_u32(&r);
	h->mem_size = state_get_u64(&r);
	h->payload_len = state_get_u64(&r);
	h->payload_crc = state_get_u32(&r);
	if (h->format != SNAPSHOT_FORMAT_VERSION)
		return refuse(why, why_size, "snapshot format %u (written by arkvm %s); this arkvm "
			      "(%s) reads format %u", h->format, h->arkvm_version, ARKVM_VERSION,
			      SNAPSHOT_FORMAT_VERSION);
	if (h->host.page_size != host->page_size)
		return refuse(why, why_size, "taken on a host with %u KiB pages; this one has %u KiB",
			      h->host.page_size / 1024, host->page_size / 1024);
	if (h->host.gic_version != 2 && h->host.gic_version != 3)
		return refuse(why, why_size, "the header is corrupt (GICv%u)", h->host.gic_version);
	/* 0: this host's GIC is chosen later, for the snapshot's (gic_choose()). */
	if (host->gic_version && h->host.gic_version != host->gic_version)
		return refuse(why, why_size, "taken with a GICv%u; this host gives a GICv%u",
			      h->host.gic_version, host->gic_version);
	if (h->host.ipa_bits > host->ipa_bits)
		return refuse(why, why_size, "needs %u-bit guest addresses; this host has %u",
			      h->host.ipa_bits, host->ipa_bits);
	if (h->type > SNAPSHOT_DIFF || !h->nr_vcpus || h->nr_vcpus > 512 || !h->mem_size)
		return refuse(why, why_size, "the header is corrupt");
	if (h->payload_len > SNAPSHOT_MAX_PAYLOAD ||
	    h->payload_len != len - SNAPSHOT_HEADER_SIZE)
		return refuse(why, why_size, "the file is %zu bytes, its header says %llu: cut short "
			      "or extended", len, (unsigned long long)(h->payload_len +
								   SNAPSHOT_HEADER_SIZE));
	*payload = (const u8 *)file + SNAPSHOT_HEADER_SIZE;
	if ((u32)crc32(0, *payload, (uInt)h->payload_len) != h->payload_crc)
		return refuse(why, why_size, "its checksum does not match: the file was changed");
	return 0;
}
