// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-balloon: the host asks for memory back and the guest gives it.
 *
 * The host sets a target (num_pages, in 4 KiB pages whatever the guest's
 * own page size); the guest allocates that many pages and sends their
 * numbers on the inflate queue, and arkvm drops them from guest RAM with
 * MADV_DONTNEED, so they leave arkvm's resident memory.  Deflating needs
 * nothing from the host: a page the guest touches again comes back zeroed
 * (or, after a restore, as the memory file had it).  MADV_REMOVE would
 * free the backing of a shared mapping, but guest RAM is always private
 * (anonymous, hugetlb, or a snapshot's file mapped MAP_PRIVATE), where
 * MADV_DONTNEED is what drops the pages.
 *
 * Free page reporting sends ranges the guest's allocator found free, with
 * no target: each one is dropped the same way.  The statistics queue is a
 * single buffer the device holds and gives back on each tick of its
 * timer, which makes the driver refill it with fresh numbers.
 *
 * Every page number and range is checked to lie in guest RAM before it is
 * used: one that does not gets the device DEVICE_NEEDS_RESET.  Queue work
 * runs on the I/O thread; madvise happens with vdev.lock dropped.
 */
#include <endian.h>
#include <errno.h>
#include <linux/virtio_ids.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "virtio_balloon.h"

#define BALLOON_QUEUE_SIZE 256
#define BALLOON_STATE_VERSION 1

static struct virtio_balloon *to_balloon(struct virtio_dev *dev)
{
	return container_of(dev, struct virtio_balloon, vdev);
}

/*
 * Where queue @which is for the features the driver accepted, or -1 when
 * it has none.  The spec numbers the queues inflate, deflate, stats,
 * free_page_vq, reporting_vq, each of the last three there only with its
 * feature, and drivers (Linux's virtio-mmio) give the ones present
 * consecutive indexes: reporting is 2 without statistics.  Free page
 * hinting is never offered, so free_page_vq never takes one.
 */
static int balloon_queue(const struct virtio_dev *dev, enum balloon_queue which)
{
	bool stats = virtio_dev_has_feature(dev, VIRTIO_BALLOON_F_STATS_VQ);

	switch (which) {
	case BALLOON_INFLATE:
		return 0;
	case BALLOON_DEFLATE:
		return 1;
	case BALLOON_STATS:
		return stats ? 2 : -1;
	case BALLOON_REPORTING:
		return virtio_dev_has_feature(dev, VIRTIO_BALLOON_F_REPORTING) ? 2 + stats : -1;
	default:
		return -1;
	}
}

/* What queue @q does, or BALLOON_NR_QUEUES when it is none of them. */
static enum balloon_queue balloon_queue_role(const struct virtio_dev *dev, unsigned int q)
{
	for (int which = 0; which < BALLOON_NR_QUEUES; which++)
		if (balloon_queue(dev, which) == (int)q)
			return which;
	return BALLOON_NR_QUEUES;
}

/* ---- giving memory back ---- */

/*
 * Drops [hva, hva + len) from guest RAM, trimmed inward to what madvise
 * drops whole: it rounds a length up to a page, which would take part of
 * a neighbouring page the guest still uses (a 64 KiB host page holds
 * sixteen of the guest's 4 KiB page numbers; a hugetlb page 512).
 * Returns the bytes dropped.
 */
static u64 balloon_release(struct virtio_balloon *b, u8 *hva, u64 len)
{
	u64 start = ALIGN_UP((uintptr_t)hva, b->release_align);
	u64 end = ALIGN_DOWN((uintptr_t)hva + len, b->release_align);

	if (end <= start)
		return 0;
	if (madvise((void *)(uintptr_t)start, end - start, MADV_DONTNEED)) {
		pr_warn_ratelimited("virtio-balloon: cannot release %llu bytes of guest RAM: %s",
				    (unsigned long long)(end - start), strerror(errno));
		metric_inc(&b->metrics.free_page_report_fails);
		return 0;
	}
	atomic_fetch_add_explicit(&b->released_bytes, end - start, memory_order_relaxed);
	return end - start;
}

/*
 * An inflate or deflate buffer: an array of le32 page numbers, all
 * device-readable, copied once into b->pfns (host order) so the guest
 * cannot change them between the check and the use.  Its count, or
 * -EINVAL for a buffer of another shape.
 */
static int balloon_read_pfns(struct virtio_balloon *b, const struct virtq_chain *c)
{
	unsigned int n;

	if (c->nr_in || c->out_len % sizeof(u32) || c->out_len > sizeof(b->pfns)) {
		pr_warn_ratelimited("virtio-balloon: page list of %llu bytes (%u writable parts)",
				    (unsigned long long)c->out_len, c->nr_in);
		return -EINVAL;
	}
	n = (unsigned int)(c->out_len / sizeof(u32));
	virtq_chain_read(c, 0, b->pfns, c->out_len);
	for (unsigned int i = 0; i < n; i++)
		b->pfns[i] = le32toh(b->pfns[i]);
	return (int)n;
}

static u8 *pfn_to_hva(const struct virtio_balloon *b, u32 pfn)
{
	return gpa_to_hva(b->vdev.mem, (u64)pfn << VIRTIO_BALLOON_PFN_SHIFT, BALLOON_PAGE_SIZE);
}

/* Every page of the list in guest RAM, or -EFAULT before any is used. */
static int balloon_check_pfns(const struct virtio_balloon *b, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (!pfn_to_hva(b, b->pfns[i])) {
			pr_warn_ratelimited("virtio-balloon: page 0x%x is not guest RAM", b->pfns[i]);
			return -EFAULT;
		}
	}
	return 0;
}

/* Releases the listed pages, each run of neighbours (in the host too) in one call. */
static void balloon_release_pfns(struct virtio_balloon *b, unsigned int n)
{
	u8 *run = NULL;
	u64 run_len = 0;

	for (unsigned int i = 0; i < n; i++) {
		u8 *hva = pfn_to_hva(b, b->pfns[i]);

		if (run && hva == run + run_len) {
			run_len += BALLOON_PAGE_SIZE;
			continue;
		}
		if (run)
			balloon_release(b, run, run_len);
		run = hva;
		run_len = BALLOON_PAGE_SIZE;
	}
	if (run)
		balloon_release(b, run, run_len);
}

/* The pages of a checked list, or -errno (the device then needs a reset). */
static int balloon_take_pfns(struct virtio_balloon *b, const struct virtq_chain *c)
{
	int n = balloon_read_pfns(b, c);

	if (n >= 0 && balloon_check_pfns(b, (unsigned int)n))
		n = -EFAULT;
	if (n < 0)
		metric_inc(&b->metrics.event_fails);
	return n;
}

static int inflate_serve(struct virtio_dev *dev, const struct virtq_chain *c, u32 *written)
{
	struct virtio_balloon *b = to_balloon(dev);
	int n = balloon_take_pfns(b, c);

	if (n < 0)
		return n;
	balloon_release_pfns(b, (unsigned int)n);
	atomic_fetch_add_explicit(&b->inflated_pages, (u64)n, memory_order_relaxed);
	metric_inc(&b->metrics.inflate_count);
	*written = 0;
	return 0;
}

/* The guest takes pages back: the host has nothing to do, it only counts. */
static int deflate_serve(struct virtio_dev *dev, const struct virtq_chain *c, u32 *written)
{
	struct virtio_balloon *b = to_balloon(dev);
	int n = balloon_take_pfns(b, c);

	if (n < 0)
		return n;
	atomic_fetch_add_explicit(&b->deflated_pages, (u64)n, memory_order_relaxed);
	metric_inc(&b->metrics.deflate_count);
	*written = 0;
	return 0;
}

/*
 * A free page report: device-writable ranges of free guest memory.  The
 * queue's walk already checked each one lies wholly in guest RAM (or
 * failed the chain with -EFAULT).  Nothing is written back.
 */
static int report_serve(struct virtio_dev *dev, const struct virtq_chain *c, u32 *written)
{
	struct virtio_balloon *b = to_balloon(dev);
	u64 freed = 0;

	if (c->nr_out) {
		pr_warn_ratelimited("virtio-balloon: a free page report with readable parts");
		metric_inc(&b->metrics.event_fails);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < c->nr_in; i++)
		freed += balloon_release(b, c->iov[i].iov_base, c->iov[i].iov_len);
	atomic_fetch_add_explicit(&b->reported_bytes, c->in_len, memory_order_relaxed);
	metric_inc(&b->metrics.free_page_report_count);
	metric_add(&b->metrics.free_page_report_freed, freed);
	*written = 0;
	return 0;
}

/* ---- statistics ---- */

/* Keeps each entry of a known tag; the rest of a last, partial entry is ignored. */
static void stats_parse(struct virtio_balloon *b, const struct virtq_chain *c)
{
	u64 len = MIN(c->out_len, (u64)sizeof(b->stats_buf));

	len -= len % BALLOON_STAT_SIZE;
	virtq_chain_read(c, 0, b->stats_buf, len);
	for (u64 off = 0; off < len; off += BALLOON_STAT_SIZE) {
		u16 tag;
		u64 val;

		memcpy(&tag, b->stats_buf + off, sizeof(tag));
		memcpy(&val, b->stats_buf + off + sizeof(tag), sizeof(val));
		tag = le16toh(tag);
		if (tag >= BALLOON_NR_STATS) {
			metric_inc(&b->metrics.stats_update_fails); /* a newer guest's: not ours */
			continue;
		}
		b->stats.val[tag] = le64toh(val);
		b->stats.valid |= 1u << tag;
	}
	metric_inc(&b->metrics.stats_updates_count);
}

/* Whether the held buffer still belongs to the rings (no reset or failure since). */
static bool stats_holding(struct virtio_balloon *b)
{
	if (b->stats_held && b->stats_generation != b->vdev.generation)
		b->stats_held = false;
	return b->stats_held;
}

/* Gives the held buffer back, empty: the driver refills it. Under the lock. */
static void stats_give_back(struct virtio_balloon *b)
{
	int q = balloon_queue(&b->vdev, BALLOON_STATS);

	if (q < 0 || !stats_holding(b))
		return;
	virtq_push(&b->vdev.vqs[q], b->stats_head, 0);
	b->stats_held = false;
	virtio_dev_notify_used(&b->vdev, (unsigned int)q);
}

/*
 * Takes what the driver posted on the statistics queue: normally its one
 * buffer, read and held.  A driver that posts another while one is held
 * gets the older one back, so the held one is always the last taken (which
 * quiesce relies on to give it back to the ring).  Under the lock.
 */
static void stats_serve(struct virtio_balloon *b, unsigned int q)
{
	struct virtio_dev *dev = &b->vdev;
	struct virtq *vq = &dev->vqs[q];
	int ret = 0;

	if (b->quiesced)
		return;
	for (unsigned int n = 0; n < VIRTIO_SERVE_BUDGET; n++) {
		ret = virtq_pop(vq, &b->stats_chain);
		if (ret > 0 && b->stats_chain.nr_in)
			ret = -EINVAL; /* statistics are device-readable */
		if (ret <= 0)
			break;
		stats_give_back(b);
		stats_parse(b, &b->stats_chain);
		b->stats_head = b->stats_chain.head;
		b->stats_held = true;
		b->stats_generation = dev->generation;
	}
	if (ret < 0) {
		metric_inc(&b->metrics.event_fails);
		virtio_dev_fail(dev, "bad statistics buffer", ret);
	}
}

void virtio_balloon_stats_tick(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	if (!b->quiesced && virtio_dev_running(&b->vdev))
		stats_give_back(b);
	pthread_mutex_unlock(&b->vdev.lock);
}

static void stats_timer_fired(struct event_source *src, uint32_t events __unused)
{
	struct virtio_balloon *b = container_of(src, struct virtio_balloon, stats_timer);
	u64 ticks;

	if (read(src->fd, &ticks, sizeof(ticks)) < 0)
		return; /* EAGAIN: nothing expired after all */
	virtio_balloon_stats_tick(b);
}

/* Periodic, every @secs (0 disarms). */
static int stats_timer_arm(struct virtio_balloon *b, u32 secs)
{
	struct itimerspec its = {
		.it_value.tv_sec = secs,
		.it_interval.tv_sec = secs,
	};

	if (b->stats_timer.fd < 0)
		return 0;
	return timerfd_settime(b->stats_timer.fd, 0, &its, NULL) ? -errno : 0;
}

/* ---- the device ---- */

static u64 balloon_features(struct virtio_dev *dev)
{
	struct virtio_balloon *b = to_balloon(dev);
	u64 f = 0;

	/*
	 * Not MUST_TELL_HOST: deflating asks nothing of the host, and Linux
	 * tells it before reusing pages anyway.
	 */
	if (b->stats_at_boot)
		f |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	if (b->deflate_on_oom)
		f |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (b->reporting)
		f |= 1ULL << VIRTIO_BALLOON_F_REPORTING;
	return f;
}

/* The driver writes only actual (how many pages it holds); num_pages is the host's. */
static void balloon_cfg_write(struct virtio_dev *dev, u32 off, const void *data, u32 len)
{
	struct virtio_balloon *b = to_balloon(dev);
	const u32 first = offsetof(struct virtio_balloon_config, actual);

	if (off < first || off + len > first + sizeof(b->config.actual))
		return;
	memcpy((u8 *)&b->config + off, data, len);
}

/*
 * Comes back to queue @q on the I/O thread: a kick of its own ioeventfd.
 * Without the KVM wiring (unit tests) it is served here and now.
 */
static void balloon_kick_self(struct virtio_balloon *b, unsigned int q)
{
	const struct event_source *kick = b->vdev.wiring.kick[q];
	u64 one = 1;

	if (!kick) {
		stats_serve(b, q);
		return;
	}
	/* Fails only when the counter is full: a kick is pending then anyway. */
	if (write(kick->fd, &one, sizeof(one)) < 0)
		return;
}

/*
 * DRIVER_OK, or a restore: Linux posts its statistics buffer and kicks
 * before DRIVER_OK, a kick the transport drops (and a restored ring has
 * the buffer the quiesce gave back): the I/O thread looks at that queue.
 */
static int balloon_activate(struct virtio_dev *dev)
{
	struct virtio_balloon *b = to_balloon(dev);
	int q = balloon_queue(dev, BALLOON_STATS);

	b->stats_held = false;
	if (q >= 0 && dev->vqs[q].size)
		balloon_kick_self(b, (unsigned int)q);
	return 0;
}

static void balloon_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_balloon *b = to_balloon(dev);

	if (b->quiesced)
		return; /* served at resume */
	switch (balloon_queue_role(dev, q)) {
	case BALLOON_INFLATE:
		virtio_dev_serve_queue(dev, q, &b->chain, inflate_serve);
		break;
	case BALLOON_DEFLATE:
		virtio_dev_serve_queue(dev, q, &b->chain, deflate_serve);
		break;
	case BALLOON_STATS:
		stats_serve(b, q);
		break;
	case BALLOON_REPORTING:
		virtio_dev_serve_queue(dev, q, &b->chain, report_serve);
		break;
	default:
		break; /* a queue the features gave no role: nothing is served there */
	}
}

/* A vCPU's Status write of 0: the held buffer belongs to the rings it forgets. */
static void balloon_reset(struct virtio_dev *dev)
{
	to_balloon(dev)->stats_held = false;
}

static const struct virtio_dev_ops virtio_balloon_ops = {
	.features = balloon_features,
	.cfg_write = balloon_cfg_write,
	.activate = balloon_activate,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
};

/* ---- pause ---- */

/*
 * Nothing reaches guest RAM until resume.  The statistics buffer held
 * goes back to the ring untouched (it is always the last one taken), so
 * a snapshot has it available and the restored device takes it again.
 */
void virtio_balloon_quiesce(struct virtio_balloon *b)
{
	struct virtio_dev *dev = &b->vdev;
	int q = balloon_queue(dev, BALLOON_STATS);

	pthread_mutex_lock(&dev->lock);
	b->quiesced = true;
	if (q >= 0 && dev->vqs[q].size && stats_holding(b))
		virtq_unpop(&dev->vqs[q]);
	b->stats_held = false;
	pthread_mutex_unlock(&dev->lock);
}

/* Serves what came while paused, and takes the statistics buffer again. */
void virtio_balloon_resume(struct virtio_balloon *b)
{
	struct virtio_dev *dev = &b->vdev;

	pthread_mutex_lock(&dev->lock);
	b->quiesced = false;
	for (unsigned int q = 0; q < dev->nr_queues; q++)
		if (virtio_dev_running(dev) && dev->vqs[q].size)
			balloon_queue_notify(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

/* ---- the host's side ---- */

static int balloon_target_ok(const struct virtio_balloon *b, u32 mib)
{
	return (u64)mib <= b->ram_mib && (u64)mib * BALLOON_PAGES_PER_MIB <= UINT32_MAX ?
	       0 : -EINVAL;
}

int virtio_balloon_set_target(struct virtio_balloon *b, u32 mib)
{
	int ret = balloon_target_ok(b, mib);

	if (ret)
		return ret;
	pthread_mutex_lock(&b->vdev.lock);
	b->config.num_pages = htole32(mib * BALLOON_PAGES_PER_MIB);
	virtio_dev_config_changed(&b->vdev);
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

void virtio_balloon_get_info(struct virtio_balloon *b, struct balloon_info *info)
{
	pthread_mutex_lock(&b->vdev.lock);
	info->target_pages = le32toh(b->config.num_pages);
	info->actual_pages = le32toh(b->config.actual);
	pthread_mutex_unlock(&b->vdev.lock);
	info->target_mib = info->target_pages / BALLOON_PAGES_PER_MIB;
	info->actual_mib = info->actual_pages / BALLOON_PAGES_PER_MIB;
}

void virtio_balloon_get_stats(struct virtio_balloon *b, struct balloon_stats *stats)
{
	pthread_mutex_lock(&b->vdev.lock);
	*stats = b->stats;
	pthread_mutex_unlock(&b->vdev.lock);
}

bool virtio_balloon_stats_enabled(const struct virtio_balloon *b)
{
	return b->stats_at_boot;
}

static int stats_interval_ok(const struct virtio_balloon *b, u32 secs)
{
	if (!b->stats_at_boot)
		return secs ? -EOPNOTSUPP : 0;
	return secs && secs <= CFG_BALLOON_MAX_STATS_S ? 0 : -EINVAL;
}

int virtio_balloon_check_update(struct virtio_balloon *b, const struct balloon_config *cfg)
{
	if (cfg->deflate_on_oom != b->deflate_on_oom || cfg->free_page_reporting != b->reporting)
		return -EINVAL; /* features the driver negotiated at boot */
	if (balloon_target_ok(b, cfg->amount_mib))
		return -EINVAL;
	return stats_interval_ok(b, cfg->stats_interval_s);
}

int virtio_balloon_set_stats_interval(struct virtio_balloon *b, u32 secs)
{
	int ret = stats_interval_ok(b, secs);

	if (ret || !b->stats_at_boot)
		return ret;
	pthread_mutex_lock(&b->vdev.lock);
	if (secs != b->stats_interval_s) {
		b->stats_interval_s = secs;
		ret = stats_timer_arm(b, secs);
		if (!b->quiesced && virtio_dev_running(&b->vdev))
			stats_give_back(b); /* fresh numbers now, as Firecracker does */
	}
	pthread_mutex_unlock(&b->vdev.lock);
	return ret;
}

/* ---- snapshots ---- */

/*
 * After the transport's: the target, what the guest said it holds, the
 * statistics interval (PATCHed maybe) and the latest statistics, and the
 * counters.  Quiesced: no buffer is held.
 */
int virtio_balloon_save(struct virtio_balloon *b, struct state_writer *w)
{
	pthread_mutex_lock(&b->vdev.lock);
	state_put_u32(w, BALLOON_STATE_VERSION);
	state_put_u32(w, le32toh(b->config.num_pages));
	state_put_u32(w, le32toh(b->config.actual));
	state_put_u32(w, b->stats_interval_s);
	state_put_u32(w, b->stats.valid);
	for (unsigned int i = 0; i < BALLOON_NR_STATS; i++)
		state_put_u64(w, b->stats.val[i]);
	state_put_u64(w, atomic_load(&b->inflated_pages));
	state_put_u64(w, atomic_load(&b->deflated_pages));
	state_put_u64(w, atomic_load(&b->reported_bytes));
	pthread_mutex_unlock(&b->vdev.lock);
	return w->err;
}

/*
 * Everything is read and checked before any of it is kept.  The restored
 * transport already took the statistics buffer again (activate): it stays
 * held until the next tick.
 */
int virtio_balloon_restore(struct virtio_balloon *b, struct state_reader *r)
{
	struct balloon_stats stats;
	u32 num_pages, actual, interval;
	u64 inflated, deflated, reported;
	int ret;

	state_check(r, state_get_u32(r) == BALLOON_STATE_VERSION);
	num_pages = state_get_u32(r);
	actual = state_get_u32(r);
	interval = state_get_u32(r);
	stats.valid = state_get_u32(r);
	for (unsigned int i = 0; i < BALLOON_NR_STATS; i++)
		stats.val[i] = state_get_u64(r);
	inflated = state_get_u64(r);
	deflated = state_get_u64(r);
	reported = state_get_u64(r);
	state_check(r, num_pages <= b->ram_mib * BALLOON_PAGES_PER_MIB);
	state_check(r, !(stats.valid >> BALLOON_NR_STATS));
	/* Statistics on or off as this VM's config has them. */
	state_check(r, !stats_interval_ok(b, interval) && !interval == !b->stats_at_boot);
	if (r->err)
		return r->err;
	pthread_mutex_lock(&b->vdev.lock);
	ret = interval == b->stats_interval_s ? 0 : stats_timer_arm(b, interval);
	if (!ret) {
		b->stats_interval_s = interval;
		b->config.num_pages = htole32(num_pages);
		b->config.actual = htole32(actual);
		b->stats = stats;
		atomic_store(&b->inflated_pages, inflated);
		atomic_store(&b->deflated_pages, deflated);
		atomic_store(&b->reported_bytes, reported);
	}
	pthread_mutex_unlock(&b->vdev.lock);
	return ret;
}

static u64 guest_ram_size(const struct guest_mem *mem)
{
	u64 size = 0;

	for (unsigned int i = 0; i < mem->nr_regions; i++)
		size += mem->regions[i].size;
	return size;
}

int virtio_balloon_init(struct virtio_balloon *b, const struct balloon_config *cfg,
			u64 release_align, const struct guest_mem *mem, struct event_loop *loop)
{
	unsigned int nr_queues = 2 + (cfg->stats_interval_s > 0) + cfg->free_page_reporting;
	int ret;

	memset(b, 0, sizeof(*b));
	b->ram_mib = guest_ram_size(mem) / SZ_1M;
	b->release_align = MAX(release_align, (u64)BALLOON_PAGE_SIZE);
	b->deflate_on_oom = cfg->deflate_on_oom;
	b->reporting = cfg->free_page_reporting;
	b->stats_at_boot = cfg->stats_interval_s > 0;
	b->stats_interval_s = cfg->stats_interval_s;
	b->loop = loop;
	b->stats_timer = (struct event_source){ .fd = -1, .ready = stats_timer_fired };
	/* vm_config_validate() said so already, for a config from any front end. */
	if (balloon_target_ok(b, cfg->amount_mib)) {
		pr_err("virtio-balloon: %uM is more than the guest's %lluM", cfg->amount_mib,
		       (unsigned long long)b->ram_mib);
		return -EINVAL;
	}
	if (stats_interval_ok(b, cfg->stats_interval_s)) {
		pr_err("virtio-balloon: statistics every %u s: at most %d", cfg->stats_interval_s,
		       CFG_BALLOON_MAX_STATS_S);
		return -EINVAL;
	}
	b->config.num_pages = htole32(cfg->amount_mib * BALLOON_PAGES_PER_MIB);
	virtio_dev_init(&b->vdev, &virtio_balloon_ops, "virtio-balloon", VIRTIO_ID_BALLOON,
			nr_queues, BALLOON_QUEUE_SIZE, mem);
	b->vdev.config = &b->config;
	b->vdev.config_len = sizeof(b->config);
	if (!b->stats_at_boot)
		return 0;
	b->stats_timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ret = b->stats_timer.fd < 0 ? -errno : stats_timer_arm(b, b->stats_interval_s);
	if (!ret && loop)
		ret = event_loop_add(loop, &b->stats_timer, EPOLLIN);
	if (ret) {
		pr_err("virtio-balloon: its statistics timer: %s", strerror(-ret));
		virtio_balloon_close(b);
	}
	return ret;
}

void virtio_balloon_close(struct virtio_balloon *b)
{
	if (b->stats_timer.fd >= 0) {
		if (b->loop)
			event_loop_del(b->loop, &b->stats_timer);
		close(b->stats_timer.fd);
		b->stats_timer.fd = -1;
	}
	virtio_dev_destroy(&b->vdev);
}
