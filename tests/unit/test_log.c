// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "test.h"

/* A fresh path in a fresh directory; removed by log_test_done(). */
static char test_dir[64], test_path[96];

static void log_test_path(const char *name)
{
	strcpy(test_dir, "/tmp/arkvm-log-XXXXXX");
	if (!mkdtemp(test_dir))
		test_dir[0] = '\0';
	snprintf(test_path, sizeof(test_path), "%s/%s", test_dir, name);
}

static void log_test_done(void)
{
	log_open(&log_default_config, NULL);
	unlink(test_path);
	rmdir(test_dir);
}

static size_t read_all(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnn " (the year may be longer): the rest of the line, or NULL. */
static const char *after_timestamp(const char *line)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddddd ";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		bool digit = line[i] >= '0' && line[i] <= '9';

		if (shape[i] == 'd' ? !digit : line[i] != shape[i])
			return NULL;
	}
	return line + sizeof(shape) - 1;
}

static void test_log_default_format(void)
{
	struct stat st;
	char buf[512];

	log_test_path("log");
	CHECK(log_open(&log_default_config, test_path) == 0);
	pr_err("disk %d failed", 3);
	pr_warn("slow");
	pr_info("hello");
	pr_debug("not at Info");
	read_all(test_path, buf, sizeof(buf));
	CHECK(!stat(test_path, &st));
	log_test_done();
	CHECK(!strcmp(buf, "arkvm: disk 3 failed\narkvm: warning: slow\narkvm: hello\n"));
	CHECK_EQ(st.st_mode & 0777, 0600);
}

struct fc_case {
	struct log_config cfg;
	char out[1024];
	int line;
};

/* Logs from a thread of a known name, as arkvm's threads are named. */
static void *fc_logger_thread(void *arg)
{
	struct fc_case *c = arg;

	pthread_setname_np(pthread_self(), "fc_test");
	log_cache_thread_name();
	if (log_open(&c->cfg, test_path))
		return NULL;
	c->line = __LINE__ + 1;
	pr_warn("value %s", "x");
	read_all(test_path, c->out, sizeof(c->out));
	return NULL;
}

static void fc_line(struct fc_case *c)
{
	pthread_t t;

	log_test_path("fc.log");
	pthread_create(&t, NULL, fc_logger_thread, c);
	pthread_join(t, NULL);
	log_test_done();
}

static void test_log_firecracker_format(void)
{
	struct fc_case c = { .cfg = { .firecracker = true, .level = LOG_INFO } };
	const char *rest;
	char want[256];

	fc_line(&c);
	rest = after_timestamp(c.out);
	CHECK(rest);
	CHECK(!strcmp(rest, "[anonymous-instance:fc_test] value x\n"));

	c = (struct fc_case){ .cfg = { .firecracker = true, .level = LOG_INFO,
				       .show_level = true, .id = "vm-7" } };
	fc_line(&c);
	rest = after_timestamp(c.out);
	CHECK(rest && !strcmp(rest, "[vm-7:fc_test:WARN] value x\n"));

	c = (struct fc_case){ .cfg = { .firecracker = true, .level = LOG_INFO,
				       .show_log_origin = true } };
	fc_line(&c);
	snprintf(want, sizeof(want), "[anonymous-instance:fc_test:%s:%d] value x\n", __FILE__,
		 c.line);
	rest = after_timestamp(c.out);
	CHECK(rest && !strcmp(rest, want));

	c = (struct fc_case){ .cfg = { .firecracker = true, .level = LOG_INFO, .show_level = true,
				       .show_log_origin = true } };
	fc_line(&c);
	snprintf(want, sizeof(want), "[anonymous-instance:fc_test:WARN:%s:%d] value x\n",
		 __FILE__, c.line);
	rest = after_timestamp(c.out);
	CHECK(rest && !strcmp(rest, want));
}

static void test_log_level_filter(void)
{
	struct log_config cfg = { .firecracker = true, .show_level = true };
	char buf[1024];

	CHECK(log_level_parse("WaRnInG", &cfg.level) == 0);
	CHECK_EQ(cfg.level, LOG_WARN);
	log_test_path("level.log");
	CHECK(log_open(&cfg, test_path) == 0);
	pr_info("dropped");
	pr_warn("kept warning");
	pr_err("kept error");
	read_all(test_path, buf, sizeof(buf));
	CHECK(!strstr(buf, "dropped"));
	CHECK(strstr(buf, ":WARN] kept warning\n"));
	CHECK(strstr(buf, ":ERROR] kept error\n"));

	CHECK(log_level_parse("off", &cfg.level) == 0);
	log_set(&cfg);
	pr_err("not even errors");
	read_all(test_path, buf, sizeof(buf));
	log_test_done();
	CHECK(!strstr(buf, "not even errors"));
}

static void test_log_level_names(void)
{
	static const struct {
		const char *name;
		enum log_level level;
	} ok[] = {
		{ "Error", LOG_ERROR }, { "WARN", LOG_WARN }, { "warning", LOG_WARN },
		{ "Info", LOG_INFO }, { "debug", LOG_DEBUG }, { "TRACE", LOG_TRACE },
		{ "Off", LOG_OFF },
	};
	enum log_level level;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		CHECK(log_level_parse(ok[i].name, &level) == 0);
		CHECK_EQ(level, ok[i].level);
	}
	CHECK(log_level_parse("verbose", &level) == -EINVAL);
	CHECK(log_level_parse("", &level) == -EINVAL);
}

/*
 * A FIFO nobody reads: lines fill it, then are dropped and counted, and
 * logging never waits.  What did go in are whole lines.
 */
static void test_log_full_fifo_drops(void)
{
	struct log_config cfg = { .firecracker = true, .level = LOG_INFO };
	unsigned long long missed = log_missed_count();
	char buf[8192];
	ssize_t n;
	int rd;

	log_test_path("fifo");
	CHECK(mkfifo(test_path, 0600) == 0);
	CHECK(log_open(&cfg, test_path) == 0);
	rd = open(test_path, O_RDONLY | O_NONBLOCK);
	CHECK(rd >= 0);
	CHECK(fcntl(rd, F_SETPIPE_SZ, 4096) >= 0);
	for (int i = 0; i < 200; i++)
		pr_info("line %03d of a FIFO that nobody reads, long enough to fill it soon", i);
	CHECK(log_missed_count() > missed);
	n = read(rd, buf, sizeof(buf) - 1);
	close(rd);
	log_test_done();
	CHECK(n > 0);
	buf[n] = '\0';
	CHECK(buf[n - 1] == '\n');
	CHECK(after_timestamp(buf));
	CHECK(strstr(buf, "line 000 of"));
}

/* Opening a path that cannot be opened changes nothing. */
static void test_log_open_fails_cleanly(void)
{
	char buf[256];

	log_test_path("kept.log");
	CHECK(log_open(&log_default_config, test_path) == 0);
	CHECK(log_open(&(struct log_config){ .firecracker = true, .level = LOG_INFO },
		       "/nonexistent-dir/x.log") == -ENOENT);
	pr_info("still here");
	read_all(test_path, buf, sizeof(buf));
	log_test_done();
	CHECK(!strcmp(buf, "arkvm: still here\n"));
}

TEST_SUITE(log,
	TEST(test_log_default_format),
	TEST(test_log_firecracker_format),
	TEST(test_log_level_filter),
	TEST(test_log_level_names),
	TEST(test_log_full_fifo_drops),
	TEST(test_log_open_fails_cleanly),
);
