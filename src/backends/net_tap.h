/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_BACKENDS_NET_TAP_H
#define ARKVM_BACKENDS_NET_TAP_H

/*
 * Inside the network backends: what the tap+vhost backend
 * (net_vhost.c) shares with the tap's (net_tap.c).
 */
#include "net_backend.h"

/* Opens the existing tap @name with the virtio-net header on it: its fd, or -errno. */
int net_tap_open_fd(const char *name);

/* The tap's packet I/O and offloads, as in net_tap_ops. */
ssize_t net_fd_recv(struct net_backend *be, const struct iovec *iov, unsigned int n);
ssize_t net_fd_send(struct net_backend *be, const struct iovec *iov, unsigned int n);
int net_tap_set_offloads(struct net_backend *be, u64 features);

/*
 * The tap's packet counters, as the host sees them (it receives what the
 * guest sends): for packets the kernel moves without arkvm.  sysfs makes
 * a counter's text at the first read of a descriptor, and reading it again
 * would need a seek, which the sandbox refuses: so each descriptor is read
 * once, the end's opened at start-up too.
 */
struct tap_counters {
	long long start[2];          /* guest sent [0], received [1] at start; -1 unknown */
	int end_fd[2];               /* to read them at the end; -1 none */
};

void tap_counters_init(struct tap_counters *c);
/* Reads the start values and opens the end's descriptors (before the sandbox). */
void tap_counters_start(struct tap_counters *c, const char *tap);
/* What moved since, once; false if the counters cannot be read. */
bool tap_counters_read(const struct tap_counters *c, u64 sent_received[2]);
void tap_counters_close(struct tap_counters *c);

#endif
