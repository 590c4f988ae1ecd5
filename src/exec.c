// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm exec: one command in a fresh microVM.  The process splits in two:
 * the child is an ordinary arkvm VM (its own session, so the terminal's
 * Ctrl-C is not its own; its console and log lines in a file), the parent
 * is the client that talks to the guest's agent over vsock, owns the
 * terminal and the exit status, and removes the private temporary
 * directory ($TMPDIR/arkvm-exec.PID: initramfs, vsock socket, log) on
 * every way out.  A directory left by a process that died by SIGKILL is
 * removed by the next arkvm exec.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"
#include "vmm.h"

#define DIR_PREFIX "arkvm-exec."
#define VM_STOP_WAIT_MS 10000

struct exec_ctx {
	char dir[CFG_MAX_PATH + 1];
	char initrd[CFG_MAX_PATH + 32], vsock[CFG_MAX_PATH + 32], log[CFG_MAX_PATH + 32];
	char api[CFG_MAX_PATH + 32];        /* --warm's first run: the API, to snapshot */
	pid_t child;
	bool child_done;
	int sig_pipe[2];
	int stop_signal;          /* a stop signal while the guest boots */
	bool raw;
	struct termios saved;
};

/*
 * The write end of the self-pipe: a signal handler can reach nothing
 * else.  One per process, set before the handlers are installed.
 */
static int exec_sig_fd = -1;

static void exec_on_signal(int sig)
{
	u8 b = (u8)sig;
	int saved = errno;

	/* A full pipe already holds enough wake-ups: a failed write is fine. */
	ssize_t n __unused = write(exec_sig_fd, &b, 1);

	errno = saved;
}

static int setup_signals(struct exec_ctx *x)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGCHLD };
	struct sigaction sa = { .sa_handler = exec_on_signal, .sa_flags = SA_RESTART };

	if (pipe2(x->sig_pipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	exec_sig_fd = x->sig_pipe[1];
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static const char *tmp_dir(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t ? t : "/tmp";
}

/* $TMPDIR/arkvm-exec.PID of ours whose process is gone (SIGKILL left them). */
static void remove_stale(void)
{
	DIR *d = opendir(tmp_dir());
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[CFG_MAX_PATH + 1], *end;
		struct stat st;
		long pid;

		if (strncmp(e->d_name, DIR_PREFIX, strlen(DIR_PREFIX)))
			continue;
		pid = strtol(e->d_name + strlen(DIR_PREFIX), &end, 10);
		if (*end || pid <= 0 || (kill((pid_t)pid, 0) && errno != ESRCH) ||
		    !kill((pid_t)pid, 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp_dir(), e->d_name);
		if (!lstat(path, &st) && S_ISDIR(st.st_mode) && st.st_uid == getuid())
			exec_rm_tree(path);
	}
	closedir(d);
}

static int make_dir(struct exec_ctx *x)
{
	int n = snprintf(x->dir, sizeof(x->dir), "%s/" DIR_PREFIX "%d", tmp_dir(), (int)getpid());

	if (n >= (int)sizeof(x->dir) || mkdir(x->dir, 0700)) {
		pr_err("exec: cannot make %s: %s", x->dir, n >= (int)sizeof(x->dir) ?
		       "path too long" : strerror(errno));
		x->dir[0] = '\0';
		return -EINVAL;
	}
	snprintf(x->initrd, sizeof(x->initrd), "%s/initramfs.cpio", x->dir);
	snprintf(x->vsock, sizeof(x->vsock), "%s/vsock", x->dir);
	snprintf(x->log, sizeof(x->log), "%s/console.log", x->dir);
	snprintf(x->api, sizeof(x->api), "%s/api", x->dir);
	return 0;
}

static int write_initramfs(struct exec_ctx *x, const struct exec_opts *o)
{
	int fd, ret;

	if (!exec_agent_size) {
		pr_err("exec: this arkvm was built without its guest agent");
		return -ENOENT;
	}
	fd = open(x->initrd, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		pr_err("exec: %s: %s", x->initrd, strerror(errno));
		return -errno;
	}
	ret = exec_write_initramfs(fd, exec_agent_image, (size_t)exec_agent_size, o->modules);
	close(fd);
	return ret;
}

/* In the child: the VM, out of the terminal's way. Never returns. */
static __attribute__((noreturn)) void run_child(struct exec_ctx *x, const struct exec_launch *l,
						 int (*run_vm)(const struct exec_launch *l))
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGCHLD, SIGPIPE };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log = open(x->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], SIG_DFL);
	close(x->sig_pipe[0]);
	close(x->sig_pipe[1]);
	setsid();
	if (null < 0 || log < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(EXIT_FAILURE);
	_exit(run_vm(l));
}

/* The VM's process ended (reaped): for the client and the connect loop. */
static bool child_gone(struct exec_ctx *x)
{
	if (!x->child_done && waitpid(x->child, NULL, WNOHANG) == x->child)
		x->child_done = true;
	return x->child_done;
}

static bool client_vm_gone(void *opaque)
{
	return child_gone(opaque);
}

/* While the guest boots: the VM ended, or a stop signal came. */
static bool boot_gone(void *opaque)
{
	struct exec_ctx *x = opaque;
	u8 sigs[16];
	ssize_t n = read(x->sig_pipe[0], sigs, sizeof(sigs));

	for (ssize_t i = 0; i < n; i++)
		if (sigs[i] == SIGINT || sigs[i] == SIGTERM || sigs[i] == SIGHUP)
			x->stop_signal = sigs[i];
	return x->stop_signal || child_gone(x);
}

static void stop_child(struct exec_ctx *x, bool now)
{
	for (int waited = 0; !child_gone(x); waited += 10) {
		if (now || waited == VM_STOP_WAIT_MS)
			kill(x->child, SIGTERM);
		if (waited == VM_STOP_WAIT_MS * 2)
			kill(x->child, SIGKILL);
		now = false;
		poll(NULL, 0, 10);
	}
}

/* What the VM's console and arkvm said, on stderr: why it failed is there. */
static void show_log(const struct exec_ctx *x)
{
	char buf[4096];
	int fd = open(x->log, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		if (write(STDERR_FILENO, buf, (size_t)n) < 0)
			break;
	if (fd >= 0)
		close(fd);
}

static void tty_raw(struct exec_ctx *x)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &x->saved))
		return;
	t = x->saved;
	cfmakeraw(&t);
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &t))
		x->raw = true;
}

static void tty_restore(struct exec_ctx *x)
{
	if (x->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &x->saved);
	x->raw = false;
}

/*
 * What is the host's to give at each run: the wall clock, and random
 * bytes for the guest's generator (a restored guest has its snapshot's).
 */
static void stamp_run(struct exec_run *run)
{
	struct timespec now;

	if (!clock_gettime(CLOCK_REALTIME, &now) && now.tv_sec >= 0) {
		run->has_time = true;
		run->time_sec = (u64)now.tv_sec;
		run->time_nsec = (u32)now.tv_nsec;
	}
	run->has_seed = getrandom(run->seed, sizeof(run->seed), 0) == sizeof(run->seed);
}

/* The session, once the guest's agent answered: the exit status. */
static int run_session(struct exec_ctx *x, const struct exec_opts *o, int sock, u64 deadline,
		       bool hello_seen)
{
	struct exec_run_scratch scratch;
	struct exec_run *run = malloc(sizeof(*run));
	struct exec_client c = {
		.sock = sock, .in_fd = fcntl(STDIN_FILENO, F_GETFD) < 0 ? -1 : STDIN_FILENO,
		.out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO, .sig_fd = x->sig_pipe[0],
		.tty_fd = o->tty && isatty(STDIN_FILENO) ? STDIN_FILENO : -1,
		.deadline_ns = deadline, .vm_gone = client_vm_gone, .opaque = x,
		.hello_seen = hello_seen,
	};
	int status;

	if (!run) {
		pr_err("exec: out of memory");
		return EXEC_STATUS_ERROR;
	}
	exec_make_run(o, run, &scratch);
	stamp_run(run);
	if (exec_net_stamp(o, run)) {
		free(run);
		stop_child(x, true);
		return EXEC_STATUS_ERROR;
	}
	c.run = run;
	if (o->tty)
		tty_raw(x);
	status = exec_client_run(&c);
	tty_restore(x);
	free(run);
	stop_child(x, c.stop_vm);
	if (status == EXEC_STATUS_ERROR && c.err[0]) {
		/* What the guest said last tells why: the agent logs to its console. */
		show_log(x);
		pr_err("exec: %s", c.err);
	}
	return status;
}

/*
 * The VM @l describes, started in the child, and its agent's stream: the
 * socket, or -errno with the child stopped (-ETIMEDOUT: no answer by
 * @boot_deadline; a stop signal in x->stop_signal; else the VM ended).
 */
static int launch(struct exec_ctx *x, const struct exec_launch *l,
		  int (*run_vm)(const struct exec_launch *l), u64 boot_deadline)
{
	int sock;

	fflush(NULL);
	x->child_done = false;
	x->child = fork();
	if (x->child < 0) {
		pr_err("exec: fork: %s", strerror(errno));
		return -errno;
	}
	if (!x->child)
		run_child(x, l, run_vm);
	sock = exec_connect(x->vsock, boot_deadline, boot_gone, x);
	if (sock < 0)
		stop_child(x, true);
	return sock;
}

/* The exit status when the agent never answered (@sock, as launch()'s). */
static int launch_failed(struct exec_ctx *x, int sock, u64 deadline)
{
	if (x->stop_signal)
		return 128 + x->stop_signal;
	if (sock == -ETIMEDOUT && deadline)
		return EXEC_STATUS_TIMEOUT;
	show_log(x);
	pr_err("exec: %s", sock == -ETIMEDOUT ? "the guest's agent never answered" :
	       "the VM stopped before its agent answered");
	return EXEC_STATUS_ERROR;
}

/* --warm's later runs: the cached VM restored, with this run's sockets and shares. */
static int launch_restore(struct exec_ctx *x, const struct exec_warm *w,
			  const struct vm_config *cfg, int (*run_vm)(const struct exec_launch *l),
			  u64 boot_deadline)
{
	struct vmm_restore *rs = calloc(1, sizeof(*rs));
	struct exec_launch l = { .restore = rs };
	int sock;

	if (!rs) {
		pr_err("exec: out of memory");
		return -ENOMEM;
	}
	rs->asked = rs->resume = true;
	snprintf(rs->snapshot, sizeof(rs->snapshot), "%s", w->snap);
	snprintf(rs->mem, sizeof(rs->mem), "%s", w->mem);
	snprintf(rs->vsock_uds, sizeof(rs->vsock_uds), "%s", cfg->vsock.uds_path);
	for (unsigned int i = 0; i < cfg->nr_shares; i++) {
		snprintf(rs->share_overrides[i].tag, sizeof(rs->share_overrides[i].tag), "%s",
			 cfg->shares[i].tag);
		snprintf(rs->share_overrides[i].path, sizeof(rs->share_overrides[i].path), "%s",
			 cfg->shares[i].path);
		rs->share_overrides[i].readonly = cfg->shares[i].readonly;
	}
	rs->nr_share_overrides = cfg->nr_shares;
	sock = launch(x, &l, run_vm, boot_deadline);
	free(rs);
	return sock;
}

/*
 * --warm's first run: the VM booted with its API, snapshotted into the
 * cache once its agent said HELLO, and resumed.  The HELLO is read here.
 */
static int launch_and_save(struct exec_ctx *x, struct exec_warm *w,
			   const struct vm_config *cfg,
			   int (*run_vm)(const struct exec_launch *l), u64 boot_deadline)
{
	struct exec_launch l = { .cfg = cfg, .api_sock = x->api };
	int sock = launch(x, &l, run_vm, boot_deadline), ret;

	if (sock < 0)
		return sock;
	ret = exec_read_hello(sock, boot_deadline);
	if (ret) {
		close(sock);
		stop_child(x, true);
		return ret == -EPROTO ? -ECHILD : ret;
	}
	exec_warm_save(w, x->api);
	return sock;
}

/* From the built VM config on: the child, the connection, the session. */
static int exec_vm(struct exec_ctx *x, const struct exec_opts *o, const struct vm_config *cfg,
		   int (*run_vm)(const struct exec_launch *l), u64 start)
{
	u64 deadline = o->timeout_s ? start + o->timeout_s * 1000000000ull : 0;
	/* The agent must answer within --timeout when given (the user chose it), else 60 s. */
	u64 boot_deadline = deadline ? deadline : start + EXEC_CONNECT_TIMEOUT_S * 1000000000ull;
	struct exec_launch boot = { .cfg = cfg };
	struct exec_warm w;
	bool hello_seen = false;
	int sock = -ENOENT;

	if (o->warm) {
		char key[EXEC_WARM_KEY_LEN + 1];
		int ret = exec_warm_key(o, cfg, x->initrd, key);

		if (ret) {
			pr_err("exec: --warm: %s", strerror(-ret));
			return EXEC_STATUS_ERROR;
		}
		if (exec_warm_open(&w, o->warm, key))
			return EXEC_STATUS_ERROR;
		if (w.hit) {
			sock = launch_restore(x, &w, cfg, run_vm, boot_deadline);
			if (sock >= 0 || sock == -ETIMEDOUT || x->stop_signal)
				goto launched;
			/* A cache from another arkvm or host: booted afresh, and cached again. */
			show_log(x);
			pr_warn("exec: --warm: %s could not be restored; booting afresh", w.entry);
			exec_warm_drop(&w);
			unlink(x->vsock);       /* the restore's, if it died before removing it */
		}
		sock = launch_and_save(x, &w, cfg, run_vm, boot_deadline);
		hello_seen = true;
	} else {
		sock = launch(x, &boot, run_vm, boot_deadline);
	}
launched:
	if (sock < 0)
		return launch_failed(x, sock, deadline);
	/* The VM read the initramfs long before its agent could answer. */
	unlink(x->initrd);
	return run_session(x, o, sock, deadline, hello_seen);
}

int exec_main(int argc, char **argv, int (*run_vm)(const struct exec_launch *l))
{
	struct exec_ctx x = { .sig_pipe = { -1, -1 } };
	struct vm_config *cfg = malloc(sizeof(*cfg));
	struct exec_opts *o = malloc(sizeof(*o));
	u64 start = exec_now_ns();
	int ret, status = EXEC_STATUS_ERROR;

	if (!cfg || !o)
		goto out;
	ret = exec_parse(argc, argv, o, stdout);
	if (ret) {
		status = ret == EXEC_PARSE_HELP ? 0 : EXEC_STATUS_ERROR;
		goto out;
	}
	remove_stale();
	if (setup_signals(&x) || make_dir(&x) || write_initramfs(&x, o) ||
	    exec_vm_config(o, x.initrd, x.vsock, cfg))
		goto out;
	status = exec_vm(&x, o, cfg, run_vm, start);
out:
	if (x.dir[0])
		exec_rm_tree(x.dir);
	free(cfg);
	free(o);
	return status;
}

int exec_connect(const char *uds, u64 deadline_ns, bool (*gone)(void *), void *opaque)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(uds) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, uds);
	while (!gone(opaque) && exec_now_ns() < deadline_ns) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char line[64];
		size_t len = 0;

		if (s < 0)
			return -errno;
		if (!connect(s, (struct sockaddr *)&sa, sizeof(sa)) &&
		    dprintf(s, "CONNECT %u\n", EXEC_VSOCK_PORT) > 0) {
			/* The answer a byte at a time: the agent's HELLO may follow it. */
			while (len < sizeof(line) - 1) {
				struct pollfd p = { .fd = s, .events = POLLIN };

				if (poll(&p, 1, 200) == 0 && !gone(opaque) &&
				    exec_now_ns() < deadline_ns)
					continue;
				if (!p.revents || read(s, &line[len], 1) != 1 || line[len++] == '\n')
					break;
			}
			line[len] = '\0';
			if (!strncmp(line, "OK ", 3) && line[len - 1] == '\n')
				return s;
		}
		close(s);
		poll(NULL, 0, 50);      /* not listening yet: the guest still boots */
	}
	return exec_now_ns() >= deadline_ns ? -ETIMEDOUT : -ECHILD;
}
