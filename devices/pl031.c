// SPDX-License-Identifier: Apache-2.0
/*
 * The PL031 real-time clock (include/pl031.h).  Linux's rtc-pl031 driver
 * binds through the AMBA bus, which reads the PrimeCell ID registers and
 * wants an "apb_pclk" clock, so the device tree gives it a fixed clock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "device.h"
#include "event_loop.h"
#include "fdt_build.h"
#include "log.h"
#include "pl031.h"
#include "state.h"

/* PeriphID0-3 (part 0x031, designer ARM 0x41, revision 1) and CellID0-3. */
static const u8 pl031_id[8] = { 0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

#define PL031_APB_PCLK_HZ 24000000

static int64_t host_wall_clock(void *opaque __unused)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

void pl031_init(struct pl031 *rtc, const struct irq_line *irq,
		int64_t (*wall_clock)(void *opaque), void *clock_opaque)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->irq = *irq;
	rtc->wall_clock = wall_clock ? wall_clock : host_wall_clock;
	rtc->clock_opaque = clock_opaque;
	rtc->alarm_at = -1;
	rtc->alarm_fd = -1;
}

void pl031_destroy(struct pl031 *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}

static int64_t pl031_wall(struct pl031 *rtc)
{
	return rtc->wall_clock(rtc->clock_opaque);
}

static u32 count_locked(struct pl031 *rtc)
{
	return (u32)(pl031_wall(rtc) + rtc->offset);
}

u32 pl031_count(struct pl031 *rtc)
{
	u32 v;

	pthread_mutex_lock(&rtc->lock);
	v = count_locked(rtc);
	pthread_mutex_unlock(&rtc->lock);
	return v;
}

/* The line follows RIS & IMSC (level-triggered); only changes reach the GIC. */
static void update_irq(struct pl031 *rtc, bool force)
{
	bool level = rtc->ris && rtc->imsc;

	if (level == rtc->line && !force)
		return;
	rtc->line = level;
	irq_line_set(&rtc->irq, level);
}

static void set_timer(struct pl031 *rtc)
{
	struct itimerspec its = { .it_value.tv_sec = (time_t)rtc->alarm_at };

	if (rtc->alarm_fd < 0)
		return;
	if (rtc->alarm_at < 0)
		its.it_value.tv_sec = 0;  /* disarms */
	if (timerfd_settime(rtc->alarm_fd, TFD_TIMER_ABSTIME, &its, NULL))
		pr_warn_ratelimited("rtc: arming its alarm: %s", strerror(errno));
}

/* Latches the match if its time has come; the caller holds the lock. */
static void check_alarm(struct pl031 *rtc)
{
	if (rtc->alarm_at < 0 || pl031_wall(rtc) < rtc->alarm_at)
		return;
	rtc->alarm_at = -1;
	rtc->ris = true;
	update_irq(rtc, false);
}

/*
 * The match is due when the count next equals MR: up to 2^32 - 1 seconds
 * ahead (the count wraps), or now when it already does.
 */
static void arm_alarm(struct pl031 *rtc)
{
	int64_t now = pl031_wall(rtc);

	rtc->alarm_at = now + (u32)(rtc->mr - (u32)(now + rtc->offset));
	check_alarm(rtc);
	set_timer(rtc);
}

void pl031_alarm(struct pl031 *rtc)
{
	pthread_mutex_lock(&rtc->lock);
	check_alarm(rtc);
	pthread_mutex_unlock(&rtc->lock);
}

static u32 read_reg(struct pl031 *rtc, u64 offset)
{
	switch (offset) {
	case PL031_DR:
		return count_locked(rtc);
	case PL031_MR:
		return rtc->mr;
	case PL031_LR:
		return rtc->lr;
	case PL031_CR:
		return 1;   /* started at reset, and a PL031 cannot be stopped */
	case PL031_IMSC:
		return rtc->imsc;
	case PL031_RIS:
		return rtc->ris;
	case PL031_MIS:
		return rtc->ris && rtc->imsc;
	}
	if (offset >= PL031_ID && offset < PL031_ID + 4 * sizeof(pl031_id))
		return pl031_id[(offset - PL031_ID) / 4];
	return 0;
}

static void write_reg(struct pl031 *rtc, u64 offset, u32 v)
{
	switch (offset) {
	case PL031_MR:
		rtc->mr = v;
		arm_alarm(rtc);
		break;
	case PL031_LR:
		rtc->lr = v;
		rtc->offset = (int64_t)v - pl031_wall(rtc);
		arm_alarm(rtc);   /* the match is due at another host time now */
		break;
	case PL031_IMSC:
		rtc->imsc = v & 1;
		update_irq(rtc, false);
		break;
	case PL031_ICR:
		if (v & 1)
			rtc->ris = false;
		update_irq(rtc, false);
		break;
	default:
		break;      /* CR (always started), read-only and unused offsets */
	}
}

/* Registers are 32-bit words: anything else reads 0 and writes nothing. */
static bool word_access(u64 offset, u32 size)
{
	if (size == 4 && !(offset & 3))
		return true;
	pr_warn_ratelimited("rtc: %u-byte access at 0x%llx ignored", size,
			    (unsigned long long)offset);
	return false;
}

static u64 pl031_mmio_read(void *opaque, u64 offset, u32 size)
{
	struct pl031 *rtc = opaque;
	u32 v;

	if (!word_access(offset, size))
		return 0;
	pthread_mutex_lock(&rtc->lock);
	v = read_reg(rtc, offset);
	pthread_mutex_unlock(&rtc->lock);
	return v;
}

static void pl031_mmio_write(void *opaque, u64 offset, u64 value, u32 size)
{
	struct pl031 *rtc = opaque;

	if (!word_access(offset, size))
		return;
	pthread_mutex_lock(&rtc->lock);
	write_reg(rtc, offset, (u32)value);
	pthread_mutex_unlock(&rtc->lock);
}

/* The AMBA bus enables the "apb_pclk" clock before it reads the ID: a fixed one. */
static void pl031_fdt_node(void *opaque, struct fdt_writer *w, u64 base, u64 len)
{
	static const char compat[] = "arm,pl031\0arm,primecell";
	struct pl031 *rtc = opaque;
	char name[32];

	fdt_w_begin_node(w, "apb-pclk");
	fdt_w_prop_str(w, "compatible", "fixed-clock");
	fdt_w_prop_u32(w, "#clock-cells", 0);
	fdt_w_prop_u32(w, "clock-frequency", PL031_APB_PCLK_HZ);
	fdt_w_prop_str(w, "clock-output-names", "clk24mhz");
	fdt_w_prop_u32(w, "phandle", FDT_PHANDLE_APB_PCLK);
	fdt_w_end_node(w);

	snprintf(name, sizeof(name), "rtc@%llx", (unsigned long long)base);
	fdt_w_begin_node(w, name);
	fdt_w_prop(w, "compatible", compat, sizeof(compat));
	fdt_w_prop_reg(w, base, len);
	fdt_w_prop_spi(w, rtc->irq.intid, FDT_IRQ_TYPE_LEVEL_HIGH);
	fdt_w_prop_u32(w, "clocks", FDT_PHANDLE_APB_PCLK);
	fdt_w_prop_str(w, "clock-names", "apb_pclk");
	fdt_w_end_node(w);
}

const struct mmio_ops pl031_mmio_ops = {
	.read = pl031_mmio_read,
	.write = pl031_mmio_write,
	.fdt_node = pl031_fdt_node,
};

/* --- the device class: always there, at the memory map's place ---------- */

static void pl031_alarm_ready(struct event_source *src, uint32_t events __unused)
{
	struct pl031 *rtc = container_of(src, struct pl031, alarm_src);
	u64 expirations;

	if (read(src->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		pr_warn_ratelimited("rtc: reading its alarm: %s", strerror(errno));
	pl031_alarm(rtc);
}

static int pl031_create(struct device *dev, struct device_host *host,
			unsigned int index __unused)
{
	const struct irq_line irq = {
		.set_level = host->set_irq, .opaque = host->opaque, .intid = ARM64_RTC_IRQ,
	};
	struct pl031 *rtc = device_alloc_priv(dev, sizeof(*rtc));
	int ret;

	if (!rtc)
		return -ENOMEM;
	pl031_init(rtc, &irq, NULL, NULL);
	rtc->alarm_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rtc->alarm_fd < 0) {
		ret = -errno;
		pr_err("rtc: timerfd_create: %s", strerror(errno));
		return ret;
	}
	rtc->alarm_src.fd = rtc->alarm_fd;
	rtc->alarm_src.ready = pl031_alarm_ready;
	ret = event_loop_add(host->io_loop, &rtc->alarm_src, EPOLLIN);
	if (ret) {
		pr_err("rtc: watching its alarm: %s", strerror(-ret));
		close(rtc->alarm_fd);
		rtc->alarm_fd = -1;
	}
	rtc->loop = host->io_loop;
	return ret;
}

static int pl031_realize(struct device *dev, struct device_host *host)
{
	int ret = mmio_bus_register(host->bus, ARM64_RTC_BASE, ARM64_RTC_SIZE, &pl031_mmio_ops,
				    dev->priv, "rtc");

	if (ret)
		pr_err("registering the RTC: %s", strerror(-ret));
	return ret;
}

/* Snapshots: the offset, not the count, so the clock goes on from the host's. */
static int pl031_save(struct device *dev, struct state_writer *w)
{
	struct pl031 *rtc = dev->priv;

	pthread_mutex_lock(&rtc->lock);
	state_put_u64(w, (u64)rtc->offset);
	state_put_u64(w, (u64)rtc->alarm_at);
	state_put_u32(w, rtc->mr);
	state_put_u32(w, rtc->lr);
	state_put_u8(w, rtc->imsc);
	state_put_u8(w, rtc->ris);
	pthread_mutex_unlock(&rtc->lock);
	return w->err;
}

static int pl031_restore(struct device *dev, struct state_reader *r)
{
	struct pl031 *rtc = dev->priv;
	int64_t offset = (int64_t)state_get_u64(r), alarm_at = (int64_t)state_get_u64(r);
	u32 mr = state_get_u32(r), lr = state_get_u32(r);
	u8 imsc = state_get_u8(r), ris = state_get_u8(r);

	if (state_check(r, imsc <= 1 && ris <= 1 && alarm_at >= -1))
		return r->err;
	pthread_mutex_lock(&rtc->lock);
	rtc->offset = offset;
	rtc->alarm_at = alarm_at;
	rtc->mr = mr;
	rtc->lr = lr;
	rtc->imsc = imsc;
	rtc->ris = ris;
	/* A match that fell due while the snapshot waited latches now. */
	check_alarm(rtc);
	set_timer(rtc);
	update_irq(rtc, true);
	pthread_mutex_unlock(&rtc->lock);
	return 0;
}

static void pl031_class_destroy(struct device *dev)
{
	struct pl031 *rtc = dev->priv;

	if (!rtc)
		return;     /* its create ran out of memory */
	if (rtc->alarm_fd >= 0) {
		event_loop_del(rtc->loop, &rtc->alarm_src);
		close(rtc->alarm_fd);
	}
	pl031_destroy(rtc);
}

const struct device_class pl031_class = {
	.name = "rtc",
	.create = pl031_create,
	.realize = pl031_realize,
	.save = pl031_save,
	.restore = pl031_restore,
	.destroy = pl031_class_destroy,
};
