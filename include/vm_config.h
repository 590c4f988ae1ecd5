/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_VM_CONFIG_H
#define ARKVM_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

/*
 * What a VM is made of, as plain data: the command line fills it today,
 * the API and the config file will fill the same struct.  It owns every
 * string (fixed arrays: a config can be copied, and nothing in it points
 * into argv or a request body), and every device in it has an id by which
 * the API names it.  vm_config_validate() is the one place that decides
 * whether a config makes sense; it checks form only, not the host, which
 * the VM's set-up does when it opens things.
 */

#define CFG_DEFAULT_CPUS     1
#define CFG_DEFAULT_MEMORY   (256 * SZ_1M)
#define CFG_MIN_MEMORY       (32 * SZ_1M)
#define CFG_MAX_CMDLINE      2047 /* arm64 COMMAND_LINE_SIZE less the NUL */
#define CFG_MAX_PATH         4095
#define CFG_MAX_ID           64   /* as Firecracker's ids: 1-64 of [A-Za-z0-9_-] */

#define CFG_MAX_DISKS        8
#define CFG_MAX_SERIAL       20   /* VIRTIO_BLK_ID_BYTES */

#define CFG_MAX_NETS         4
#define CFG_MAX_IFNAME       15   /* IFNAMSIZ less the NUL */
#define CFG_MAX_PARTUUID     36   /* a GPT partition's UUID, as text */

/*
 * A token bucket, as Firecracker's API defines one: @size tokens (bytes
 * or operations), refilled in full every @refill_time_ms, plus an initial
 * @one_time_burst that is not refilled.  size 0 (or refill_time_ms 0): no
 * limit of that kind.
 */
struct token_bucket_config {
	u64 size;
	u64 one_time_burst;
	u64 refill_time_ms;
};

/* A device's limits: bytes and operations, each optional. */
struct rate_limiter_config {
	struct token_bucket_config bandwidth;
	struct token_bucket_config ops;
};

static inline bool token_bucket_config_set(const struct token_bucket_config *tb)
{
	return tb->size && tb->refill_time_ms;
}

static inline bool rate_limiter_config_set(const struct rate_limiter_config *rl)
{
	return token_bucket_config_set(&rl->bandwidth) || token_bucket_config_set(&rl->ops);
}

/*
 * Firecracker's drive cache_type.  Writeback offers the guest a flush
 * that reaches the disk (arkvm's own default); Unsafe (Firecracker's
 * default) offers none.
 */
enum disk_cache {
	DISK_CACHE_WRITEBACK,
	DISK_CACHE_UNSAFE,
};

struct disk_config {
	char id[CFG_MAX_ID + 1];          /* empty until vm_config_complete(): "disk<N>" */
	char path[CFG_MAX_PATH + 1];
	char serial[CFG_MAX_SERIAL + 1];  /* empty: derived from the disk's position */
	bool readonly;
	bool root;            /* the guest's root: root=/dev/vdX (or PARTUUID=) on its command line */
	char partuuid[CFG_MAX_PARTUUID + 1];  /* with root: root=PARTUUID=... */
	enum disk_cache cache;
	struct rate_limiter_config rl;
};

/*
 * Where a NIC's packets go.  NET_TAP is 0: the API and the config file
 * fill only taps.
 */
enum net_kind {
	NET_TAP,              /* an existing host tap (tap=NAME) */
	NET_USER,             /* user-mode networking: arkvm starts passt (--net user) */
	NET_PASST,            /* a passt already running, on its unix socket (passt=PATH) */
};

#define CFG_MAX_FORWARDS     16
#define CFG_MAX_SOCK_PATH    107  /* a sun_path less the NUL */

enum net_proto {
	NET_FWD_TCP,
	NET_FWD_UDP,
};

/* --net user's tcp=HOSTPORT:GUESTPORT / udp=...: a host port passt forwards to the guest. */
struct net_forward {
	enum net_proto proto;
	u16 host_port, guest_port;  /* 1-65535 */
};

struct net_config {
	char id[CFG_MAX_ID + 1];          /* empty until vm_config_complete(): "net<N>" */
	enum net_kind kind;
	char tap[CFG_MAX_IFNAME + 1];     /* NET_TAP: an existing tap interface */
	char passt_path[CFG_MAX_SOCK_PATH + 1];  /* NET_PASST: passt's socket */
	struct net_forward forwards[CFG_MAX_FORWARDS];  /* NET_USER */
	unsigned int nr_forwards;
	u8 mac[6];
	bool has_mac;         /* else derived from the tap name (or the id, or the socket) */
	bool vhost;           /* the host kernel's vhost-net serves the queues (taps only) */
	struct rate_limiter_config rx_rl;  /* what the guest receives */
	struct rate_limiter_config tx_rl;  /* what the guest sends */
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

/* --vsock cid=N,socket=PATH: virtio-vsock with Firecracker's unix-socket backend. */
#define CFG_VSOCK_MIN_CID 3
#define CFG_VSOCK_MAX_PATH 95          /* "<path>_<port>" must fit a sun_path */

struct vsock_config {
	bool enabled;
	u32 cid;                            /* the guest's: 3 and up */
	char uds_path[CFG_VSOCK_MAX_PATH + 1];
};

/*
 * --balloon [size=MiB][,deflate-on-oom][,free-page-reporting][,stats=SECONDS]:
 * virtio-balloon (Firecracker's PUT /balloon).  Stats every 0 s: no
 * statistics queue, and none can be asked for later (as Firecracker).
 */
#define CFG_BALLOON_MAX_STATS_S 65535   /* Firecracker's stats_polling_interval_s: a u16 */

struct balloon_config {
	bool enabled;
	u32 amount_mib;                     /* the target: what the guest should give back */
	bool deflate_on_oom;                /* the guest may take pages back when it runs out */
	bool free_page_reporting;           /* the guest reports free pages: released on the host */
	u32 stats_interval_s;               /* how often the guest's statistics are asked; 0: never */
};

/*
 * --share HOSTDIR,tag=TAG[,readonly][,cache=auto|always|never][,uid-map=H:G][,gid-map=H:G]:
 * a host directory the guest mounts with "mount -t virtiofs TAG DIR",
 * served by arkvm's own FUSE server (include/fuse_server.h).
 */
#define CFG_MAX_SHARES    8
#define CFG_SHARE_TAG_MAX 36            /* virtio-fs config: tag[36], not NUL-terminated */

enum share_cache {
	SHARE_CACHE_AUTO,     /* the guest caches for a second, and keeps data across opens */
	SHARE_CACHE_ALWAYS,   /* the guest caches and trusts it: nothing changes the dir but it */
	SHARE_CACHE_NEVER,    /* every access goes to the host: for dirs the host changes too */
};

struct share_config {
	char path[CFG_MAX_PATH + 1];        /* HOSTDIR */
	char tag[CFG_SHARE_TAG_MAX + 1];
	bool readonly;                      /* every change refused with EROFS */
	enum share_cache cache;
	/*
	 * An id map: host id @uid_host is reported to the guest as
	 * @uid_guest and the other way round (uid-map=1000:0 shows arkvm's
	 * user as root).  Without it ids pass unchanged.
	 */
	bool uid_map, gid_map;
	u32 uid_host, uid_guest, gid_host, gid_guest;
};

struct vm_config {
	char kernel[CFG_MAX_PATH + 1];
	char initrd[CFG_MAX_PATH + 1];      /* empty: none */
	char cmdline[CFG_MAX_CMDLINE + 1];  /* the guest's, complete after vm_config_complete() */
	char dump_dtb[CFG_MAX_PATH + 1];    /* empty: run the VM */
	char screenshot[CFG_MAX_PATH + 1];  /* PNG of the scanout; empty: none */
	unsigned int nr_cpus;
	u64 mem_size;
	bool hugepages;         /* hugetlbfs 2M pages */
	bool smt;               /* Firecracker's machine-config field: always false on arm64 */
	bool track_dirty_pages; /* for diff snapshots */
	bool prefault;          /* fault all of RAM in at start */
	struct disk_config disks[CFG_MAX_DISKS];
	unsigned int nr_disks;
	struct net_config nets[CFG_MAX_NETS];
	unsigned int nr_nets;
	enum console_kind console;
	struct gpu_config gpu;
	struct display_config display;
	struct rate_limiter_config rng_rl;  /* the entropy device's */
	struct vsock_config vsock;
	struct balloon_config balloon;
	struct share_config shares[CFG_MAX_SHARES];
	unsigned int nr_shares;
	bool no_seccomp;        /* no syscall filters */
	bool boot_timer;        /* the boot timer device */
	bool stats;             /* counters on exit */
};

/*
 * Why a config was refused: the field (named as the command line names it:
 * "memory", "disk", ...), the device's index for repeated ones (-1 else),
 * and one sentence that needs no more context.  Each front end words it
 * its own way: the CLI as "--FIELD: MESSAGE", the API as a 400.
 */
struct vm_config_error {
	const char *field;
	int index;
	char msg[256];
};

/* The defaults: one vCPU, 256M, serial console, no devices. */
void vm_config_init(struct vm_config *cfg);

/*
 * Copies @value into the config's @field of @size bytes; -ENAMETOOLONG
 * (and @field unchanged) when it does not fit.
 */
int vm_config_set_str(char *field, size_t size, const char *value);
#define VM_CONFIG_SET(field, value) vm_config_set_str(field, sizeof(field), value)

/*
 * A new device's place in the config, zeroed, for a front end to fill in
 * (vm_config_init() leaves the slots alone); NULL when the config has as
 * many as arkvm takes.
 */
struct disk_config *vm_config_add_disk(struct vm_config *cfg);
struct net_config *vm_config_add_net(struct vm_config *cfg);
struct share_config *vm_config_add_share(struct vm_config *cfg);

/* 0, or -EINVAL with @err filled in. */
int vm_config_validate(const struct vm_config *cfg, struct vm_config_error *err);

/*
 * Fills in what a valid config leaves to arkvm: ids of devices given
 * none, and "console=hvc0" on the guest's command line with a virtio
 * console (unless it names a console).  Call after vm_config_validate().
 */
void vm_config_complete(struct vm_config *cfg);

/*
 * What a snapshot keeps of the config: enough to rebuild the same
 * machine and devices.  vm_config_restore() checks every length and
 * count; the caller validates the result as for any other front end.
 */
struct state_writer;
struct state_reader;
void vm_config_save(const struct vm_config *cfg, struct state_writer *w);
int vm_config_restore(struct vm_config *cfg, struct state_reader *r);

/* An id as the API accepts it: 1-64 of [A-Za-z0-9_-]. */
bool vm_config_id_ok(const char *id);

#endif
