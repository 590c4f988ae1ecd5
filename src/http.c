// SPDX-License-Identifier: Apache-2.0
/*
 * The API's HTTP/1.1 framing on top of http_parser.  The parser pauses at
 * the end of each request, so a client that pipelines several gets them
 * answered one at a time and in order, as Firecracker does.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "http.h"

static struct http_conn *conn_of(http_parser *p)
{
	return container_of(p, struct http_conn, parser);
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = conn_of(p);

	c->req.path[0] = '\0';
	c->req.body_len = 0;
	c->req.has_body = false;
	c->req.error = NULL;
	c->url_long = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	size_t have = strlen(c->req.path);

	/* The URL may come in pieces; the path is all the API routes on. */
	if (have + len > HTTP_MAX_PATH) {
		c->url_long = true;
		return 0;
	}
	memcpy(c->req.path + have, at, len);
	c->req.path[have + len] = '\0';
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);

	if (c->url_long) {
		c->req.error = "The request's path is too long.";
		return 0;
	}
	/* http_parser gives ULLONG_MAX for "no Content-Length". */
	if (p->content_length != ULLONG_MAX && p->content_length > c->max_body) {
		c->req.announced_len = (size_t)p->content_length;
		c->req.error = "too large";
	}
	if (c->req.error) {
		/* Answered now, without reading a body it will not take. */
		c->req.method = (enum http_method)p->method;
		c->done = true;
		http_parser_pause(p, 1);
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	struct http_request *r = &c->req;

	if (r->error)
		return 0;  /* refused already: the rest is only skipped */
	if (r->body_len + len > c->max_body) {
		/* Chunked, or longer than it said. */
		r->announced_len = r->body_len + len;
		r->error = "too large";
		return 0;
	}
	if (r->body_len + len + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 1024;
		char *nb;

		while (cap < r->body_len + len + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (!nb) {
			r->error = "out of memory";
			return 0;
		}
		r->body = nb;
		c->body_cap = cap;
	}
	memcpy(r->body + r->body_len, at, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	r->has_body = true;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = conn_of(p);
	char *q = strchr(c->req.path, '?');

	if (q)
		*q = '\0';
	c->req.method = (enum http_method)p->method;
	c->req.keep_alive = http_should_keep_alive(p);
	if (!c->req.body)
		c->req.body = calloc(1, 1);
	if (!c->req.body)
		c->req.error = "out of memory";
	c->done = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void http_conn_init(struct http_conn *c, size_t max_body)
{
	memset(c, 0, sizeof(*c));
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->max_body = max_body;
}

void http_conn_destroy(struct http_conn *c)
{
	free(c->req.body);
	c->req.body = NULL;
	c->body_cap = 0;
}

enum http_feed_result http_conn_feed(struct http_conn *c, const char *buf, size_t len,
				     size_t *used)
{
	size_t n = http_parser_execute(&c->parser, &settings, buf, len);
	enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);

	*used = n;
	if (c->done)
		return HTTP_FEED_REQUEST;
	if (err != HPE_OK)
		return HTTP_FEED_BAD;
	return HTTP_FEED_MORE;
}

void http_conn_next(struct http_conn *c)
{
	c->done = false;
	c->req.body_len = 0;
	if (c->req.body)
		c->req.body[0] = '\0';
	http_parser_pause(&c->parser, 0);
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	default:  return "Unknown";
	}
}

int http_format_response(int status, const char *body, char **out)
{
	size_t blen = body ? strlen(body) : 0;
	int n;

	if (blen)
		n = asprintf(out, "HTTP/1.1 %d %s\r\nServer: arkvm API\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     status, http_reason(status), blen, body);
	else
		n = asprintf(out, "HTTP/1.1 %d %s\r\nServer: arkvm API\r\nContent-Length: 0\r\n\r\n",
			     status, http_reason(status));
	if (n < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return n;
}
