// SPDX-License-Identifier: Apache-2.0
/*
 * Firecracker-shaped metrics (include/metrics.h): the groups' tables, the
 * JSON line, and where it goes.
 */
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "vm.h"

#define GROUP(var, gname, list, is_store)                                           \
	static const struct metric_field var##_fields[] = { list(var##_FIELD) };    \
	const struct metrics_group var##_group = {                                  \
		.name = gname, .fields = var##_fields,                               \
		.nr_fields = ARRAY_SIZE(var##_fields), .store = is_store,           \
	};                                                                           \
	/* The struct is the list and nothing else: every field one metric. */      \
	_Static_assert(sizeof(struct var) == ARRAY_SIZE(var##_fields) *             \
		       (is_store ? sizeof(struct metric_store) : sizeof(struct metric)), \
		       #var)

#define FIELD_OF(st, name) { #name, offsetof(struct st, name) },
#define api_server_metrics_FIELD(n) FIELD_OF(api_server_metrics, n)
#define get_api_metrics_FIELD(n)    FIELD_OF(get_api_metrics, n)
#define put_api_metrics_FIELD(n)    FIELD_OF(put_api_metrics, n)
#define patch_api_metrics_FIELD(n)  FIELD_OF(patch_api_metrics, n)
#define latencies_metrics_FIELD(n)  FIELD_OF(latencies_metrics, n)
#define logger_metrics_FIELD(n)     FIELD_OF(logger_metrics, n)
#define vcpu_metrics_FIELD(n)       FIELD_OF(vcpu_metrics, n)
#define vmm_metrics_FIELD(n)        FIELD_OF(vmm_metrics, n)
#define block_metrics_FIELD(n)      FIELD_OF(block_metrics, n)
#define net_metrics_FIELD(n)        FIELD_OF(net_metrics, n)
#define entropy_metrics_FIELD(n)    FIELD_OF(entropy_metrics, n)
#define uart_metrics_FIELD(n)       FIELD_OF(uart_metrics, n)
#define vsock_metrics_FIELD(n)      FIELD_OF(vsock_metrics, n)
#define balloon_metrics_FIELD(n)    FIELD_OF(balloon_metrics, n)

GROUP(api_server_metrics, "api_server", API_SERVER_METRICS, true);
GROUP(get_api_metrics, "get_api_requests", GET_API_METRICS, false);
GROUP(put_api_metrics, "put_api_requests", PUT_API_METRICS, false);
GROUP(patch_api_metrics, "patch_api_requests", PATCH_API_METRICS, false);
GROUP(latencies_metrics, "latencies_us", LATENCIES_METRICS, true);
GROUP(logger_metrics, "logger", LOGGER_METRICS, false);
GROUP(vcpu_metrics, "vcpu", VCPU_METRICS, false);
GROUP(vmm_metrics, "vmm", VMM_METRICS, true);
GROUP(block_metrics, "block", BLOCK_METRICS, false);
GROUP(net_metrics, "net", NET_METRICS, false);
GROUP(entropy_metrics, "entropy", ENTROPY_METRICS, false);
GROUP(uart_metrics, "uart", UART_METRICS, false);
GROUP(vsock_metrics, "vsock", VSOCK_METRICS, false);
GROUP(balloon_metrics, "balloon", BALLOON_METRICS, false);

/*
 * A counter's delta since the last line written.  Noted in @w, so that it
 * counts from here once the line is out (metrics_commit()).
 */
static u64 metric_take(struct metrics_writer *w, struct metric *m)
{
	unsigned long long now = atomic_load_explicit(&m->total, memory_order_relaxed);

	if (w->nr_taken == w->max_taken) {
		unsigned int max = w->max_taken ? 2 * w->max_taken : 256;
		struct metric_taken *t = realloc(w->taken, max * sizeof(*t));

		if (!t)
			return now - m->flushed; /* counted again next time: no harm */
		w->taken = t;
		w->max_taken = max;
	}
	w->taken[w->nr_taken++] = (struct metric_taken){ .m = m, .total = now };
	return now - m->flushed;
}

static void metrics_commit(struct metrics_writer *w)
{
	for (unsigned int i = 0; i < w->nr_taken; i++)
		w->taken[i].m->flushed = w->taken[i].total;
}

static u64 group_value(struct metrics_writer *w, const struct metrics_group *g, void *counters,
		       unsigned int i)
{
	void *field = (char *)counters + g->fields[i].offset;

	if (g->store)
		return atomic_load_explicit(&((struct metric_store *)field)->value,
					    memory_order_relaxed);
	return metric_take(w, field);
}

/* Adds @vals into root[@name], which it creates when absent. */
static void group_sum_into(json_t *root, const char *name, json_t *vals)
{
	json_t *sum = json_object_get(root, name);
	const char *key;
	json_t *v;

	if (!sum) {
		json_object_set_new(root, name, json_deep_copy(vals));
		return;
	}
	json_object_foreach(vals, key, v) {
		json_t *old = json_object_get(sum, key);

		json_object_set_new(sum, key, json_integer(json_integer_value(old) +
							   json_integer_value(v)));
	}
}

static json_t *group_take(struct metrics_writer *w, const struct metrics_group *g,
			  void *counters)
{
	json_t *vals = json_object();

	for (unsigned int i = 0; i < g->nr_fields; i++)
		json_object_set_new(vals, g->fields[i].name,
				    json_integer((json_int_t)group_value(w, g, counters, i)));
	return vals;
}

void metrics_put(struct metrics_writer *w, const struct metrics_group *group, const char *id,
		 void *counters)
{
	json_t *vals = group_take(w, group, counters);

	if (id) {
		char key[128];

		snprintf(key, sizeof(key), "%s_%s", group->name, id);
		json_object_set(w->root, key, vals);
	}
	group_sum_into(w->root, group->name, vals);
	json_decref(vals);
}

/* A group no device wrote (none present): all zeros, as Firecracker writes it. */
static void group_zero(json_t *root, const struct metrics_group *g)
{
	json_t *vals;

	if (json_object_get(root, g->name))
		return;
	vals = json_object();
	for (unsigned int i = 0; i < g->nr_fields; i++)
		json_object_set_new(vals, g->fields[i].name, json_integer(0));
	json_object_set_new(root, g->name, vals);
}

static void metrics_put_vm(struct metrics_writer *w, struct vm *vm)
{
	for (unsigned int i = 0; vm && i < vm->nr_vcpus; i++)
		metrics_put(w, &vcpu_metrics_group, NULL, &vm->vcpus[i].metrics);
	for (unsigned int i = 0; vm && i < vm->nr_devices; i++) {
		struct device *dev = &vm->devices[i];

		if (dev->cls->metrics)
			dev->cls->metrics(dev, w);
	}
	group_zero(w->root, &vcpu_metrics_group);
	group_zero(w->root, &block_metrics_group);
	group_zero(w->root, &net_metrics_group);
	group_zero(w->root, &entropy_metrics_group);
	group_zero(w->root, &uart_metrics_group);
	group_zero(w->root, &vsock_metrics_group);
	group_zero(w->root, &balloon_metrics_group);
}

static void metrics_collect(struct metrics *m, struct metrics_writer *w, struct vm *vm)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	json_object_set_new(w->root, "utc_timestamp_ms",
			    json_integer((json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
	metric_set_total(&m->logger.missed_log_count, log_missed_count());
	metric_set_total(&m->logger.rate_limited_log_count, log_rate_limited_count());
	metrics_put(w, &api_server_metrics_group, NULL, &m->api_server);
	metrics_put(w, &get_api_metrics_group, NULL, &m->get_api_requests);
	metrics_put(w, &put_api_metrics_group, NULL, &m->put_api_requests);
	metrics_put(w, &patch_api_metrics_group, NULL, &m->patch_api_requests);
	metrics_put(w, &latencies_metrics_group, NULL, &m->latencies_us);
	metrics_put(w, &logger_metrics_group, NULL, &m->logger);
	metrics_put(w, &vmm_metrics_group, NULL, &m->vmm);
	metrics_put_vm(w, vm);
}

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->fd = -1;
	m->timer_fd = -1;
}

int metrics_open(struct metrics *m, const char *path)
{
	int fd, ret = -EBUSY;
	struct stat st;

	pthread_mutex_lock(&m->lock);
	if (m->fd < 0) {
		fd = log_open_output(path);
		ret = fd < 0 ? fd : 0;
		if (fd >= 0)
			m->fd = fd;
		if (fd >= 0 && !fstat(fd, &st) && S_ISFIFO(st.st_mode))
			m->pipe_size = MAX(fcntl(fd, F_GETPIPE_SZ), 0);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/*
 * Room left in a pipe, so that a line goes in whole or not at all: a
 * non-blocking write larger than PIPE_BUF (a line is several KiB) may
 * otherwise put part of it in and tear the line for the reader.  The
 * pipe's size is read at open (fcntl is not in the main thread's
 * seccomp filter); FIONREAD is.
 */
static bool fifo_has_room(const struct metrics *m, size_t len)
{
	int queued;

	if (!m->pipe_size || ioctl(m->fd, FIONREAD, &queued))
		return true;
	return (size_t)(m->pipe_size - queued) >= len;
}

static int metrics_write(const struct metrics *m, const char *line, size_t len)
{
	ssize_t n;

	if (!fifo_has_room(m, len))
		return -EAGAIN;
	n = write(m->fd, line, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EAGAIN;
}

/* The line, newline included, in one malloc()ed buffer: its length, 0 if out of memory. */
static size_t metrics_line(json_t *root, char **line)
{
	size_t len = json_dumpb(root, NULL, 0, JSON_COMPACT);

	*line = len ? malloc(len + 1) : NULL;
	if (!*line || json_dumpb(root, *line, len, JSON_COMPACT) != len)
		return 0;
	(*line)[len] = '\n';
	return len + 1;
}

int metrics_flush(struct metrics *m, struct vm *vm)
{
	struct metrics_writer w = { .root = json_object() };
	char *line = NULL;
	size_t len = 0;
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->fd < 0 || !w.root)
		goto out;
	metrics_collect(m, &w, vm);
	len = metrics_line(w.root, &line);
	if (!len) {
		metric_inc(&m->logger.metrics_fails);
		ret = -ENOMEM;
		goto out;
	}
	ret = metrics_write(m, line, len);
	if (ret) {
		metric_inc(&m->logger.missed_metrics_count);
		goto out;
	}
	metrics_commit(&w);
	ret = 1;
out:
	pthread_mutex_unlock(&m->lock);
	free(line);
	free(w.taken);
	json_decref(w.root);
	return ret;
}

static void metrics_tick(struct event_source *src, uint32_t events __unused)
{
	struct metrics *m = container_of(src, struct metrics, timer);
	u64 expired;

	if (read(src->fd, &expired, sizeof(expired)) != sizeof(expired))
		return;
	metrics_flush(m, m->vm);
}

int metrics_start_timer(struct metrics *m, struct event_loop *loop, struct vm *vm)
{
	struct itimerspec period = {
		.it_interval = { .tv_sec = METRICS_PERIOD_S },
		.it_value = { .tv_sec = METRICS_PERIOD_S },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &period, NULL)) {
		ret = -errno;
		goto err;
	}
	m->vm = vm;
	m->loop = loop;
	m->timer = (struct event_source){ .fd = fd, .ready = metrics_tick };
	ret = event_loop_add(loop, &m->timer, EPOLLIN);
	if (ret)
		goto err;
	m->timer_fd = fd;
	return 0;
err:
	close(fd);
	return ret;
}

void metrics_set_vm(struct metrics *m, struct vm *vm)
{
	m->vm = vm;
}

void metrics_close(struct metrics *m)
{
	if (m->timer_fd >= 0) {
		event_loop_del(m->loop, &m->timer);
		close(m->timer_fd);
		m->timer_fd = -1;
	}
	pthread_mutex_lock(&m->lock);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	pthread_mutex_unlock(&m->lock);
}
