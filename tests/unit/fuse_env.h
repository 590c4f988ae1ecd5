/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_TEST_FUSE_ENV_H
#define ARKVM_TEST_FUSE_ENV_H

/*
 * The FUSE server's tests' world (tests/unit/fuse_env.c): BASE/share is
 * the share, BASE/outside a sibling with a canary file that no request
 * may reach.  Requests are built in plain buffers and passed as iovecs,
 * as the virtio-fs device passes guest memory.
 */
#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>

#include "fuse_server.h"

#define CANARY "the host's secret\n"
#define NOREPLY (-1000)

struct fenv {
	char base[64], share[96], outside[96];
	struct share_config cfg;
	struct fuse_server *s;
	u8 reply[1 << 16];
	size_t reply_len;       /* the payload after the out header */
	u32 uid;                /* the caller the requests claim */
};

extern struct fenv env;
/* Where env_setup() makes its directory ("/tmp"; a test may pick a tmpfs). */
extern const char *fuse_env_root;

void path_of(char *buf, size_t n, const char *dir, const char *name);
int write_file(const char *dir, const char *name, const char *text);
int read_file(const char *dir, const char *name, char *buf, size_t n);
bool exists(const char *dir, const char *name);
bool env_setup_cfg(bool readonly, enum share_cache cache);
bool outside_untouched(void);
void env_teardown(void);
int call_out(u32 opcode, u64 nodeid, const void *a, size_t alen, const void *b,
	     size_t blen, size_t out_room);
int call(u32 opcode, u64 nodeid, const void *a, size_t alen, const void *b, size_t blen);
int call_name(u32 opcode, u64 nodeid, const void *a, size_t alen, const char *name);
int do_init(void);
bool env_setup_mode(bool readonly, enum share_cache cache);
bool env_setup(void);
u64 lookup(u64 parent, const char *name);
struct fuse_entry_out *entry(void);
u64 open_node(u64 node, u32 flags);
int do_write(u64 node, u64 fh, u64 off, const char *data);
int do_read(u64 node, u64 fh, u64 off, u32 size);
int do_release(u64 fh, bool dir);
int rename2(u64 from, const char *a, u64 to, const char *b, u32 flags);

#endif
