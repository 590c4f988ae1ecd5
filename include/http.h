/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_HTTP_H
#define ARKVM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

/*
 * HTTP/1.1 requests from a byte stream, one at a time, through Node's
 * http_parser (Debian's libhttp-parser): the API's bodies are small JSON
 * objects, so a request is whole in memory before anyone looks at it.
 * Nothing here knows about sockets; the API server feeds what it reads,
 * and the fuzz target feeds arbitrary bytes.
 */

#define HTTP_MAX_PATH 255
/* Firecracker's --http-api-max-payload-size default. */
#define HTTP_DEFAULT_MAX_BODY 51200

struct http_request {
	enum http_method method;
	char path[HTTP_MAX_PATH + 1];   /* without the query */
	char *body;                     /* NUL-terminated; "" when none */
	size_t body_len;
	bool has_body;
	bool keep_alive;
	/*
	 * Whole but refused before its body was read: too large, or a path
	 * too long.  The server answers 400 with @error and closes.
	 */
	const char *error;
	size_t announced_len;           /* the Content-Length of a too-large body */
};

enum http_feed_result {
	HTTP_FEED_MORE,    /* all consumed, no request whole yet */
	HTTP_FEED_REQUEST, /* conn->req is whole: answer it, then http_conn_next() */
	HTTP_FEED_BAD,          /* not HTTP: answer 400 and close */
};

struct http_conn {
	http_parser parser;
	size_t max_body;
	struct http_request req;
	size_t body_cap;
	bool url_long;
	bool done;                 /* req is whole */
};

void http_conn_init(struct http_conn *c, size_t max_body);
void http_conn_destroy(struct http_conn *c);

/*
 * Parses up to @len bytes of @buf; *@used says how many were taken (the
 * rest belongs to a following request: feed it after http_conn_next()).
 */
enum http_feed_result http_conn_feed(struct http_conn *c, const char *buf, size_t len,
				     size_t *used);
/* Forgets the request just answered; the connection takes the next one. */
void http_conn_next(struct http_conn *c);

/* "Bad Request", ...: the reason phrase for the status codes the API uses. */
const char *http_reason(int status);

/*
 * An HTTP/1.1 response with @body (may be NULL) as JSON, into a buffer
 * the caller frees: its length, or -ENOMEM.
 */
int http_format_response(int status, const char *body, char **out);

#endif
