/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_UFFD_H
#define ARKVM_UFFD_H

#include <stddef.h>

#include "compiler.h"

/*
 * Firecracker's Uffd memory backend, the VMM's half: guest RAM is mapped
 * anonymous and empty, registered with a userfaultfd, and that fd goes to
 * a page server listening on a unix socket, which fills each page the
 * first time anything (the guest through KVM, or arkvm) touches it.
 *
 * Both fds stay open for the VM's whole life: if every copy of the
 * userfaultfd closed, the range would quietly turn into zero-filled
 * memory; and the connection is how the page server learns that the VMM
 * has gone (it reads EOF).  Nothing is sent on it after the handshake.
 */
struct uffd_backend {
	int uffd;   /* -1: none */
	int sock;   /* -1: none */
};

static inline void uffd_backend_init(struct uffd_backend *b)
{
	b->uffd = b->sock = -1;
}

/*
 * Registers @size bytes of anonymous RAM at @ram (both multiples of
 * @page_size, the size UFFDIO_COPY fills: the host's page, or 2 MiB for
 * hugetlb) for missing-page faults, connects to @socket_path and sends
 * the handshake: one sendmsg carrying the region list as JSON and the
 * userfaultfd as SCM_RIGHTS.  0 with @b's fds open, or -errno with one
 * line in @err and nothing left open.  Before the VM runs, on the thread
 * that builds it (it needs userfaultfd(2), socket(2), connect(2) and
 * sendmsg(2), which the sandbox's filters do not allow later).
 */
int uffd_attach(struct uffd_backend *b, void *ram, u64 size, u64 page_size,
		const char *socket_path, char *err, size_t err_size);

/* Closes what uffd_attach() opened; after the RAM is unmapped. */
void uffd_backend_close(struct uffd_backend *b);

/*
 * The handshake's text for one region: Firecracker's array of
 * GuestRegionUffdMapping objects.  Its length, or -ENOSPC if @size is too
 * small.  (For the tests.)
 */
int uffd_mappings_json(char *buf, size_t size, u64 base, u64 len, u64 offset, u64 page_size);

#endif
