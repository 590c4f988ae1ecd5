// SPDX-License-Identifier: Apache-2.0
/*
 * The API's request path as a client reaches it: a byte stream, read in
 * pieces, fed to http_conn_feed() the way the server's conn_ready() does,
 * each whole request answered by api_handle() against one struct vmm.
 *
 * The input: FZ_HDR bytes, then what the client sends.
 *   byte 0     bit 0: the start succeeds (else the main thread refuses it);
 *              bit 1: the running VM refuses device updates
 *   bytes 1-8  the sizes of successive reads, used in turn (0: 4096, a
 *              whole buffer of conn_ready()), so requests arrive split
 *              anywhere
 *
 * InstanceStart blocks the caller until the thread that owns the VM says
 * how the start went, and a running VM's PATCH waits for that thread's
 * answer through its command queue.  Nothing but another thread can end
 * either wait, so two threads stand in for the main thread, as the unit
 * tests' fake does: one answers starts, one serves the command queue.
 * They live as long as the process, so the vmm does too: each input
 * starts from a copy of a fresh one (fz_reset()), not from a new one a
 * thread could still be waiting on.
 *
 * PUT /logger and /metrics create and write the file they name, and the
 * fuzzer runs as whoever runs make: such a request is answered only when
 * its file is in FZ_OUT (or it names none), and FZ_OUT is emptied after
 * each input.  Kernels and drives are only stat()ed; FZ_DIR holds two
 * files for the seeds to name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "event_loop.h"
#include "fuzz.h"
#include "http.h"
#include "log.h"
#include "vm_state.h"
#include "vmm.h"

#define FZ_HDR      9
#define FZ_READ_MAX 4096
#define FZ_DIR      "/tmp/arkvm-fuzz-api"
#define FZ_OUT      FZ_DIR "/out/"

#define FZ_START_OK   (1u << 0)
#define FZ_UPDATE_BAD (1u << 1)

static struct {
	struct vmm *vmm;
	struct vmm *fresh;          /* what each input starts from */
	struct event_loop loop;
	struct vm_cmd_queue cmds;
	enum vm_state state;        /* the fake VM's, on the command thread */
	atomic_uint flags;          /* the input's byte 0 */
	bool wrote_files;
	bool trace;                 /* FUZZ_API_TRACE=1: each answer on stderr, for seeds */
} fz;

static int fake_handle(struct vm_cmd_queue *q, const struct vm_cmd *cmd)
{
	enum vm_state to;
	int ret;

	if (cmd->kind == VM_CMD_UPDATE)
		return atomic_load(&fz.flags) & FZ_UPDATE_BAD ? -EIO : 0;
	ret = vm_state_next(fz.state, cmd->kind, &to);
	if (!ret)
		fz.state = to;
	return ret;
}

/* The main thread's part of InstanceStart, for as long as the process lives. */
static void *fake_starter(void *arg)
{
	for (;;) {
		vmm_wait_start(fz.vmm);
		if (atomic_load(&fz.flags) & FZ_START_OK) {
			/* The command thread reads it only after the API saw the start. */
			fz.state = VM_STATE_RUNNING;
			vmm_started(fz.vmm, &fz.cmds, NULL);
		} else {
			vmm_start_failed(fz.vmm, "fuzz: the start fails");
		}
	}
	return NULL;
}

static void *fake_cmd_thread(void *arg)
{
	event_loop_run(&fz.loop);
	return NULL;
}

static void make_fixture(const char *path)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pthread_t t;

	/* Reproducible hashes: the same input, the same answers. */
	json_object_seed(1);
	fz.trace = getenv("FUZZ_API_TRACE");
	mkdir(FZ_DIR, 0700);
	mkdir(FZ_OUT, 0700);
	make_fixture(FZ_DIR "/vmlinux.bin");
	make_fixture(FZ_DIR "/rootfs.ext4");
	fz.vmm = vmm_alloc();
	fz.fresh = vmm_alloc();
	if (!fz.vmm || !fz.fresh || event_loop_init(&fz.loop) ||
	    vm_cmd_queue_init(&fz.cmds, &fz.loop, fake_handle) ||
	    pthread_create(&t, NULL, fake_starter, NULL) ||
	    pthread_create(&t, NULL, fake_cmd_thread, NULL))
		abort();
	return 0;
}

/* The file a PUT /logger or /metrics body names is FZ_OUT's, or absent. */
static bool file_allowed(const struct http_request *req)
{
	const char *key = NULL, *path, *name;
	json_t *body;
	bool ok = true;

	if (req->error || req->method != HTTP_PUT)
		return true;
	if (!strncmp(req->path, "/logger", 7))
		key = "log_path";
	else if (!strncmp(req->path, "/metrics", 8))
		key = "metrics_path";
	if (!key)
		return true;
	body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
	path = json_string_value(json_object_get(body, key));
	if (path && path[0]) {
		name = path + strlen(FZ_OUT);
		ok = !strncmp(path, FZ_OUT, strlen(FZ_OUT)) && name[0] && !strchr(name, '/') &&
		     strcmp(name, ".") && strcmp(name, "..");
		fz.wrote_files |= ok;
	}
	json_decref(body);
	return ok;
}

/* conn_answer(): the answer is formatted as the server would send it. */
static bool answer(const struct http_request *req)
{
	char *body = NULL, *out;
	int status = 400;

	if (file_allowed(req))
		status = api_handle(fz.vmm, req, &body);
	if (fz.trace)
		fprintf(stderr, "%s %s -> %d %s\n", http_method_str(req->method), req->path, status,
			body ? body : "");
	if (http_format_response(status, body, &out) >= 0)
		free(out);
	free(body);
	return req->keep_alive && !req->error;
}

/* conn_ready()'s loop over one read. */
static bool feed(struct http_conn *c, const char *buf, size_t n)
{
	size_t off = 0, used;
	bool open = true;

	while (off < n && open) {
		switch (http_conn_feed(c, buf + off, n - off, &used)) {
		case HTTP_FEED_REQUEST:
			open = answer(&c->req);
			http_conn_next(c);
			break;
		case HTTP_FEED_BAD:
			open = false;
			break;
		case HTTP_FEED_MORE:
			break;
		}
		off += used;
	}
	return open;
}

static void empty_out_dir(void)
{
	DIR *d = opendir(FZ_OUT);
	struct dirent *de;

	while (d && (de = readdir(d)))
		unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
}

/* Back to a VMM that was never configured, and arkvm's own logger. */
static void fz_reset(void)
{
	struct vmm *v = fz.vmm;

	pthread_mutex_lock(&v->lock);
	*v->cfg = *fz.fresh->cfg;
	*v->boot_cfg = *fz.fresh->boot_cfg;
	v->opts = fz.fresh->opts;
	v->phase = VMM_NOT_STARTED;
	v->paused = false;
	v->start_error[0] = '\0';
	v->cmds = NULL;
	v->vm = NULL;
	pthread_mutex_unlock(&v->lock);
	metrics_close(&v->metrics);
	metrics_init(&v->metrics);
	log_open(&log_default_config, NULL);
	if (fz.wrote_files)
		empty_out_dir();
	fz.wrote_files = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	u8 hdr[FZ_HDR] = { 0 };
	struct http_conn c;

	fz_copy(&in, hdr, sizeof(hdr));
	atomic_store(&fz.flags, hdr[0]);
	http_conn_init(&c, fz.vmm->opts.max_payload);
	for (unsigned int i = 0; in.n; i++) {
		size_t n = hdr[1 + i % (FZ_HDR - 1)];
		char *buf;
		bool open;

		/* A buffer of its own, so that ASan sees a read past this piece. */
		n = MIN(n ? n : FZ_READ_MAX, in.n);
		buf = malloc(n);
		if (!buf)
			break;
		fz_copy(&in, buf, n);
		open = feed(&c, buf, n);
		free(buf);
		if (!open)
			break;
	}
	http_conn_destroy(&c);
	fz_reset();
	return 0;
}
