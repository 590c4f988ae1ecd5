/* SPDX-License-Identifier: Apache-2.0 */
#ifndef ARKVM_DISK_IMAGE_H
#define ARKVM_DISK_IMAGE_H

/*
 * A disk as --disk or PUT /drives describes it (src/backends/disk_image.c):
 * the image's format, probed or given, the right backend for it, and an
 * ephemeral overlay when asked.  What the block device calls; it never
 * picks a backend itself.
 *
 *   format      AUTO looks at the header: the qcow2 magic makes it qcow2,
 *               anything else raw.  A raw image whose format was probed
 *               refuses guest writes that would put the qcow2 magic in its
 *               first bytes, so that a guest can never make the next boot
 *               read its disk as a qcow2 header naming some host file as
 *               backing (QEMU's rule).
 *   ephemeral   the image is opened read-only (locked shared) and never
 *               written: the guest's writes go to a qcow2 overlay in
 *               $TMPDIR (/tmp by default), unlinked at once, so it is gone
 *               when arkvm exits, however it exits.
 *
 * Main thread, before the I/O thread runs (or with the device quiesced).
 * Prints one line and returns -errno on error, leaving nothing open.
 */
#include "disk.h"
#include "vm_config.h"

int disk_image_open(const struct disk_config *cfg, struct disk **out);

#endif
