/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_FAKE_FUSE_SERVER_H
#define ARKVM_FAKE_FUSE_SERVER_H

#include <linux/fuse.h>

#include "fuse_server.h"

/*
 * A stand-in for the FUSE server (include/fuse_server.h), for the
 * virtio-fs device's tests: the same calls under names of their own, so
 * that it links next to the real server in one test binary.  It answers
 * every request with a fuse_out_header (the request's unique, error 0)
 * and FAKE_FUSE_PAYLOAD; FORGET and BATCH_FORGET get no reply; a buffer
 * shorter than a header, or without room for the reply header, gets
 * -EINVAL.  A request whose unique was named by fake_fuse_block() waits
 * inside the handler until fake_fuse_release().
 */
#define FAKE_FUSE_PAYLOAD     "fake"
#define FAKE_FUSE_PAYLOAD_LEN 4
#define FAKE_FUSE_REPLY_LEN   (sizeof(struct fuse_out_header) + FAKE_FUSE_PAYLOAD_LEN)

int fake_fuse_create(struct fuse_server **out, const struct share_config *cfg);
void fake_fuse_destroy(struct fuse_server *s);
ssize_t fake_fuse_handle(struct fuse_server *s, const struct iovec *in, unsigned int nr_in,
			 const struct iovec *out, unsigned int nr_out);
void fake_fuse_get_stats(struct fuse_server *s, struct fuse_server_stats *st);

/* Requests with this unique block in the handler until released. */
void fake_fuse_block(struct fuse_server *s, u64 unique);
/* Lets every blocked request (and any later one with that unique) go. */
void fake_fuse_release(struct fuse_server *s);
/* Waits until @n requests are blocked in the handler: false after 10 s. */
bool fake_fuse_wait_blocked(struct fuse_server *s, unsigned int n);

#endif
