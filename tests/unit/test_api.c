// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker's API as clients see it: each endpoint, each of its error
 * and phase rules, the socket server, the config file and the flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api.h"
#include "fc_cli.h"
#include "fc_config.h"
#include "sandbox.h"
#include "test.h"
#include "vm_state.h"
#include "vmm.h"

struct answer {
	int status;
	char body[4096];
};

/* One request through the same path the server takes (api_handle). */
static struct answer call(struct vmm *vmm, enum http_method m, const char *path, const char *body)
{
	struct http_request req = { .method = m, .keep_alive = true };
	struct answer a = { 0 };
	char *out;

	snprintf(req.path, sizeof(req.path), "%s", path);
	req.body = (char *)(body ? body : "");
	req.body_len = strlen(req.body);
	a.status = api_handle(vmm, &req, &out);
	if (out)
		snprintf(a.body, sizeof(a.body), "%s", out);
	free(out);
	return a;
}

#define EXPECT(a, st, text)                                                  \
	do {                                                                 \
		struct answer ans__ = (a);                                     \
		if (ans__.status != (st) || !strstr(ans__.body, (text)))          \
			fprintf(stderr, "  got %d %s\n", ans__.status, ans__.body); \
		CHECK_EQ(ans__.status, (st));                                   \
		CHECK(strstr(ans__.body, (text)));                              \
	} while (0)

/* A file the API accepts as a kernel or a drive. */
static void make_file(char *path, size_t size, const char *name)
{
	int fd;

	snprintf(path, size, "/tmp/arkvm-api-%d-%s", getpid(), name);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd >= 0) {
		if (ftruncate(fd, 1 << 20))
			perror("ftruncate");
		close(fd);
	}
}

static void test_reads_before_start(void)
{
	struct vmm *vmm = vmm_alloc();

	CHECK(vmm);
	EXPECT(call(vmm, HTTP_GET, "/", NULL), 200, "\"state\":\"Not started\"");
	EXPECT(call(vmm, HTTP_GET, "/", NULL), 200, "\"id\":\"anonymous-instance\"");
	EXPECT(call(vmm, HTTP_GET, "/version", NULL), 200, "\"firecracker_version\"");
	EXPECT(call(vmm, HTTP_GET, "/machine-config", NULL), 200, "\"mem_size_mib\":128");
	EXPECT(call(vmm, HTTP_GET, "/vm/config", NULL), 200, "\"drives\":[]");
	vmm_free(vmm);
}

static void test_machine_config(void)
{
	struct vmm *vmm = vmm_alloc();

	CHECK(vmm);
	EXPECT(call(vmm, HTTP_PUT, "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":256}"),
	       204, "");
	EXPECT(call(vmm, HTTP_GET, "/machine-config", NULL), 200, "\"vcpu_count\":2");
	EXPECT(call(vmm, HTTP_GET, "/machine-config", NULL), 200, "\"mem_size_mib\":256");
	EXPECT(call(vmm, HTTP_PATCH, "/machine-config", "{\"vcpu_count\":3}"), 204, "");
	CHECK_EQ(vmm->cfg->nr_cpus, 3);
	CHECK_EQ(vmm->cfg->mem_size, 256ULL << 20);
	/* A wrong type, a missing or unknown field, a bad value: 400, and nothing changed. */
	EXPECT(call(vmm, HTTP_PUT, "/machine-config", "{\"vcpu_count\":\"2\",\"mem_size_mib\":256}"),
	       400, "`vcpu_count` must be a non-negative integer");
	EXPECT(call(vmm, HTTP_PUT, "/machine-config", "{\"vcpu_count\":2}"), 400,
	       "missing field `mem_size_mib`");
	EXPECT(call(vmm, HTTP_PUT, "/machine-config",
		    "{\"vcpu_count\":2,\"mem_size_mib\":256,\"vcpus\":4}"), 400, "unknown field `vcpus`");
	EXPECT(call(vmm, HTTP_PUT, "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":16}"),
	       400, "too small");
	EXPECT(call(vmm, HTTP_PUT, "/machine-config",
		    "{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":true}"), 400, "smt");
	EXPECT(call(vmm, HTTP_PUT, "/machine-config",
		    "{\"vcpu_count\":2,\"mem_size_mib\":256,\"huge_pages\":\"1G\"}"), 400, "huge_pages");
	EXPECT(call(vmm, HTTP_PUT, "/machine-config", "{\"vcpu_count\":2,"), 400, "not valid JSON");
	EXPECT(call(vmm, HTTP_PUT, "/machine-config", "[1]"), 400, "JSON object");
	EXPECT(call(vmm, HTTP_PUT, "/machine-config", NULL), 400, "needs a JSON body");
	CHECK_EQ(vmm->cfg->nr_cpus, 3);
	vmm_free(vmm);
}

static void test_paths_and_methods(void)
{
	struct vmm *vmm = vmm_alloc();

	CHECK(vmm);
	EXPECT(call(vmm, HTTP_GET, "/nothing", NULL), 400, "Invalid request method and/or path");
	EXPECT(call(vmm, HTTP_DELETE, "/", NULL), 400, "Invalid request method and/or path");
	EXPECT(call(vmm, HTTP_PUT, "/drives", "{}"), 400, "Invalid request method and/or path");
	EXPECT(call(vmm, HTTP_PUT, "/drives/a/b", "{}"), 400, "Invalid request method and/or path");
	EXPECT(call(vmm, HTTP_PUT, "/actions", "{\"action_type\":\"SendCtrlAltDel\"}"), 400,
	       "not supported on aarch64");
	EXPECT(call(vmm, HTTP_PUT, "/actions", "{\"action_type\":\"Reboot\"}"), 400, "Reboot");
	EXPECT(call(vmm, HTTP_PUT, "/actions", "{\"action_type\":\"FlushMetrics\"}"), 400,
	       "not supported before starting");
	EXPECT(call(vmm, HTTP_PATCH, "/vm", "{\"state\":\"Paused\"}"), 400,
	       "not supported before starting");
	EXPECT(call(vmm, HTTP_PATCH, "/drives/rootfs", "{\"drive_id\":\"rootfs\"}"), 400,
	       "not supported before starting");
	EXPECT(call(vmm, HTTP_PUT, "/actions", "{\"action_type\":\"InstanceStart\"}"), 400,
	       "without kernel");
	vmm_free(vmm);
}

static void test_drives_and_files(void)
{
	struct vmm *vmm = vmm_alloc();
	char disk[128], scratch[128], body[512];

	CHECK(vmm);
	make_file(disk, sizeof(disk), "disk");
	snprintf(body, sizeof(body), "{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":true,\"is_read_only\":false,"
		 "\"rate_limiter\":{\"bandwidth\":{\"size\":1048576,\"refill_time\":1000}}}", disk);
	EXPECT(call(vmm, HTTP_PUT, "/drives/other", body), 400, "does not match");
	EXPECT(call(vmm, HTTP_PUT, "/drives/rootfs", body), 204, "");
	CHECK_EQ(vmm->cfg->nr_disks, 1);
	CHECK_EQ(vmm->cfg->disks[0].rl.bandwidth.size, 1048576);
	CHECK_EQ(vmm->cfg->disks[0].cache, DISK_CACHE_UNSAFE);  /* Firecracker's default */
	EXPECT(call(vmm, HTTP_GET, "/vm/config", NULL), 200, "\"drive_id\":\"rootfs\"");
	/* A second root drive, and a drive that is not there: refused, and not added. */
	snprintf(body, sizeof(body), "{\"drive_id\":\"data\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":true}", disk);
	EXPECT(call(vmm, HTTP_PUT, "/drives/data", body), 400, "root block device already exists");
	EXPECT(call(vmm, HTTP_PUT, "/drives/data",
		    "{\"drive_id\":\"data\",\"path_on_host\":\"/nonexistent/x.img\","
		    "\"is_root_device\":false}"), 400, "/nonexistent/x.img");
	CHECK_EQ(vmm->cfg->nr_disks, 1);
	/* Replacing a drive with a bad one keeps the drive that was there. */
	EXPECT(call(vmm, HTTP_PUT, "/drives/rootfs",
		    "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/nonexistent/x.img\","
		    "\"is_root_device\":true}"), 400, "/nonexistent/x.img");
	CHECK_EQ(vmm->cfg->nr_disks, 1);
	CHECK(!strcmp(vmm->cfg->disks[0].path, disk));
	/* arkvm's own fields: an image format and an ephemeral overlay, shown back when set. */
	make_file(scratch, sizeof(scratch), "scratch");
	snprintf(body, sizeof(body), "{\"drive_id\":\"scratch\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":false,\"arkvm_format\":\"vmdk\"}", scratch);
	EXPECT(call(vmm, HTTP_PUT, "/drives/scratch", body), 400, "arkvm_format");
	snprintf(body, sizeof(body), "{\"drive_id\":\"scratch\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":false,\"is_read_only\":true,\"arkvm_ephemeral\":true}", scratch);
	EXPECT(call(vmm, HTTP_PUT, "/drives/scratch", body), 400, "ephemeral and read-only");
	snprintf(body, sizeof(body), "{\"drive_id\":\"scratch\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":false,\"arkvm_format\":\"raw\",\"arkvm_ephemeral\":true}",
		 scratch);
	EXPECT(call(vmm, HTTP_PUT, "/drives/scratch", body), 204, "");
	CHECK(vmm->cfg->disks[1].ephemeral && vmm->cfg->disks[1].format == DISK_FORMAT_RAW);
	EXPECT(call(vmm, HTTP_GET, "/vm/config", NULL), 200, "\"arkvm_ephemeral\":true");
	vmm->cfg->nr_disks = 1;
	EXPECT(call(vmm, HTTP_PUT, "/boot-source", "{\"kernel_image_path\":\"/nonexistent/Image\"}"),
	       400, "/nonexistent/Image");
	EXPECT(call(vmm, HTTP_PUT, "/network-interfaces/eth0",
		    "{\"iface_id\":\"eth0\",\"host_dev_name\":\"arkvmnotap9\"}"), 400, "arkvmnotap9");
	EXPECT(call(vmm, HTTP_PUT, "/network-interfaces/eth0",
		    "{\"iface_id\":\"eth0\",\"host_dev_name\":\"lo\",\"guest_mac\":\"01:00:00:00:00:01\"}"),
	       400, "guest_mac");
	CHECK_EQ(vmm->cfg->nr_nets, 0);
	/* lo stands in for a tap here: the API checks only that the interface exists. */
	EXPECT(call(vmm, HTTP_PUT, "/network-interfaces/eth0",
		    "{\"iface_id\":\"eth0\",\"host_dev_name\":\"lo\"}"), 204, "");
	EXPECT(call(vmm, HTTP_PUT, "/network-interfaces/eth0",
		    "{\"iface_id\":\"eth0\",\"host_dev_name\":\"arkvmnotap9\"}"), 400, "arkvmnotap9");
	CHECK_EQ(vmm->cfg->nr_nets, 1);
	CHECK(!strcmp(vmm->cfg->nets[0].tap, "lo"));
	unlink(disk);
	unlink(scratch);
	vmm_free(vmm);
}

/* The main thread's part of InstanceStart, and a lifecycle owner for PATCH /vm. */
struct fake_main {
	struct vmm *vmm;
	struct event_loop loop;
	struct vm_cmd_queue q;
	enum vm_state state;
	char cmdline[CFG_MAX_CMDLINE + 1];
	unsigned int nr_cpus;
};

static int fake_handle(struct vm_cmd_queue *q, const struct vm_cmd *cmd)
{
	struct fake_main *f = container_of(q, struct fake_main, q);
	enum vm_state to;
	int ret = vm_state_next(f->state, cmd->kind, &to);

	if (!ret)
		f->state = to;
	return ret;
}

static void *fake_main_thread(void *arg)
{
	struct fake_main *f = arg;
	const struct vm_config *cfg = vmm_wait_start(f->vmm);

	snprintf(f->cmdline, sizeof(f->cmdline), "%s", cfg->cmdline);
	f->nr_cpus = cfg->nr_cpus;
	f->state = VM_STATE_RUNNING;
	vmm_started(f->vmm, &f->q, NULL);
	event_loop_run(&f->loop);
	return NULL;
}

static void test_start_pause_resume(void)
{
	struct fake_main f = { 0 };
	char kernel[128], disk[128], body[512];
	pthread_t t;

	f.vmm = vmm_alloc();
	CHECK(f.vmm);
	CHECK_EQ(event_loop_init(&f.loop), 0);
	CHECK_EQ(vm_cmd_queue_init(&f.q, &f.loop, fake_handle), 0);
	CHECK_EQ(pthread_create(&t, NULL, fake_main_thread, &f), 0);
	make_file(kernel, sizeof(kernel), "Image");
	make_file(disk, sizeof(disk), "rootfs");
	snprintf(body, sizeof(body), "{\"kernel_image_path\":\"%s\",\"boot_args\":\"console=ttyS0\"}",
		 kernel);
	EXPECT(call(f.vmm, HTTP_PUT, "/boot-source", body), 204, "");
	snprintf(body, sizeof(body), "{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\","
		 "\"is_root_device\":true,\"is_read_only\":true}", disk);
	EXPECT(call(f.vmm, HTTP_PUT, "/drives/rootfs", body), 204, "");
	EXPECT(call(f.vmm, HTTP_PUT, "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":64}"),
	       204, "");
	EXPECT(call(f.vmm, HTTP_PUT, "/actions", "{\"action_type\":\"InstanceStart\"}"), 204, "");
	CHECK(!strcmp(f.cmdline, "console=ttyS0 root=/dev/vda ro"));
	CHECK_EQ(f.nr_cpus, 2);
	EXPECT(call(f.vmm, HTTP_GET, "/", NULL), 200, "\"state\":\"Running\"");
	/* After the start: configuration and a second start are refused. */
	EXPECT(call(f.vmm, HTTP_PUT, "/actions", "{\"action_type\":\"InstanceStart\"}"), 400,
	       "not supported after starting");
	EXPECT(call(f.vmm, HTTP_PUT, "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}"),
	       400, "not supported after starting");
	EXPECT(call(f.vmm, HTTP_PUT, "/snapshot/create",
		    "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}"), 400, "must be paused");
	EXPECT(call(f.vmm, HTTP_PATCH, "/vm", "{\"state\":\"Paused\"}"), 204, "");
	CHECK_EQ(f.state, VM_STATE_PAUSED);
	/* Paused: the snapshot command reaches the VM's owner (the fake writes nothing). */
	EXPECT(call(f.vmm, HTTP_PUT, "/snapshot/create",
		    "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\",\"snapshot_type\":\"Diff\"}"),
	       400, "track_dirty_pages");
	EXPECT(call(f.vmm, HTTP_PUT, "/snapshot/create",
		    "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}"), 204, "");
	EXPECT(call(f.vmm, HTTP_GET, "/", NULL), 200, "\"state\":\"Paused\"");
	EXPECT(call(f.vmm, HTTP_PATCH, "/vm", "{\"state\":\"Resumed\"}"), 204, "");
	CHECK_EQ(f.state, VM_STATE_RUNNING);
	EXPECT(call(f.vmm, HTTP_PATCH, "/vm", "{\"state\":\"Stopped\"}"), 400, "Stopped");
	event_loop_stop(&f.loop);
	pthread_join(t, NULL);
	vm_cmd_queue_destroy(&f.q);
	/* The VM is gone: a pause is answered, not waited for. */
	EXPECT(call(f.vmm, HTTP_PATCH, "/vm", "{\"state\":\"Paused\"}"), 400, "stopped");
	event_loop_destroy(&f.loop);
	unlink(kernel);
	unlink(disk);
	vmm_free(f.vmm);
}

/*
 * Firecracker's balloon routes before the start, and the rules that hold
 * after it: statistics stay on or off, a GET of them needs them on.
 */
static void test_balloon_routes(void)
{
	struct fake_main f = { 0 };
	struct fc_error err;
	char kernel[128], body[256];
	pthread_t t;

	f.vmm = vmm_alloc();
	CHECK(f.vmm);
	EXPECT(call(f.vmm, HTTP_GET, "/balloon", NULL), 400, "No balloon device");
	EXPECT(call(f.vmm, HTTP_PATCH, "/balloon", "{\"amount_mib\":1}"), 400, "No balloon");
	EXPECT(call(f.vmm, HTTP_PUT, "/balloon", "{\"amount_mib\":16}"), 400, "deflate_on_oom");
	EXPECT(call(f.vmm, HTTP_PUT, "/balloon",
		    "{\"amount_mib\":16,\"deflate_on_oom\":true,\"free_page_hinting\":true}"),
	       400, "free_page_reporting");
	EXPECT(call(f.vmm, HTTP_PUT, "/balloon", "{\"amount_mib\":4096,\"deflate_on_oom\":false}"),
	       400, "RAM");                                  /* the default guest has 512M */
	CHECK(!f.vmm->cfg->balloon.enabled);
	EXPECT(call(f.vmm, HTTP_PUT, "/balloon",
		    "{\"amount_mib\":16,\"deflate_on_oom\":true,\"stats_polling_interval_s\":1,"
		    "\"free_page_reporting\":true}"), 204, "");
	EXPECT(call(f.vmm, HTTP_GET, "/balloon", NULL), 200,
	       "{\"amount_mib\":16,\"deflate_on_oom\":true,\"stats_polling_interval_s\":1,"
	       "\"free_page_hinting\":false,\"free_page_reporting\":true}");
	EXPECT(call(f.vmm, HTTP_GET, "/vm/config", NULL), 200, "\"balloon\":{\"amount_mib\":16");
	EXPECT(call(f.vmm, HTTP_PATCH, "/balloon", "{\"amount_mib\":32}"), 204, "");
	CHECK_EQ(f.vmm->cfg->balloon.amount_mib, 32);
	EXPECT(call(f.vmm, HTTP_PATCH, "/balloon", "{\"amount_mib\":9999}"), 400, "RAM");
	CHECK_EQ(f.vmm->cfg->balloon.amount_mib, 32);
	EXPECT(call(f.vmm, HTTP_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\":5}"),
	       204, "");
	CHECK_EQ(f.vmm->cfg->balloon.stats_interval_s, 5);
	EXPECT(call(f.vmm, HTTP_GET, "/balloon/statistics", NULL), 400, "before starting");
	/* After the start: no PUT, and statistics are not turned off. */
	CHECK_EQ(event_loop_init(&f.loop), 0);
	CHECK_EQ(vm_cmd_queue_init(&f.q, &f.loop, fake_handle), 0);
	CHECK_EQ(pthread_create(&t, NULL, fake_main_thread, &f), 0);
	make_file(kernel, sizeof(kernel), "Image-balloon");
	snprintf(body, sizeof(body), "{\"kernel_image_path\":\"%s\"}", kernel);
	EXPECT(call(f.vmm, HTTP_PUT, "/boot-source", body), 204, "");
	EXPECT(call(f.vmm, HTTP_PUT, "/actions", "{\"action_type\":\"InstanceStart\"}"), 204, "");
	EXPECT(call(f.vmm, HTTP_PUT, "/balloon", "{\"amount_mib\":1,\"deflate_on_oom\":true}"),
	       400, "not supported after starting");
	EXPECT(call(f.vmm, HTTP_PATCH, "/balloon/statistics", "{\"stats_polling_interval_s\":0}"),
	       400, "cannot be turned off");
	event_loop_stop(&f.loop);
	pthread_join(t, NULL);
	vm_cmd_queue_destroy(&f.q);
	event_loop_destroy(&f.loop);
	unlink(kernel);
	/* The config file's "balloon". */
	CHECK_EQ(fc_load_config(f.vmm->cfg, &f.vmm->opts,
				"{\"boot-source\":{\"kernel_image_path\":\"k\"},"
				"\"balloon\":{\"amount_mib\":8,\"deflate_on_oom\":false}}", &err), 0);
	CHECK(f.vmm->cfg->balloon.enabled);
	CHECK_EQ(f.vmm->cfg->balloon.amount_mib, 8);
	CHECK_EQ(f.vmm->cfg->balloon.stats_interval_s, 0);
	vmm_free(f.vmm);
}

/* arkvm's extension: virtio-fs shares over the API and in the config file. */
static void test_share_routes(void)
{
	struct vmm *vmm = vmm_alloc();
	struct fc_error err;

	CHECK(vmm);
	EXPECT(call(vmm, HTTP_PUT, "/arkvm/shares/work",
		    "{\"tag\":\"work\",\"host_path\":\"/tmp\",\"cache\":\"never\","
		    "\"uid_map\":{\"host\":1000,\"guest\":0}}"), 204, "");
	CHECK_EQ(vmm->cfg->nr_shares, 1);
	CHECK_EQ(vmm->cfg->shares[0].cache, SHARE_CACHE_NEVER);
	CHECK(vmm->cfg->shares[0].uid_map && !vmm->cfg->shares[0].gid_map);
	CHECK_EQ(vmm->cfg->shares[0].uid_host, 1000);
	EXPECT(call(vmm, HTTP_GET, "/vm/config", NULL), 200,
	       "\"arkvm-shares\":[{\"tag\":\"work\",\"host_path\":\"/tmp\",\"readonly\":false,"
	       "\"cache\":\"never\",\"uid_map\":{\"host\":1000,\"guest\":0}}]");
	/* The same tag replaces; refusals change nothing. */
	EXPECT(call(vmm, HTTP_PUT, "/arkvm/shares/work",
		    "{\"tag\":\"work\",\"host_path\":\"/srv\",\"readonly\":true}"), 204, "");
	CHECK_EQ(vmm->cfg->nr_shares, 1);
	CHECK(vmm->cfg->shares[0].readonly);
	EXPECT(call(vmm, HTTP_PUT, "/arkvm/shares/other", "{\"tag\":\"work\",\"host_path\":\"/\"}"),
	       400, "does not match");
	EXPECT(call(vmm, HTTP_PUT, "/arkvm/shares/x", "{\"tag\":\"x\",\"host_path\":\"/\",\"dax\":1}"),
	       400, "unknown field `dax`");
	EXPECT(call(vmm, HTTP_PUT, "/arkvm/shares/x",
		    "{\"tag\":\"x\",\"host_path\":\"/\",\"cache\":\"sometimes\"}"), 400, "cache");
	EXPECT(call(vmm, HTTP_PUT, "/arkvm/shares/x", "{\"tag\":\"x\"}"), 400, "host_path");
	CHECK_EQ(vmm->cfg->nr_shares, 1);
	CHECK_EQ(fc_load_config(vmm->cfg, &vmm->opts,
				"{\"boot-source\":{\"kernel_image_path\":\"k\"},\"arkvm-shares\":["
				"{\"tag\":\"a\",\"host_path\":\"/tmp\"},"
				"{\"tag\":\"b\",\"host_path\":\"/tmp\",\"readonly\":true}]}", &err), 0);
	CHECK_EQ(vmm->cfg->nr_shares, 3);   /* added to the one the API made */
	CHECK(!strcmp(vmm->cfg->shares[2].tag, "b") && vmm->cfg->shares[2].readonly);
	vmm_free(vmm);
}

/* Bytes in, one HTTP response out, over the real socket. */
static int sock_roundtrip(const char *path, const char *req, char *resp, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	size_t len = 0;
	ssize_t n;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	shutdown(fd, SHUT_WR);
	while (len + 1 < size && (n = read(fd, resp + len, size - len - 1)) > 0)
		len += (size_t)n;
	resp[len] = '\0';
	close(fd);
	return 0;
}

static void test_socket_server(void)
{
	struct vmm *vmm = vmm_alloc();
	struct api_server srv;
	char resp[8192], big[600];
	struct stat st;

	CHECK(vmm);
	snprintf(vmm->opts.api_sock, sizeof(vmm->opts.api_sock), "/tmp/arkvm-api-%d.sock", getpid());
	vmm->opts.max_payload = 256;
	unlink(vmm->opts.api_sock);
	/* Under its own seccomp filter: a forbidden syscall would end the run. */
	CHECK(!sandbox_prepare(NULL));
	CHECK_EQ(api_server_start(&srv, vmm, true), 0);
	CHECK_EQ(stat(vmm->opts.api_sock, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	/* Two requests in one write: two answers, in order. */
	CHECK_EQ(sock_roundtrip(vmm->opts.api_sock,
				"GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n"
				"PUT /machine-config HTTP/1.1\r\nContent-Length: 36\r\n\r\n"
				"{\"vcpu_count\":2,\"mem_size_mib\":128}\n", resp, sizeof(resp)), 0);
	CHECK(!strncmp(resp, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(strstr(resp, "\"vcpu_count\":1"));
	CHECK(strstr(resp, "HTTP/1.1 204 No Content\r\n"));
	pthread_mutex_lock(&vmm->lock);
	CHECK_EQ(vmm->cfg->nr_cpus, 2);
	pthread_mutex_unlock(&vmm->lock);
	/* The metrics and log files open under the filter, once each. */
	{
		char body[256], path[128], line[512] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/tmp/arkvm-api-%d.metrics", getpid());
		snprintf(body, sizeof(body),
			 "PUT /metrics HTTP/1.1\r\nContent-Length: %zu\r\n\r\n"
			 "{\"metrics_path\":\"%s\"}", strlen(path) + 19, path);
		CHECK_EQ(sock_roundtrip(vmm->opts.api_sock, body, resp, sizeof(resp)), 0);
		if (!strstr(resp, "HTTP/1.1 204"))
			fprintf(stderr, "  %s\n", resp);
		CHECK(strstr(resp, "HTTP/1.1 204"));
		CHECK_EQ(sock_roundtrip(vmm->opts.api_sock, body, resp, sizeof(resp)), 0);
		CHECK(strstr(resp, "Reinitialization of metrics not allowed"));
		CHECK_EQ(metrics_flush(&vmm->metrics, NULL), 1);
		f = fopen(path, "r");
		CHECK(f);
		CHECK(fgets(line, sizeof(line), f));
		fclose(f);
		unlink(path);
		CHECK(strstr(line, "\"utc_timestamp_ms\""));
		metrics_close(&vmm->metrics);
	}
	/* Over the size limit: 400 with Firecracker's message. */
	memset(big, ' ', sizeof(big));
	snprintf(big, sizeof(big), "PUT /machine-config HTTP/1.1\r\nContent-Length: 300\r\n\r\n{");
	CHECK_EQ(sock_roundtrip(vmm->opts.api_sock, big, resp, sizeof(resp)), 0);
	CHECK(strstr(resp, "HTTP/1.1 400 Bad Request"));
	CHECK(strstr(resp, "larger than the limit of 256"));
	/* Not HTTP at all. */
	CHECK_EQ(sock_roundtrip(vmm->opts.api_sock, "\x01\x02 hello\r\n\r\n", resp, sizeof(resp)), 0);
	CHECK(strstr(resp, "HTTP/1.1 400"));
	/* A second server on the same path is refused. */
	{
		struct api_server again;

		CHECK_EQ(api_server_start(&again, vmm, false), -EEXIST);
	}
	api_server_stop(&srv);
	CHECK(access(vmm->opts.api_sock, F_OK));
	vmm_free(vmm);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);

	if (f && buf && fread(buf, 1, (1 << 16) - 1, f) == 0) {
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	return buf;
}

static void test_config_files(void)
{
	struct vmm *vmm = vmm_alloc();
	struct fc_error e;
	char *text = slurp("configs/vm-disk-net.json");

	CHECK(vmm && text);
	CHECK_EQ(fc_load_config(vmm->cfg, &vmm->opts, text, &e), 0);
	free(text);
	CHECK_EQ(vmm->cfg->nr_cpus, 2);
	CHECK_EQ(vmm->cfg->nr_disks, 1);
	CHECK(vmm->cfg->disks[0].root);
	CHECK_EQ(vmm->cfg->nr_nets, 1);
	CHECK(!strcmp(vmm->cfg->nets[0].tap, "arkvmtap0"));
	CHECK(vmm->opts.log.set && vmm->opts.metrics.set);
	*vmm->boot_cfg = *vmm->cfg;
	CHECK_EQ(fc_finish_config(vmm->boot_cfg, &e), 0);
	CHECK(strstr(vmm->boot_cfg->cmdline, "root=/dev/vda rw"));

	text = slurp("configs/vm-minimal.json");
	CHECK(text);
	vm_config_init(vmm->cfg);
	CHECK_EQ(fc_load_config(vmm->cfg, &vmm->opts, text, &e), 0);
	free(text);
	CHECK_EQ(vmm->cfg->nr_disks, 0);

	CHECK_EQ(fc_load_config(vmm->cfg, &vmm->opts, "{\"boot-source\":", &e), -EINVAL);
	CHECK(strstr(e.msg, "line 1"));
	CHECK_EQ(fc_load_config(vmm->cfg, &vmm->opts,
				"{\"boot-source\":{\"kernel_image_path\":\"k\"},\"drivez\":[]}", &e),
		 -EINVAL);
	CHECK(strstr(e.msg, "unknown field `drivez`"));
	CHECK_EQ(fc_load_config(vmm->cfg, &vmm->opts,
				"{\"boot-source\":{\"kernel_image_path\":\"k\"},\"vsock\":{}}", &e),
		 -EINVAL);
	CHECK(strstr(e.msg, "vsock"));
	/* The same judgement as the command line's: a config 16 MiB big. */
	CHECK_EQ(fc_load_config(vmm->cfg, &vmm->opts,
				"{\"boot-source\":{\"kernel_image_path\":\"k\"},"
				"\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":16}}", &e),
		 -EINVAL);
	CHECK(strstr(e.msg, "memory: 16M is too small"));
	vmm_free(vmm);
}

static int fc_parse(struct fc_cli *cli, int argc, char *const argv[])
{
	FILE *out = fopen("/dev/null", "w");
	int ret = fc_cli_parse(argc, argv, cli, out);

	fclose(out);
	return ret;
}

#define FC_PARSE(cli, ...) \
	fc_parse(cli, (int)(sizeof((char *const[]){ __VA_ARGS__ }) / sizeof(char *)), \
		 (char *const[]){ __VA_ARGS__ })

static void test_firecracker_flags(void)
{
	struct fc_cli cli;

	CHECK(fc_cli_wanted(1, (char *const[]){ "/usr/bin/firecracker" }));
	CHECK(fc_cli_wanted(3, (char *const[]){ "arkvm", "--api-sock", "/x" }));
	CHECK(fc_cli_wanted(2, (char *const[]){ "arkvm", "--no-api" }));
	CHECK(!fc_cli_wanted(2, (char *const[]){ "arkvm", "run" }));
	CHECK(!fc_cli_wanted(2, (char *const[]){ "arkvm", "--help" }));

	/* firecracker-go-sdk's default, and firectl's. */
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--api-sock", "/tmp/s", "--id", "vm-1", "--no-seccomp"),
		 0);
	CHECK(!strcmp(cli.opts.api_sock, "/tmp/s"));
	CHECK(!strcmp(cli.opts.id, "vm-1"));
	CHECK(cli.no_seccomp);
	CHECK_EQ(FC_PARSE(&cli, "firecracker"), 0);
	CHECK(!strcmp(cli.opts.api_sock, VMM_DEFAULT_API_SOCK));
	CHECK_EQ(cli.opts.max_payload, 51200);
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--api-sock=/tmp/s", "--start-time-us", "12",
			  "--start-time-cpu-us", "3", "--parent-cpu-time-us", "4",
			  "--http-api-max-payload-size", "4096", "--level", "debug", "--show-level"), 0);
	CHECK_EQ(cli.opts.start_time_us, 12);
	CHECK_EQ(cli.opts.max_payload, 4096);
	CHECK(!strcmp(cli.opts.log.level, "Debug"));
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--no-api", "--config-file", "x.json"), 0);
	CHECK(!cli.opts.api_sock[0]);

	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--no-api"), -EINVAL);
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--seccomp-filter", "f.bpf"), -EINVAL);
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--id", "has_underscore"), -EINVAL);
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--id", ""), -EINVAL);
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--level", "loud"), -EINVAL);
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--api-sock"), -EINVAL);
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--bogus"), -EINVAL);
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--start-time-us", "x"), -EINVAL);
	CHECK_EQ(FC_PARSE(&cli, "firecracker", "--version"), 0);
	CHECK(cli.done);
}

static void test_snapshot_rules(void)
{
	struct vmm *vmm = vmm_alloc();
	char snap[128], body[512];

	CHECK(vmm);
	make_file(snap, sizeof(snap), "vm.snap");
	EXPECT(call(vmm, HTTP_PUT, "/snapshot/create",
		    "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}"), 400,
	       "not supported before starting");
	snprintf(body, sizeof(body), "{\"snapshot_path\":\"%s\",\"mem_file_path\":\"%s\","
		 "\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"%s\"}}",
		 snap, snap, snap);
	EXPECT(call(vmm, HTTP_PUT, "/snapshot/load", body), 400, "exactly one of");
	/* Uffd: the backend path is the page server's socket, so a file is refused. */
	snprintf(body, sizeof(body), "{\"snapshot_path\":\"%s\","
		 "\"mem_backend\":{\"backend_type\":\"Uffd\",\"backend_path\":\"/nonexistent/s\"}}",
		 snap);
	EXPECT(call(vmm, HTTP_PUT, "/snapshot/load", body), 400, "/nonexistent/s");
	snprintf(body, sizeof(body), "{\"snapshot_path\":\"%s\","
		 "\"mem_backend\":{\"backend_type\":\"Uffd\",\"backend_path\":\"%s\"}}",
		 snap, snap);
	EXPECT(call(vmm, HTTP_PUT, "/snapshot/load", body), 400, "not a unix socket");
	snprintf(body, sizeof(body), "{\"snapshot_path\":\"%s\",\"mem_file_path\":\"/nonexistent/m\"}",
		 snap);
	EXPECT(call(vmm, HTTP_PUT, "/snapshot/load", body), 400, "/nonexistent/m");
	snprintf(body, sizeof(body), "{\"snapshot_path\":\"%s\",\"mem_file_path\":\"%s\","
		 "\"vsock_override\":{\"uds_path\":7}}", snap, snap);
	EXPECT(call(vmm, HTTP_PUT, "/snapshot/load", body), 400, "vsock_override: `uds_path`");
	{
		json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "snapshot_path", "s", "mem_file_path",
				      "m", "vsock_override", "uds_path", "/run/new.sock");
		struct vmm_restore rs;
		struct fc_error e;

		CHECK_EQ(fc_snapshot_load(&rs, o, &e), 0);
		CHECK(!strcmp(rs.vsock_uds, "/run/new.sock"));
		json_decref(o);
	}
	/* Once a boot resource is set, a load is refused. */
	EXPECT(call(vmm, HTTP_PUT, "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":64}"),
	       204, "");
	snprintf(body, sizeof(body), "{\"snapshot_path\":\"%s\",\"mem_file_path\":\"%s\"}",
		 snap, snap);
	EXPECT(call(vmm, HTTP_PUT, "/snapshot/load", body), 400, "after configuring");
	CHECK_EQ(vmm->phase, VMM_NOT_STARTED);
	unlink(snap);
	vmm_free(vmm);
}

TEST_SUITE(api,
	   TEST(test_share_routes),
	   TEST(test_balloon_routes),
	   TEST(test_snapshot_rules),
	   TEST(test_reads_before_start),
	   TEST(test_machine_config),
	   TEST(test_paths_and_methods),
	   TEST(test_drives_and_files),
	   TEST(test_start_pause_resume),
	   TEST(test_socket_server),
	   TEST(test_config_files),
	   TEST(test_firecracker_flags));
