/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_EXEC_PROTO_H
#define ARKVM_EXEC_PROTO_H

/*
 * The protocol between `arkvm exec` (the host side, src/exec*.c) and its
 * guest agent (agent/), over one vsock stream: the agent listens on
 * EXEC_VSOCK_PORT, the host connects through the vsock device's unix
 * socket (CONNECT <port>).  Both sides build this file's code
 * (src/exec_proto.c) and trust nothing the other sends: the guest is
 * hostile, and a frame that breaks a rule ends the session.
 *
 * Every message is a frame: a fixed header, then @len bytes of payload.
 *
 *   host -> guest   RUN (exactly once, first), STDIN, STDIN_EOF, SIGNAL, WINSIZE
 *   guest -> host   HELLO (exactly once, first), STARTED, STDOUT, STDERR, EXIT
 *
 * Order of a session: guest HELLO; host RUN; guest STARTED (the command
 * runs) or EXIT (it could not start: EXEC_EXIT_NOT_FOUND, _NOT_EXECUTABLE
 * or _SETUP); then data both ways; guest EXIT last.  Each stream is in
 * order; backpressure is the stream's own (a side that cannot write its
 * output stops reading frames), nothing is ever dropped.
 */
#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

#define EXEC_VSOCK_PORT     1024
#define EXEC_PROTO_VERSION  1
#define EXEC_MAX_PAYLOAD    65536      /* a longer frame is a protocol error */

enum exec_msg {
	EXEC_HELLO = 1,      /* guest: u32 version (EXEC_PROTO_VERSION) */
	EXEC_RUN,            /* host: the command, as RUN items (below) */
	EXEC_STARTED,        /* guest: empty; the command runs */
	EXEC_STDIN,          /* host: bytes for the command's stdin (len >= 1) */
	EXEC_STDIN_EOF,      /* host: empty; the command's stdin is closed */
	EXEC_STDOUT,         /* guest: bytes the command wrote to stdout (len >= 1) */
	EXEC_STDERR,         /* guest: the same for stderr (with a tty: never sent) */
	EXEC_SIGNAL,         /* host: u32 signal number, delivered to the command's process group */
	EXEC_WINSIZE,        /* host: u16 rows, u16 cols (tty only) */
	EXEC_EXIT,           /* guest: u32 kind (enum exec_exit), i32 value */
	EXEC_MSG_MAX,
};

/* The frame header, little-endian on the wire. */
struct exec_frame_hdr {
	u32 type;            /* enum exec_msg */
	u32 len;             /* payload bytes, at most EXEC_MAX_PAYLOAD */
};

enum exec_exit {
	EXEC_EXIT_CODE = 1,       /* value: the exit status, 0-255 */
	EXEC_EXIT_SIGNAL,         /* value: the signal that killed it */
	EXEC_EXIT_NOT_FOUND,      /* the command does not exist (the host exits 127) */
	EXEC_EXIT_NOT_EXECUTABLE, /* it exists but cannot be executed (126) */
	EXEC_EXIT_SETUP,          /* the agent could not prepare it (a mount, the user, the
				     working directory): value is an errno; the host exits 125 */
};

/*
 * RUN's payload: a sequence of items, each "KEY=VALUE\0".  Keys, in any
 * order, each at most as often as said:
 *   arg=S        one argv element, in order; at least one (argv[0] is the command)
 *   env=K=V      one environment variable (repeatable)
 *   cwd=DIR      the working directory (once; default /)
 *   uid=N gid=N  the user and group to run as (once each; default 0)
 *   tty=1        run it on a pseudo-terminal (once); stdout and stderr are one stream
 *   rows=N cols=N  the terminal's first size (with tty)
 *   mount=TAG:PATH[:ro]  a virtio-fs share to mount at PATH first (repeatable)
 *   time=S.N     the host's wall clock, seconds and nanoseconds since the
 *                epoch, set before the command (once): a guest restored
 *                from a snapshot would otherwise run on the clock it was
 *                saved with
 *   seed=HEX     EXEC_SEED_SIZE random bytes, 2 hex digits each, mixed into
 *                the guest's generator and reseeded from (once): clones of
 *                one snapshot would otherwise draw the same numbers
 *   net=ADDR/PREFIX,GW[,DNS]...  eth0's IPv4 address, prefix length
 *                (1..32), default gateway and up to EXEC_MAX_DNS
 *                nameservers, as dotted quads (once): what passt would
 *                have handed out by DHCP, given without a DHCP client in
 *                the guest's root.  Every address is unicast (not 0/8,
 *                127/8 or 224.0.0.0 and above), ADDR is not GW, and no
 *                leading zeros ("010" could be read as octal)
 * An unknown key, a missing '=', an item without its NUL, or a value too
 * long makes the whole RUN invalid.
 */
#define EXEC_MAX_ARGS    1024
#define EXEC_MAX_ENV     1024
#define EXEC_MAX_MOUNTS  16
#define EXEC_SEED_SIZE   32
#define EXEC_MAX_DNS     3          /* resolv.conf's MAXNS, and passt's */

/* A RUN, decoded (pointers into the payload it came from) or to encode. */
struct exec_mount {
	const char *tag, *path;
	bool readonly;
};

/* net=: IPv4 addresses in host byte order (0xc0000201 is 192.0.2.1). */
struct exec_net_config {
	u32 addr, gw;
	unsigned int prefix;                     /* 1..32 */
	u32 dns[EXEC_MAX_DNS];
	unsigned int nr_dns;
};

struct exec_run {
	const char *argv[EXEC_MAX_ARGS + 1];     /* NULL-terminated */
	unsigned int argc;
	const char *envp[EXEC_MAX_ENV + 1];      /* NULL-terminated */
	unsigned int envc;
	const char *cwd;                         /* NULL: / */
	u32 uid, gid;
	bool tty;
	u16 rows, cols;
	struct exec_mount mounts[EXEC_MAX_MOUNTS];
	unsigned int nr_mounts;
	bool has_time, has_seed;
	u64 time_sec;
	u32 time_nsec;                           /* < 1e9 */
	u8 seed[EXEC_SEED_SIZE];
	bool has_net;
	struct exec_net_config net;
	/*
	 * Decoding only: a mount item's tag and path, NUL-terminated copies
	 * (the payload has them as one "TAG:PATH[:ro]" string).  Never more
	 * than the payload itself.
	 */
	char mount_text[EXEC_MAX_PAYLOAD];
};

/* RUN's payload for @run into @buf (EXEC_MAX_PAYLOAD): its length, or -E2BIG. */
int exec_run_encode(const struct exec_run *run, u8 *buf, size_t size);
/* @payload as a RUN (@payload must stay alive): 0, or -EPROTO when it breaks a rule. */
int exec_run_decode(const u8 *payload, size_t len, struct exec_run *run);
/* Whether @net is one a net= item may carry (the rules above). */
bool exec_net_config_valid(const struct exec_net_config *net);

/*
 * Reassembles frames from a stream read in pieces: feed what was read,
 * then take complete frames until none is left.  One per direction.
 */
struct exec_reader {
	u8 *buf;             /* EXEC_MAX_PAYLOAD + header */
	size_t have;
	size_t taken;        /* bytes at buf's front of the frame handed out last */
};

int exec_reader_init(struct exec_reader *rd);
void exec_reader_free(struct exec_reader *rd);
/* Room to read into, and how much; after a read of n bytes, exec_reader_fed(rd, n). */
u8 *exec_reader_space(struct exec_reader *rd, size_t *room);
void exec_reader_fed(struct exec_reader *rd, size_t n);
/*
 * The next complete frame: 1 with *hdr and *payload (valid until the next
 * call), 0 when more bytes are needed, -EPROTO when the stream breaks the
 * rules (unknown type, too long).
 */
int exec_reader_next(struct exec_reader *rd, struct exec_frame_hdr *hdr, const u8 **payload);

/* Writes one frame to @fd (blocking, whole): 0 or -errno. */
int exec_send(int fd, enum exec_msg type, const void *payload, size_t len);

/*
 * Added helpers, for both sides.  exec_reader_next() has already checked
 * each type's payload size (HELLO, SIGNAL, WINSIZE 4; EXIT 8; STARTED,
 * STDIN_EOF 0; RUN, STDIN, STDOUT, STDERR at least 1); these check values.
 */
#define EXEC_MAX_SIGNAL      64
#define EXEC_MAX_TAG         36     /* a virtio-fs tag's size in config space */

/* HELLO: 0, or -EPROTO for another version. */
int exec_hello_decode(const u8 *payload, size_t len);
/* SIGNAL: the signal number, 1..EXEC_MAX_SIGNAL, or -EPROTO. */
int exec_signal_decode(const u8 *payload, size_t len);
/* WINSIZE: 0 with both sizes (each >= 1), or -EPROTO. */
int exec_winsize_decode(const u8 *payload, size_t len, u16 *rows, u16 *cols);
/*
 * EXIT: 0 with kind and value in range (CODE 0..255, SIGNAL 1..64, the
 * others an errno 1..4095), or -EPROTO.
 */
int exec_exit_decode(const u8 *payload, size_t len, enum exec_exit *kind, int *value);
/* What `arkvm exec` exits with for a decoded EXIT (128+N, 125, 126, 127...). */
int exec_exit_status(enum exec_exit kind, int value);

/* One u32 payload (HELLO, SIGNAL), WINSIZE and EXIT, as exec_send(). */
int exec_send_u32(int fd, enum exec_msg type, u32 value);
int exec_send_winsize(int fd, u16 rows, u16 cols);
int exec_send_exit(int fd, enum exec_exit kind, int value);

/* A frame header for @type and @len into @out (8 bytes, little-endian). */
void exec_hdr_put(u8 *out, enum exec_msg type, u32 len);
#define EXEC_HDR_SIZE 8

#endif
