/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_METRICS_H
#define ARKVM_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "compiler.h"
#include "event_loop.h"

/*
 * Metrics in Firecracker's shape: one JSON object per line, written to a
 * file or a FIFO every 60 s, on FlushMetrics and at exit:
 *
 *   {"utc_timestamp_ms":1714644672123,"api_server":{...},"block":{...},
 *    "block_rootfs":{...},"net":{...},"net_eth0":{...},"vcpu":{...},...}
 *
 * Groups and field names are Firecracker's (src/vmm/src/logger/metrics.rs
 * and each device's metrics.rs).  Every field of a group is written, so a
 * reader looking one up finds it: the ones arkvm has no counter for are 0
 * (the lists below say which arkvm counts).  Left out: Firecracker's
 * latency aggregates (*_agg: arkvm times no exits or requests) and the
 * groups of what arkvm does not have (mmds, i8042, rtc,
 * vhost_user, pmem, memory hotplug, seccomp, signals, deprecated_api,
 * interrupts).
 *
 * Most fields are counters written as what happened since the previous
 * line (Firecracker's SharedIncMetric): struct metric, bumped on any
 * thread with a relaxed atomic add; the flush remembers what it wrote.
 * A few are values written as they stand (SharedStoreMetric):
 * struct metric_store.
 */
struct metric {
	atomic_ullong total;
	unsigned long long flushed;   /* total at the last flush (the flusher's) */
};

struct metric_store {
	atomic_ullong value;
};

static inline void metric_add(struct metric *m, u64 n)
{
	atomic_fetch_add_explicit(&m->total, n, memory_order_relaxed);
}

static inline void metric_inc(struct metric *m)
{
	metric_add(m, 1);
}

/* For a count kept elsewhere (a virtio queue's kicks): its running total. */
static inline void metric_set_total(struct metric *m, u64 total)
{
	atomic_store_explicit(&m->total, total, memory_order_relaxed);
}

static inline void metric_store(struct metric_store *m, u64 value)
{
	atomic_store_explicit(&m->value, value, memory_order_relaxed);
}

#define METRIC_INC_FIELD(name)   struct metric name;
#define METRIC_STORE_FIELD(name) struct metric_store name;

/*
 * The groups.  Marked [arkvm] are the fields arkvm counts; the others
 * are always 0.
 */

/* api_server (store): [the lead's API] both, from --start-time-us & co. */
#define API_SERVER_METRICS(X) X(process_startup_time_us) X(process_startup_time_cpu_us)

/* get_api_requests, put_api_requests, patch_api_requests: bumped by the API thread. */
#define GET_API_METRICS(X)                                                          \
	X(instance_info_count) X(machine_cfg_count) X(mmds_count) X(vmm_version_count) \
	X(hotplug_memory_count)
#define PUT_API_METRICS(X)                                                          \
	X(actions_count) X(actions_fails) X(boot_source_count) X(boot_source_fails)   \
	X(drive_count) X(drive_fails) X(logger_count) X(logger_fails)                 \
	X(machine_cfg_count) X(machine_cfg_fails) X(cpu_cfg_count) X(cpu_cfg_fails)  \
	X(metrics_count) X(metrics_fails) X(network_count) X(network_fails)           \
	X(mmds_count) X(mmds_fails) X(vsock_count) X(vsock_fails) X(pmem_count)       \
	X(pmem_fails) X(serial_count) X(serial_fails) X(hotplug_memory_count)         \
	X(hotplug_memory_fails)
#define PATCH_API_METRICS(X)                                                        \
	X(drive_count) X(drive_fails) X(network_count) X(network_fails)               \
	X(machine_cfg_count) X(machine_cfg_fails) X(mmds_count) X(mmds_fails)         \
	X(hotplug_memory_count) X(hotplug_memory_fails) X(pmem_count) X(pmem_fails)

/* latencies_us (store, microseconds): [the lead] pause_vm, resume_vm, vmm_pause_vm, vmm_resume_vm. */
#define LATENCIES_METRICS(X)                                                        \
	X(full_create_snapshot) X(diff_create_snapshot) X(load_snapshot) X(pause_vm)  \
	X(resume_vm) X(vmm_full_create_snapshot) X(vmm_diff_create_snapshot)          \
	X(vmm_load_snapshot) X(vmm_pause_vm) X(vmm_resume_vm)

/* logger: [arkvm] all four (missed lines, rate-limited lines, failed metrics lines). */
#define LOGGER_METRICS(X) \
	X(missed_metrics_count) X(metrics_fails) X(missed_log_count) X(rate_limited_log_count)

/* vcpu: [arkvm] exit_mmio_read, exit_mmio_write, failures (KVM_RUN errors, exits it cannot serve). */
#define VCPU_METRICS(X)                                                             \
	X(exit_io_in) X(exit_io_out) X(exit_mmio_read) X(exit_mmio_write) X(failures) \
	X(kvmclock_ctrl_fails)

/* vmm (store): panic_count; arkvm has no panics to count. */
#define VMM_METRICS(X) X(panic_count)

/*
 * block and block_<drive id>: [arkvm] activate_fails, execute_fails (the disk failed a request), invalid_reqs_count (refused
 * or unsupported), flush_count, queue_event_count (kicks), read_bytes,
 * write_bytes, read_count, write_count.
 */
#define BLOCK_METRICS(X)                                                            \
	X(activate_fails) X(cfg_fails) X(no_avail_buffer) X(event_fails)              \
	X(execute_fails) X(invalid_reqs_count) X(flush_count) X(queue_event_count)    \
	X(rate_limiter_event_count) X(update_count) X(update_fails) X(read_bytes)     \
	X(write_bytes) X(read_count) X(write_count) X(rate_limiter_throttled_events)  \
	X(io_engine_throttled_events) X(remaining_reqs_count)

/*
 * net and net_<iface id>: [arkvm] activate_fails, rx_queue_event_count,
 * tx_queue_event_count (kicks), rx_tap_event_count, rx_bytes_count,
 * rx_packets_count, rx_count, tx_bytes_count, tx_packets_count, tx_count,
 * tx_fails, tx_malformed_frames, rx_fails (a runt).  A NIC on vhost-net
 * moves its packets in the kernel: arkvm sees only its kicks before
 * DRIVER_OK and activation.
 */
#define NET_METRICS(X)                                                              \
	X(activate_fails) X(cfg_fails) X(no_rx_avail_buffer) X(no_tx_avail_buffer)    \
	X(event_fails) X(rx_queue_event_count) X(rx_event_rate_limiter_count)         \
	X(rx_rate_limiter_throttled) X(rx_tap_event_count) X(rx_bytes_count)          \
	X(rx_packets_count) X(rx_fails) X(rx_count) X(tap_read_fails)                 \
	X(tap_write_fails) X(tx_bytes_count) X(tx_malformed_frames) X(tx_fails)       \
	X(tx_count) X(tx_packets_count) X(tx_queue_event_count)                       \
	X(tx_rate_limiter_event_count) X(tx_rate_limiter_throttled)                   \
	X(tx_spoofed_mac_count) X(tx_remaining_reqs_count)

/*
 * entropy: [arkvm] activate_fails, entropy_event_count (kicks),
 * entropy_bytes, host_rng_fails.
 */
#define ENTROPY_METRICS(X)                                                          \
	X(activate_fails) X(entropy_event_fails) X(entropy_event_count)               \
	X(entropy_bytes) X(host_rng_fails) X(entropy_rate_limiter_throttled)          \
	X(rate_limiter_event_count)

/*
 * uart: [arkvm] read_count and write_count (the guest's reads of the
 * receive register and writes of the transmit register), missed_write_count
 * (output the console could not take), missed_read_count (input dropped,
 * the FIFO full).
 */
#define UART_METRICS(X)                                                             \
	X(error_count) X(flush_count) X(missed_read_count) X(missed_write_count)      \
	X(read_count) X(write_count) X(rate_limiter_dropped_bytes)

/*
 * vsock: [arkvm] activate_fails, rx_queue_event_count and
 * tx_queue_event_count (kicks), rx_bytes_count and rx_packets_count (to
 * the guest), tx_bytes_count and tx_packets_count (from the guest; bytes
 * are payload), conns_added, conns_killed (reset, timed out, refused),
 * conns_removed, tx_write_fails (a host socket refused the guest's bytes),
 * rx_read_fails (reading a host socket failed).
 */
#define VSOCK_METRICS(X)                                                            \
	X(activate_fails) X(cfg_fails) X(rx_queue_event_fails) X(tx_queue_event_fails) \
	X(ev_queue_event_fails) X(muxer_event_fails) X(conn_event_fails)              \
	X(rx_queue_event_count) X(tx_queue_event_count) X(rx_bytes_count)             \
	X(tx_bytes_count) X(rx_packets_count) X(tx_packets_count) X(conns_added)      \
	X(conns_killed) X(conns_removed) X(killq_resync) X(tx_flush_fails)            \
	X(tx_write_fails) X(rx_read_fails)

/*
 * balloon: [arkvm] activate_fails, inflate_count and deflate_count (buffers
 * served), stats_updates_count (statistics buffers read), stats_update_fails
 * (entries of tags arkvm does not know), event_fails (malformed buffers),
 * free_page_report_count (buffers), free_page_report_freed (bytes),
 * free_page_report_fails (ranges madvise refused).  No free page hinting.
 */
#define BALLOON_METRICS(X)                                                          \
	X(activate_fails) X(inflate_count) X(stats_updates_count)                     \
	X(stats_update_fails) X(deflate_count) X(event_fails)                         \
	X(free_page_report_count) X(free_page_report_freed) X(free_page_report_fails) \
	X(free_page_hint_count) X(free_page_hint_freed) X(free_page_hint_fails)

struct api_server_metrics { API_SERVER_METRICS(METRIC_STORE_FIELD) };
struct get_api_metrics { GET_API_METRICS(METRIC_INC_FIELD) };
struct put_api_metrics { PUT_API_METRICS(METRIC_INC_FIELD) };
struct patch_api_metrics { PATCH_API_METRICS(METRIC_INC_FIELD) };
struct latencies_metrics { LATENCIES_METRICS(METRIC_STORE_FIELD) };
struct logger_metrics { LOGGER_METRICS(METRIC_INC_FIELD) };
struct vcpu_metrics { VCPU_METRICS(METRIC_INC_FIELD) };
struct vmm_metrics { VMM_METRICS(METRIC_STORE_FIELD) };
struct block_metrics { BLOCK_METRICS(METRIC_INC_FIELD) };
struct net_metrics { NET_METRICS(METRIC_INC_FIELD) };
struct entropy_metrics { ENTROPY_METRICS(METRIC_INC_FIELD) };
struct uart_metrics { UART_METRICS(METRIC_INC_FIELD) };
struct vsock_metrics { VSOCK_METRICS(METRIC_INC_FIELD) };
struct balloon_metrics { BALLOON_METRICS(METRIC_INC_FIELD) };

/* A group: its name in the JSON, and where each field is in its struct. */
struct metric_field {
	const char *name;
	size_t offset;
};

struct metrics_group {
	const char *name;
	const struct metric_field *fields;
	unsigned int nr_fields;
	bool store;                   /* struct metric_store fields, else struct metric */
};

extern const struct metrics_group api_server_metrics_group, get_api_metrics_group,
	put_api_metrics_group, patch_api_metrics_group, latencies_metrics_group,
	logger_metrics_group, vcpu_metrics_group, vmm_metrics_group, block_metrics_group,
	net_metrics_group, entropy_metrics_group, uart_metrics_group, vsock_metrics_group,
	balloon_metrics_group;

typedef struct json_t json_t;

/*
 * A line being made: the JSON, and the counters it took deltas of, which
 * count from there only once the line is written (a line that could not
 * be written leaves them to the next).
 */
struct metrics_writer {
	json_t *root;
	struct metric_taken {
		struct metric *m;
		unsigned long long total;
	} *taken;
	unsigned int nr_taken, max_taken;
};

/*
 * What a device's metrics op calls: writes @counters (a struct of
 * @group's fields) as "<group>_<id>" and adds them into "<group>" (the sum
 * of all such devices); with @id NULL only adds them into "<group>".
 */
void metrics_put(struct metrics_writer *w, const struct metrics_group *group, const char *id,
		 void *counters);

struct vm;

/*
 * The process's metrics: one, owned by main().  The counters here are
 * bumped from any thread with metric_inc()/metric_store(); flushes take
 * m->lock, so any thread may flush.
 */
struct metrics {
	pthread_mutex_t lock;
	int fd;                          /* -1 until metrics_open() */
	int pipe_size;                   /* a FIFO's capacity, else 0 */
	struct api_server_metrics api_server;
	struct get_api_metrics get_api_requests;
	struct put_api_metrics put_api_requests;
	struct patch_api_metrics patch_api_requests;
	struct latencies_metrics latencies_us;
	struct logger_metrics logger;
	struct vmm_metrics vmm;

	/* The periodic flush (metrics_start_timer()). */
	int timer_fd;
	struct event_source timer;
	struct event_loop *loop;
	struct vm *vm;
};

#define METRICS_PERIOD_S 60

void metrics_init(struct metrics *m);
/*
 * Where the lines go: a file (appended to, created 0600) or a FIFO,
 * non-blocking, as log_open_output().  0, -EBUSY when already open (as
 * Firecracker, once only), or -errno.
 */
int metrics_open(struct metrics *m, const char *path);
/*
 * Writes one line (one write()) with every group, @vm's devices and
 * vCPUs included (@vm NULL before they exist: their groups are 0).
 * 1 when written, 0 when metrics_open() was not called, -errno when the
 * line could not be written (a FIFO full or nobody reading it):
 * logger.missed_metrics_count then says so in the next line, which also
 * counts what this one would have.  Any thread (calls are serialized).
 */
int metrics_flush(struct metrics *m, struct vm *vm);
/*
 * Flushes every METRICS_PERIOD_S seconds from @loop (the main thread's):
 * a timerfd on it.  @vm NULL until there is one: metrics_set_vm() then,
 * on @loop's thread.  0 or -errno.
 */
int metrics_start_timer(struct metrics *m, struct event_loop *loop, struct vm *vm);
void metrics_set_vm(struct metrics *m, struct vm *vm);
/*
 * Stops the timer and closes the output (no last line: flush first).  On
 * the timer's loop's thread, once nothing else flushes.
 */
void metrics_close(struct metrics *m);


#endif
