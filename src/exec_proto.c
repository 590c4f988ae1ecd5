// SPDX-License-Identifier: Apache-2.0
/*
 * The exec protocol's frames and its RUN message (include/exec_proto.h),
 * shared by `arkvm exec` and the guest agent.  Each side reads a peer it
 * does not trust: every length is checked against its type before the
 * payload is looked at, and nothing is sized by a value the peer sent
 * beyond the one EXEC_MAX_PAYLOAD buffer each reader owns.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "exec_proto.h"

#define READER_SIZE (EXEC_HDR_SIZE + EXEC_MAX_PAYLOAD)

static u32 get_le32(const u8 *p)
{
	u32 v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put_le32(u8 *p, u32 v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

void exec_hdr_put(u8 *out, enum exec_msg type, u32 len)
{
	put_le32(out, (u32)type);
	put_le32(out + 4, len);
}

/* Whether @len is a size a frame of @type may have. */
static bool frame_size_ok(u32 type, u32 len)
{
	switch (type) {
	case EXEC_HELLO:
	case EXEC_SIGNAL:
	case EXEC_WINSIZE:
		return len == 4;
	case EXEC_EXIT:
		return len == 8;
	case EXEC_STARTED:
	case EXEC_STDIN_EOF:
		return len == 0;
	case EXEC_RUN:
	case EXEC_STDIN:
	case EXEC_STDOUT:
	case EXEC_STDERR:
		return len >= 1 && len <= EXEC_MAX_PAYLOAD;
	default:
		return false;                   /* an unknown type */
	}
}

int exec_reader_init(struct exec_reader *rd)
{
	rd->buf = malloc(READER_SIZE);
	rd->have = 0;
	rd->taken = 0;
	return rd->buf ? 0 : -ENOMEM;
}

void exec_reader_free(struct exec_reader *rd)
{
	free(rd->buf);
	rd->buf = NULL;
	rd->have = rd->taken = 0;
}

/* Drops the frame handed out last: its payload pointer is dead now. */
static void reader_drop_taken(struct exec_reader *rd)
{
	if (!rd->taken)
		return;
	rd->have -= rd->taken;
	memmove(rd->buf, rd->buf + rd->taken, rd->have);
	rd->taken = 0;
}

u8 *exec_reader_space(struct exec_reader *rd, size_t *room)
{
	reader_drop_taken(rd);
	*room = READER_SIZE - rd->have;
	return rd->buf + rd->have;
}

void exec_reader_fed(struct exec_reader *rd, size_t n)
{
	/* A caller's bug, not the peer's: never let it walk past the buffer. */
	if (n > READER_SIZE - rd->have)
		abort();
	rd->have += n;
}

int exec_reader_next(struct exec_reader *rd, struct exec_frame_hdr *hdr, const u8 **payload)
{
	u32 type, len;

	reader_drop_taken(rd);
	if (rd->have < EXEC_HDR_SIZE)
		return 0;
	type = get_le32(rd->buf);
	len = get_le32(rd->buf + 4);
	/* Checked before waiting for the payload: a bad header is known now. */
	if (!frame_size_ok(type, len))
		return -EPROTO;
	if (rd->have - EXEC_HDR_SIZE < len)
		return 0;
	hdr->type = type;
	hdr->len = len;
	*payload = rd->buf + EXEC_HDR_SIZE;
	rd->taken = EXEC_HDR_SIZE + (size_t)len;
	return 1;
}

int exec_send(int fd, enum exec_msg type, const void *payload, size_t len)
{
	u8 hdr[EXEC_HDR_SIZE];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)payload, len } };
	struct iovec *v = iov;
	int cnt = 2;

	if (len > EXEC_MAX_PAYLOAD)
		return -E2BIG;
	exec_hdr_put(hdr, type, (u32)len);
	while (cnt) {
		ssize_t n = writev(fd, v, cnt);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		while (cnt && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			cnt--;
		}
		if (cnt) {
			v->iov_base = (u8 *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int exec_send_u32(int fd, enum exec_msg type, u32 value)
{
	u8 p[4];

	put_le32(p, value);
	return exec_send(fd, type, p, sizeof(p));
}

int exec_send_winsize(int fd, u16 rows, u16 cols)
{
	u8 p[4] = { (u8)rows, (u8)(rows >> 8), (u8)cols, (u8)(cols >> 8) };

	return exec_send(fd, EXEC_WINSIZE, p, sizeof(p));
}

int exec_send_exit(int fd, enum exec_exit kind, int value)
{
	u8 p[8];

	put_le32(p, (u32)kind);
	put_le32(p + 4, (u32)value);
	return exec_send(fd, EXEC_EXIT, p, sizeof(p));
}

int exec_hello_decode(const u8 *payload, size_t len)
{
	if (len != 4 || get_le32(payload) != EXEC_PROTO_VERSION)
		return -EPROTO;
	return 0;
}

int exec_signal_decode(const u8 *payload, size_t len)
{
	u32 sig;

	if (len != 4)
		return -EPROTO;
	sig = get_le32(payload);
	if (sig < 1 || sig > EXEC_MAX_SIGNAL)
		return -EPROTO;
	return (int)sig;
}

int exec_winsize_decode(const u8 *payload, size_t len, u16 *rows, u16 *cols)
{
	if (len != 4)
		return -EPROTO;
	*rows = (u16)(payload[0] | payload[1] << 8);
	*cols = (u16)(payload[2] | payload[3] << 8);
	return *rows && *cols ? 0 : -EPROTO;
}

int exec_exit_decode(const u8 *payload, size_t len, enum exec_exit *kind, int *value)
{
	u32 k, v;

	if (len != 8)
		return -EPROTO;
	k = get_le32(payload);
	v = get_le32(payload + 4);
	switch (k) {
	case EXEC_EXIT_CODE:
		if (v > 255)
			return -EPROTO;
		break;
	case EXEC_EXIT_SIGNAL:
		if (v < 1 || v > EXEC_MAX_SIGNAL)
			return -EPROTO;
		break;
	case EXEC_EXIT_NOT_FOUND:
	case EXEC_EXIT_NOT_EXECUTABLE:
	case EXEC_EXIT_SETUP:
		if (v < 1 || v > 4095)
			return -EPROTO;
		break;
	default:
		return -EPROTO;
	}
	*kind = (enum exec_exit)k;
	*value = (int)v;
	return 0;
}

int exec_exit_status(enum exec_exit kind, int value)
{
	switch (kind) {
	case EXEC_EXIT_CODE:
		return value;
	case EXEC_EXIT_SIGNAL:
		return 128 + value;
	case EXEC_EXIT_NOT_FOUND:
		return 127;
	case EXEC_EXIT_NOT_EXECUTABLE:
		return 126;
	case EXEC_EXIT_SETUP:
	default:
		return 125;
	}
}

/* RUN's items. */

/* A decimal number 0..@max, digits only (no sign, no space): 0, or -EPROTO. */
static int parse_u64(const char *s, u64 max, u64 *out)
{
	u64 v = 0;

	if (!*s || strlen(s) > 20)
		return -EPROTO;
	for (; *s; s++) {
		u64 digit = (u64)(*s - '0');

		if (*s < '0' || *s > '9' || digit > max || v > (max - digit) / 10)
			return -EPROTO;
		v = v * 10 + digit;
	}
	*out = v;
	return 0;
}

static int parse_num(const char *s, u32 max, u32 *out)
{
	u64 v;
	int ret = parse_u64(s, max, &v);

	if (!ret)
		*out = (u32)v;
	return ret;
}

/* time=S.N: seconds, a dot, nanoseconds below 1e9. */
static int parse_time(const char *v, struct exec_run *run)
{
	const char *dot = strchr(v, '.');
	char sec[24];

	if (!dot || (size_t)(dot - v) >= sizeof(sec))
		return -EPROTO;
	memcpy(sec, v, (size_t)(dot - v));
	sec[dot - v] = '\0';
	if (parse_u64(sec, INT64_MAX, &run->time_sec) ||
	    parse_num(dot + 1, 999999999, &run->time_nsec))
		return -EPROTO;
	run->has_time = true;
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* seed=HEX: exactly EXEC_SEED_SIZE bytes in lower-case hex. */
static int parse_seed(const char *v, struct exec_run *run)
{
	if (strlen(v) != 2 * EXEC_SEED_SIZE)
		return -EPROTO;
	for (unsigned int i = 0; i < EXEC_SEED_SIZE; i++) {
		int hi = hex_digit(v[2 * i]), lo = hex_digit(v[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EPROTO;
		run->seed[i] = (u8)(hi << 4 | lo);
	}
	run->has_seed = true;
	return 0;
}

/*
 * A dotted quad of @len bytes at @s: four decimal octets, no leading
 * zeros (which some readers take for octal).  0, or -EPROTO.
 */
static int parse_ipv4(const char *s, size_t len, u32 *out)
{
	u32 v = 0;
	size_t i = 0;

	for (unsigned int octet = 0; octet < 4; octet++) {
		size_t start;
		u32 o = 0;

		if (octet && (i >= len || s[i++] != '.'))
			return -EPROTO;
		start = i;
		while (i < len && i - start < 3 && s[i] >= '0' && s[i] <= '9')
			o = o * 10 + (u32)(s[i++] - '0');
		if (i == start || o > 255 || (i - start > 1 && s[start] == '0'))
			return -EPROTO;
		v = v << 8 | o;
	}
	if (i != len)
		return -EPROTO;
	*out = v;
	return 0;
}

/* Not 0/8 ("this network"), 127/8 (the guest's own loopback), multicast or reserved. */
static bool ipv4_unicast(u32 a)
{
	u32 first = a >> 24;

	return first != 0 && first != 127 && first < 224;
}

bool exec_net_config_valid(const struct exec_net_config *net)
{
	if (net->prefix < 1 || net->prefix > 32 || net->nr_dns > EXEC_MAX_DNS ||
	    !ipv4_unicast(net->addr) || !ipv4_unicast(net->gw) || net->addr == net->gw)
		return false;
	for (unsigned int i = 0; i < net->nr_dns; i++)
		if (!ipv4_unicast(net->dns[i]))
			return false;
	return true;
}

/* The prefix length after ADDR/: 1 or 2 digits, no leading zero. */
static int parse_prefix(const char *s, size_t len, unsigned int *out)
{
	char digits[3];
	u32 n;

	if (!len || len > 2 || (len == 2 && s[0] == '0'))
		return -EPROTO;
	memcpy(digits, s, len);
	digits[len] = '\0';
	if (parse_num(digits, 32, &n))
		return -EPROTO;
	*out = n;
	return 0;
}

/* net=ADDR/PREFIX,GW[,DNS]...: fields split at commas, each checked. */
static int parse_net(const char *v, struct exec_run *run)
{
	struct exec_net_config *net = &run->net;
	size_t n = strcspn(v, ","), slash = strcspn(v, "/");
	unsigned int fields = 0;

	memset(net, 0, sizeof(*net));
	if (slash >= n || parse_ipv4(v, slash, &net->addr) ||
	    parse_prefix(v + slash + 1, n - slash - 1, &net->prefix))
		return -EPROTO;
	for (v += n; *v == ','; v += n, fields++) {
		v++;
		n = strcspn(v, ",");
		if (fields > EXEC_MAX_DNS ||
		    parse_ipv4(v, n, fields ? &net->dns[fields - 1] : &net->gw))
			return -EPROTO;
	}
	if (!fields)
		return -EPROTO;                 /* no gateway */
	net->nr_dns = fields - 1;
	if (!exec_net_config_valid(net))
		return -EPROTO;
	run->has_net = true;
	return 0;
}

/* What has been seen of the once-only keys. */
enum run_once {
	ONCE_CWD = 1 << 0, ONCE_UID = 1 << 1, ONCE_GID = 1 << 2,
	ONCE_TTY = 1 << 3, ONCE_ROWS = 1 << 4, ONCE_COLS = 1 << 5,
	ONCE_TIME = 1 << 6, ONCE_SEED = 1 << 7, ONCE_NET = 1 << 8,
};

struct run_decoder {
	struct exec_run *run;
	unsigned int once;
	size_t text;                /* bytes of run->mount_text used */
};

/* mount=TAG:PATH[:ro]: the tag and path copied out, each NUL-terminated. */
static int decode_mount(struct run_decoder *d, const char *v)
{
	struct exec_run *run = d->run;
	const char *colon = strchr(v, ':'), *path;
	size_t tag_len, path_len;
	struct exec_mount *m;

	if (!colon || run->nr_mounts >= EXEC_MAX_MOUNTS)
		return -EPROTO;
	tag_len = (size_t)(colon - v);
	path = colon + 1;
	path_len = strlen(path);
	m = &run->mounts[run->nr_mounts];
	m->readonly = path_len > 3 && !strcmp(path + path_len - 3, ":ro");
	if (m->readonly)
		path_len -= 3;
	if (!tag_len || tag_len > EXEC_MAX_TAG || path[0] != '/' || path_len >= PATH_MAX)
		return -EPROTO;
	/* "/x:ro:ro": no encoder writes it (a path may not end in ":ro"). */
	if (path_len > 3 && !memcmp(path + path_len - 3, ":ro", 3))
		return -EPROTO;
	/* Both fit: the item held them and more ("mount=", ':'). */
	m->tag = memcpy(run->mount_text + d->text, v, tag_len);
	run->mount_text[d->text + tag_len] = '\0';
	d->text += tag_len + 1;
	m->path = memcpy(run->mount_text + d->text, path, path_len);
	run->mount_text[d->text + path_len] = '\0';
	d->text += path_len + 1;
	run->nr_mounts++;
	return 0;
}

/* A key that may come once: false when it came before. */
static bool first_time(struct run_decoder *d, unsigned int bit)
{
	if (d->once & bit)
		return false;
	d->once |= bit;
	return true;
}

static int decode_once(struct run_decoder *d, const char *key, const char *v)
{
	struct exec_run *run = d->run;
	u32 n;

	if (!strcmp(key, "cwd")) {
		if (!first_time(d, ONCE_CWD) || v[0] != '/' || strlen(v) >= PATH_MAX)
			return -EPROTO;
		run->cwd = v;
		return 0;
	}
	if (!strcmp(key, "uid"))
		return first_time(d, ONCE_UID) ? parse_num(v, UINT32_MAX - 1, &run->uid) : -EPROTO;
	if (!strcmp(key, "gid"))
		return first_time(d, ONCE_GID) ? parse_num(v, UINT32_MAX - 1, &run->gid) : -EPROTO;
	if (!strcmp(key, "tty")) {
		if (!first_time(d, ONCE_TTY) || strcmp(v, "1"))
			return -EPROTO;
		run->tty = true;
		return 0;
	}
	if (!strcmp(key, "rows") || !strcmp(key, "cols")) {
		bool rows = key[0] == 'r';

		if (!first_time(d, rows ? ONCE_ROWS : ONCE_COLS) || parse_num(v, UINT16_MAX, &n) || !n)
			return -EPROTO;
		*(rows ? &run->rows : &run->cols) = (u16)n;
		return 0;
	}
	if (!strcmp(key, "time"))
		return first_time(d, ONCE_TIME) ? parse_time(v, run) : -EPROTO;
	if (!strcmp(key, "seed"))
		return first_time(d, ONCE_SEED) ? parse_seed(v, run) : -EPROTO;
	if (!strcmp(key, "net"))
		return first_time(d, ONCE_NET) ? parse_net(v, run) : -EPROTO;
	return -EPROTO;                         /* an unknown key */
}

/* One "KEY=VALUE" item (NUL-terminated inside the payload). */
static int decode_item(struct run_decoder *d, const char *item)
{
	struct exec_run *run = d->run;
	const char *eq = strchr(item, '=');
	char key[8];

	if (!eq || eq == item || (size_t)(eq - item) >= sizeof(key))
		return -EPROTO;
	memcpy(key, item, (size_t)(eq - item));
	key[eq - item] = '\0';
	if (!strcmp(key, "arg")) {
		if (run->argc >= EXEC_MAX_ARGS)
			return -EPROTO;
		run->argv[run->argc++] = eq + 1;
		return 0;
	}
	if (!strcmp(key, "env")) {
		/* K=V with a name: "env==x" or "env=x" is no variable. */
		if (run->envc >= EXEC_MAX_ENV || eq[1] == '=' || !strchr(eq + 1, '='))
			return -EPROTO;
		run->envp[run->envc++] = eq + 1;
		return 0;
	}
	if (!strcmp(key, "mount"))
		return decode_mount(d, eq + 1);
	return decode_once(d, key, eq + 1);
}

int exec_run_decode(const u8 *payload, size_t len, struct exec_run *run)
{
	struct run_decoder d = { .run = run };
	size_t pos = 0;

	run->argc = run->envc = run->nr_mounts = 0;
	run->cwd = NULL;
	run->uid = run->gid = 0;
	run->tty = false;
	run->rows = run->cols = 0;
	run->has_time = run->has_seed = run->has_net = false;
	/* Every item ends with its NUL: then the last byte is one. */
	if (!len || len > EXEC_MAX_PAYLOAD || payload[len - 1])
		return -EPROTO;
	while (pos < len) {
		const char *item = (const char *)payload + pos;
		int ret = decode_item(&d, item);

		if (ret)
			return ret;
		pos += strlen(item) + 1;
	}
	if (!run->argc || ((run->rows || run->cols) && !run->tty))
		return -EPROTO;
	run->argv[run->argc] = NULL;
	run->envp[run->envc] = NULL;
	return 0;
}

/* Appends "KEY=VALUE\0" (@v2 after @v when not NULL): false when it does not fit. */
static bool put_item(u8 *buf, size_t size, size_t *pos, const char *key, const char *v,
		     const char *v2)
{
	size_t kl = strlen(key), vl = strlen(v), v2l = v2 ? strlen(v2) : 0;
	size_t need = kl + 1 + vl + v2l + 1;

	if (need > size - *pos)
		return false;
	memcpy(buf + *pos, key, kl);
	buf[*pos + kl] = '=';
	memcpy(buf + *pos + kl + 1, v, vl);
	if (v2l)
		memcpy(buf + *pos + kl + 1 + vl, v2, v2l);
	buf[*pos + need - 1] = '\0';
	*pos += need;
	return true;
}

static bool put_num(u8 *buf, size_t size, size_t *pos, const char *key, u32 n)
{
	char s[12];

	snprintf(s, sizeof(s), "%u", n);
	return put_item(buf, size, pos, key, s, NULL);
}

static bool put_mount(u8 *buf, size_t size, size_t *pos, const struct exec_mount *m)
{
	char head[EXEC_MAX_TAG + 2];

	snprintf(head, sizeof(head), "%s:", m->tag);
	if (!put_item(buf, size, pos, "mount", head, m->path))
		return false;
	if (!m->readonly)
		return true;
	/* ":ro" goes before the item's NUL. */
	if (size - *pos < 3)
		return false;
	memcpy(buf + *pos - 1, ":ro", 4);
	*pos += 3;
	return true;
}

static bool put_time(u8 *buf, size_t size, size_t *pos, const struct exec_run *run)
{
	char s[32];

	snprintf(s, sizeof(s), "%llu.%09u", (unsigned long long)run->time_sec, run->time_nsec);
	return put_item(buf, size, pos, "time", s, NULL);
}

static bool put_seed(u8 *buf, size_t size, size_t *pos, const u8 seed[EXEC_SEED_SIZE])
{
	char s[2 * EXEC_SEED_SIZE + 1];

	for (unsigned int i = 0; i < EXEC_SEED_SIZE; i++)
		snprintf(s + 2 * i, 3, "%02x", seed[i]);
	return put_item(buf, size, pos, "seed", s, NULL);
}

static int put_ipv4(char *s, size_t size, u32 a)
{
	return snprintf(s, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
			a & 0xff);
}

static bool put_net(u8 *buf, size_t size, size_t *pos, const struct exec_net_config *net)
{
	/* "A/32" and 1 + EXEC_MAX_DNS times ",A": 4 + 16 * 4 + NUL at most. */
	char s[96];
	int n = put_ipv4(s, sizeof(s), net->addr);

	n += snprintf(s + n, sizeof(s) - (size_t)n, "/%u,", net->prefix);
	n += put_ipv4(s + n, sizeof(s) - (size_t)n, net->gw);
	for (unsigned int i = 0; i < net->nr_dns; i++) {
		s[n++] = ',';
		n += put_ipv4(s + n, sizeof(s) - (size_t)n, net->dns[i]);
	}
	return put_item(buf, size, pos, "net", s, NULL);
}

/* What the decoder would refuse in @run, the encoder refuses to write. */
static bool run_valid(const struct exec_run *run)
{
	if (!run->argc || run->argc > EXEC_MAX_ARGS || run->envc > EXEC_MAX_ENV ||
	    run->nr_mounts > EXEC_MAX_MOUNTS || (run->cwd && run->cwd[0] != '/') ||
	    run->uid == UINT32_MAX || run->gid == UINT32_MAX ||
	    (run->has_time && (run->time_sec > INT64_MAX || run->time_nsec > 999999999)) ||
	    (run->has_net && !exec_net_config_valid(&run->net)))
		return false;
	for (unsigned int i = 0; i < run->envc; i++)
		if (run->envp[i][0] == '=' || !strchr(run->envp[i], '='))
			return false;
	for (unsigned int i = 0; i < run->nr_mounts; i++) {
		const struct exec_mount *m = &run->mounts[i];
		size_t tl = strlen(m->tag), pl = strlen(m->path);

		/* A path ending in ":ro" would read back as another, read-only one. */
		if (!tl || tl > EXEC_MAX_TAG || strchr(m->tag, ':') || m->path[0] != '/' ||
		    pl >= PATH_MAX || (pl > 3 && !strcmp(m->path + pl - 3, ":ro")))
			return false;
	}
	return true;
}

int exec_run_encode(const struct exec_run *run, u8 *buf, size_t size)
{
	size_t pos = 0;
	bool ok = true;

	if (!run_valid(run))
		return -EINVAL;
	size = MIN(size, (size_t)EXEC_MAX_PAYLOAD);
	for (unsigned int i = 0; ok && i < run->argc; i++)
		ok = put_item(buf, size, &pos, "arg", run->argv[i], NULL);
	for (unsigned int i = 0; ok && i < run->envc; i++)
		ok = put_item(buf, size, &pos, "env", run->envp[i], NULL);
	if (ok && run->cwd)
		ok = put_item(buf, size, &pos, "cwd", run->cwd, NULL);
	if (ok && run->uid)
		ok = put_num(buf, size, &pos, "uid", run->uid);
	if (ok && run->gid)
		ok = put_num(buf, size, &pos, "gid", run->gid);
	if (ok && run->tty)
		ok = put_item(buf, size, &pos, "tty", "1", NULL);
	if (ok && run->tty && run->rows)
		ok = put_num(buf, size, &pos, "rows", run->rows);
	if (ok && run->tty && run->cols)
		ok = put_num(buf, size, &pos, "cols", run->cols);
	for (unsigned int i = 0; ok && i < run->nr_mounts; i++)
		ok = put_mount(buf, size, &pos, &run->mounts[i]);
	if (ok && run->has_time)
		ok = put_time(buf, size, &pos, run);
	if (ok && run->has_seed)
		ok = put_seed(buf, size, &pos, run->seed);
	if (ok && run->has_net)
		ok = put_net(buf, size, &pos, &run->net);
	return ok ? (int)pos : -E2BIG;
}
