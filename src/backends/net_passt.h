/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_BACKENDS_NET_PASST_H
#define ARKVM_BACKENDS_NET_PASST_H

/*
 * Inside the passt backend: how arkvm starts passt, or reaches a running
 * one (passt_spawn.c), for the frames on its socket (net_passt.c).
 * Everything here runs on the main thread at start-up, before any seccomp
 * filter, except passt_reap() (at the end: the main thread's filter
 * allows kill(SIGTERM) and wait4) and passt_last_words() (any thread).
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vm_config.h"

/*
 * --net user: finds passt on PATH, starts it on one end of a socketpair
 * and waits until it serves (or exits).  Fills the other end (blocking
 * off), passt's pid and the read end of its stderr.  On error prints one
 * line saying why and returns -errno, leaving nothing running or open.
 */
int passt_start(const struct net_config *cfg, int *fd, pid_t *pid, int *err_fd);

/* --net passt=PATH: connected to a running passt's socket, or one line and -errno. */
int passt_connect(const char *path, int *fd);

/* Ends the passt arkvm started (its socket already closed) and reaps it. */
void passt_reap(pid_t pid);

/*
 * What passt said last on its stderr (@fd, non-blocking: reads what is
 * there), less its complaints about a missing syslog: into @out, "" if
 * nothing.
 */
void passt_last_words(int fd, char *out, size_t size);

/* --- exposed for the unit tests ------------------------------------------------ */

/* The first "passt" in the ':'-separated @path_env, executable, into @out: 0 or -ENOENT. */
int passt_find(const char *path_env, char *out, size_t size);

/* passt's command line for @cfg, its socket on fd @fd: argv[] ends with NULL. */
#define PASST_MAX_ARGS (6 + 2 * CFG_MAX_FORWARDS + 1)
struct passt_argv {
	char *argv[PASST_MAX_ARGS];
	char fd[12];
	char ports[CFG_MAX_FORWARDS][12];
};
void passt_build_argv(struct passt_argv *a, const char *bin, const struct net_config *cfg,
		      int fd);

/*
 * The one line that says why passt exited at start, from its exit
 * @status (as waitpid gives it), its last @words, and what the host
 * lacks: a default route, or user namespaces.
 */
void passt_explain(char *out, size_t size, int status, const char *words, bool has_route,
		   bool userns_ok);

/* Whether /proc/net/route (@v4) or /proc/net/ipv6_route (@v6) text has a default route. */
bool passt_has_default_route(const char *v4, const char *v6);

#endif
