/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_EXEC_AGENT_H
#define ARKVM_EXEC_AGENT_H

/*
 * The guest agent's parts that are not PID 1's business (agent/session.c,
 * agent/spawn.c, agent/relay.c): one exec session over a connected
 * stream.  They build natively too, so the unit tests drive a session
 * over a socketpair with real child processes.  agent/agent.c is the
 * rest: the guest's mounts, modules, root, and the vsock listener.
 */
#include <stdbool.h>
#include <sys/types.h>

#include "exec_proto.h"

struct agent_session_ops {
	/*
	 * Readies the guest for RUN before its command starts (agent/boot.c's:
	 * the clock, the random seed, the root, the shares): 0 or -errno.
	 * Without it, a RUN with shares fails with -ENOTSUP.
	 */
	int (*prepare)(const struct exec_run *run);
	/*
	 * Reap every child, not only the command's: the agent is PID 1 and
	 * inherits orphans.  The unit tests reap only what they started.
	 */
	bool reap_all;
};

/*
 * One session on @sock (blocking): HELLO, RUN, the command, the relay,
 * EXIT.  0 once EXIT went out (the command's, or why it could not start);
 * -ECONNRESET when the host went away before its RUN (the guest may take
 * another connection: a VM restored from a snapshot finds its old one
 * reset), -EPROTO when the host broke the protocol, -EPIPE when it went
 * away later, another -errno when the agent itself failed.  In those the
 * guest powers off next.  SIGPIPE must be ignored, and the caller's thread has
 * SIGCHLD blocked while it runs (it does so itself and restores it).
 */
int agent_session(int sock, const struct agent_session_ops *ops);

/* The command, started: its pid and the agent's ends of its streams (-1: none). */
struct agent_child {
	pid_t pid;
	int in_fd, out_fd, err_fd;   /* with a tty: the pty master, twice, and -1 */
	bool tty;
};

/* Why it did not start: an EXIT's kind and value. */
struct agent_failure {
	enum exec_exit kind;
	int err;
};

/*
 * Starts @run's command (environment, user, cwd, streams or a pty): 0 with
 * @child, or 1 with @fail (it did not start; nothing is left running),
 * or -errno when the agent could not even try.
 */
int agent_spawn(const struct exec_run *run, struct agent_child *child,
		struct agent_failure *fail);

/* The default PATH given when RUN has none. */
#define AGENT_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Relays between @sock and @child until it exits and its output is
 * drained; then sends EXIT.  Returns as agent_session().
 */
int agent_relay(int sock, struct exec_reader *rd, struct agent_child *child, int sigfd,
		bool reap_all);

/* One line to the kernel log or the console: the agent has no other voice. */
void agent_log(const char *fmt, ...) __printf(1, 2);

#endif
