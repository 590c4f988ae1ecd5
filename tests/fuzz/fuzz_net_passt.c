// SPDX-License-Identifier: Apache-2.0
/*
 * The passt backend's receive side: frames cut from a byte stream that
 * arrives in pieces of any size, read into buffers of any size.  The
 * input is a list of steps: a piece of the stream (what passt writes) or
 * a read by the guest's side, with its buffer's size.  A model of the
 * protocol, kept here, says what each read must return, byte for byte:
 * the next whole frame if it fits, frames too long for the buffer
 * skipped, -EAGAIN when a frame is not whole yet, and the end for good
 * once a length is over 64 KiB.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "net_backend.h"

#define MAX_LEN 65536u
#define STREAM_MAX (1u << 20)

static u8 stream[STREAM_MAX];   /* everything written to the backend */
static u8 got[MAX_LEN + 64];

struct model {
	size_t written, pos;        /* stream bytes written, and parsed */
	bool gone;
};

/* What recv() must return for a buffer of @room bytes; *@frame where its bytes are. */
static ssize_t model_recv(struct model *m, size_t room, const u8 **frame)
{
	while (!m->gone) {
		u32 len;

		if (m->written - m->pos < 4)
			return -EAGAIN;
		memcpy(&len, stream + m->pos, 4);
		len = be32toh(len);
		if (len > MAX_LEN) {
			m->gone = true;
			break;
		}
		if (m->written - m->pos - 4 < len)
			return -EAGAIN;
		*frame = stream + m->pos + 4;
		m->pos += 4 + (size_t)len;
		if (len && len <= room)
			return len;
	}
	return 0;
}

static void check_recv(struct net_backend *be, struct model *m, size_t room)
{
	const u8 *want = NULL;
	struct iovec iov[2] = { { got, room / 2 }, { got + room / 2, room - room / 2 } };
	ssize_t n = be->ops->recv(be, iov, 2), expect = model_recv(m, room, &want);

	if (n != expect || (n > 0 && memcmp(got, want, (size_t)n)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct model m = { 0 };
	struct net_backend be;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
		return 0;
	if (net_passt_backend(&be, sv[0], -1, -1)) {
		close(sv[1]);
		return 0;
	}
	while (in.n) {
		unsigned int step = (unsigned int)fz_take(&in, 1);
		size_t len = (size_t)fz_take(&in, 2);

		if (step & 1) {
			/* A read with a buffer of 1 to 64 KiB + 63 bytes. */
			check_recv(&be, &m, 1 + (len | (size_t)(step >> 1) << 16) % (MAX_LEN + 63));
			continue;
		}
		/* A piece of the stream; a few bytes of it may be a length, which the input picks. */
		ssize_t w;

		len = fz_copy(&in, stream + m.written, MIN(len, STREAM_MAX - m.written));
		/* After a hang-up the backend has shut its end: no SIGPIPE for that. */
		w = len ? send(sv[1], stream + m.written, len, MSG_NOSIGNAL) : 0;
		if (w > 0)
			m.written += (size_t)w;
		if (w != (ssize_t)len)
			break; /* the socket is full: what went is checked below */
	}
	/* Whatever is whole comes out; then nothing more. */
	for (unsigned int i = 0; i < 64 && !m.gone; i++)
		check_recv(&be, &m, MAX_LEN);
	be.ops->close(&be);
	close(sv[1]);
	return 0;
}
