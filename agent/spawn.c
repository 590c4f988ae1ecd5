// SPDX-License-Identifier: Apache-2.0
/*
 * Starts the command RUN describes.  The child sets itself up (process
 * group or session, streams, groups, gid, uid, working directory,
 * environment) and execs; whatever fails on the way, it writes to a
 * close-on-exec pipe before it exits, so the agent knows without doubt
 * whether the command runs: no bytes on that pipe means exec succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "exec_agent.h"

/* What the child reports on the status pipe when it fails. */
struct spawn_report {
	int setup;                  /* 1: before exec (SETUP), 0: exec itself */
	int err;
};

/* Both ends of the command's streams, and the status pipe. */
struct spawn_fds {
	int in[2], out[2], err[2];  /* pipes: [0] read, [1] write */
	int master;                 /* with a tty */
	char slave[64];
	int status[2];
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_all(struct spawn_fds *f)
{
	int *all[] = { &f->in[0], &f->in[1], &f->out[0], &f->out[1], &f->err[0], &f->err[1],
		       &f->master, &f->status[0], &f->status[1] };

	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		close_fd(all[i]);
}

static int open_pty(const struct exec_run *run, struct spawn_fds *f)
{
	struct winsize ws = { .ws_row = run->rows, .ws_col = run->cols };

	f->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (f->master < 0)
		return -errno;
	if (grantpt(f->master) || unlockpt(f->master) ||
	    ptsname_r(f->master, f->slave, sizeof(f->slave)))
		return -errno;
	if (ws.ws_row && ws.ws_col && ioctl(f->master, TIOCSWINSZ, &ws))
		return -errno;
	return 0;
}

static int open_streams(const struct exec_run *run, struct spawn_fds *f)
{
	if (pipe2(f->status, O_CLOEXEC))
		return -errno;
	if (run->tty)
		return open_pty(run, f);
	if (pipe2(f->in, O_CLOEXEC) || pipe2(f->out, O_CLOEXEC) || pipe2(f->err, O_CLOEXEC))
		return -errno;
	return 0;
}

/* The environment exactly as RUN gives it, with a PATH when it has none. */
static void build_env(const struct exec_run *run, const char **envp)
{
	bool has_path = false;
	unsigned int n = 0;

	for (unsigned int i = 0; i < run->envc; i++) {
		has_path |= !strncmp(run->envp[i], "PATH=", 5);
		envp[n++] = run->envp[i];
	}
	if (!has_path)
		envp[n++] = AGENT_DEFAULT_PATH;
	envp[n] = NULL;
}

/* In the child: the pty becomes the controlling terminal of a new session. */
static int child_tty(const struct spawn_fds *f)
{
	int fd;

	if (setsid() < 0)
		return -errno;
	fd = open(f->slave, O_RDWR);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TIOCSCTTY, 0))
		return -errno;
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return -errno;
	if (fd > 2)
		close(fd);
	return 0;
}

static int child_pipes(const struct spawn_fds *f)
{
	/* Its own group: SIGNAL goes to the command and what it starts. */
	if (setpgid(0, 0))
		return -errno;
	if (dup2(f->in[0], 0) < 0 || dup2(f->out[1], 1) < 0 || dup2(f->err[1], 2) < 0)
		return -errno;
	return 0;
}

static int child_user(const struct exec_run *run)
{
	gid_t gid = run->gid;

	if (setgroups(1, &gid) || setgid(run->gid) || setuid(run->uid))
		return -errno;
	return 0;
}

static _Noreturn void child_fail(const struct spawn_fds *f, int setup, int err)
{
	struct spawn_report rep = { setup, err };

	if (write(f->status[1], &rep, sizeof(rep)) < 0)
		_exit(127);
	_exit(127);
}

static _Noreturn void child_run(const struct exec_run *run, const struct spawn_fds *f,
				const char **envp)
{
	extern char **environ;
	sigset_t none;
	int ret;

	/* The agent blocks SIGCHLD and ignores SIGPIPE; the command gets neither. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	ret = run->tty ? child_tty(f) : child_pipes(f);
	if (!ret)
		ret = child_user(run);
	/* After the user: a directory that user cannot enter is an error, as at login. */
	if (!ret && chdir(run->cwd ? run->cwd : "/"))
		ret = -errno;
	if (ret)
		child_fail(f, 1, -ret);
	/* execvp() searches the PATH of environ, so that is the command's own. */
	environ = (char **)envp;
	execvp(run->argv[0], (char *const *)run->argv);
	child_fail(f, 0, errno);
}

/* The child's report: 0 when it execed, 1 with @fail when it did not. */
static int read_report(pid_t pid, int fd, struct agent_failure *fail)
{
	struct spawn_report rep;
	ssize_t n;

	do
		n = read(fd, &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(rep) || rep.err <= 0 || rep.err > 4095) {
		fail->kind = EXEC_EXIT_SETUP;
		fail->err = EIO;
	} else if (rep.setup) {
		fail->kind = EXEC_EXIT_SETUP;
		fail->err = rep.err;
	} else {
		/* As a shell: 127 when there is no such command, 126 when it cannot run. */
		fail->kind = rep.err == ENOENT ? EXEC_EXIT_NOT_FOUND : EXEC_EXIT_NOT_EXECUTABLE;
		fail->err = rep.err;
	}
	return 1;
}

/* The agent's ends: non-blocking, for the relay's poll loop. */
static int take_ends(struct spawn_fds *f, struct agent_child *child)
{
	if (child->tty) {
		child->out_fd = f->master;
		child->in_fd = fcntl(f->master, F_DUPFD_CLOEXEC, 3);
		child->err_fd = -1;
		f->master = -1;
		if (child->in_fd < 0)
			return -errno;
	} else {
		child->in_fd = f->in[1];
		child->out_fd = f->out[0];
		child->err_fd = f->err[0];
		f->in[1] = f->out[0] = f->err[0] = -1;
	}
	int fds[] = { child->in_fd, child->out_fd, child->err_fd };

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0 && fcntl(fds[i], F_SETFL, O_NONBLOCK))
			return -errno;
	return 0;
}

int agent_spawn(const struct exec_run *run, struct agent_child *child,
		struct agent_failure *fail)
{
	struct spawn_fds f = { { -1, -1 }, { -1, -1 }, { -1, -1 }, -1, "", { -1, -1 } };
	const char **envp = calloc(EXEC_MAX_ENV + 2, sizeof(*envp));
	int ret;

	*child = (struct agent_child){ .pid = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1,
				       .tty = run->tty };
	if (!envp)
		return -ENOMEM;
	build_env(run, envp);
	ret = open_streams(run, &f);
	if (ret)
		goto out;
	child->pid = fork();
	if (child->pid < 0) {
		ret = -errno;
		goto out;
	}
	if (!child->pid)
		child_run(run, &f, envp);
	close_fd(&f.status[1]);
	close_fd(&f.in[0]);
	close_fd(&f.out[1]);
	close_fd(&f.err[1]);
	ret = read_report(child->pid, f.status[0], fail);
	if (ret == 0)
		ret = take_ends(&f, child);
out:
	close_all(&f);
	free(envp);
	return ret;
}
