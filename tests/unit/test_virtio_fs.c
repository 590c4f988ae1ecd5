// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-fs against a fake driver on its two queues and a fake FUSE
 * server (fake_fuse_server.h), with the device's real worker threads.
 * The test posts and reads the rings under the device's lock, as the
 * workers do, and waits for the device's interrupts: never for time.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/openat2.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fake_driver.h"
#include "fake_fuse_server.h"
#include "sandbox.h"
#include "state.h"
#include "test.h"
#include "virtio_fs.h"

#define HIPRIO_RING (FAKE_RAM_BASE + 0x0000)
#define REQ_RING    (FAKE_RAM_BASE + 0x4000)
#define RING_SPAN   0x4000
#define SLOT_IN(i)  (FAKE_BUF + (u64)(i) * 0x1000)
#define SLOT_OUT(i) (SLOT_IN(i) + 0x800)
#define TAG         "work"

struct fs_env {
	struct fake_driver hiprio, req;
	struct virtio_fs *fs;
	struct fuse_server *server;
	pthread_mutex_t lock;
	pthread_cond_t irq;
	unsigned long irqs;
};

/* The device's interrupt (a worker, vdev.lock held): wake the test. */
static void count_interrupt(void *opaque)
{
	struct fs_env *e = opaque;

	pthread_mutex_lock(&e->lock);
	e->irqs++;
	pthread_cond_broadcast(&e->irq);
	pthread_mutex_unlock(&e->lock);
}

static void env_rings(struct fs_env *e)
{
	struct fake_driver *queues[] = { &e->hiprio, &e->req };

	/* hiprio owns the RAM (its ring at FAKE_DESC); the request queue's is in it. */
	e->hiprio.avail_idx = e->hiprio.next_desc = e->hiprio.used_seen = 0;
	fake_driver_init_queue(&e->req, &e->hiprio, REQ_RING, 16);
	fake_bring_up_queues(&e->fs->vdev, 0, queues, 2);
}

static int env_setup(struct fs_env *e, unsigned int workers)
{
	struct share_config share = { .path = "/nonexistent", .tag = TAG };
	int ret;

	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->irq, NULL);
	fake_driver_init(&e->hiprio, 16);
	e->fs = calloc(1, sizeof(*e->fs));
	if (!e->fs || fake_fuse_create(&e->server, &share))
		abort();
	ret = virtio_fs_init(e->fs, &share, e->server, fake_fuse_handle, workers, false,
			     &e->hiprio.mem);
	if (ret)
		return ret;
	e->fs->vdev.interrupt = count_interrupt;
	e->fs->vdev.interrupt_opaque = e;
	env_rings(e);
	return 0;
}

static void env_teardown(struct fs_env *e)
{
	fake_fuse_release(e->server);
	virtio_fs_close(e->fs);
	fake_fuse_destroy(e->server);
	free(e->fs);
	fake_driver_free(&e->hiprio);
	pthread_cond_destroy(&e->irq);
	pthread_mutex_destroy(&e->lock);
}

static void kick(struct fs_env *e, unsigned int q)
{
	virtio_mmio_ops.write(&e->fs->vdev, VIRTIO_MMIO_QUEUE_NOTIFY, q, 4);
}

static u32 status(struct fs_env *e)
{
	return (u32)virtio_mmio_ops.read(&e->fs->vdev, VIRTIO_MMIO_STATUS, 4);
}

/* Posts segments on @d under the device's lock (the workers read the ring under it). */
static u16 post(struct fs_env *e, struct fake_driver *d, const struct fake_seg *segs,
		unsigned int n)
{
	u16 head;

	pthread_mutex_lock(&e->fs->vdev.lock);
	head = fake_post(d, segs, n, false);
	pthread_mutex_unlock(&e->fs->vdev.lock);
	return head;
}

/*
 * A request in buffer slot @slot: its fuse_in_header (and nothing more)
 * readable, @out_len bytes writable for the reply (none when 0).
 */
static u16 send_request(struct fs_env *e, unsigned int q, unsigned int slot, u64 unique,
			u32 opcode, u32 out_len)
{
	struct fake_driver *d = q == VIRTIO_FS_HIPRIO_Q ? &e->hiprio : &e->req;
	struct fuse_in_header ih = { .len = sizeof(ih), .opcode = opcode, .unique = unique,
				     .nodeid = 1 };
	struct fake_seg segs[] = {
		{ SLOT_IN(slot), sizeof(ih), false },
		{ SLOT_OUT(slot), out_len, true },
	};
	u16 head;

	memcpy(fake_hva(d, SLOT_IN(slot)), &ih, sizeof(ih));
	memset(fake_hva(d, SLOT_OUT(slot)), 0xee, 64);
	head = post(e, d, segs, out_len ? 2 : 1);
	kick(e, q);
	return head;
}

static unsigned long irqs_now(struct fs_env *e)
{
	unsigned long n;

	pthread_mutex_lock(&e->lock);
	n = e->irqs;
	pthread_mutex_unlock(&e->lock);
	return n;
}

/* Waits for an interrupt after @seen: false after 10 s (a hung device). */
static bool wait_irq(struct fs_env *e, unsigned long seen)
{
	struct timespec deadline;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&e->lock);
	while (e->irqs == seen && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&e->irq, &e->lock, &deadline);
	ret = e->irqs != seen;
	pthread_mutex_unlock(&e->lock);
	return ret;
}

static bool take_used(struct fs_env *e, struct fake_driver *d, u32 *id, u32 *len)
{
	bool got;

	pthread_mutex_lock(&e->fs->vdev.lock);
	got = fake_used(d, id, len);
	pthread_mutex_unlock(&e->fs->vdev.lock);
	return got;
}

/* The next used element of @d, waiting for the device to return one. */
static bool wait_used(struct fs_env *e, struct fake_driver *d, u32 *id, u32 *len)
{
	for (;;) {
		unsigned long seen = irqs_now(e);

		if (take_used(e, d, id, len))
			return true;
		if (!wait_irq(e, seen))
			return false;
	}
}

static bool wait_status(struct fs_env *e, u32 bit)
{
	for (;;) {
		unsigned long seen = irqs_now(e);

		if (status(e) & bit)
			return true;
		if (!wait_irq(e, seen))
			return false;
	}
}

static void test_config_space(void)
{
	struct virtio_dev *dev;
	struct fs_env e;
	char tag[37] = { 0 };
	u32 feats;

	CHECK(!env_setup(&e, 2));
	dev = &e.fs->vdev;
	CHECK_EQ(virtio_mmio_ops.read(dev, VIRTIO_MMIO_DEVICE_ID, 4), 26);
	for (unsigned int i = 0; i < 36; i++)
		tag[i] = (char)virtio_mmio_ops.read(dev, VIRTIO_MMIO_CONFIG + i, 1);
	CHECK(!strcmp(tag, TAG));
	CHECK(!memcmp(tag + strlen(TAG), (char[36]){ 0 }, 36 - strlen(TAG))); /* NUL-padded */
	CHECK_EQ(virtio_mmio_ops.read(dev, VIRTIO_MMIO_CONFIG + 36, 4), 1);
	/* No device feature of its own (no notification queue): bits 0-23 clear. */
	virtio_mmio_ops.write(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0, 4);
	feats = (u32)virtio_mmio_ops.read(dev, VIRTIO_MMIO_DEVICE_FEATURES, 4);
	CHECK_EQ(feats & 0xffffff, 0);
	env_teardown(&e);
}

/* A 36-byte tag fills the field with no NUL. */
static void test_config_long_tag(void)
{
	struct share_config share = { .tag = "abcdefghijabcdefghijabcdefghijabcdef" };
	struct fake_driver d;
	struct virtio_fs *fs = calloc(1, sizeof(*fs));

	CHECK(fs);
	fake_driver_init(&d, 16);
	CHECK(!virtio_fs_init(fs, &share, NULL, fake_fuse_handle, 2, false, &d.mem));
	CHECK(!memcmp(fs->config.tag, share.tag, 36));
	virtio_fs_close(fs);
	free(fs);
	fake_driver_free(&d);
}

static void test_request_round_trip(void)
{
	struct fuse_out_header oh;
	struct fs_env e;
	u32 id, len;
	u16 head;

	CHECK(!env_setup(&e, 2));
	head = send_request(&e, VIRTIO_FS_REQUEST_Q, 0, 42, FUSE_GETATTR, 256);
	CHECK(wait_used(&e, &e.req, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, FAKE_FUSE_REPLY_LEN);
	memcpy(&oh, fake_hva(&e.req, SLOT_OUT(0)), sizeof(oh));
	CHECK_EQ(oh.unique, 42);
	CHECK_EQ(oh.error, 0);
	CHECK(!memcmp((u8 *)fake_hva(&e.req, SLOT_OUT(0)) + sizeof(oh), FAKE_FUSE_PAYLOAD,
		      FAKE_FUSE_PAYLOAD_LEN));
	CHECK(!(status(&e) & VIRTIO_CONFIG_S_NEEDS_RESET));
	env_teardown(&e);
}

/* FORGET on the high-priority queue: no reply, the chain comes back with 0 bytes. */
static void test_forget_used_len_zero(void)
{
	struct fs_env e;
	u32 id, len;
	u16 head;

	CHECK(!env_setup(&e, 2));
	head = send_request(&e, VIRTIO_FS_HIPRIO_Q, 0, 7, FUSE_FORGET, 0);
	CHECK(wait_used(&e, &e.hiprio, &id, &len));
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	CHECK(!(status(&e) & VIRTIO_CONFIG_S_NEEDS_RESET));
	env_teardown(&e);
}

/* One request blocked in the server holds one worker: the next is answered first. */
static void test_blocked_request_does_not_stall_others(void)
{
	struct fs_env e;
	u16 slow, fast;
	u32 id, len;

	CHECK(!env_setup(&e, 2));
	fake_fuse_block(e.server, 1);
	slow = send_request(&e, VIRTIO_FS_REQUEST_Q, 0, 1, FUSE_FSYNC, 256);
	CHECK(fake_fuse_wait_blocked(e.server, 1));
	fast = send_request(&e, VIRTIO_FS_REQUEST_Q, 1, 2, FUSE_GETATTR, 256);
	CHECK(wait_used(&e, &e.req, &id, &len));
	CHECK_EQ(id, fast);
	fake_fuse_release(e.server);
	CHECK(wait_used(&e, &e.req, &id, &len));
	CHECK_EQ(id, slow);
	CHECK_EQ(len, FAKE_FUSE_REPLY_LEN);
	env_teardown(&e);
}

static void *write_status_zero(void *arg)
{
	struct fs_env *e = arg;

	virtio_mmio_ops.write(&e->fs->vdev, VIRTIO_MMIO_STATUS, 0, 4);
	return NULL;
}

/* Waits until a reset is draining the requests in flight: false after 10 s. */
static bool wait_resetting(struct fs_env *e)
{
	time_t end = time(NULL) + 10;
	bool resetting = false;

	while (!resetting && time(NULL) < end) {
		pthread_mutex_lock(&e->fs->vdev.lock);
		resetting = e->fs->resetting;
		pthread_mutex_unlock(&e->fs->vdev.lock);
		if (!resetting)
			sched_yield();
	}
	return resetting;
}

/* After a reset the driver may post again from an empty ring. */
static void rings_again(struct fs_env *e)
{
	pthread_mutex_lock(&e->fs->vdev.lock);
	memset(fake_hva(&e->hiprio, HIPRIO_RING), 0, 2 * RING_SPAN);
	pthread_mutex_unlock(&e->fs->vdev.lock);
	env_rings(e);
}

/*
 * The driver resets the device while a request is in the server: the
 * reset waits for it, and its answer never reaches the (old) used ring.
 */
static void test_reset_mid_request_pushes_nothing(void)
{
	struct fs_env e;
	pthread_t vcpu;
	u32 id, len;
	u16 head;

	CHECK(!env_setup(&e, 2));
	fake_fuse_block(e.server, 1);
	send_request(&e, VIRTIO_FS_REQUEST_Q, 0, 1, FUSE_FSYNC, 256);
	CHECK(fake_fuse_wait_blocked(e.server, 1));
	CHECK(!pthread_create(&vcpu, NULL, write_status_zero, &e));
	CHECK(wait_resetting(&e));
	fake_fuse_release(e.server);
	pthread_join(vcpu, NULL);
	CHECK_EQ(status(&e), 0);
	CHECK(!take_used(&e, &e.req, &id, &len));
	/* Brought up again, it serves as before. */
	rings_again(&e);
	head = send_request(&e, VIRTIO_FS_REQUEST_Q, 1, 3, FUSE_GETATTR, 256);
	CHECK(wait_used(&e, &e.req, &id, &len));
	CHECK_EQ(id, head);
	env_teardown(&e);
}

/* A chain with no readable header: the device needs a reset. */
static void test_malformed_chain_needs_reset(void)
{
	struct fake_seg seg = { SLOT_OUT(0), 256, true };
	struct fs_env e;
	u32 id, len;

	CHECK(!env_setup(&e, 2));
	post(&e, &e.req, &seg, 1);
	kick(&e, VIRTIO_FS_REQUEST_Q);
	CHECK(wait_status(&e, VIRTIO_CONFIG_S_NEEDS_RESET));
	CHECK(!take_used(&e, &e.req, &id, &len));
	CHECK_EQ(atomic_load(&e.fs->bad_chains), 1);
	env_teardown(&e);
}

/* A request with no room for its reply: the server's -EINVAL needs a reset too. */
static void test_no_room_for_reply_needs_reset(void)
{
	struct fs_env e;
	u32 id, len;

	CHECK(!env_setup(&e, 2));
	send_request(&e, VIRTIO_FS_REQUEST_Q, 0, 5, FUSE_GETATTR, 8);
	CHECK(wait_status(&e, VIRTIO_CONFIG_S_NEEDS_RESET));
	CHECK(!take_used(&e, &e.req, &id, &len));
	env_teardown(&e);
}

/*
 * A broken chain fails the device while another request is in the
 * server: that one's answer is dropped (its rings are gone), and the
 * reset that follows waits for it.
 */
static void test_failure_mid_request_drops_answer(void)
{
	struct fake_seg seg = { SLOT_OUT(1), 256, true };
	struct fs_env e;
	u32 id, len;

	CHECK(!env_setup(&e, 2));
	fake_fuse_block(e.server, 1);
	send_request(&e, VIRTIO_FS_REQUEST_Q, 0, 1, FUSE_FSYNC, 256);
	CHECK(fake_fuse_wait_blocked(e.server, 1));
	post(&e, &e.req, &seg, 1);
	kick(&e, VIRTIO_FS_REQUEST_Q);
	CHECK(wait_status(&e, VIRTIO_CONFIG_S_NEEDS_RESET));
	fake_fuse_release(e.server);
	write_status_zero(&e); /* returns once the blocked request is done */
	CHECK(!take_used(&e, &e.req, &id, &len));
	env_teardown(&e);
}

static void *quiesce_thread(void *arg)
{
	struct fs_env *e = arg;

	virtio_fs_quiesce(e->fs);
	return NULL;
}

/*
 * Pause: a request in flight finishes and is returned before the quiesce
 * returns; one posted while quiesced waits for resume.
 */
static void test_quiesce_and_resume(void)
{
	struct fs_env e;
	u16 first, second;
	pthread_t io;
	u32 id, len;

	CHECK(!env_setup(&e, 2));
	fake_fuse_block(e.server, 1);
	first = send_request(&e, VIRTIO_FS_REQUEST_Q, 0, 1, FUSE_FSYNC, 256);
	CHECK(fake_fuse_wait_blocked(e.server, 1));
	CHECK(!pthread_create(&io, NULL, quiesce_thread, &e));
	fake_fuse_release(e.server);
	pthread_join(io, NULL);
	CHECK(take_used(&e, &e.req, &id, &len));
	CHECK_EQ(id, first);

	second = send_request(&e, VIRTIO_FS_REQUEST_Q, 1, 2, FUSE_GETATTR, 256);
	pthread_mutex_lock(&e.fs->vdev.lock);
	CHECK_EQ(e.fs->vdev.vqs[VIRTIO_FS_REQUEST_Q].last_avail, 1); /* not taken */
	pthread_mutex_unlock(&e.fs->vdev.lock);
	virtio_fs_resume(e.fs);
	CHECK(wait_used(&e, &e.req, &id, &len));
	CHECK_EQ(id, second);
	env_teardown(&e);
}

/* Many requests over both queues, all answered once, by however many workers. */
static void test_many_requests_all_answered(void)
{
	bool seen[16] = { false };
	struct fs_env e;
	u32 id, len;

	CHECK(!env_setup(&e, 4));
	for (unsigned int i = 0; i < 8; i++)
		send_request(&e, VIRTIO_FS_REQUEST_Q, i, 100 + i, FUSE_GETATTR, 256);
	for (unsigned int i = 0; i < 8; i++) {
		CHECK(wait_used(&e, &e.req, &id, &len));
		CHECK(id < 16 && !seen[id]);
		seen[id] = true;
		CHECK_EQ(len, FAKE_FUSE_REPLY_LEN);
	}
	for (unsigned int i = 0; i < 8; i++) {
		struct fuse_out_header oh;

		memcpy(&oh, fake_hva(&e.req, SLOT_OUT(i)), sizeof(oh));
		CHECK_EQ(oh.unique, 100 + i);
	}
	env_teardown(&e);
}

static void test_workers_per_share(void)
{
	CHECK_EQ(virtio_fs_workers_per_share(1), VIRTIO_FS_MAX_WORKERS);
	CHECK_EQ(virtio_fs_workers_per_share(4), VIRTIO_FS_MAX_WORKERS);
	CHECK_EQ(virtio_fs_workers_per_share(CFG_MAX_SHARES), VIRTIO_FS_MIN_WORKERS);
	CHECK(virtio_fs_workers_per_share(CFG_MAX_SHARES) * CFG_MAX_SHARES <=
	      VIRTIO_FS_TOTAL_WORKERS);
}

static void test_cli_share(void)
{
	struct vm_config cfg;
	const struct share_config *sh = &cfg.shares[0];

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K"), CLI_RUN);
	CHECK_EQ(cfg.nr_shares, 0);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/srv/ci,tag=ci"), CLI_RUN);
	CHECK_EQ(cfg.nr_shares, 1);
	CHECK(!strcmp(sh->path, "/srv/ci") && !strcmp(sh->tag, "ci"));
	CHECK(!sh->readonly && sh->cache == SHARE_CACHE_AUTO && !sh->uid_map && !sh->gid_map);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share",
		       "/srv/root,tag=root,readonly,cache=never,uid-map=1000:0,gid-map=1001:0",
		       "--share", "/srv/b,tag=b,cache=always"), CLI_RUN);
	CHECK_EQ(cfg.nr_shares, 2);
	CHECK(sh->readonly && sh->cache == SHARE_CACHE_NEVER);
	CHECK(sh->uid_map && sh->uid_host == 1000 && sh->uid_guest == 0);
	CHECK(sh->gid_map && sh->gid_host == 1001 && sh->gid_guest == 0);
	CHECK_EQ(cfg.shares[1].cache, SHARE_CACHE_ALWAYS);
	/* A 36-byte tag fits the config space; 37 does not. */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share",
		       "/d,tag=abcdefghijabcdefghijabcdefghijabcdef"), CLI_RUN);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share",
		       "/d,tag=abcdefghijabcdefghijabcdefghijabcdefg"), -EINVAL);

	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag="), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", ",tag=a"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag=a,cache=some"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag=a,uid-map=1000"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag=a,uid-map=1:x"),
		 -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share",
		       "/d,tag=a,gid-map=4294967295:0"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag=a,rw"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag=a,"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag=a",
		       "--share", "/e,tag=a"), -EINVAL);
	/* The guest mounts by it (root=TAG): no spaces, no control characters. */
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag=a b"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag=a\tb"), -EINVAL);
	CHECK_EQ(PARSE(&cfg, "arkvm", "run", "--kernel", "K", "--share", "/d,tag=a\x01"), -EINVAL);
}

static void test_cli_share_count_bounded(void)
{
	char args[CFG_MAX_SHARES + 1][40];
	char *argv[3 + 2 * (CFG_MAX_SHARES + 1)] = { "arkvm", "run", "--kernel=K" };
	struct vm_config cfg;
	int argc = 3;

	for (unsigned int i = 0; i <= CFG_MAX_SHARES; i++) {
		snprintf(args[i], sizeof(args[i]), "/d%u,tag=t%u", i, i);
		argv[argc++] = "--share";
		argv[argc++] = args[i];
	}
	CHECK_EQ(test_cli_parse(&cfg, argc - 2, argv), CLI_RUN);
	CHECK_EQ(cfg.nr_shares, CFG_MAX_SHARES);
	CHECK_EQ(test_cli_parse(&cfg, argc, argv), -EINVAL);
}

/* What the API and config file will fill in directly, checked as the CLI's is. */
static void test_share_validation(void)
{
	struct vm_config_error err;
	struct share_config *sh;
	struct vm_config cfg;

	vm_config_init(&cfg);
	strcpy(cfg.kernel, "K");
	sh = vm_config_add_share(&cfg);
	CHECK(sh);
	strcpy(sh->path, "/srv");
	CHECK_EQ(vm_config_validate(&cfg, &err), -EINVAL);
	CHECK(!strcmp(err.field, "share") && err.index == 0);
	strcpy(sh->tag, "root");
	CHECK_EQ(vm_config_validate(&cfg, &err), 0);
	sh->tag[1] = '\n';
	CHECK_EQ(vm_config_validate(&cfg, &err), -EINVAL);
	strcpy(sh->tag, "root");
	sh->cache = (enum share_cache)7;
	CHECK_EQ(vm_config_validate(&cfg, &err), -EINVAL);
	sh->cache = SHARE_CACHE_NEVER;
	sh->uid_map = true;
	sh->uid_host = (u32)-1;
	CHECK_EQ(vm_config_validate(&cfg, &err), -EINVAL);
	sh->uid_host = 1000;
	CHECK_EQ(vm_config_validate(&cfg, &err), 0);
	sh->path[0] = '\0';
	CHECK_EQ(vm_config_validate(&cfg, &err), -EINVAL);
	for (unsigned int i = 1; i < CFG_MAX_SHARES; i++)
		CHECK(vm_config_add_share(&cfg));
	CHECK(!vm_config_add_share(&cfg));
}

static void test_share_config_saved_with_snapshot(void)
{
	struct vm_config a, b;
	struct state_writer w;
	struct state_reader r;
	struct share_config *sh;

	vm_config_init(&a);
	sh = vm_config_add_share(&a);
	*sh = (struct share_config){ .path = "/srv/root", .tag = "root", .readonly = true,
				     .cache = SHARE_CACHE_ALWAYS, .uid_map = true, .uid_host = 1000,
				     .uid_guest = 0, .gid_map = true, .gid_host = 1001,
				     .gid_guest = 5 };
	sh = vm_config_add_share(&a);
	*sh = (struct share_config){ .path = "/srv/b", .tag = "b" };
	state_writer_init(&w);
	vm_config_save(&a, &w);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(vm_config_restore(&b, &r), 0);
	CHECK_EQ(b.nr_shares, 2);
	sh = &b.shares[0];
	CHECK(!strcmp(sh->path, "/srv/root") && !strcmp(sh->tag, "root"));
	CHECK(sh->readonly && sh->cache == SHARE_CACHE_ALWAYS);
	CHECK(sh->uid_map && sh->uid_host == 1000 && sh->uid_guest == 0);
	CHECK(sh->gid_map && sh->gid_host == 1001 && sh->gid_guest == 5);
	CHECK(!strcmp(b.shares[1].path, "/srv/b") && !strcmp(b.shares[1].tag, "b"));
	CHECK(!b.shares[1].readonly && !b.shares[1].uid_map);

	/* A snapshot from before the shares: none. */
	vm_config_init(&a);
	state_writer_free(&w);
	state_writer_init(&w);
	vm_config_save(&a, &w);
	state_reader_init(&r, w.data, w.len - 4);
	CHECK_EQ(vm_config_restore(&b, &r), 0);
	CHECK_EQ(b.nr_shares, 0);
	/* A count past the limit is refused. */
	w.data[w.len - 1] = 0x7f;
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(vm_config_restore(&b, &r), -EINVAL);
	state_writer_free(&w);
}

static char fs_dir[48];

/*
 * What the FUSE server does, in a child under the workers' filter: each
 * call may fail (a file system without xattrs, fallocate), but none may
 * be refused by the filter (SIGSYS ends the child).
 */
static int fs_calls(void)
{
	struct open_how how = { .flags = O_RDWR | O_CREAT, .mode = 0600,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	struct timespec times[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	char buf[512], link[16];
	struct statfs sfs;
	struct statx stx;
	struct stat st;
	int dir, fd, sub;
	long fl;

	dir = open(fs_dir, O_PATH | O_DIRECTORY);
	fd = (int)syscall(SYS_openat2, dir, "f", &how, sizeof(how));
	if (dir < 0 || fd < 0)
		return 2;
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	if (pwrite(fd, "data", 4, 0) != 4 || pread(fd, buf, 4, 0) != 4)
		return 3;
	lseek(fd, 0, SEEK_END);
	fstat(fd, &st);
	fstatat(dir, "f", &st, AT_SYMLINK_NOFOLLOW);
	statx(dir, "f", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx);
	fstatfs(fd, &sfs);
	fsync(fd);
	fdatasync(fd);
	ftruncate(fd, 2);
	fallocate(fd, 0, 0, 4096);
	fchmod(fd, 0640);
	fchown(fd, (uid_t)-1, (gid_t)-1);
	fchmodat(dir, "f", 0600, 0);
	fchownat(dir, "f", (uid_t)-1, (gid_t)-1, AT_SYMLINK_NOFOLLOW);
	utimensat(dir, "f", times, AT_SYMLINK_NOFOLLOW);
	fsetxattr(fd, "user.k", "v", 1, 0);
	fgetxattr(fd, "user.k", buf, sizeof(buf));
	flistxattr(fd, buf, sizeof(buf));
	fremovexattr(fd, "user.k");
	faccessat(dir, "f", R_OK, 0);
	mkdirat(dir, "d", 0700);
	mknodat(dir, "p", S_IFIFO | 0600, 0);
	symlinkat("f", dir, "l");
	readlinkat(dir, "l", link, sizeof(link));
	linkat(dir, "f", dir, "h", 0);
	renameat(dir, "h", dir, "h2");
	syscall(SYS_renameat2, dir, "h2", dir, "f", RENAME_EXCHANGE);
	sub = openat(dir, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	syscall(SYS_getdents64, sub, buf, sizeof(buf));
	close(sub);
	unlinkat(dir, "d", AT_REMOVEDIR);
	close(fd);
	close(dir);
	return 0;
}

static int open_socket(void)
{
	return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}

static int run_fs_filtered(int (*fn)(void), bool quiet)
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		if (quiet && !freopen("/dev/null", "w", stderr))
			_exit(101);
		if (sandbox_enter(SANDBOX_FS, true))
			_exit(100);
		_exit(fn());
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* The workers' filter lets the server's calls through, and nothing like a socket. */
static void test_fs_filter(void)
{
	char cmd[80];
	int status;

	snprintf(fs_dir, sizeof(fs_dir), "/tmp/arkvm-fs-XXXXXX");
	CHECK(mkdtemp(fs_dir));
	CHECK(!sandbox_prepare(NULL));
	status = run_fs_filtered(fs_calls, false);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fs_dir);
	if (system(cmd))
		perror("rm");
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	status = run_fs_filtered(open_socket, true);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), EXIT_SECCOMP_VIOLATION);
}

TEST_SUITE(virtio_fs,
	TEST(test_config_space),
	TEST(test_config_long_tag),
	TEST(test_request_round_trip),
	TEST(test_forget_used_len_zero),
	TEST(test_blocked_request_does_not_stall_others),
	TEST(test_reset_mid_request_pushes_nothing),
	TEST(test_malformed_chain_needs_reset),
	TEST(test_no_room_for_reply_needs_reset),
	TEST(test_failure_mid_request_drops_answer),
	TEST(test_quiesce_and_resume),
	TEST(test_many_requests_all_answered),
	TEST(test_workers_per_share),
	TEST(test_cli_share),
	TEST(test_cli_share_count_bounded),
	TEST(test_share_validation),
	TEST(test_share_config_saved_with_snapshot),
	TEST(test_fs_filter));
