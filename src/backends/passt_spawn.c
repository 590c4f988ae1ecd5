// SPDX-License-Identifier: Apache-2.0
/*
 * Starting passt for --net user, and reaching a running one for --net
 * passt=PATH.
 *
 * passt gets one end of a socketpair as its fd 3 (--fd 3), as libkrun
 * does: there is no socket path to race for or leave behind, and passt
 * quits when arkvm closes the other end.  It runs in the foreground (-f),
 * as arkvm's child, quietly (-q), with each forward as -t/-u HOST:GUEST.
 * posix_spawn() is fork+exec done safely in a process with threads (the
 * API server's may run): the child only rearranges fds and execs, and an
 * exec failure comes back as its return value.  The child gets nothing of
 * arkvm's but fds 0 to 3: /dev/null, its stderr pipe (twice) and the
 * socket; all signals at their defaults, none blocked (arkvm blocks its
 * stop signals and ignores SIGPIPE, which an exec would pass on); and a
 * process group of its own, so a Ctrl-C on the terminal reaches arkvm,
 * which then ends passt itself.
 *
 * passt is ready once it has loaded its own seccomp filter, the last thing
 * it does before serving; until then it may still exit for want of a
 * default route (it picks its outbound interface from it) or of user
 * namespaces (it sandboxes itself in one; containers often block
 * unshare(CLONE_NEWUSER)).  arkvm waits for one or the other and, if
 * passt exited, says which of those the host lacks, with passt's own last
 * line from its stderr pipe.  Afterwards the pipe stays open and unread:
 * passt's end is non-blocking, so a full pipe loses its messages rather
 * than stopping passt, and what it says last is read when it goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/net_passt.h"
#include "log.h"

extern char **environ;

/* Long enough for passt under an emulated CPU (the lab's); passt usually takes ~30 ms. */
#define PASST_READY_WAIT_MS 20000
#define PASST_CHILD_FD 3
#define PASST_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int passt_find(const char *path_env, char *out, size_t size)
{
	const char *dir = path_env && *path_env ? path_env : PASST_DEFAULT_PATH;

	for (;;) {
		size_t len = strcspn(dir, ":");
		struct stat st;
		int n = len ? snprintf(out, size, "%.*s/passt", (int)len, dir)
			    : snprintf(out, size, "./passt");

		if (n > 0 && (size_t)n < size && !stat(out, &st) && S_ISREG(st.st_mode) &&
		    !access(out, X_OK))
			return 0;
		if (!dir[len])
			break;
		dir += len + 1;
	}
	out[0] = '\0';
	return -ENOENT;
}

void passt_build_argv(struct passt_argv *a, const char *bin, const struct net_config *cfg,
		      int fd)
{
	unsigned int n = 0;

	snprintf(a->fd, sizeof(a->fd), "%d", fd);
	a->argv[n++] = (char *)bin;
	a->argv[n++] = (char *)"-f";
	a->argv[n++] = (char *)"-q";
	a->argv[n++] = (char *)"--fd";
	a->argv[n++] = a->fd;
	for (unsigned int i = 0; i < cfg->nr_forwards && i < CFG_MAX_FORWARDS; i++) {
		const struct net_forward *f = &cfg->forwards[i];

		snprintf(a->ports[i], sizeof(a->ports[i]), "%u:%u", f->host_port, f->guest_port);
		a->argv[n++] = (char *)(f->proto == NET_FWD_UDP ? "-u" : "-t");
		a->argv[n++] = a->ports[i];
	}
	a->argv[n] = NULL;
}

/* Moves @fd to a number of at least 10, close-on-exec, so the child's 0-3 never clobber it. */
static int fd_move_up(int fd)
{
	int up = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	close(fd);
	return up;
}

static int passt_spawn_actions(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at,
			       int sock, int err_w)
{
	sigset_t none, all;
	int ret;

	sigemptyset(&none);
	sigfillset(&all);
	ret = posix_spawn_file_actions_adddup2(fa, err_w, STDERR_FILENO);
	if (!ret)
		ret = posix_spawn_file_actions_adddup2(fa, err_w, STDOUT_FILENO);
	if (!ret)
		ret = posix_spawn_file_actions_adddup2(fa, sock, PASST_CHILD_FD);
	if (!ret)
		ret = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (!ret)
		ret = posix_spawn_file_actions_addclosefrom_np(fa, PASST_CHILD_FD + 1);
	if (!ret)
		ret = posix_spawnattr_setsigmask(at, &none);
	if (!ret)
		ret = posix_spawnattr_setsigdefault(at, &all);
	if (!ret)
		ret = posix_spawnattr_setpgroup(at, 0);
	if (!ret)
		ret = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						   POSIX_SPAWN_SETPGROUP);
	return ret;
}

/* passt @bin on @sock (its fd 3) with its stderr on @err_w: 0 with *@pid, or an errno. */
static int passt_spawn(const char *bin, const struct net_config *cfg, int sock, int err_w,
		       pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	struct passt_argv a;
	int ret;

	passt_build_argv(&a, bin, cfg, PASST_CHILD_FD);
	ret = posix_spawn_file_actions_init(&fa);
	if (ret)
		return ret;
	ret = posix_spawnattr_init(&at);
	if (!ret) {
		ret = passt_spawn_actions(&fa, &at, sock, err_w);
		if (!ret)
			ret = posix_spawn(pid, bin, &fa, &at, a.argv, environ);
		posix_spawnattr_destroy(&at);
	}
	posix_spawn_file_actions_destroy(&fa);
	return ret;
}

/* Has passt loaded its seccomp filter (/proc/PID/status "Seccomp: 2")? */
static bool passt_sandboxed(pid_t pid)
{
	char path[32], buf[2048];
	const char *s;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	s = strstr(buf, "\nSeccomp:");
	return s && strtol(s + 9, NULL, 10) == 2;
}

/* 1 once passt serves, 0 when it exited first (*@status set), -errno. */
static int passt_wait_ready(pid_t pid, int *status)
{
	struct timespec nap = { .tv_nsec = 500 * 1000 };
	u64 waited_us = 0;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (passt_sandboxed(pid))
			return 1;
		if (waited_us >= PASST_READY_WAIT_MS * 1000ULL) {
			pr_warn("--net user: passt has not finished starting after %d s; going on",
				PASST_READY_WAIT_MS / 1000);
			return 1;
		}
		nanosleep(&nap, NULL);
		waited_us += (u64)nap.tv_nsec / 1000;
		if (nap.tv_nsec < 10 * 1000 * 1000)
			nap.tv_nsec *= 2;
	}
}

/* Noise: passt's complaints that no syslog listens, its notice that it drops root. */
static bool passt_noise(const char *line, size_t len)
{
	return (len >= 14 && !strncmp(line, "Failed to send", 14)) ||
	       (len >= 16 && !strncmp(line, "Don't run as root", 16));
}

void passt_last_words(int fd, char *out, size_t size)
{
	char buf[4096];
	size_t have = 0;
	ssize_t n;

	out[0] = '\0';
	if (fd < 0 || !size)
		return;
	/* The pipe may hold more than buf: keep its last part. */
	while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		have += (size_t)n;
		if (have == sizeof(buf) - 1) {
			memmove(buf, buf + sizeof(buf) / 2, have - sizeof(buf) / 2);
			have -= sizeof(buf) / 2;
		}
	}
	buf[have] = '\0';
	for (char *line = buf; *line;) {
		size_t len = strcspn(line, "\n");

		if (len && !passt_noise(line, len))
			snprintf(out, size, "%.*s", (int)len, line);
		line += len + (line[len] ? 1 : 0);
	}
}

bool passt_has_default_route(const char *v4, const char *v6)
{
	char iface[32], dest[40], mask[16];
	unsigned int plen;

	/* Iface Destination Gateway Flags RefCnt Use Metric Mask ...; a header line first. */
	for (const char *l = v4; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (sscanf(l, "%31s %15s %*s %*s %*s %*s %*s %15s", iface, dest, mask) == 3 &&
		    !strcmp(dest, "00000000") && !strcmp(mask, "00000000"))
			return true;
	/* dest plen src splen next metric refcnt use flags iface; lo's are unreachable. */
	for (const char *l = v6; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (sscanf(l, "%39s %x %*s %*s %*s %*s %*s %*s %*s %31s", dest, &plen, iface) == 3 &&
		    !plen && strspn(dest, "0") == 32 && strcmp(iface, "lo"))
			return true;
	return false;
}

/* A /proc file's text (at most @size - 1 bytes) into @buf; "" when it cannot be read. */
static void read_text(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t have = 0;
	ssize_t n = 0;

	while (fd >= 0 && have < size - 1 && (n = read(fd, buf + have, size - 1 - have)) > 0)
		have += (size_t)n;
	buf[have] = '\0';
	if (fd >= 0)
		close(fd);
}

static bool host_has_default_route(void)
{
	static char v4[16384], v6[16384];

	read_text("/proc/net/route", v4, sizeof(v4));
	read_text("/proc/net/ipv6_route", v6, sizeof(v6));
	return passt_has_default_route(v4, v6);
}

/*
 * Can a process here make a user namespace?  passt drops root to nobody
 * first, so Debian's switch for unprivileged ones counts too; then a
 * child of ours tries.
 */
static bool userns_allowed(void)
{
	char v[32];
	pid_t pid;
	int status;

	read_text("/proc/sys/user/max_user_namespaces", v, sizeof(v));
	if (!strcmp(v, "0\n"))
		return false;
	read_text("/proc/sys/kernel/unprivileged_userns_clone", v, sizeof(v));
	if (!strcmp(v, "0\n"))
		return false;
	pid = fork();
	if (pid < 0)
		return true; /* cannot tell */
	if (!pid)
		_exit(unshare(CLONE_NEWUSER) ? 1 : 0);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

void passt_explain(char *out, size_t size, int status, const char *words, bool has_route,
		   bool userns_ok)
{
	char how[48], said[240];

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
	snprintf(said, sizeof(said), "%s%.200s%s", words[0] ? "; passt said \"" : "", words,
		 words[0] ? "\"" : "");
	if (!has_route)
		snprintf(out, size, "--net user: passt could not start (%s): the host has no default "
			 "route, which passt needs to pick its outbound interface%s", how, said);
	else if (!userns_ok)
		snprintf(out, size, "--net user: passt could not start (%s): user namespaces are "
			 "blocked here (unshare(CLONE_NEWUSER) fails, as in many containers), and "
			 "passt sandboxes itself in one%s", how, said);
	else
		snprintf(out, size, "--net user: passt could not start (%s)%s", how, said);
}

static void passt_failed_at_start(int status, int err_fd)
{
	char words[200], line[640];

	passt_last_words(err_fd, words, sizeof(words));
	passt_explain(line, sizeof(line), status, words, host_has_default_route(),
		      userns_allowed());
	pr_err("%s", line);
}

/* Spawns passt on @sv[1] and waits: 0, or -errno (said) with passt reaped. */
static int passt_run(const char *bin, const struct net_config *cfg, int sv[2], int errp[2],
		     pid_t *pid)
{
	int ret = passt_spawn(bin, cfg, sv[1], errp[1], pid), status = 0;

	close(sv[1]);
	close(errp[1]);
	if (ret) {
		pr_err("--net user: cannot run %s: %s", bin, strerror(ret));
		return -ret;
	}
	ret = passt_wait_ready(*pid, &status);
	if (ret > 0)
		return 0;
	if (!ret) {
		passt_failed_at_start(status, errp[0]);
		return -ECHILD;
	}
	pr_err("--net user: waiting for passt: %s", strerror(-ret));
	passt_reap(*pid);
	return ret;
}

int passt_start(const struct net_config *cfg, int *fd, pid_t *pid, int *err_fd)
{
	char bin[CFG_MAX_PATH + 1];
	int sv[2], errp[2], ret;

	if (passt_find(getenv("PATH"), bin, sizeof(bin))) {
		pr_err("--net user: passt is not installed (no 'passt' on PATH): install it "
		       "(Debian: apt-get install passt), or use --net tap=NAME");
		return -ENOENT;
	}
	/* Our end non-blocking (O_NONBLOCK is each end's own): passt sets up its end itself. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		pr_err("--net user: socketpair: %s", strerror(-ret));
		return ret;
	}
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK)) {
		ret = -errno;
		pr_err("--net user: socketpair: %s", strerror(-ret));
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	/* Both ends non-blocking: ours for reading what is there, passt's so it never waits. */
	if (pipe2(errp, O_CLOEXEC | O_NONBLOCK)) {
		ret = -errno;
		pr_err("--net user: pipe: %s", strerror(-ret));
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	sv[1] = fd_move_up(sv[1]);
	errp[1] = fd_move_up(errp[1]);
	if (sv[1] < 0 || errp[1] < 0) {
		if (sv[1] >= 0)
			close(sv[1]);
		if (errp[1] >= 0)
			close(errp[1]);
		ret = -EMFILE;
	} else {
		ret = passt_run(bin, cfg, sv, errp, pid);
	}
	if (ret) {
		close(sv[0]);
		close(errp[0]);
		return ret;
	}
	*fd = sv[0];
	*err_fd = errp[0];
	return 0;
}

int passt_connect(const char *path, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		pr_err("--net passt=%s: the path is too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) ||
	    fcntl(s, F_SETFL, O_NONBLOCK)) {
		err = errno;
		pr_err("--net passt=%s: cannot connect: %s (start passt with -s %s first)", path,
		       strerror(err), path);
		if (s >= 0)
			close(s);
		return -err;
	}
	*fd = s;
	return 0;
}

void passt_reap(pid_t pid)
{
	/* Its socket is closed, so it is on its way out; the signal makes sure. */
	kill(pid, SIGTERM);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}
