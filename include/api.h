/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_API_H
#define ARKVM_API_H

#include <pthread.h>
#include <stdbool.h>

#include "event_loop.h"
#include "http.h"

struct vmm;

/*
 * Firecracker's REST API on a unix socket, served by a thread of its own
 * under its own seccomp filter.  It parses requests and edits the VM's
 * config; what needs the VM (start, pause, a device's update) it hands to
 * the thread that owns the VM and waits for the answer.
 */

#define API_MAX_CONNS 8

struct api_conn {
	struct event_source src;
	struct api_server *srv;
	struct http_conn http;
	bool used;
};

struct api_server {
	struct vmm *vmm;
	int listen_fd;
	struct event_source listen_src;
	struct event_loop loop;
	struct api_conn conns[API_MAX_CONNS];
	pthread_t thread;
	bool started;
	bool filtered;           /* enters its seccomp filter */
};

/*
 * Binds the socket (mode 0600; refused when the path exists) and starts
 * the thread.  Call before any other thread exists: the socket's mode
 * comes from a umask set around bind().  One line on stderr and -errno
 * on failure.
 */
int api_server_start(struct api_server *srv, struct vmm *vmm, bool seccomp);
/* Stops the thread and removes the socket. */
void api_server_stop(struct api_server *srv);

/*
 * One request, whole, answered: the HTTP status, and the JSON body
 * (malloc'd; NULL for none).  What the server and the fuzz target call.
 */
int api_handle(struct vmm *vmm, const struct http_request *req, char **body);

#endif
