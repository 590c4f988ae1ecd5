// SPDX-License-Identifier: Apache-2.0
/*
 * The exec protocol as the host reads it from a hostile guest: a byte
 * stream fed to the reader in pieces of sizes the input picks, each frame
 * checked against the rules its header promised (type known, size right
 * for the type), EXIT, HELLO, SIGNAL and WINSIZE decoded, and a RUN
 * payload decoded, re-encoded and decoded again to the same command.
 * And the host's whole session (exec_client_run, what arkvm exec runs)
 * against a guest that says what the input says: it must end with a
 * status of 0-255, whatever comes, and never crash or hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec.h"
#include "exec_proto.h"
#include "fuzz.h"

static struct exec_run run_a, run_b;
static u8 again[EXEC_MAX_PAYLOAD];

static void check_run(const u8 *p, size_t len)
{
	int n;

	if (exec_run_decode(p, len, &run_a))
		return;
	if (!run_a.argc || run_a.argv[run_a.argc] || run_a.envp[run_a.envc])
		abort();
	/* What decoded encodes (never longer: mount items only get shorter), and means the same. */
	n = exec_run_encode(&run_a, again, sizeof(again));
	if (n < 0 || exec_run_decode(again, (size_t)n, &run_b))
		abort();
	if (run_b.argc != run_a.argc || run_b.envc != run_a.envc ||
	    run_b.nr_mounts != run_a.nr_mounts || run_b.uid != run_a.uid ||
	    run_b.gid != run_a.gid || run_b.tty != run_a.tty || run_b.has_net != run_a.has_net ||
	    (run_a.has_net && memcmp(&run_a.net, &run_b.net, sizeof(run_a.net))))
		abort();
	for (unsigned int i = 0; i < run_a.argc; i++)
		if (strcmp(run_a.argv[i], run_b.argv[i]))
			abort();
	for (unsigned int i = 0; i < run_a.nr_mounts; i++)
		if (strcmp(run_a.mounts[i].tag, run_b.mounts[i].tag) ||
		    strcmp(run_a.mounts[i].path, run_b.mounts[i].path) ||
		    run_a.mounts[i].readonly != run_b.mounts[i].readonly)
			abort();
}

static void check_frame(const struct exec_frame_hdr *hdr, const u8 *p)
{
	enum exec_exit kind;
	int value;
	u16 rows, cols;

	if (hdr->type < EXEC_HELLO || hdr->type >= EXEC_MSG_MAX || hdr->len > EXEC_MAX_PAYLOAD)
		abort();
	switch (hdr->type) {
	case EXEC_EXIT:
		if (hdr->len != 8)
			abort();
		if (!exec_exit_decode(p, hdr->len, &kind, &value)) {
			int st = exec_exit_status(kind, value);

			if (st < 0 || st > 255)
				abort();
		}
		break;
	case EXEC_HELLO:
		exec_hello_decode(p, hdr->len);
		break;
	case EXEC_SIGNAL:
		value = exec_signal_decode(p, hdr->len);
		if (value != -EPROTO && (value < 1 || value > EXEC_MAX_SIGNAL))
			abort();
		break;
	case EXEC_WINSIZE:
		if (!exec_winsize_decode(p, hdr->len, &rows, &cols) && (!rows || !cols))
			abort();
		break;
	case EXEC_STDOUT:
	case EXEC_STDERR:
	case EXEC_STDIN:
		if (!hdr->len)
			abort();
		break;
	case EXEC_RUN:
		check_run(p, hdr->len);
		break;
	}
}

static bool never_gone(void *opaque)
{
	return false;
}

/*
 * The guest's bytes, then its end of the stream closed: the client must
 * come to a status on its own (an EXIT, or the end it did not expect).
 */
static void check_session(const u8 *data, size_t size)
{
	static const char *argv[] = { "true", NULL };
	struct exec_run run = { .argv = { argv[0] }, .argc = 1 };
	struct exec_client c = {
		.in_fd = -1, .sig_fd = -1, .tty_fd = -1, .run = &run, .vm_gone = never_gone,
	};
	int sv[2], null = open("/dev/null", O_WRONLY | O_CLOEXEC), status;

	if (null < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		if (null >= 0)
			close(null);
		return;
	}
	/* Within the socket's buffer: nobody reads while it is written. */
	size = MIN(size, (size_t)65536);
	if (write(sv[1], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[1], SHUT_WR);
	c.sock = sv[0];
	c.out_fd = c.err_fd = null;
	status = exec_client_run(&c);
	if (status < 0 || status > 255)
		abort();
	close(sv[0]);
	close(sv[1]);
	close(null);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct exec_reader rd;
	bool broken = false;

	/* The first byte: 2 mod 4, the host's session on the rest. */
	if (size && (data[0] & 3) == 2) {
		check_session(data + 1, size - 1);
		return 0;
	}
	/* The first byte: a RUN payload alone (odd), or a stream of frames. */
	if (size && (data[0] & 1)) {
		check_run(data + 1, MIN(size - 1, (size_t)EXEC_MAX_PAYLOAD));
		return 0;
	}
	if (exec_reader_init(&rd))
		return 0;
	fz_take(&in, 1);
	while (in.n && !broken) {
		size_t room, piece = 1 + (size_t)fz_take(&in, 2);
		u8 *space = exec_reader_space(&rd, &room);
		struct exec_frame_hdr hdr;
		const u8 *p;
		int ret;

		if (!room)
			abort();        /* full without a whole frame inside */
		exec_reader_fed(&rd, fz_copy(&in, space, MIN(piece, room)));
		while ((ret = exec_reader_next(&rd, &hdr, &p)) == 1)
			check_frame(&hdr, p);
		if (ret == -EPROTO)
			broken = true;  /* the session ends here */
		else if (ret)
			abort();
	}
	exec_reader_free(&rd);
	return 0;
}
