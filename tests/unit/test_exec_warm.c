// SPDX-License-Identifier: Apache-2.0
/*
 * arkvm exec --warm's cache (src/exec_warm.c): the key follows what the
 * guest has seen, an entry appears whole or not at all, a racing run's
 * copy is dropped, a dead run's temporary directory is removed, and the
 * API calls that fill it say the fault message of a refusal.  The API is
 * a fake server on a unix socket that creates the snapshot's files.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "test.h"

struct fake_api {
	char path[256];
	int lfd;
	pthread_t thread;
	int status;                 /* the reply to PUT /snapshot/create */
	char calls[8][96];          /* "METHOD PATH" of each request */
	unsigned int nr_calls;
	char state[16];             /* the last PATCH /vm's */
};

static void make_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs("x", f);
		fclose(f);
	}
}

/* Reads one request; the headers' Content-Length says how much body. */
static bool read_request(int fd, char *method, char *target, char *body, size_t size)
{
	char buf[8192];
	size_t have = 0, clen = 0;
	char *end = NULL, *cl;

	while (!end || have < (size_t)(end - buf) + 4 + clen) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			return false;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		cl = strcasestr(buf, "Content-Length: ");
		if (cl)
			clen = strtoul(cl + 16, NULL, 10);
	}
	sscanf(buf, "%15s %63s", method, target);
	snprintf(body, size, "%.*s", (int)clen, end + 4);
	return true;
}

static void answer(int fd, int status, const char *body)
{
	dprintf(fd, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n%s", status, strlen(body), body);
}

static void *fake_api_thread(void *opaque)
{
	struct fake_api *a = opaque;
	int fd;

	while ((fd = accept(a->lfd, NULL, NULL)) >= 0) {
		char method[16] = "", target[64] = "", body[4096];
		json_t *j;

		if (!read_request(fd, method, target, body, sizeof(body))) {
			close(fd);
			continue;
		}
		if (a->nr_calls < 8)
			snprintf(a->calls[a->nr_calls++], sizeof(a->calls[0]), "%s %s", method,
				 target);
		j = json_loads(body, 0, NULL);
		if (!strcmp(target, "/vm")) {
			snprintf(a->state, sizeof(a->state), "%s",
				 json_string_value(json_object_get(j, "state")));
			answer(fd, 204, "");
		} else if (a->status == 204) {
			make_file(json_string_value(json_object_get(j, "snapshot_path")));
			make_file(json_string_value(json_object_get(j, "mem_file_path")));
			answer(fd, 204, "");
		} else {
			answer(fd, a->status, "{\"fault_message\": \"no room\"}");
		}
		json_decref(j);
		close(fd);
	}
	return NULL;
}

static void fake_api_start(struct fake_api *a, const char *dir, int status)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(a, 0, sizeof(*a));
	a->status = status;
	snprintf(a->path, sizeof(a->path), "%s/api", dir);
	CHECK(strlen(a->path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, a->path, strlen(a->path) + 1);
	a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(a->lfd >= 0);
	CHECK(!bind(a->lfd, (struct sockaddr *)&sa, sizeof(sa)));
	CHECK(!listen(a->lfd, 4));
	CHECK(!pthread_create(&a->thread, NULL, fake_api_thread, a));
}

static void fake_api_stop(struct fake_api *a)
{
	shutdown(a->lfd, SHUT_RDWR);
	pthread_join(a->thread, NULL);
	close(a->lfd);
	unlink(a->path);
}

static char tmp[256];

static void setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/arkvm-test-warm-XXXXXX");
	CHECK(mkdtemp(tmp));
}

static void key_of(const struct exec_opts *o, const struct vm_config *cfg, const char *initrd,
		   char key[EXEC_WARM_KEY_LEN + 1])
{
	CHECK_EQ(exec_warm_key(o, cfg, initrd, key), 0);
	CHECK_EQ(strlen(key), EXEC_WARM_KEY_LEN);
}

/* The key changes with each thing the guest has seen, and only with those. */
static void test_key(void)
{
	static struct vm_config cfg;
	struct exec_opts o = { 0 };
	char k0[EXEC_WARM_KEY_LEN + 1], k1[EXEC_WARM_KEY_LEN + 1], kernel[300], initrd[300];
	char root[300];

	setup();
	snprintf(kernel, sizeof(kernel), "%s/Image", tmp);
	snprintf(initrd, sizeof(initrd), "%s/initrd", tmp);
	snprintf(root, sizeof(root), "%s/root", tmp);
	make_file(kernel);
	make_file(initrd);
	CHECK(!mkdir(root, 0700));
	vm_config_init(&cfg);
	snprintf(cfg.kernel, sizeof(cfg.kernel), "%s", kernel);
	cfg.nr_cpus = 1;
	cfg.mem_size = 256 << 20;
	o.rootfs = root;
	key_of(&o, &cfg, initrd, k0);
	key_of(&o, &cfg, initrd, k1);
	CHECK(!strcmp(k0, k1));
	cfg.nr_cpus = 2;
	key_of(&o, &cfg, initrd, k1);
	CHECK(strcmp(k0, k1));
	cfg.nr_cpus = 1;
	cfg.mem_size = 512 << 20;
	key_of(&o, &cfg, initrd, k1);
	CHECK(strcmp(k0, k1));
	cfg.mem_size = 256 << 20;
	cfg.nr_shares = 1;                      /* one more virtio-fs device */
	key_of(&o, &cfg, initrd, k1);
	CHECK(strcmp(k0, k1));
	cfg.nr_shares = 0;
	/* Another initramfs (a module more), or a rebuilt kernel. */
	FILE *f = fopen(initrd, "a");
	fputs("y", f);
	fclose(f);
	key_of(&o, &cfg, initrd, k1);
	CHECK(strcmp(k0, k1));
	unlink(initrd);
	make_file(initrd);
	key_of(&o, &cfg, initrd, k1);
	CHECK(!strcmp(k0, k1));
	unlink(kernel);
	make_file(kernel);                      /* a new file: another inode or ctime */
	key_of(&o, &cfg, initrd, k1);
	CHECK(strcmp(k0, k1));
	/* A root that is not there: no key. */
	o.rootfs = "/nonexistent/root";
	CHECK_EQ(exec_warm_key(&o, &cfg, initrd, k1), -ENOENT);
	exec_rm_tree(tmp);
}

/* Saved: the API saw pause, create, resume, and the entry is in place whole. */
static void test_save_and_hit(void)
{
	struct fake_api api;
	struct exec_warm w;
	char cache[300], path[400];

	setup();
	snprintf(cache, sizeof(cache), "%s/cache", tmp);
	CHECK_EQ(exec_warm_open(&w, cache, "0123456789abcdef"), 0);
	CHECK(!w.hit);
	fake_api_start(&api, tmp, 204);
	CHECK_EQ(exec_warm_save(&w, api.path), 0);
	fake_api_stop(&api);
	CHECK_EQ(api.nr_calls, 3);
	CHECK(!strcmp(api.calls[0], "PATCH /vm"));
	CHECK(!strcmp(api.calls[1], "PUT /snapshot/create"));
	CHECK(!strcmp(api.calls[2], "PATCH /vm"));
	CHECK(!strcmp(api.state, "Resumed"));
	CHECK_EQ(exec_warm_open(&w, cache, "0123456789abcdef"), 0);
	CHECK(w.hit);
	snprintf(path, sizeof(path), "%s/0123456789abcdef/vm.snap", cache);
	CHECK(!access(path, F_OK));
	/* A racing run that saved the same machine: its copy goes, the entry stays. */
	fake_api_start(&api, tmp, 204);
	CHECK_EQ(exec_warm_save(&w, api.path), 0);
	fake_api_stop(&api);
	CHECK_EQ(exec_warm_open(&w, cache, "0123456789abcdef"), 0);
	CHECK(w.hit);
	/* Only the entry: no temporary directory left. */
	snprintf(path, sizeof(path), "%s/.tmp.0123456789abcdef.%d", cache, (int)getpid());
	CHECK(access(path, F_OK));
	exec_warm_drop(&w);
	CHECK(!w.hit);
	CHECK_EQ(exec_warm_open(&w, cache, "0123456789abcdef"), 0);
	CHECK(!w.hit);
	exec_rm_tree(tmp);
}

/* A refused snapshot: nothing cached, the VM resumed, the fault message said. */
static void test_refused(void)
{
	struct fake_api api;
	struct exec_warm w;
	char cache[300], err[256];

	setup();
	snprintf(cache, sizeof(cache), "%s/cache", tmp);
	CHECK_EQ(exec_warm_open(&w, cache, "00000000000000aa"), 0);
	fake_api_start(&api, tmp, 400);
	CHECK_EQ(exec_warm_save(&w, api.path), -EIO);
	json_t *body = json_pack("{s:s}", "snapshot_type", "Full");
	CHECK_EQ(exec_api_call(api.path, "PUT", "/snapshot/create", body, err, sizeof(err)),
		 -EIO);
	json_decref(body);
	CHECK(strstr(err, "400") && strstr(err, "no room"));
	/* The server's thread is joined before its record is read. */
	fake_api_stop(&api);
	CHECK_EQ(api.nr_calls, 4);
	CHECK(!strcmp(api.calls[2], "PATCH /vm"));
	CHECK(!strcmp(api.state, "Resumed"));
	CHECK_EQ(exec_warm_open(&w, cache, "00000000000000aa"), 0);
	CHECK(!w.hit);
	/* No API at all. */
	CHECK(exec_warm_save(&w, api.path) < 0);
	exec_rm_tree(tmp);
}

/* A run killed while saving left .tmp.KEY.PID: the next run removes it, not a live one's. */
static void test_stale_tmp_removed(void)
{
	struct exec_warm w;
	char cache[300], dead[400], live[400];
	pid_t pid = fork();

	if (!pid)
		_exit(0);
	CHECK(pid > 0);
	waitpid(pid, NULL, 0);
	setup();
	snprintf(cache, sizeof(cache), "%s/cache", tmp);
	CHECK(!mkdir(cache, 0700));
	snprintf(dead, sizeof(dead), "%s/.tmp.00000000000000bb.%d", cache, (int)pid);
	snprintf(live, sizeof(live), "%s/.tmp.00000000000000bb.%d", cache, (int)getpid());
	CHECK(!mkdir(dead, 0700) && !mkdir(live, 0700));
	CHECK_EQ(exec_warm_open(&w, cache, "00000000000000bb"), 0);
	CHECK(access(dead, F_OK));
	CHECK(!access(live, F_OK));
	/* A file where the cache should be. */
	snprintf(dead, sizeof(dead), "%s/file", tmp);
	make_file(dead);
	CHECK_EQ(exec_warm_open(&w, dead, "00000000000000bb"), -ENOTDIR);
	exec_rm_tree(tmp);
}

TEST_SUITE(exec_warm,
	   TEST(test_key),
	   TEST(test_save_and_hit),
	   TEST(test_refused),
	   TEST(test_stale_tmp_removed));
