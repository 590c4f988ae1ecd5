/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_AGENT_H
#define ARKVM_AGENT_H

/* PID 1's own steps (agent/boot.c); the session's are in exec_agent.h. */
#include <stddef.h>

#include "exec_agent.h"

/* /proc, /sys, /dev (+ /dev/pts, /dev/shm), /tmp, /run: 0 or -errno. */
int agent_mount_early(void);
/* finit_module() for each line of /modules.list, in order; failures are logged. */
void agent_load_modules(void);
/* The root from arkvm.root= (virtiofs:TAG, blk:/dev/X, or none), switched to. */
int agent_setup_root(void);
/* arkvm.root='s value into @out, "" when the command line has none. */
int agent_root_arg(char *out, size_t size);
/*
 * The guest made ready for RUN: its clock and random seed (RUN's), the
 * root (once), the shares, each at its path (created), and eth0 when
 * RUN has net=: 0 or -errno.
 */
int agent_prepare(const struct exec_run *run);
/*
 * RUN's net= (agent/net.c): eth0 up with its address, netmask and
 * default route (0, or -errno, logged), then the nameservers bound over
 * the root's /etc/resolv.conf (a failure there is only logged).
 */
int agent_net_setup(const struct exec_net_config *net);

#endif
