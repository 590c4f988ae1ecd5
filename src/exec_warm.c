// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm exec --warm CACHE_DIR: a snapshot of the VM at the moment its
 * agent waits for a command, taken by the first run and restored by the
 * next ones instead of a boot.
 *
 * The cache holds one directory per machine, named by a hash of what the
 * guest has seen by that moment: arkvm's version, the kernel (its path and
 * the identity of its file), the initramfs's bytes (agent and modules),
 * the machine (vCPUs, memory, NICs, the number of shares) and the root (a
 * directory's or an image's path and file identity).  The shares' host
 * directories are not in it: the guest has mounted nothing yet, so a
 * restore hands the shares of its own run to the restored devices.
 *
 * Concurrent runs: an entry is written in a directory of its own
 * (.tmp.KEY.PID) and renamed into place whole, so a reader sees all of
 * it or nothing; of two runs that save the same entry, the second's
 * rename fails and it drops its copy.  Restores only read (the memory
 * file is mapped private).  A temporary directory whose process is gone
 * (SIGKILL) is removed by the next run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <http_parser.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "exec.h"
#include "log.h"

#define TMP_PREFIX ".tmp."
#define API_TIMEOUT_MS 120000           /* a snapshot of a large guest under emulation */

/* FNV-1a, 64 bits: a name for the entry, not a defence (the cache is the user's). */
static void hash_bytes(u64 *h, const void *data, size_t len)
{
	const u8 *p = data;

	for (size_t i = 0; i < len; i++) {
		*h ^= p[i];
		*h *= 0x100000001b3ull;
	}
}

static void hash_str(u64 *h, const char *s)
{
	hash_bytes(h, s, strlen(s) + 1);
}

static void hash_u64(u64 *h, u64 v)
{
	hash_bytes(h, &v, sizeof(v));
}

/* A file by path and identity: replaced or changed, it is another. */
static int hash_file_id(u64 *h, const char *path, bool contents_matter)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	hash_str(h, path);
	hash_u64(h, st.st_dev);
	hash_u64(h, st.st_ino);
	if (contents_matter) {
		hash_u64(h, (u64)st.st_size);
		hash_u64(h, (u64)st.st_mtim.tv_sec);
		hash_u64(h, (u64)st.st_mtim.tv_nsec);
		hash_u64(h, (u64)st.st_ctim.tv_sec);
		hash_u64(h, (u64)st.st_ctim.tv_nsec);
	}
	return 0;
}

static int hash_file_bytes(u64 *h, const char *path)
{
	u8 buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		hash_bytes(h, buf, (size_t)n);
	close(fd);
	return n < 0 ? -EIO : 0;
}

int exec_warm_key(const struct exec_opts *o, const struct vm_config *cfg, const char *initrd,
		  char key[EXEC_WARM_KEY_LEN + 1])
{
	u64 h = 0xcbf29ce484222325ull;
	int ret;

	hash_str(&h, "arkvm exec warm " ARKVM_VERSION);
	ret = hash_file_id(&h, cfg->kernel, true);
	if (!ret)
		ret = hash_file_bytes(&h, initrd);
	if (!ret && o->rootfs)
		ret = hash_file_id(&h, o->rootfs, false);
	if (!ret && o->image)
		ret = hash_file_id(&h, o->image, true);
	if (ret)
		return ret;
	hash_str(&h, cfg->cmdline);
	hash_u64(&h, cfg->nr_cpus);
	hash_u64(&h, cfg->mem_size);
	hash_u64(&h, cfg->nr_shares);
	hash_str(&h, o->net ? o->net : "");
	snprintf(key, EXEC_WARM_KEY_LEN + 1, "%016llx", (unsigned long long)h);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void exec_rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* .tmp.KEY.PID of a run that died before it renamed its entry. */
static void remove_stale_tmp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *dot = strrchr(e->d_name, '.');
		char path[CFG_MAX_PATH + 1], *end;
		long pid;

		if (strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) || !dot)
			continue;
		pid = strtol(dot + 1, &end, 10);
		if (*end || pid <= 0 || !kill((pid_t)pid, 0) || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			exec_rm_tree(path);
	}
	closedir(d);
}

static bool is_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

/* DIR/NAME into @out: 0, or -ENAMETOOLONG. */
static int path_join(char *out, size_t size, const char *dir, const char *name)
{
	size_t ld = strlen(dir), ln = strlen(name);

	if (ld + 1 + ln >= size)
		return -ENAMETOOLONG;
	memmove(out, dir, ld);
	out[ld] = '/';
	memcpy(out + ld + 1, name, ln + 1);
	return 0;
}

static int set_paths(struct exec_warm *w, const char *entry)
{
	if (path_join(w->entry, sizeof(w->entry), w->dir, entry) ||
	    path_join(w->snap, sizeof(w->snap), w->entry, "vm.snap") ||
	    path_join(w->mem, sizeof(w->mem), w->entry, "vm.mem"))
		return -ENAMETOOLONG;
	return 0;
}

int exec_warm_open(struct exec_warm *w, const char *dir, const char key[EXEC_WARM_KEY_LEN + 1])
{
	struct stat st;

	memset(w, 0, sizeof(*w));
	if (strlen(dir) >= sizeof(w->dir) - EXEC_WARM_KEY_LEN - 32) {
		pr_err("exec: --warm '%s': path too long", dir);
		return -ENAMETOOLONG;
	}
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	snprintf(w->key, sizeof(w->key), "%s", key);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_err("exec: --warm '%s': %s", dir, strerror(errno));
		return -errno;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		pr_err("exec: --warm '%s': not a directory", dir);
		return -ENOTDIR;
	}
	remove_stale_tmp(dir);
	set_paths(w, key);
	w->hit = is_file(w->snap) && is_file(w->mem);
	return 0;
}

void exec_warm_drop(struct exec_warm *w)
{
	exec_rm_tree(w->entry);
	w->hit = false;
}

/* --- a client for arkvm's own API, enough for three calls ------------------ */

struct api_reply {
	int status;
	char body[512];
	size_t len;
	bool done;
};

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct api_reply *r = p->data;
	size_t room = sizeof(r->body) - 1 - r->len;

	len = MIN(len, room);
	memcpy(r->body + r->len, at, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

static int on_complete(http_parser *p)
{
	struct api_reply *r = p->data;

	r->status = (int)p->status_code;
	r->done = true;
	return 0;
}

static int api_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(s);
		return err;
	}
	return s;
}

static int api_read_reply(int s, struct api_reply *r)
{
	static const http_parser_settings settings = {
		.on_body = on_body, .on_message_complete = on_complete,
	};
	http_parser parser;
	char buf[2048];

	http_parser_init(&parser, HTTP_RESPONSE);
	parser.data = r;
	while (!r->done) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, API_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		n = read(s, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		if (http_parser_execute(&parser, &settings, buf, (size_t)n) != (size_t)n)
			return -EPROTO;
	}
	return 0;
}

/* A refusal's fault_message, or its body as it came. */
static void fault_message(const struct api_reply *r, const char *method, const char *path,
			  char *err, size_t err_size)
{
	json_t *j = json_loads(r->body, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "fault_message"));

	snprintf(err, err_size, "%s %s: %d: %s", method, path, r->status, msg ? msg : r->body);
	json_decref(j);
}

/*
 * One request to the API at @sock_path with @body (JSON): 0 for a 2xx,
 * else -EIO with the reply's fault message (or why there was none) in @err.
 */
int exec_api_call(const char *sock_path, const char *method, const char *path, json_t *body,
		  char *err, size_t err_size)
{
	struct api_reply r = { 0 };
	char *text = json_dumps(body, JSON_COMPACT);
	int s = api_connect(sock_path), ret = -ENOMEM;

	if (s < 0) {
		snprintf(err, err_size, "the API socket: %s", strerror(-s));
		free(text);
		return s;
	}
	if (text && dprintf(s, "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
			    "Content-Length: %zu\r\n\r\n%s", method, path, strlen(text), text) < 0)
		ret = -errno;
	else if (text)
		ret = api_read_reply(s, &r);
	close(s);
	free(text);
	if (ret) {
		snprintf(err, err_size, "%s %s: %s", method, path, strerror(-ret));
		return ret;
	}
	if (r.status / 100 == 2)
		return 0;
	fault_message(&r, method, path, err, err_size);
	return -EIO;
}

static int api_state(const char *sock, const char *state, char *err, size_t err_size)
{
	json_t *body = json_pack("{s:s}", "state", state);
	int ret = body ? exec_api_call(sock, "PATCH", "/vm", body, err, err_size) : -ENOMEM;

	json_decref(body);
	return ret;
}

/* Paused, saved, resumed: the running VM goes on either way. */
static int snapshot_vm(const char *api_sock, const char *snap, const char *mem, char *err,
		       size_t err_size)
{
	json_t *body;
	int ret = api_state(api_sock, "Paused", err, err_size);

	if (ret)
		return ret;
	body = json_pack("{s:s,s:s,s:s}", "snapshot_type", "Full", "snapshot_path", snap,
			 "mem_file_path", mem);
	ret = body ? exec_api_call(api_sock, "PUT", "/snapshot/create", body, err, err_size) :
		-ENOMEM;
	json_decref(body);
	if (api_state(api_sock, "Resumed", ret ? NULL : err, ret ? 0 : err_size) && !ret)
		ret = -EIO;
	return ret;
}

int exec_warm_save(struct exec_warm *w, const char *api_sock)
{
	char tmp[sizeof(w->entry) + 32], snap[sizeof(tmp) + 16], mem[sizeof(tmp) + 16];
	char err[768];
	int ret;

	snprintf(tmp, sizeof(tmp), "%s/" TMP_PREFIX "%s.%d", w->dir, w->key, (int)getpid());
	snprintf(snap, sizeof(snap), "%s/vm.snap", tmp);
	snprintf(mem, sizeof(mem), "%s/vm.mem", tmp);
	if (mkdir(tmp, 0700)) {
		pr_warn("exec: --warm: not cached: %s: %s", tmp, strerror(errno));
		return -errno;
	}
	ret = snapshot_vm(api_sock, snap, mem, err, sizeof(err));
	if (ret) {
		pr_warn("exec: --warm: not cached: %s", err);
	} else if (rename(tmp, w->entry)) {
		/* Another run saved the same machine first: its entry serves. */
		if (errno != EEXIST && errno != ENOTEMPTY)
			pr_warn("exec: --warm: not cached: %s: %s", w->entry, strerror(errno));
	}
	exec_rm_tree(tmp);
	return ret;
}
