// SPDX-License-Identifier: Apache-2.0
/*
 * The lab's PMU check, run in the guest (busybox has no perf): counts the
 * CPU cycles of a short busy loop through perf_event_open, as
 * `perf stat -e cycles` would, and prints the count.  Exit status 0 when
 * the count is above zero.
 */
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct perf_event_attr attr;
	unsigned long long count = 0;
	volatile unsigned long sum = 0;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_HARDWARE;
	attr.size = sizeof(attr);
	attr.config = PERF_COUNT_HW_CPU_CYCLES;
	attr.disabled = 1;
	fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	if (fd < 0) {
		perror("perf_event_open(cycles)");
		return 1;
	}
	ioctl(fd, PERF_EVENT_IOC_RESET, 0);
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	for (unsigned long i = 0; i < 2000000; i++)
		sum += i;
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	if (read(fd, &count, sizeof(count)) != sizeof(count)) {
		perror("reading the cycle count");
		return 1;
	}
	printf("%llu\n", count);
	return count ? 0 : 1;
}
