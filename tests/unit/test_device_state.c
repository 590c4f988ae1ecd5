// SPDX-License-Identifier: Apache-2.0
/*
 * Every device a snapshot holds, taken through its section of one
 * (device_save(), device_restore(): what vm_devices_save() and
 * vm_devices_restore() do for each device): driven by the guest into a
 * state worth saving, quiesced, saved, restored into a fresh device built
 * from the same config (as a restore builds it, in another process, over
 * the same guest RAM), and saved again.  The two byte strings must be the
 * same, and the restored device must go on where the first one stopped.
 * Every shorter state is refused, and leaves the fresh device as it was.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "boot_timer.h"
#include "device.h"
#include "fake_driver.h"
#include "state.h"
#include "test.h"
#include "uart_16550.h"
#include "virtio_devices.h"
#include "virtio_input.h"

#define BUF(i)  (FAKE_BUF + (u64)(i) * 0x1000)
#define RING2   (FAKE_RAM_BASE + 0x4000)   /* a second queue's rings */

static void count_irq(void *opaque)
{
	(*(unsigned int *)opaque)++;
}

static bool same_bytes(const struct state_writer *a, const struct state_writer *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/* Quiesces @dev as a pause does, and saves its section into @w (initialised here). */
static int save_quiesced(struct device *dev, struct state_writer *w)
{
	int ret = dev->cls->quiesce ? dev->cls->quiesce(dev) : 0;

	state_writer_init(w);
	return ret ? ret : device_save(dev, w);
}

/* @len bytes of the section in @w, its length field cut to match. */
static void cut_section(const struct state_writer *w, size_t len, u8 *out)
{
	u32 body = htole32((u32)(len - 8));

	memcpy(out, w->data, len);
	memcpy(out + 4, &body, sizeof(body));
}

/*
 * Into @fresh (never restored): each shorter state is refused and leaves
 * it as it was (its save unchanged), cut from the file (the section's
 * length past its end) or inside the section (the length cut to match);
 * then the whole of @saved goes in, and @fresh saves the same bytes.
 */
static void check_restore(struct device *fresh, const struct state_writer *saved)
{
	struct state_writer before, again;
	struct state_reader r;
	u8 *cut = malloc(saved->len);

	state_writer_init(&before);
	CHECK_EQ(device_save(fresh, &before), 0);
	for (size_t len = 0; len < saved->len; len++) {
		state_reader_init(&r, saved->data, len);
		CHECK(device_restore(fresh, &r) != 0);
		if (len >= 8) {
			cut_section(saved, len, cut);
			state_reader_init(&r, cut, len);
			CHECK(device_restore(fresh, &r) != 0);
		}
		state_writer_init(&again);
		CHECK_EQ(device_save(fresh, &again), 0);
		CHECK(same_bytes(&again, &before));
		state_writer_free(&again);
	}
	free(cut);
	state_writer_free(&before);

	state_reader_init(&r, saved->data, saved->len);
	CHECK_EQ(device_restore(fresh, &r), 0);
	CHECK_EQ(r.off, r.len);
	state_writer_init(&again);
	CHECK_EQ(device_save(fresh, &again), 0);
	CHECK(same_bytes(&again, saved));
	state_writer_free(&again);
}

/* --- the 16550 ------------------------------------------------------------- */

struct uart_env {
	struct uart_16550 u;
	struct device dev;
	char out[64];
	unsigned int nout;
	bool full;        /* stdout takes nothing */
	bool irq;
};

static unsigned int uart_env_tx(void *opaque, const u8 *buf, unsigned int len)
{
	struct uart_env *e = opaque;
	unsigned int n = 0;

	while (!e->full && n < len && e->nout < sizeof(e->out))
		e->out[e->nout++] = (char)buf[n++];
	return n;
}

static void uart_env_irq(void *opaque, u32 intid, bool level)
{
	((struct uart_env *)opaque)->irq = level;
}

static const struct uart_backend_ops uart_env_ops = { .tx = uart_env_tx };

static void uart_env_init(struct uart_env *e, bool full)
{
	const struct irq_line irq = { .set_level = uart_env_irq, .opaque = e, .intid = 33 };

	memset(e, 0, sizeof(*e));
	e->full = full;
	uart_init(&e->u, &irq, &uart_env_ops, e);
	e->dev = (struct device){ .cls = &uart_16550_class, .id = "uart", .priv = &e->u };
}

static u8 uart_rd(struct uart_env *e, u64 off)
{
	return (u8)uart_16550_mmio_ops.read(&e->u, off, 1);
}

static void uart_wr(struct uart_env *e, u64 off, u8 v)
{
	uart_16550_mmio_ops.write(&e->u, off, v, 1);
}

/*
 * Linux's 8250 set-up (divisor, 8n1, FIFOs, interrupts), input waiting,
 * and output stdout has not taken yet.
 */
static void uart_drive(struct uart_env *e)
{
	uart_wr(e, 3, 0x80);             /* DLAB */
	uart_wr(e, 0, 0x01);             /* DLL: 115200 */
	uart_wr(e, 1, 0x00);
	uart_wr(e, 3, 0x03);             /* 8n1 */
	uart_wr(e, 2, 0x07);             /* FIFOs on, cleared */
	uart_wr(e, 4, 0x0b);             /* DTR, RTS, OUT2 */
	uart_wr(e, 7, 0x5a);             /* scratch */
	uart_wr(e, 1, 0x03);             /* RDI, THRI */
	uart_receive(&e->u, (const u8 *)"abc", 3);
	(void)uart_rd(e, 0);             /* 'a' */
	uart_wr(e, 0, 'x');
	uart_wr(e, 0, 'y');
}

static void test_uart(void)
{
	struct uart_env a, b;
	struct state_writer w;

	uart_env_init(&a, true);
	uart_drive(&a);
	CHECK(a.irq);                    /* received data */
	CHECK_EQ(save_quiesced(&a.dev, &w), 0);

	uart_env_init(&b, true);
	check_restore(&b.dev, &w);
	CHECK(!test_failed());
	/* What the guest set up reads back, and its interrupt line is up. */
	CHECK(b.irq);
	CHECK_EQ(uart_rd(&b, 3), 0x03);
	CHECK_EQ(uart_rd(&b, 1), 0x03);
	CHECK_EQ(uart_rd(&b, 4), 0x0b);
	CHECK_EQ(uart_rd(&b, 7), 0x5a);
	CHECK_EQ(uart_rd(&b, 2) & 0xcf, 0xc4);   /* FIFOs on, received data pending */
	uart_wr(&b, 3, 0x83);
	CHECK_EQ(uart_rd(&b, 0), 0x01);
	uart_wr(&b, 3, 0x03);
	/* The input the guest had not read yet, then nothing. */
	CHECK_EQ(uart_rd(&b, 5) & 0x61, 0x01);   /* data ready; output still waiting */
	CHECK_EQ(uart_rd(&b, 0), 'b');
	CHECK_EQ(uart_rd(&b, 0), 'c');
	CHECK_EQ(uart_rd(&b, 5) & 0x01, 0);
	/* The output stdout had not taken comes out, in order, when it has room. */
	b.full = false;
	uart_tx_room(&b.u);
	CHECK_EQ(b.nout, 2);
	CHECK(!memcmp(b.out, "xy", 2));
	uart_wr(&b, 0, 'z');
	CHECK_EQ(b.nout, 3);
	CHECK_EQ(b.out[2], 'z');
	state_writer_free(&w);
	uart_destroy(&a.u);
	uart_destroy(&b.u);
}

/* A restored UART whose stdout has room lets the waiting output out at once. */
static void test_uart_output_goes_on(void)
{
	struct uart_env a, b;
	struct state_writer w;
	struct state_reader r;

	uart_env_init(&a, true);
	uart_drive(&a);
	CHECK_EQ(save_quiesced(&a.dev, &w), 0);
	uart_env_init(&b, false);
	state_reader_init(&r, w.data, w.len);
	CHECK_EQ(device_restore(&b.dev, &r), 0);
	CHECK_EQ(b.nout, 2);
	CHECK(!memcmp(b.out, "xy", 2));
	CHECK_EQ(uart_rd(&b, 5) & 0x60, 0x60);   /* THR and transmitter empty */
	state_writer_free(&w);
	uart_destroy(&a.u);
	uart_destroy(&b.u);
}

/* --- the boot timer ------------------------------------------------------ */

static void test_boot_timer(void)
{
	struct boot_times t = { .start = boot_clock_ns() };
	struct boot_timer a, b;
	struct device da = { .cls = &boot_timer_class, .id = "boot-timer", .priv = &a };
	struct device db = { .cls = &boot_timer_class, .id = "boot-timer", .priv = &b };
	struct state_writer w;
	char *text[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 };
	FILE *out[2] = { open_memstream(&text[0], &len[0]), open_memstream(&text[1], &len[1]) };

	boot_times_first_run(&t);
	boot_timer_init(&a, &t, out[0]);
	boot_timer_init(&b, &t, out[1]);
	boot_timer_mmio_ops.write(&a, 0, BOOT_TIMER_MAGIC, 1);
	fflush(out[0]);
	CHECK(len[0] > 0);               /* init ran, and said so */
	CHECK_EQ(save_quiesced(&da, &w), 0);
	check_restore(&db, &w);
	CHECK(!test_failed());
	/* The restored guest's init ran long ago: another write reports nothing. */
	boot_timer_mmio_ops.write(&b, 0, BOOT_TIMER_MAGIC, 1);
	fflush(out[1]);
	CHECK_EQ(len[1], 0);
	state_writer_free(&w);
	for (int i = 0; i < 2; i++) {
		fclose(out[i]);
		free(text[i]);
	}
}

/* --- virtio-rng ---------------------------------------------------------- */

struct rng_env {
	struct virtio_rng rng;
	struct device dev;
	unsigned int irqs;
};

static void rng_env_init(struct rng_env *e, struct fake_driver *drv)
{
	memset(e, 0, sizeof(*e));
	virtio_rng_init(&e->rng, &drv->mem, NULL, NULL);
	e->rng.vdev.interrupt = count_irq;
	e->rng.vdev.interrupt_opaque = &e->irqs;
	e->dev = (struct device){ .cls = &virtio_rng_class, .id = "virtio-rng", .priv = &e->rng,
				  .vdev = &e->rng.vdev };
}

static bool rng_buffer(struct fake_driver *drv, struct virtio_rng *rng, u32 *id)
{
	const struct fake_seg seg = { BUF(0), 32, true };
	u32 len;

	fake_post(drv, &seg, 1, false);
	virtio_dev_queue_notify(&rng->vdev, 0);
	return fake_used(drv, id, &len) && len == 32;
}

static void test_virtio_rng(void)
{
	struct fake_driver drv;
	struct rng_env a, b;
	struct state_writer w;
	u32 id;

	fake_driver_init(&drv, 8);
	rng_env_init(&a, &drv);
	fake_bring_up(&a.rng.vdev, FAKE_DESC, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	for (int i = 0; i < 3; i++)
		CHECK(rng_buffer(&drv, &a.rng, &id));
	fake_set_used_event(&drv, 3);
	CHECK_EQ(save_quiesced(&a.dev, &w), 0);

	rng_env_init(&b, &drv);
	check_restore(&b.dev, &w);
	CHECK(!test_failed());
	CHECK(rng_buffer(&drv, &b.rng, &id));
	CHECK_EQ(id, 3);
	CHECK_EQ(b.irqs, 1);             /* used_event 3: the driver wanted this one */
	state_writer_free(&w);
	virtio_rng_close(&a.rng);
	virtio_rng_close(&b.rng);
	fake_driver_free(&drv);
}

/* --- virtio-blk: built by its class, as the registry does ------------------ */

static struct device *no_find(struct device_host *host, const struct device_class *cls,
			      unsigned int index)
{
	return NULL;
}

struct blk_env {
	struct vm_config cfg;
	struct device_host host;
	struct device dev;
	unsigned int irqs;
};

static int blk_env_create(struct blk_env *e, struct fake_driver *drv, const char *path,
			  bool ephemeral)
{
	int ret;

	memset(e, 0, sizeof(*e));
	e->cfg.nr_disks = 1;
	snprintf(e->cfg.disks[0].id, sizeof(e->cfg.disks[0].id), "rootfs");
	snprintf(e->cfg.disks[0].path, sizeof(e->cfg.disks[0].path), "%s", path);
	/*
	 * Shared, so the restored disk can open the image while the first one
	 * still has it: io_uring lets go of a closed disk's file, and its lock,
	 * only some time after the close.
	 */
	e->cfg.disks[0].readonly = !ephemeral;
	e->cfg.disks[0].ephemeral = ephemeral;
	e->host = (struct device_host){ .cfg = &e->cfg, .mem = &drv->mem, .find = no_find };
	e->dev = (struct device){ .cls = &virtio_blk_class, .id = "virtio-blk" };
	ret = virtio_blk_class.create(&e->dev, &e->host, 0);
	if (!ret) {
		e->dev.vdev->interrupt = count_irq;
		e->dev.vdev->interrupt_opaque = &e->irqs;
	}
	return ret;
}

static void blk_env_destroy(struct blk_env *e)
{
	if (e->dev.priv)
		virtio_blk_class.destroy(&e->dev);
	pages_free(e->dev.priv, e->dev.priv_size);
	e->dev.priv = NULL;
}

/* One request, waited for (no I/O loop): its status byte, and the head used. */
static u8 blk_do(struct fake_driver *drv, struct virtio_dev *vdev, u32 type, u64 sector,
		 bool with_data, u32 *id)
{
	struct virtio_blk_outhdr *h = fake_hva(drv, BUF(0));
	struct fake_seg segs[3] = { { BUF(0), sizeof(*h), false } };
	unsigned int n = 1;
	u32 len;

	*h = (struct virtio_blk_outhdr){ .type = htole32(type), .sector = htole64(sector) };
	if (with_data)
		segs[n++] = (struct fake_seg){ BUF(1), 512, type != VIRTIO_BLK_T_OUT };
	segs[n++] = (struct fake_seg){ BUF(2), 1, true };
	*(u8 *)fake_hva(drv, BUF(2)) = 0xff;
	fake_post(drv, segs, n, false);
	virtio_dev_queue_notify(vdev, 0);
	if (!fake_used(drv, id, &len))
		return 0xee;
	return *(u8 *)fake_hva(drv, BUF(2));
}

static void test_virtio_blk(void)
{
	char path[] = "/tmp/arkvm-devstate-XXXXXX";
	int fd = mkstemp(path);
	struct fake_driver drv;
	struct blk_env a, b;
	struct state_writer w;
	char got[512];
	u32 id;

	CHECK(fd >= 0 && ftruncate(fd, 64 * 512) == 0);
	memset(got, 'z', sizeof(got));
	CHECK(pwrite(fd, got, sizeof(got), 5 * 512) == (ssize_t)sizeof(got));
	close(fd);
	fake_driver_init(&drv, 8);
	CHECK_EQ(blk_env_create(&a, &drv, path, false), 0);
	fake_bring_up(a.dev.vdev, FAKE_DESC, (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_BLK_F_RO));
	CHECK_EQ(blk_do(&drv, a.dev.vdev, VIRTIO_BLK_T_OUT, 5, true, &id), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_do(&drv, a.dev.vdev, VIRTIO_BLK_T_GET_ID, 0, true, &id), VIRTIO_BLK_S_OK);
	CHECK_EQ(blk_do(&drv, a.dev.vdev, VIRTIO_BLK_T_IN, 1, true, &id), VIRTIO_BLK_S_OK);
	fake_set_used_event(&drv, 3);
	CHECK_EQ(save_quiesced(&a.dev, &w), 0);

	CHECK_EQ(blk_env_create(&b, &drv, path, false), 0);
	check_restore(&b.dev, &w);
	CHECK(!test_failed());
	memset(fake_hva(&drv, BUF(1)), 0, 512);
	CHECK_EQ(blk_do(&drv, b.dev.vdev, VIRTIO_BLK_T_IN, 5, true, &id), VIRTIO_BLK_S_OK);
	CHECK_EQ(((u8 *)fake_hva(&drv, BUF(1)))[511], 'z');
	CHECK_EQ(b.dev.vdev->vqs[0].used_idx, 4);
	CHECK_EQ(b.irqs, 1);
	state_writer_free(&w);
	blk_env_destroy(&a);
	blk_env_destroy(&b);
	fake_driver_free(&drv);
	unlink(path);
}

/*
 * An ephemeral disk goes into a snapshot while the guest has only read
 * it (a restore makes a fresh overlay); once written, it is refused with
 * one line naming it.
 */
static void test_virtio_blk_ephemeral_written(void)
{
	char path[] = "/tmp/arkvm-devstate-XXXXXX";
	int fd = mkstemp(path);
	struct fake_driver drv;
	struct blk_env a;
	char why[256] = "";
	u32 id;

	CHECK(fd >= 0 && ftruncate(fd, 64 * 512) == 0);
	close(fd);
	fake_driver_init(&drv, 8);
	CHECK_EQ(blk_env_create(&a, &drv, path, true), 0);
	fake_bring_up(a.dev.vdev, FAKE_DESC, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	CHECK_EQ(blk_do(&drv, a.dev.vdev, VIRTIO_BLK_T_IN, 1, true, &id), VIRTIO_BLK_S_OK);
	CHECK_EQ(a.dev.cls->quiesce(&a.dev), 0);
	CHECK_EQ(a.dev.cls->can_save(&a.dev, why, sizeof(why)), 0);
	a.dev.cls->resume(&a.dev);
	CHECK_EQ(blk_do(&drv, a.dev.vdev, VIRTIO_BLK_T_OUT, 5, true, &id), VIRTIO_BLK_S_OK);
	CHECK_EQ(a.dev.cls->quiesce(&a.dev), 0);
	CHECK_EQ(a.dev.cls->can_save(&a.dev, why, sizeof(why)), -EBUSY);
	CHECK(!strcmp(why, "the guest has written to the ephemeral disk 'rootfs': its overlay "
		      "cannot be saved"));
	blk_env_destroy(&a);
	fake_driver_free(&drv);
	unlink(path);
}

/* --- virtio-net, on a socketpair in place of the tap ------------------------ */

#define NET_HDR 12

struct net_env {
	struct virtio_net net;
	struct device dev;
	int host;                        /* the tap's other end */
	unsigned int irqs;
};

static const u8 net_mac[6] = { 0x02, 1, 2, 3, 4, 5 };

static struct net_env *net_env_new(struct fake_driver *rx, struct event_loop *loop)
{
	struct net_env *e = calloc(1, sizeof(*e));
	int sv[2];

	if (!e || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) ||
	    virtio_net_init(&e->net, sv[0], "tap0", net_mac, &rx->mem, loop)) {
		free(e);
		return NULL;
	}
	e->host = sv[1];
	e->net.vdev.interrupt = count_irq;
	e->net.vdev.interrupt_opaque = &e->irqs;
	e->dev = (struct device){ .cls = &virtio_net_class, .id = "net0", .priv = &e->net,
				  .vdev = &e->net.vdev };
	return e;
}

static void net_env_free(struct net_env *e)
{
	virtio_net_close(&e->net);
	close(e->host);
	free(e);
}

static void net_post_rx(struct fake_driver *rx, unsigned int i)
{
	const struct fake_seg seg = { BUF(i), 1024, true };

	fake_post(rx, &seg, 1, false);
}

/* A packet from the host, as the tap's readiness brings it in. */
static void net_host_sends(struct net_env *e, u8 fill)
{
	u8 pkt[NET_HDR + 100] = { 0 };

	memset(pkt + NET_HDR, fill, 100);
	CHECK_EQ(write(e->host, pkt, sizeof(pkt)), (ssize_t)sizeof(pkt));
	e->net.tap_src.ready(&e->net.tap_src, EPOLLIN);
}

static void test_virtio_net(void)
{
	struct fake_driver rx, tx;
	struct fake_driver *queues[] = { &rx, &tx };
	struct fake_seg pkt = { BUF(7), NET_HDR + 60, false };
	struct event_loop loop;
	struct net_env *a, *b;
	struct state_writer w;
	u8 got[256];
	u32 id, len;

	CHECK_EQ(event_loop_init(&loop), 0);
	fake_driver_init(&rx, 8);
	fake_driver_init_queue(&tx, &rx, RING2, 8);
	a = net_env_new(&rx, &loop);
	CHECK(a);
	fake_bring_up_queues(&a->net.vdev, (1ULL << VIRTIO_NET_F_MRG_RXBUF) |
				(1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_RING_F_EVENT_IDX),
			     queues, 2);
	/* A packet each way. */
	memset(fake_hva(&tx, BUF(7)), 0, NET_HDR + 60);
	fake_post(&tx, &pkt, 1, false);
	virtio_dev_queue_notify(&a->net.vdev, 1);
	CHECK_EQ(read(a->host, got, sizeof(got)), NET_HDR + 60);
	CHECK(fake_used(&tx, &id, &len));
	net_post_rx(&rx, 0);
	net_post_rx(&rx, 1);
	virtio_dev_queue_notify(&a->net.vdev, 0);
	net_host_sends(a, 0xa1);
	CHECK(fake_used(&rx, &id, &len));
	CHECK_EQ(id, 0);
	/* Buffers for the next packet, which has not come: the device holds them. */
	net_post_rx(&rx, 2);
	virtio_dev_queue_notify(&a->net.vdev, 0);
	CHECK(!fake_used(&rx, &id, &len));
	fake_set_used_event(&rx, 1);     /* the driver wants to hear of the next */
	CHECK_EQ(save_quiesced(&a->dev, &w), 0);

	b = net_env_new(&rx, &loop);
	CHECK(b);
	check_restore(&b->dev, &w);
	CHECK(!test_failed());
	/* The next packet lands in the guest's next buffer, as it would have. */
	net_host_sends(b, 0xb2);
	CHECK(fake_used(&rx, &id, &len));
	CHECK_EQ(id, 1);
	CHECK_EQ(len, NET_HDR + 100);
	CHECK_EQ(((u8 *)fake_hva(&rx, BUF(1)))[NET_HDR], 0xb2);
	CHECK_EQ(b->irqs, 1);
	/* And the guest's next packet goes out. */
	fake_post(&tx, &pkt, 1, false);
	virtio_dev_queue_notify(&b->net.vdev, 1);
	CHECK_EQ(read(b->host, got, sizeof(got)), NET_HDR + 60);
	state_writer_free(&w);
	net_env_free(a);
	net_env_free(b);
	fake_driver_free(&tx);
	fake_driver_free(&rx);
	event_loop_destroy(&loop);
}

/* --- virtio-console --------------------------------------------------------- */

struct vcon_env {
	struct virtio_console vc;
	unsigned int irqs;
	struct console con;              /* last: it is large */
};

static void no_quit(void *opaque)
{
}

static struct vcon_env *vcon_env_new(struct fake_driver *rx, int out_fd, struct device *dev)
{
	struct vcon_env *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	console_init(&e->con, &virtio_console_sink, &e->vc, no_quit, NULL);
	e->con.out_fd = e->con.out.src.fd = out_fd;
	virtio_console_init(&e->vc, &rx->mem, &e->con);
	e->vc.vdev.interrupt = count_irq;
	e->vc.vdev.interrupt_opaque = &e->irqs;
	*dev = (struct device){ .cls = &virtio_console_class, .id = "virtio-console",
				.priv = &e->vc, .vdev = &e->vc.vdev };
	return e;
}

static void vcon_env_free(struct vcon_env *e)
{
	virtio_dev_destroy(&e->vc.vdev);
	free(e);
}

static void test_virtio_console(void)
{
	struct fake_driver rx, tx;
	struct fake_driver *queues[] = { &rx, &tx };
	struct fake_seg in[2] = { { BUF(0), 64, true }, { BUF(1), 64, true } };
	struct fake_seg out = { BUF(5), 5, false };
	struct device da, db;
	struct vcon_env *a, *b;
	struct state_writer w;
	int pipefd[2];
	char got[16] = { 0 };
	u32 id, len;

	CHECK_EQ(pipe2(pipefd, O_NONBLOCK), 0);
	fake_driver_init(&rx, 8);
	fake_driver_init_queue(&tx, &rx, RING2, 8);
	a = vcon_env_new(&rx, pipefd[1], &da);
	CHECK(a);
	fake_bring_up_queues(&a->vc.vdev, 0, queues, 2);
	memcpy(fake_hva(&tx, BUF(5)), "hello", 5);
	fake_post(&tx, &out, 1, false);
	virtio_dev_queue_notify(&a->vc.vdev, 1);
	CHECK_EQ(read(pipefd[0], got, sizeof(got)), 5);
	CHECK(fake_used(&tx, &id, &len));
	fake_post(&rx, &in[0], 1, false);
	fake_post(&rx, &in[1], 1, false);
	CHECK_EQ(virtio_console_sink.space(&a->vc), 64);
	virtio_console_sink.receive(&a->vc, (const u8 *)"ls\n", 3);
	CHECK(fake_used(&rx, &id, &len));
	/* The console asks for room: the device holds the next buffer for input. */
	CHECK_EQ(virtio_console_sink.space(&a->vc), 64);
	CHECK_EQ(save_quiesced(&da, &w), 0);

	b = vcon_env_new(&rx, pipefd[1], &db);
	CHECK(b);
	check_restore(&db, &w);
	CHECK(!test_failed());
	/* The next input goes into the buffer the guest posted next. */
	CHECK_EQ(virtio_console_sink.space(&b->vc), 64);
	virtio_console_sink.receive(&b->vc, (const u8 *)"pwd\n", 4);
	CHECK(fake_used(&rx, &id, &len));
	CHECK_EQ(id, 1);
	CHECK_EQ(len, 4);
	CHECK(!memcmp(fake_hva(&rx, BUF(1)), "pwd\n", 4));
	/* And output goes on. */
	fake_post(&tx, &out, 1, false);
	virtio_dev_queue_notify(&b->vc.vdev, 1);
	CHECK_EQ(read(pipefd[0], got, sizeof(got)), 5);
	CHECK(fake_used(&tx, &id, &len));
	state_writer_free(&w);
	vcon_env_free(a);
	vcon_env_free(b);
	close(pipefd[0]);
	close(pipefd[1]);
	fake_driver_free(&tx);
	fake_driver_free(&rx);
}

/* All there is in the pipe (non-blocking), appended at @got + *@n. */
static void drain_pipe(int fd, u8 *got, size_t cap, size_t *n)
{
	ssize_t r;

	while (*n < cap && (r = read(fd, got + *n, cap - *n)) > 0)
		*n += (size_t)r;
}

/*
 * Output longer than the console takes at once: the device holds the chain
 * half sent.  The restored device sends the rest, none of it twice.
 */
static void test_virtio_console_half_sent(void)
{
	enum { LONG = 40000 };
	struct fake_driver rx, tx;
	struct fake_driver *queues[] = { &rx, &tx };
	struct fake_seg out = { BUF(16), LONG, false };
	struct device da, db;
	struct vcon_env *a, *b;
	struct state_writer w;
	u8 *want, *got = malloc(LONG + 1);
	size_t n = 0;
	int pipefd[2];
	u32 id = ~0u, len;

	CHECK_EQ(pipe2(pipefd, O_NONBLOCK), 0);
	fake_driver_init(&rx, 8);
	fake_driver_init_queue(&tx, &rx, RING2, 8);
	want = fake_hva(&rx, BUF(16));
	for (unsigned int i = 0; i < LONG; i++)
		want[i] = (u8)(i % 251);
	a = vcon_env_new(&rx, pipefd[1], &da);
	CHECK(a);
	fake_bring_up_queues(&a->vc.vdev, 0, queues, 2);
	fake_post(&tx, &out, 1, false);
	virtio_dev_queue_notify(&a->vc.vdev, 1);
	drain_pipe(pipefd[0], got, LONG + 1, &n);
	CHECK(n > 0 && n < LONG);
	CHECK(!fake_used(&tx, &id, &len));
	CHECK_EQ(save_quiesced(&da, &w), 0);

	b = vcon_env_new(&rx, pipefd[1], &db);
	CHECK(b);
	check_restore(&db, &w);
	CHECK(!test_failed());
	for (int kicks = 0; kicks < 8 && !fake_used(&tx, &id, &len); kicks++) {
		virtio_dev_queue_notify(&b->vc.vdev, 1);
		drain_pipe(pipefd[0], got, LONG + 1, &n);
	}
	CHECK_EQ(id, 0);
	CHECK_EQ(n, LONG);
	CHECK(!memcmp(got, want, LONG));
	state_writer_free(&w);
	vcon_env_free(a);
	vcon_env_free(b);
	free(got);
	close(pipefd[0]);
	close(pipefd[1]);
	fake_driver_free(&tx);
	fake_driver_free(&rx);
}

/* --- virtio-input ------------------------------------------------------------ */

static void input_env_init(struct virtio_input *in, struct device *dev, struct fake_driver *drv,
			   unsigned int *irqs)
{
	virtio_input_init(in, INPUT_TABLET, &drv->mem);
	in->vdev.interrupt = count_irq;
	in->vdev.interrupt_opaque = irqs;
	*dev = (struct device){ .cls = &virtio_input_class, .id = in->vdev.name, .priv = in,
				.vdev = &in->vdev };
}

static void test_virtio_input(void)
{
	const struct virtio_input_event ev[2] = {
		{ .type = htole16(EV_ABS), .code = htole16(ABS_X), .value = htole32(100) },
		{ .type = htole16(EV_SYN) },
	};
	struct fake_driver events, status;
	struct fake_driver *queues[] = { &events, &status };
	struct virtio_input a, b;
	struct device da, db;
	struct state_writer w;
	unsigned int irqs = 0;
	u32 id, len;

	fake_driver_init(&events, 8);
	fake_driver_init_queue(&status, &events, RING2, 8);
	input_env_init(&a, &da, &events, &irqs);
	fake_bring_up_queues(&a.vdev, 0, queues, 2);
	for (unsigned int i = 0; i < 4; i++) {
		const struct fake_seg seg = { BUF(0) + i * 8, 8, true };

		fake_post(&events, &seg, 1, false);
	}
	CHECK_EQ(virtio_input_send(&a, ev, 2), 2);
	CHECK_EQ(save_quiesced(&da, &w), 0);
	CHECK_EQ(virtio_input_send(&a, ev, 2), 0);   /* paused: dropped */

	input_env_init(&b, &db, &events, &irqs);
	check_restore(&db, &w);
	CHECK(!test_failed());
	CHECK_EQ(virtio_input_send(&b, ev, 2), 2);
	for (u32 i = 0; i < 4; i++) {
		CHECK(fake_used(&events, &id, &len));
		CHECK_EQ(id, i);
		CHECK_EQ(len, 8);
	}
	state_writer_free(&w);
	virtio_dev_destroy(&a.vdev);
	virtio_dev_destroy(&b.vdev);
	fake_driver_free(&status);
	fake_driver_free(&events);
}

TEST_SUITE(device_state,
	   TEST(test_uart),
	   TEST(test_uart_output_goes_on),
	   TEST(test_boot_timer),
	   TEST(test_virtio_rng),
	   TEST(test_virtio_blk),
	   TEST(test_virtio_blk_ephemeral_written),
	   TEST(test_virtio_net),
	   TEST(test_virtio_console),
	   TEST(test_virtio_console_half_sent),
	   TEST(test_virtio_input));
