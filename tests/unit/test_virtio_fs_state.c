// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-fs in a snapshot (what a warm start needs): a device the guest
 * has set up but not mounted through is saved as its transport and a
 * marker, restored into a fresh device over a fresh server (in another
 * process, over the same guest RAM), and saves the same bytes; the guest's
 * first request then reaches the fresh server.  Once the server has seen
 * a request, or one waits in a ring, the device says it cannot be saved,
 * naming its share.  A fake driver and the fake FUSE server
 * (fake_fuse_server.h), with the device's real workers; the test waits
 * for interrupts, never for time.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device.h"
#include "fake_driver.h"
#include "fake_fuse_server.h"
#include "state.h"
#include "test.h"
#include "virtio_fs.h"

#define REQ_RING    (FAKE_RAM_BASE + 0x4000)
#define SLOT_IN(i)  (FAKE_BUF + (u64)(i) * 0x1000)
#define SLOT_OUT(i) (SLOT_IN(i) + 0x800)
#define TAG         "root"
#define MOUNTED_WHY "the share 'root' is mounted in the guest: a VM with a mounted --share " \
		    "cannot be snapshotted"

/* The registry's class in arkvm (devices/virtio_fs_class.c), as far as a section goes. */
static int fs_save(struct device *dev, struct state_writer *w)
{
	return virtio_fs_save(dev->priv, w);
}

static int fs_restore(struct device *dev, struct state_reader *r)
{
	return virtio_fs_restore(dev->priv, r);
}

static const struct device_class fs_class = {
	.name = "virtio-fs",
	.save = fs_save,
	.restore = fs_restore,
};

struct fs_dev {
	struct virtio_fs *fs;
	struct fuse_server *server;
	struct device dev;
	pthread_mutex_t lock;
	pthread_cond_t irq;
	unsigned long irqs;
};

static void count_interrupt(void *opaque)
{
	struct fs_dev *d = opaque;

	pthread_mutex_lock(&d->lock);
	d->irqs++;
	pthread_cond_broadcast(&d->irq);
	pthread_mutex_unlock(&d->lock);
}

/* A device (not brought up) over its own fake server, on @mem. */
static int fs_dev_init(struct fs_dev *d, const struct guest_mem *mem)
{
	struct share_config share = { .path = "/nonexistent", .tag = TAG };

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->irq, NULL);
	d->fs = calloc(1, sizeof(*d->fs));
	if (!d->fs || fake_fuse_create(&d->server, &share))
		abort();
	if (virtio_fs_init(d->fs, &share, d->server, fake_fuse_handle, 2, false, mem))
		return -1;
	d->fs->vdev.interrupt = count_interrupt;
	d->fs->vdev.interrupt_opaque = d;
	d->dev = (struct device){ .cls = &fs_class, .id = TAG, .priv = d->fs,
				  .vdev = &d->fs->vdev };
	return 0;
}

static void fs_dev_free(struct fs_dev *d)
{
	virtio_fs_close(d->fs);
	fake_fuse_destroy(d->server);
	free(d->fs);
	pthread_cond_destroy(&d->irq);
	pthread_mutex_destroy(&d->lock);
}

static unsigned long fs_requests(struct fs_dev *d)
{
	struct fuse_server_stats st;

	fake_fuse_get_stats(d->server, &st);
	return st.requests;
}

/* The guest's two queues, brought up on @d as Linux's driver does (DRIVER_OK, nothing sent). */
struct guest {
	struct fake_driver hiprio, req;
};

static void guest_init(struct guest *g, struct fs_dev *d)
{
	struct fake_driver *queues[] = { &g->hiprio, &g->req };

	fake_driver_init_queue(&g->req, &g->hiprio, REQ_RING, 16);
	fake_bring_up_queues(&d->fs->vdev, 0, queues, 2);
}

/* A FUSE_INIT in slot 0 on the request queue, made available to @d (and kicked if @kick). */
static u16 guest_post_init(struct guest *g, struct fs_dev *d, bool kick)
{
	struct fuse_in_header ih = { .len = sizeof(ih), .opcode = FUSE_INIT, .unique = 1 };
	struct fake_seg segs[] = {
		{ SLOT_IN(0), sizeof(ih), false },
		{ SLOT_OUT(0), 256, true },
	};
	u16 head;

	memcpy(fake_hva(&g->req, SLOT_IN(0)), &ih, sizeof(ih));
	pthread_mutex_lock(&d->fs->vdev.lock);
	head = fake_post(&g->req, segs, 2, false);
	pthread_mutex_unlock(&d->fs->vdev.lock);
	if (kick)
		virtio_mmio_ops.write(&d->fs->vdev, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_FS_REQUEST_Q, 4);
	return head;
}

/* The request queue's next used element from @d: false after 10 s (a hung device). */
static bool guest_wait_used(struct guest *g, struct fs_dev *d, u32 *id)
{
	struct timespec deadline;
	bool got;
	u32 len;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	for (;;) {
		unsigned long seen;
		int ret = 0;

		/* Counted before the look: an interrupt after it is not missed. */
		pthread_mutex_lock(&d->lock);
		seen = d->irqs;
		pthread_mutex_unlock(&d->lock);
		pthread_mutex_lock(&d->fs->vdev.lock);
		got = fake_used(&g->req, id, &len);
		pthread_mutex_unlock(&d->fs->vdev.lock);
		if (got)
			return true;
		pthread_mutex_lock(&d->lock);
		while (d->irqs == seen && ret != ETIMEDOUT)
			ret = pthread_cond_timedwait(&d->irq, &d->lock, &deadline);
		got = d->irqs != seen;
		pthread_mutex_unlock(&d->lock);
		if (!got)
			return false;
	}
}

static bool same_bytes(const struct state_writer *a, const struct state_writer *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/* Every shorter state is refused, and @fresh saves as it did before. */
static void check_cut_refused(struct device *fresh, const struct state_writer *saved)
{
	struct state_writer before, again;
	struct state_reader r;

	state_writer_init(&before);
	CHECK_EQ(device_save(fresh, &before), 0);
	for (size_t len = 0; len < saved->len; len++) {
		state_reader_init(&r, saved->data, len);
		CHECK(device_restore(fresh, &r) != 0);
		state_writer_init(&again);
		CHECK_EQ(device_save(fresh, &again), 0);
		CHECK(same_bytes(&again, &before));
		state_writer_free(&again);
	}
	state_writer_free(&before);
}

/*
 * Set up, never mounted: saved, restored into a fresh device over a fresh
 * server, saved the same; the guest's mount then reaches the fresh server.
 */
static void test_fresh_share_restores(void)
{
	struct state_writer w, again;
	struct state_reader r;
	struct fs_dev a, b;
	struct guest g;
	char why[256] = "";
	u16 head;
	u32 id;

	fake_driver_init(&g.hiprio, 16);
	CHECK(!fs_dev_init(&a, &g.hiprio.mem));
	guest_init(&g, &a);
	CHECK_EQ(virtio_fs_quiesce(a.fs), 0);
	CHECK_EQ(virtio_fs_can_save(a.fs, why, sizeof(why)), 0);
	state_writer_init(&w);
	CHECK_EQ(device_save(&a.dev, &w), 0);

	CHECK(!fs_dev_init(&b, &g.hiprio.mem));
	check_cut_refused(&b.dev, &w);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(device_restore(&b.dev, &r), 0);
	CHECK_EQ(r.off, r.len);
	state_writer_init(&again);
	CHECK_EQ(device_save(&b.dev, &again), 0);
	CHECK(same_bytes(&again, &w));
	state_writer_free(&again);

	/* Restored running: its workers serve the guest's first request, a mount's INIT. */
	head = guest_post_init(&g, &b, true);
	CHECK(guest_wait_used(&g, &b, &id));
	CHECK_EQ(id, head);
	CHECK_EQ(fs_requests(&b), 1);
	CHECK_EQ(fs_requests(&a), 0);
	state_writer_free(&w);
	fs_dev_free(&b);
	fs_dev_free(&a);
	fake_driver_free(&g.hiprio);
}

/* Once its server has seen a request, the share cannot be saved, and says which it is. */
static void test_mounted_share_refused(void)
{
	struct state_writer w;
	struct fs_dev a;
	struct guest g;
	char why[256] = "";
	u32 id;

	fake_driver_init(&g.hiprio, 16);
	CHECK(!fs_dev_init(&a, &g.hiprio.mem));
	guest_init(&g, &a);
	guest_post_init(&g, &a, true);
	CHECK(guest_wait_used(&g, &a, &id));
	CHECK_EQ(virtio_fs_quiesce(a.fs), 0);
	CHECK_EQ(virtio_fs_can_save(a.fs, why, sizeof(why)), -EBUSY);
	CHECK(!strcmp(why, MOUNTED_WHY));
	state_writer_init(&w);
	CHECK(device_save(&a.dev, &w) != 0);
	state_writer_free(&w);

	/* A reset does not make it fresh again: the server keeps what it did. */
	virtio_fs_resume(a.fs);
	virtio_mmio_ops.write(&a.fs->vdev, VIRTIO_MMIO_STATUS, 0, 4);
	CHECK_EQ(virtio_fs_can_save(a.fs, why, sizeof(why)), -EBUSY);
	fs_dev_free(&a);
	fake_driver_free(&g.hiprio);
}

/* A request posted while the device is quiesced waits in the ring: refused too. */
static void test_waiting_request_refused(void)
{
	struct fs_dev a;
	struct guest g;
	char why[256] = "";

	fake_driver_init(&g.hiprio, 16);
	CHECK(!fs_dev_init(&a, &g.hiprio.mem));
	guest_init(&g, &a);
	CHECK_EQ(virtio_fs_quiesce(a.fs), 0);
	guest_post_init(&g, &a, true);
	CHECK_EQ(virtio_fs_can_save(a.fs, why, sizeof(why)), -EBUSY);
	CHECK(!strcmp(why, MOUNTED_WHY));
	CHECK_EQ(fs_requests(&a), 0);
	fs_dev_free(&a);
	fake_driver_free(&g.hiprio);
}

TEST_SUITE(virtio_fs_state,
	TEST(test_fresh_share_restores),
	TEST(test_mounted_share_refused),
	TEST(test_waiting_request_refused));
