/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_EXEC_H
#define ARKVM_EXEC_H

/*
 * arkvm exec: one command in a fresh, disposable VM (src/exec*.c).
 *
 *   exec_opts.c       the command line, and the vm_config and RUN it makes
 *   exec_initramfs.c  a cpio "newc" writer: /init (the agent) and modules
 *   exec_modules.c    which modules, in load order (modules.dep or .modinfo)
 *   exec_client.c     the host's side of include/exec_proto.h's session
 *   exec_warm.c       --warm: the snapshot cache, and the API calls that fill it
 *   exec_net.c        --net user: the address, route and DNS passt gives the guest
 *   exec.c            the process: temp dir, the VM in a child, the terminal
 *
 * The parent process is the client; the VM runs in a child process
 * (its own session, its console in a log file), so that the command's
 * output is clean and the client needs none of the VMM's seccomp rules.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "compiler.h"
#include "exec_proto.h"
#include "vm_config.h"

struct ifaddrs;
struct vmm_restore;

/* Exit statuses of arkvm exec, as docker run and timeout(1). */
#define EXEC_STATUS_TIMEOUT        124
#define EXEC_STATUS_ERROR          125
#define EXEC_STATUS_NOT_EXECUTABLE 126
#define EXEC_STATUS_NOT_FOUND      127

#define EXEC_MAX_SHARES   (CFG_MAX_SHARES - 1)   /* one slot for the root */
#define EXEC_MAX_OPT_ENV  256
#define EXEC_CONNECT_TIMEOUT_S 60

struct exec_share {
	char host[CFG_MAX_PATH + 1];
	char guest[CFG_MAX_PATH + 1];  /* absolute: the host path (made absolute) if not given */
	bool readonly;
};

struct exec_opts {
	const char *kernel, *modules, *rootfs, *image, *workdir, *warm, *net, *memory;
	struct exec_share shares[EXEC_MAX_SHARES];
	unsigned int nr_shares;
	const char *env[EXEC_MAX_OPT_ENV];
	unsigned int nr_env;
	bool has_user;
	u32 uid, gid;
	unsigned int cpus;           /* 0: the default */
	unsigned int timeout_s;      /* 0: none */
	bool tty;
	char *const *argv;           /* the command, NULL-terminated */
	unsigned int argc;
};

#define EXEC_PARSE_HELP 1
/*
 * arkvm exec's flags (@argv[0] "arkvm", @argv[1] "exec"): 0, EXEC_PARSE_HELP
 * (usage written to @out), or -EINVAL with one line on stderr.
 */
int exec_parse(int argc, char *const argv[], struct exec_opts *o, FILE *out);

/*
 * The VM @o asks for, with @initrd and the vsock socket @vsock_path, as
 * arkvm run's parser would build it: 0, or -EINVAL (one line said).
 */
int exec_vm_config(const struct exec_opts *o, const char *initrd, const char *vsock_path,
		   struct vm_config *cfg);

/*
 * The RUN for @o; strings point into @o, @scratch (for the mount items'
 * "TAG" and the shares' guest paths) must outlive @run.
 */
struct exec_run_scratch {
	char tags[EXEC_MAX_SHARES][8];
};
void exec_make_run(const struct exec_opts *o, struct exec_run *run,
		   struct exec_run_scratch *scratch);

/* The share tag of --share number @i ("s0"...) and of the root directory. */
#define EXEC_ROOT_TAG "root"
void exec_share_tag(unsigned int i, char tag[8]);

/* --- exec_initramfs.c: a cpio "newc" archive written to a file ---------- */

struct cpio_writer {
	int fd;
	u32 ino;
	u64 off;
	int err;                /* the first error: later calls do nothing */
};

void cpio_init(struct cpio_writer *w, int fd);
int cpio_add_dir(struct cpio_writer *w, const char *name, u32 mode);
int cpio_add_chardev(struct cpio_writer *w, const char *name, u32 mode, u32 major, u32 minor);
int cpio_add_data(struct cpio_writer *w, const char *name, u32 mode, const void *data,
		  size_t size);
/* A host file's contents, streamed. */
int cpio_add_file(struct cpio_writer *w, const char *name, u32 mode, const char *host_path);
/* Every directory leading to @path (say "lib/modules/kernel/fs"), once each. */
int cpio_add_parents(struct cpio_writer *w, const char *path, char *const *done,
		     unsigned int *nr_done, unsigned int max_done);
/* The trailer: 0, or the first error of any call. */
int cpio_finish(struct cpio_writer *w);

/* The agent, linked in at build time (empty in the native unit tests). */
extern const u8 exec_agent_image[];
extern const u64 exec_agent_size;

/*
 * The initramfs for exec into @fd: /init (@agent, @agent_size bytes),
 * /dev/console, and with @modules_dir its modules and /modules.list.
 * 0, or -errno with one line said.
 */
int exec_write_initramfs(int fd, const u8 *agent, size_t agent_size, const char *modules_dir);

/* --- exec_modules.c ------------------------------------------------------- */

#define EXEC_MAX_MODULES 64

struct exec_modlist {
	char *paths[EXEC_MAX_MODULES];   /* relative to the modules dir, load order */
	unsigned int nr;
};

/*
 * The modules @names need, from @dir (a /lib/modules/VERSION directory),
 * dependencies first: modules.dep when there is one (depmod's), else
 * modules.order and each module's own .modinfo "depends=".  Names not
 * found are skipped (built in, or not built).  0, or -errno.
 */
int exec_modules_resolve(const char *dir, const char *const *names, unsigned int nr_names,
			 struct exec_modlist *out);
void exec_modlist_free(struct exec_modlist *l);

/* --- exec_client.c ---------------------------------------------------------- */

struct exec_client {
	int sock;               /* the agent's stream, after the CONNECT line's OK */
	int in_fd;              /* the command's stdin; -1: none (EOF at once) */
	int out_fd, err_fd;
	int sig_fd;             /* one byte per signal arkvm got (a self-pipe); -1: none */
	int tty_fd;             /* --tty: the terminal whose size is sent; else -1 */
	const struct exec_run *run;
	u64 deadline_ns;        /* CLOCK_MONOTONIC; 0: no timeout */
	/* SIGCHLD came: true when the VM is gone (then the session is over). */
	bool (*vm_gone)(void *opaque);
	void *opaque;
	/* Results. */
	bool hello_seen;        /* the caller read the agent's HELLO already (--warm) */
	bool started;           /* the agent said STARTED */
	bool stop_vm;           /* the VM must be stopped (timeout, second SIGINT, error) */
	char err[256];          /* with EXEC_STATUS_ERROR: why */
};

/* Runs the session to its end: arkvm exec's exit status. */
int exec_client_run(struct exec_client *c);

/*
 * Connects to the vsock device's socket @uds and asks for the agent's
 * port, retrying while the guest boots, until @deadline_ns or until
 * @gone(@opaque) says the VM ended: the stream, or -errno.
 */
int exec_connect(const char *uds, u64 deadline_ns, bool (*gone)(void *), void *opaque);

u64 exec_now_ns(void);

/*
 * Reads the agent's HELLO from @sock (blocking until @deadline_ns):
 * 0, -EPROTO for anything else, -ETIMEDOUT, or -EPIPE.
 */
int exec_read_hello(int sock, u64 deadline_ns);

/* --- exec_warm.c ------------------------------------------------------------ */

#define EXEC_WARM_KEY_LEN 16

/*
 * The cache entry's name for the VM @cfg that @o makes, with @initrd
 * written: 0, or -errno when a file in it cannot be read.
 */
int exec_warm_key(const struct exec_opts *o, const struct vm_config *cfg, const char *initrd,
		  char key[EXEC_WARM_KEY_LEN + 1]);

struct exec_warm {
	char dir[CFG_MAX_PATH + 1];
	char key[EXEC_WARM_KEY_LEN + 1];
	char entry[CFG_MAX_PATH + 1], snap[CFG_MAX_PATH + 1], mem[CFG_MAX_PATH + 1];
	bool hit;               /* the entry is there: restore it */
};

/* The cache @dir (made if missing) and @key's entry in it: 0, or -errno (said). */
int exec_warm_open(struct exec_warm *w, const char *dir, const char key[EXEC_WARM_KEY_LEN + 1]);
/* The entry removed: it could not be restored. */
void exec_warm_drop(struct exec_warm *w);
/*
 * The running VM behind the API socket @api_sock paused, saved into the
 * entry, and resumed: 0, or -errno with one warning said (the run goes on
 * uncached).
 */
int exec_warm_save(struct exec_warm *w, const char *api_sock);
/*
 * One call to arkvm's API: 0 for a 2xx; else -errno with why (the
 * fault message) in @err.
 */
int exec_api_call(const char *sock_path, const char *method, const char *path, json_t *body,
		  char *err, size_t err_size);
void exec_rm_tree(const char *path);

/* --- exec_net.c: RUN's net= for --net user (passt's defaults) ----------------- */

#define EXEC_IFNAME_SIZE 16      /* IF_NAMESIZE */

/*
 * From /proc/net/route's text @route: the interface of the first IPv4
 * default route through a gateway, and the gateway (host byte order).
 * 0, or -ENETUNREACH when there is none.
 */
int exec_net_default_route(const char *route, char ifname[EXEC_IFNAME_SIZE], u32 *gw);
/* @ifname's first IPv4 address in @ifa (getifaddrs()'s list) and its prefix: 0 or -EADDRNOTAVAIL. */
int exec_net_if_addr(const struct ifaddrs *ifa, const char *ifname, u32 *addr,
		     unsigned int *prefix);
/*
 * resolv.conf's text @resolv: its IPv4 nameservers into @net, a loopback
 * one as the gateway @gw (where passt forwards DNS), without repeats,
 * at most EXEC_MAX_DNS.
 */
void exec_net_nameservers(const char *resolv, u32 gw, struct exec_net_config *net);
/* The three together into @net: 0, -ENETUNREACH, or -EADDRNOTAVAIL (nothing valid for net=). */
int exec_net_from(const char *route, const struct ifaddrs *ifa, const char *resolv,
		  struct exec_net_config *net);
/* The host's (/proc/net/route, getifaddrs(), /etc/resolv.conf): 0, or -errno with one line said. */
int exec_net_host(struct exec_net_config *net);
/*
 * RUN's net= for @o: with --net, the host's (0, or -errno with one line
 * said); without, none (0).  Called as the RUN is sent, not in
 * exec_make_run(), which stays a pure function of @o.
 */
int exec_net_stamp(const struct exec_opts *o, struct exec_run *run);

/* --- exec.c ------------------------------------------------------------------ */

/* What the child process runs: a boot of @cfg, or a restore. */
struct exec_launch {
	const struct vm_config *cfg;        /* the VM to boot (restore: NULL) */
	const char *api_sock;               /* boot: the API served there too (NULL: none) */
	const struct vmm_restore *restore;  /* restore: the snapshot and its overrides */
};

/*
 * arkvm exec; @run_vm builds and runs the VM (main.c's), in the child
 * process.  Returns the exit status.
 */
int exec_main(int argc, char **argv, int (*run_vm)(const struct exec_launch *l));

#endif
