// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"
#include "test.h"
#include "vm.h"

static char test_dir[64], test_path[96];

static void metrics_test_path(const char *name)
{
	strcpy(test_dir, "/tmp/arkvm-metrics-XXXXXX");
	if (!mkdtemp(test_dir))
		test_dir[0] = '\0';
	snprintf(test_path, sizeof(test_path), "%s/%s", test_dir, name);
}

static void metrics_test_done(struct metrics *m)
{
	metrics_close(m);
	unlink(test_path);
	rmdir(test_dir);
}

/* The file's lines, each parsed; NULL where one is not a JSON object. */
static unsigned int read_lines(const char *path, json_t *lines[], unsigned int max)
{
	static char buf[1 << 16];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	unsigned int nr = 0;
	char *line = buf, *nl;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	while (nr < max && (nl = strchr(line, '\n'))) {
		*nl = '\0';
		lines[nr++] = json_loads(line, 0, NULL);
		line = nl + 1;
	}
	return nr;
}

static long long field(json_t *root, const char *group, const char *name)
{
	json_t *v = json_object_get(json_object_get(root, group), name);

	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void test_metrics_line_shape(void)
{
	static const char *const groups[] = {
		"utc_timestamp_ms", "api_server", "block", "net", "vcpu", "vmm", "latencies_us",
		"logger", "entropy", "uart", "get_api_requests", "put_api_requests",
		"patch_api_requests",
	};
	struct metrics m;
	json_t *lines[4];

	metrics_init(&m);
	CHECK(metrics_flush(&m, NULL) == 0); /* nowhere to go yet */
	metrics_test_path("metrics.json");
	CHECK(metrics_open(&m, test_path) == 0);
	CHECK(metrics_open(&m, test_path) == -EBUSY);
	metric_inc(&m.put_api_requests.actions_count);
	metric_inc(&m.put_api_requests.actions_count);
	metric_store(&m.api_server.process_startup_time_us, 1234);
	CHECK(metrics_flush(&m, NULL) == 1);
	CHECK(read_lines(test_path, lines, 4) == 1);
	metrics_test_done(&m);
	CHECK(json_is_object(lines[0]));
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
		CHECK(json_object_get(lines[0], groups[i]));
	CHECK(json_integer_value(json_object_get(lines[0], "utc_timestamp_ms")) > 1600000000000LL);
	CHECK_EQ(field(lines[0], "put_api_requests", "actions_count"), 2);
	CHECK_EQ(field(lines[0], "api_server", "process_startup_time_us"), 1234);
	/* No device: their groups are there, all 0, as Firecracker writes them. */
	CHECK_EQ(field(lines[0], "block", "read_count"), 0);
	CHECK_EQ(field(lines[0], "net", "tx_bytes_count"), 0);
	CHECK_EQ(field(lines[0], "vcpu", "exit_mmio_read"), 0);
	CHECK_EQ(field(lines[0], "entropy", "entropy_bytes"), 0);
	json_decref(lines[0]);
}

/* Counters say what happened since the previous line; stored values stay. */
static void test_metrics_deltas_reset(void)
{
	struct metrics m;
	json_t *lines[4];
	unsigned int nr;

	metrics_init(&m);
	metrics_test_path("metrics.json");
	CHECK(metrics_open(&m, test_path) == 0);
	metric_add(&m.put_api_requests.drive_count, 3);
	metric_store(&m.latencies_us.pause_vm, 77);
	CHECK(metrics_flush(&m, NULL) == 1);
	CHECK(metrics_flush(&m, NULL) == 1);
	metric_inc(&m.put_api_requests.drive_count);
	CHECK(metrics_flush(&m, NULL) == 1);
	nr = read_lines(test_path, lines, 4);
	metrics_test_done(&m);
	CHECK_EQ(nr, 3);
	CHECK_EQ(field(lines[0], "put_api_requests", "drive_count"), 3);
	CHECK_EQ(field(lines[1], "put_api_requests", "drive_count"), 0);
	CHECK_EQ(field(lines[2], "put_api_requests", "drive_count"), 1);
	for (unsigned int i = 0; i < nr; i++) {
		CHECK_EQ(field(lines[i], "latencies_us", "pause_vm"), 77);
		json_decref(lines[i]);
	}
}

/* Two disks of a made-up class: each its own group, and "block" their sum. */
struct fake_disk_dev {
	struct block_metrics metrics;
};

static void fake_disk_metrics(struct device *dev, struct metrics_writer *w)
{
	struct fake_disk_dev *d = dev->priv;

	metrics_put(w, &block_metrics_group, dev->id, &d->metrics);
}

static const struct device_class fake_disk_class = {
	.name = "fake-disk",
	.metrics = fake_disk_metrics,
};

static void test_metrics_devices_and_vcpus(void)
{
	static struct fake_disk_dev disks[2];
	static struct vcpu vcpus[2];
	static struct vm vm;
	struct metrics m;
	json_t *lines[4];

	memset(disks, 0, sizeof(disks));
	memset(vcpus, 0, sizeof(vcpus));
	vm.vcpus = vcpus;
	vm.nr_vcpus = 2;
	vm.devices[0] = (struct device){ .cls = &fake_disk_class, .id = "rootfs", .priv = &disks[0] };
	vm.devices[1] = (struct device){ .cls = &fake_disk_class, .id = "data", .priv = &disks[1] };
	vm.nr_devices = 2;
	metric_add(&disks[0].metrics.read_count, 5);
	metric_add(&disks[1].metrics.read_count, 2);
	metric_inc(&vcpus[0].metrics.exit_mmio_write);
	metric_add(&vcpus[1].metrics.exit_mmio_write, 4);

	metrics_init(&m);
	metrics_test_path("metrics.json");
	CHECK(metrics_open(&m, test_path) == 0);
	CHECK(metrics_flush(&m, &vm) == 1);
	metric_inc(&disks[1].metrics.read_count);
	CHECK(metrics_flush(&m, &vm) == 1);
	CHECK(read_lines(test_path, lines, 4) == 2);
	metrics_test_done(&m);
	CHECK_EQ(field(lines[0], "block_rootfs", "read_count"), 5);
	CHECK_EQ(field(lines[0], "block_data", "read_count"), 2);
	CHECK_EQ(field(lines[0], "block", "read_count"), 7);
	CHECK_EQ(field(lines[0], "vcpu", "exit_mmio_write"), 5);
	CHECK_EQ(field(lines[1], "block_rootfs", "read_count"), 0);
	CHECK_EQ(field(lines[1], "block", "read_count"), 1);
	CHECK_EQ(field(lines[1], "vcpu", "exit_mmio_write"), 0);
	json_decref(lines[0]);
	json_decref(lines[1]);
}

/*
 * Firecracker's metrics go to a FIFO: one nobody reads fills, and then
 * flushes fail at once (counted) instead of blocking; a reader that comes
 * later finds whole lines, and the count of those that were missed.
 */
static void test_metrics_fifo_without_reader(void)
{
	static char buf[1 << 17];
	struct metrics m;
	int rd, failed = 0, ret;
	char *line, *nl;
	json_t *last = NULL;
	ssize_t n;

	metrics_init(&m);
	metrics_test_path("metrics.fifo");
	CHECK(mkfifo(test_path, 0600) == 0);
	CHECK(metrics_open(&m, test_path) == 0);
	for (int i = 0; i < 64; i++) {
		ret = metrics_flush(&m, NULL);
		CHECK(ret == 1 || ret == -EAGAIN);
		failed += ret < 0;
	}
	CHECK(failed > 0);
	rd = open(test_path, O_RDONLY | O_NONBLOCK);
	CHECK(rd >= 0);
	n = read(rd, buf, sizeof(buf) - 1);
	CHECK(n > 0);
	CHECK(metrics_flush(&m, NULL) == 1);
	n += read(rd, buf + n, sizeof(buf) - 1 - (size_t)n);
	close(rd);
	metrics_test_done(&m);
	buf[n] = '\0';
	CHECK(buf[n - 1] == '\n');
	for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
		json_t *j;

		*nl = '\0';
		j = json_loads(line, 0, NULL);
		CHECK(json_is_object(j)); /* no line torn */
		json_decref(last);
		last = j;
	}
	CHECK(field(last, "logger", "missed_metrics_count") == failed);
	json_decref(last);
}

TEST_SUITE(metrics,
	TEST(test_metrics_line_shape),
	TEST(test_metrics_deltas_reset),
	TEST(test_metrics_devices_and_vcpus),
	TEST(test_metrics_fifo_without_reader),
);
