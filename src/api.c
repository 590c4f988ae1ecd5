// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker's REST API: the routes and Firecracker's rules for what each
 * answers (src/api_server.c is the unix-socket server that feeds them).
 * Requests are answered one at a time, in the order they arrive, as
 * Firecracker does.
 *
 * Rules clients depend on: 204 with no body for a change, 200 with JSON
 * for a read, and 400 with {"fault_message": ...} for anything refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "cli.h"
#include "fc_config.h"
#include "fc_json.h"
#include "log.h"
#include "sandbox.h"
#include "snapshot.h"
#include "virtio_balloon.h"
#include "vm_state.h"
#include "vmm.h"

#define FC_API_VERSION "1.10.0"

static const char after_start[] =
	"The requested operation is not supported after starting the microVM.";
static const char before_start[] =
	"The requested operation is not supported before starting the microVM.";

/* What a handler answers: a status and, for 200 and 400, a body. */
struct reply {
	int status;
	json_t *json;
};

static int ok(struct reply *r)
{
	r->status = 204;
	return 0;
}

static int ok_json(struct reply *r, json_t *json)
{
	if (!json) {
		r->status = 500;
		return 0;
	}
	r->status = 200;
	r->json = json;
	return 0;
}

static __printf(2, 3) int fault(struct reply *r, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = 400;
	r->json = json_pack("{s:s}", "fault_message", msg);
	return 0;
}

static bool started(const struct vmm *vmm)
{
	return vmm->phase != VMM_NOT_STARTED;
}

/* A file the VM will open: it exists, is a regular file or block device, and may be opened so. */
static int check_file(const char *path, bool write, struct reply *r, const char *what)
{
	struct stat st;

	if (stat(path, &st))
		return fault(r, "%s '%s': %s", what, path, strerror(errno)), -1;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return fault(r, "%s '%s': not a regular file", what, path), -1;
	if (access(path, write ? R_OK | W_OK : R_OK))
		return fault(r, "%s '%s': %s", what, path, strerror(errno)), -1;
	return 0;
}

/* A Uffd backend's path: a unix socket that a page server listens on. */
static int check_socket(const char *path, struct reply *r)
{
	struct stat st;

	if (stat(path, &st))
		return fault(r, "mem_backend.backend_path '%s': %s", path, strerror(errno)), -1;
	if (!S_ISSOCK(st.st_mode))
		return fault(r, "mem_backend.backend_path '%s': not a unix socket (the Uffd "
			     "backend's page server listens there)", path), -1;
	return 0;
}

/* The tap exists in this network namespace. */
static int check_tap(const char *name, struct reply *r)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return fault(r, "network interface '%s': %s", name, strerror(errno)), -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ret = ioctl(fd, SIOCGIFINDEX, &ifr);
	close(fd);
	if (ret)
		return fault(r, "host_dev_name '%s': no such network interface", name), -1;
	return 0;
}

/* ---- the handlers: each runs with vmm->lock held ---- */

static int get_instance(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	const char *state = "Not started";

	if (vmm->phase == VMM_RUNNING || vmm->phase == VMM_STOPPED)
		state = vmm->paused ? "Paused" : "Running";
	return ok_json(r, json_pack("{s:s, s:s, s:s, s:s}", "id", vmm->opts.id, "state", state,
				    "vmm_version", FC_API_VERSION, "app_name", "arkvm"));
}

static int get_version(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	return ok_json(r, json_pack("{s:s}", "firecracker_version", FC_API_VERSION));
}

static int get_machine_config(struct vmm *vmm, const char *id, const json_t *body,
			      struct reply *r)
{
	return ok_json(r, fc_dump_machine_config(vmm->cfg));
}

static int get_vm_config(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	return ok_json(r, fc_dump_config(vmm->cfg, &vmm->opts));
}

/*
 * A PUT before the start: @apply reads the body into a copy of the config,
 * then @check looks at the host (a file, a tap) for what it names.  Only
 * when both agree does the copy replace the config: a refused request
 * changes nothing, not even the drive or NIC it would have replaced.
 */
struct put_ops {
	int (*apply)(struct vm_config *c, const json_t *body, const char *id, struct fc_error *e);
	int (*check)(const struct vm_config *c, const char *id, struct reply *r);  /* optional */
};

static int put_config(struct vmm *vmm, const char *id, const json_t *body, struct reply *r,
		      const struct put_ops *ops)
{
	struct vm_config *c;
	struct fc_error e;

	if (started(vmm))
		return fault(r, after_start);
	c = malloc(sizeof(*c));
	if (!c)
		return fault(r, "out of memory");
	*c = *vmm->cfg;
	if (ops->apply(c, body, id, &e)) {
		fault(r, "%s", e.msg);
	} else if (!ops->check || !ops->check(c, id, r)) {
		*vmm->cfg = *c;
		vmm->configured = true;
		ok(r);
	}
	free(c);
	return 0;
}

static int apply_machine(struct vm_config *c, const json_t *body, const char *id,
			 struct fc_error *e)
{
	return fc_put_machine_config(c, body, false, e);
}

static int apply_machine_patch(struct vm_config *c, const json_t *body, const char *id,
			       struct fc_error *e)
{
	return fc_put_machine_config(c, body, true, e);
}

static int apply_boot_source(struct vm_config *c, const json_t *body, const char *id,
			     struct fc_error *e)
{
	return fc_put_boot_source(c, body, e);
}

static int check_boot_source(const struct vm_config *c, const char *id, struct reply *r)
{
	if (check_file(c->kernel, false, r, "kernel_image_path"))
		return -1;
	return c->initrd[0] ? check_file(c->initrd, false, r, "initrd_path") : 0;
}

static int check_drive(const struct vm_config *c, const char *id, struct reply *r)
{
	const struct disk_config *d = &c->disks[fc_find_drive(c, id)];

	return check_file(d->path, !d->readonly, r, "path_on_host");
}

static int check_net(const struct vm_config *c, const char *id, struct reply *r)
{
	return check_tap(c->nets[fc_find_net(c, id)].tap, r);
}

static int apply_entropy(struct vm_config *c, const json_t *body, const char *id,
			 struct fc_error *e)
{
	return fc_put_entropy(c, body, e);
}

static int apply_vsock(struct vm_config *c, const json_t *body, const char *id,
		       struct fc_error *e)
{
	return fc_put_vsock(c, body, e);
}

static int fc_put_balloon_api(struct vm_config *c, const json_t *body, const char *id,
			      struct fc_error *e)
{
	return fc_put_balloon(c, body, e);
}

#define PUT_HANDLER(name, apply_fn, check_fn)                                        \
	static int name(struct vmm *vmm, const char *id, const json_t *body,         \
			struct reply *r)                                              \
	{                                                                            \
		static const struct put_ops ops = { apply_fn, check_fn };            \
		return put_config(vmm, id, body, r, &ops);                           \
	}

PUT_HANDLER(put_machine, apply_machine, NULL)
PUT_HANDLER(patch_machine, apply_machine_patch, NULL)
PUT_HANDLER(put_boot_source, apply_boot_source, check_boot_source)
PUT_HANDLER(put_drive, fc_put_drive, check_drive)
PUT_HANDLER(put_net, fc_put_net, check_net)
PUT_HANDLER(put_entropy, apply_entropy, NULL)
PUT_HANDLER(put_vsock, apply_vsock, NULL)
PUT_HANDLER(put_balloon, fc_put_balloon_api, NULL)
PUT_HANDLER(put_share, fc_put_share, NULL)

/* PATCH /drives and /network-interfaces: the VM's device takes it, then the config. */
static int update_device(struct vmm *vmm, const char *cls, const char *id, const void *cfg,
			 struct reply *r)
{
	struct vm_update u = { .class_name = cls, .id = id, .cfg = cfg };
	int ret = vm_cmd_queue_call_data(vmm->cmds, VM_CMD_UPDATE, 0, &u);

	if (ret)
		return fault(r, "Unable to patch the device %s: %s", id, strerror(-ret)), -1;
	return 0;
}

static int patch_drive(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	struct disk_config d;
	struct fc_error e;
	int i;

	if (!started(vmm))
		return fault(r, before_start);
	i = fc_find_drive(vmm->cfg, id ? id : "");
	if (i < 0)
		return fault(r, "No drive with id '%s'.", id ? id : "");
	d = vmm->cfg->disks[i];
	if (fc_patch_drive(&d, body, id, &e))
		return fault(r, "%s", e.msg);
	if (check_file(d.path, !d.readonly, r, "path_on_host") ||
	    update_device(vmm, "virtio-blk", id, &d, r))
		return 0;
	vmm->cfg->disks[i] = d;
	return ok(r);
}

static int patch_net(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	struct net_config n;
	struct fc_error e;
	int i;

	if (!started(vmm))
		return fault(r, before_start);
	i = fc_find_net(vmm->cfg, id ? id : "");
	if (i < 0)
		return fault(r, "No network interface with id '%s'.", id ? id : "");
	n = vmm->cfg->nets[i];
	if (fc_patch_net(&n, body, id, &e))
		return fault(r, "%s", e.msg);
	if (update_device(vmm, "virtio-net", id, &n, r))
		return 0;
	vmm->cfg->nets[i] = n;
	return ok(r);
}

/* ---- the balloon ---- */

static const char no_balloon[] = "No balloon device configured: PUT /balloon before the start.";

static int get_balloon(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	if (!vmm->cfg->balloon.enabled)
		return fault(r, no_balloon);
	return ok_json(r, fc_dump_balloon(&vmm->cfg->balloon));
}

/*
 * A change to a running balloon goes through the main thread, which may
 * re-arm the statistics timer; before the start it is only the config's.
 */
static int change_balloon(struct vmm *vmm, const struct balloon_config *b, struct reply *r)
{
	struct fc_error e;

	if (started(vmm) && update_device(vmm, "virtio-balloon", "virtio-balloon", b, r))
		return 0;
	if (!started(vmm)) {
		struct vm_config *c = malloc(sizeof(*c));
		int ret;

		if (!c)
			return fault(r, "out of memory");
		*c = *vmm->cfg;
		c->balloon = *b;
		ret = fc_check_config(c, &e);
		free(c);
		if (ret)
			return fault(r, "%s", e.msg);
	}
	vmm->cfg->balloon = *b;
	return ok(r);
}

static int patch_balloon(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	struct balloon_config b = vmm->cfg->balloon;
	struct fc_error e;

	if (!b.enabled)
		return fault(r, no_balloon);
	if (fc_patch_balloon(&b, body, &e))
		return fault(r, "%s", e.msg);
	return change_balloon(vmm, &b, r);
}

static int get_balloon_stats(struct vmm *vmm, const char *id, const json_t *body,
			     struct reply *r)
{
	struct virtio_balloon *b = vmm->vm ? vm_balloon(vmm->vm) : NULL;
	struct balloon_stats st;
	struct balloon_info info;

	if (!vmm->cfg->balloon.enabled)
		return fault(r, no_balloon);
	if (!vmm->cfg->balloon.stats_interval_s)
		return fault(r, "Statistics for the balloon device are not enabled: give "
			     "stats_polling_interval_s in PUT /balloon before the start.");
	if (!b)
		return fault(r, before_start);
	virtio_balloon_get_info(b, &info);
	virtio_balloon_get_stats(b, &st);
	return ok_json(r, fc_dump_balloon_stats(&info, &st));
}

/* Like Firecracker, statistics are not turned on or off once the VM runs. */
static int patch_balloon_stats(struct vmm *vmm, const char *id, const json_t *body,
			       struct reply *r)
{
	struct balloon_config b = vmm->cfg->balloon;
	struct fc_error e;
	bool was_on = b.stats_interval_s;

	if (!b.enabled)
		return fault(r, no_balloon);
	if (fc_patch_balloon_stats(&b, body, &e))
		return fault(r, "%s", e.msg);
	if (started(vmm) && was_on != !!b.stats_interval_s)
		return fault(r, "Statistics for the balloon device cannot be turned %s after the "
			     "start.", was_on ? "off" : "on");
	return change_balloon(vmm, &b, r);
}

static int put_logger(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	struct log_opts l;
	struct fc_error e;

	if (started(vmm))
		return fault(r, after_start);
	if (fc_put_logger(&l, body, &e))
		return fault(r, "%s", e.msg);
	if (vmm_set_logger(vmm, &l, e.msg, sizeof(e.msg)))
		return fault(r, "%s", e.msg);
	vmm->opts.log = l;
	return ok(r);
}

static int put_metrics(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	struct metrics_opts m;
	struct fc_error e;

	if (started(vmm))
		return fault(r, after_start);
	if (vmm->opts.metrics.set)
		return fault(r, "Reinitialization of metrics not allowed.");
	if (fc_put_metrics(&m, body, &e))
		return fault(r, "%s", e.msg);
	if (vmm_set_metrics(vmm, m.path, e.msg, sizeof(e.msg)))
		return fault(r, "%s", e.msg);
	vmm->opts.metrics = m;
	return ok(r);
}

static int instance_start(struct vmm *vmm, struct reply *r)
{
	struct fc_error e;

	if (started(vmm))
		return fault(r, after_start);
	*vmm->boot_cfg = *vmm->cfg;
	if (fc_finish_config(vmm->boot_cfg, &e))
		return fault(r, "Start microvm error: %s", e.msg);
	/* The main thread builds the VM; this thread waits for its word. */
	vmm_request_start(vmm);
	while (vmm->phase == VMM_STARTING)
		pthread_cond_wait(&vmm->cond, &vmm->lock);
	if (vmm->phase == VMM_NOT_STARTED)
		return fault(r, "Start microvm error: %s", vmm->start_error);
	return ok(r);
}

static int put_actions(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	const char *type;

	if (!json_is_object(body) || json_object_size(body) != 1 ||
	    !(type = json_string_value(json_object_get(body, "action_type"))))
		return fault(r, "actions: expected {\"action_type\": \"InstanceStart\" | "
			     "\"FlushMetrics\" | \"SendCtrlAltDel\"}");
	if (!strcmp(type, "InstanceStart"))
		return instance_start(vmm, r);
	if (!strcmp(type, "FlushMetrics")) {
		int ret;

		if (!started(vmm))
			return fault(r, before_start);
		if (!vmm->opts.metrics.set)
			return fault(r, "The metrics system is not initialized: PUT /metrics first.");
		ret = metrics_flush(&vmm->metrics, vmm->vm);
		if (ret < 0)
			return fault(r, "Cannot flush the metrics: %s", strerror(-ret));
		return ok(r);
	}
	if (!strcmp(type, "SendCtrlAltDel"))
		return fault(r, "SendCtrlAltDel is not supported on aarch64.");
	return fault(r, "actions: unknown action_type `%s`", type);
}

static int patch_vm(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	const char *state;
	bool pause;
	int ret;

	if (!json_is_object(body) || json_object_size(body) != 1 ||
	    !(state = json_string_value(json_object_get(body, "state"))))
		return fault(r, "vm: expected {\"state\": \"Paused\" | \"Resumed\"}");
	if (strcmp(state, "Paused") && strcmp(state, "Resumed"))
		return fault(r, "vm: `state` cannot be \"%s\"", state);
	if (vmm->phase == VMM_STOPPED)
		return fault(r, "The microVM has stopped.");
	if (vmm->phase != VMM_RUNNING)
		return fault(r, before_start);
	pause = !strcmp(state, "Paused");
	ret = vm_cmd_queue_call(vmm->cmds, pause ? VM_CMD_PAUSE : VM_CMD_RESUME, 0);
	if (ret)
		return fault(r, "Cannot %s the microVM: %s", pause ? "pause" : "resume",
			     ret == -ESHUTDOWN ? "it has stopped" : strerror(-ret));
	vmm->paused = pause;
	return ok(r);
}


/* PUT /snapshot/create: a paused VM's state and memory to files. */
static int snapshot_create(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	struct snapshot_request *req;
	struct fc_error e;
	int ret;

	if (vmm->phase != VMM_RUNNING)
		return fault(r, vmm->phase == VMM_STOPPED ? "The microVM has stopped." : before_start);
	req = calloc(1, sizeof(*req));
	if (!req)
		return fault(r, "out of memory");
	if (fc_snapshot_create(req, body, &e)) {
		fault(r, "%s", e.msg);
	} else if (!vmm->paused) {
		fault(r, "Create snapshot error: the microVM must be paused first (PATCH /vm).");
	} else if (req->type == SNAPSHOT_DIFF && !vmm->cfg->track_dirty_pages) {
		fault(r, "Create snapshot error: a Diff snapshot needs track_dirty_pages.");
	} else {
		ret = vm_cmd_queue_call_data(vmm->cmds, VM_CMD_SNAPSHOT, 0, req);
		if (ret)
			fault(r, "Create snapshot error: %s", req->err[0] ? req->err : strerror(-ret));
		else
			ok(r);
	}
	free(req);
	return 0;
}

/*
 * PUT /snapshot/load: on a fresh process only (the logger and metrics
 * may be set); the main thread restores and says how it went.
 */
static int snapshot_load(struct vmm *vmm, const char *id, const json_t *body, struct reply *r)
{
	struct vmm_restore rs;
	struct fc_error e;

	if (started(vmm))
		return fault(r, after_start);
	if (vmm->configured)
		return fault(r, "Loading a microVM snapshot not allowed after configuring "
			     "boot-specific resources.");
	if (fc_snapshot_load(&rs, body, &e))
		return fault(r, "%s", e.msg);
	if (check_file(rs.snapshot, false, r, "snapshot_path") ||
	    (rs.uffd ? check_socket(rs.mem, r) :
		       check_file(rs.mem, false, r, "mem_backend.backend_path")))
		return 0;
	for (unsigned int i = 0; i < rs.nr_overrides; i++)
		if (check_tap(rs.overrides[i].tap, r))
			return 0;
	vmm->restore = rs;
	vmm_request_start(vmm);
	while (vmm->phase == VMM_STARTING)
		pthread_cond_wait(&vmm->cond, &vmm->lock);
	if (vmm->phase == VMM_NOT_STARTED) {
		vmm->restore.asked = false;
		return fault(r, "Load snapshot error: %s", vmm->start_error);
	}
	vmm->paused = !rs.resume;
	return ok(r);
}

struct route {
	enum http_method method;
	const char *path;     /* the first segment */
	bool with_id;         /* /path/{id} */
	bool body;            /* needs a JSON body */
	int (*fn)(struct vmm *vmm, const char *id, const json_t *body, struct reply *r);
	/* Firecracker's counters for it, in struct metrics (0: none). */
	size_t count, fails;
};

#define M(group, name) offsetof(struct metrics, group.name)
#define PUT_M(name) M(put_api_requests, name##_count), M(put_api_requests, name##_fails)
#define PATCH_M(name) M(patch_api_requests, name##_count), M(patch_api_requests, name##_fails)

static const struct route routes[] = {
	{ HTTP_GET,   "",                   false, false, get_instance,
	  M(get_api_requests, instance_info_count), 0 },
	{ HTTP_GET,   "version",            false, false, get_version,
	  M(get_api_requests, vmm_version_count), 0 },
	{ HTTP_GET,   "machine-config",     false, false, get_machine_config,
	  M(get_api_requests, machine_cfg_count), 0 },
	{ HTTP_GET,   "vm/config",          false, false, get_vm_config, 0, 0 },
	{ HTTP_PUT,   "machine-config",     false, true,  put_machine, PUT_M(machine_cfg) },
	{ HTTP_PATCH, "machine-config",     false, true,  patch_machine, PATCH_M(machine_cfg) },
	{ HTTP_PUT,   "boot-source",        false, true,  put_boot_source, PUT_M(boot_source) },
	{ HTTP_PUT,   "drives",             true,  true,  put_drive, PUT_M(drive) },
	{ HTTP_PATCH, "drives",             true,  true,  patch_drive, PATCH_M(drive) },
	{ HTTP_PUT,   "network-interfaces", true,  true,  put_net, PUT_M(network) },
	{ HTTP_PATCH, "network-interfaces", true,  true,  patch_net, PATCH_M(network) },
	{ HTTP_PUT,   "logger",             false, true,  put_logger, PUT_M(logger) },
	{ HTTP_PUT,   "metrics",            false, true,  put_metrics, PUT_M(metrics) },
	{ HTTP_PUT,   "entropy",            false, true,  put_entropy, 0, 0 },
	{ HTTP_PUT,   "vsock",              false, true,  put_vsock, PUT_M(vsock) },
	{ HTTP_PUT,   "arkvm/shares",       true,  true,  put_share, 0, 0 },
	{ HTTP_GET,   "balloon/statistics", false, false, get_balloon_stats, 0, 0 },
	{ HTTP_PATCH, "balloon/statistics", false, true,  patch_balloon_stats,
	  0, 0 },
	{ HTTP_GET,   "balloon",            false, false, get_balloon, 0, 0 },
	{ HTTP_PUT,   "balloon",            false, true,  put_balloon, 0, 0 },
	{ HTTP_PATCH, "balloon",            false, true,  patch_balloon, 0, 0 },
	{ HTTP_PUT,   "actions",            false, true,  put_actions, PUT_M(actions) },
	{ HTTP_PATCH, "vm",                 false, true,  patch_vm, 0, 0 },
	{ HTTP_PUT,   "snapshot/create",    false, true,  snapshot_create, 0, 0 },
	{ HTTP_PUT,   "snapshot/load",      false, true,  snapshot_load, 0, 0 },
};

/* The route for @path ("/drives/rootfs"): *@id points at "rootfs" in @buf. */
static const struct route *find_route(enum http_method method, const char *path, char *buf,
				      size_t size, const char **id)
{
	size_t len;
	char *slash;

	*id = NULL;
	if (path[0] != '/')
		return NULL;
	snprintf(buf, size, "%s", path + 1);
	len = strlen(buf);
	if (len && buf[len - 1] == '/')
		buf[--len] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		const struct route *rt = &routes[i];
		size_t plen = strlen(rt->path);

		if (rt->method != method || strncmp(buf, rt->path, plen))
			continue;
		if (!rt->with_id && buf[plen] == '\0')
			return rt;
		if (rt->with_id && buf[plen] == '/' && buf[plen + 1]) {
			slash = strchr(buf + plen + 1, '/');
			if (slash)
				continue;
			*id = buf + plen + 1;
			return rt;
		}
	}
	return NULL;
}

static const char *method_name(enum http_method m)
{
	return http_method_str(m);
}

/* A route's counter: @off is an offsetof() into struct metrics, so aligned. */
static struct metric *route_metric(struct vmm *vmm, size_t off)
{
	return (struct metric *)(void *)((char *)&vmm->metrics + off);
}

static void count_request(struct vmm *vmm, const struct route *rt, bool good)
{
	size_t off = good ? rt->count : rt->fails;

	if (!good && rt->count)
		metric_inc(route_metric(vmm, rt->count));
	if (off)
		metric_inc(route_metric(vmm, off));
}

static void dispatch(struct vmm *vmm, const struct http_request *req, struct reply *r)
{
	char buf[HTTP_MAX_PATH + 1];
	const struct route *rt;
	json_error_t jerr;
	json_t *body = NULL;
	const char *id;

	if (req->error) {
		if (req->announced_len)
			fault(r, "Request payload with size %zu is larger than the limit of %zu "
			      "allowed by server.", req->announced_len, vmm->opts.max_payload);
		else
			fault(r, "%s", req->error);
		return;
	}
	rt = find_route(req->method, req->path, buf, sizeof(buf), &id);
	if (!rt) {
		fault(r, "Invalid request method and/or path: %s %s.", method_name(req->method),
		      req->path);
		return;
	}
	if (rt->body) {
		if (!req->body_len) {
			fault(r, "%s %s: the request needs a JSON body.", method_name(req->method),
			      req->path);
			return;
		}
		body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!body) {
			fault(r, "The request body is not valid JSON: line %d, column %d: %s",
			      jerr.line, jerr.column, jerr.text);
			return;
		}
		if (!json_is_object(body)) {
			json_decref(body);
			fault(r, "The request body must be a JSON object.");
			return;
		}
	}
	pthread_mutex_lock(&vmm->lock);
	rt->fn(vmm, id, body, r);
	pthread_mutex_unlock(&vmm->lock);
	json_decref(body);
	count_request(vmm, rt, r->status < 300);
}

int api_handle(struct vmm *vmm, const struct http_request *req, char **body)
{
	struct reply r = { .status = 500 };

	*body = NULL;
	dispatch(vmm, req, &r);
	if (r.json) {
		*body = json_dumps(r.json, JSON_COMPACT);
		json_decref(r.json);
		if (!*body)
			r.status = 500;
	}
	if (r.status == 400 && !*body)
		r.status = 500;
	return r.status;
}
