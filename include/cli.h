/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_CLI_H
#define ARKVM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "compiler.h"

#define ARKVM_VERSION "0.1.0"

#define CFG_DEFAULT_CPUS     1
#define CFG_DEFAULT_MEMORY   (256 * SZ_1M)
#define CFG_MIN_MEMORY       (32 * SZ_1M)
#define CFG_MAX_CMDLINE      2047 /* arm64 COMMAND_LINE_SIZE less the NUL */

#define CFG_MAX_DISKS        8
#define CFG_MAX_SERIAL       20   /* VIRTIO_BLK_ID_BYTES */
#define CFG_MAX_PATH         4095

#define CFG_MAX_NETS         4
#define CFG_MAX_IFNAME       15   /* IFNAMSIZ less the NUL */

struct net_config {
	char tap[CFG_MAX_IFNAME + 1];  /* an existing tap interface */
	u8 mac[6];
	bool has_mac;         /* else derived from the tap name */
	bool vhost;           /* the host kernel's vhost-net serves the queues */
};

enum console_kind {
	CONSOLE_SERIAL,       /* the UART (ttyS0) */
	CONSOLE_VIRTIO,       /* virtio-console (hvc0); the UART keeps early output */
};

enum gpu_mode {
	GPU_NONE,
	GPU_2D,               /* virtio-gpu, 2D only, rendered by arkvm */
	GPU_VIRGL,            /* virtio-gpu with 3D through virglrenderer */
};

#define CFG_GPU_DEFAULT_WIDTH  1024
#define CFG_GPU_DEFAULT_HEIGHT 768
#define CFG_GPU_MIN_DIM        64
#define CFG_GPU_MAX_DIM        4095   /* an EDID detailed timing's 12-bit field */

struct gpu_config {
	enum gpu_mode mode;
	unsigned int width, height;   /* the one scanout's mode */
};

/* --display vnc=ADDR:PORT */
struct display_config {
	bool vnc;
	u8 addr[4];           /* IPv4, in order */
	u16 port;
};

struct disk_config {
	char path[CFG_MAX_PATH + 1];
	char serial[CFG_MAX_SERIAL + 1];  /* empty: derived from the disk's position */
	bool readonly;
};

/*
 * What the user asked for; checked for form here, against the host later.
 * Self-contained: strings point into argv or into the config itself.
 */
struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	const char *dump_dtb;
	unsigned int nr_cpus;
	u64 mem_size;
	bool hugepages;         /* --memory ...,hugepages: hugetlbfs 2M pages */
	bool prefault;          /* --memory ...,prefault: fault all of RAM in at start */
	struct disk_config disks[CFG_MAX_DISKS];
	unsigned int nr_disks;
	struct net_config nets[CFG_MAX_NETS];
	unsigned int nr_nets;
	enum console_kind console;
	struct gpu_config gpu;
	struct display_config display;
	const char *screenshot; /* --screenshot FILE: PNG of the scanout */
	bool no_seccomp;        /* --no-seccomp: no syscall filters */
	bool boot_timer;        /* --boot-timer: the boot timer device */
	bool stats;             /* --stats: counters on exit */
	char cmdline_buf[CFG_MAX_CMDLINE + 1];  /* cmdline, when arkvm adds to it */
};

enum cli_action {
	CLI_RUN,     /* start a VM with the config */
	CLI_DONE,    /* help or version printed: exit 0 */
};

/*
 * Parses argv.  Help and version go to @out.  On bad input prints one line
 * on stderr and returns -EINVAL.
 */
int cli_parse(int argc, char *const argv[], struct vm_config *cfg, FILE *out);

/* "256M", "2G", "1024K", "512" (MiB); -EINVAL when malformed or too big. */
int parse_size(const char *s, u64 *out);

/* "52:54:00:12:34:56": a unicast MAC address; -EINVAL otherwise. */
int parse_mac(const char *s, u8 mac[6]);

/* A plain decimal number that fits in unsigned int. */
int parse_uint(const char *s, unsigned int *out);

#endif
