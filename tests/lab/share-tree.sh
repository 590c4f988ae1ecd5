#!/bin/sh
# make test-share: a Debian arm64 userland with git, make and a C compiler
# (tcc, small enough to run under the lab's emulation), unpacked into a
# directory that a guest boots as its root over virtio-fs. The default
# guest's busybox, /init and modules go on top, so the same init switches
# to it. The tree lands in level 1 as /share-root ($cache/share-tree is laid
# over level 1's root). Needs apt (Debian); the packages are fetched once.
set -eu
cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}
tree=$cache/share-tree
step() { echo "share-tree: $*"; }
. "$(dirname "$0")/arm64-tree.sh"

fetch_sysroot share "git:arm64 make:arm64 tcc:arm64 libc6-dev:arm64"
rm -rf "$tree"
mkdir -p "$tree/share-root"
cp -a "$sysroot"/. "$tree/share-root/"
# The default guest (tests/lab/build-guest.sh) over it: busybox, /init, modules.
(cd "$tree/share-root" && gzip -dc "$cache/guest.cpio.gz" | cpio -idu --quiet 2> /dev/null)
mkdir -p "$tree/share-root/root" "$tree/share-root/tmp" "$tree/share-root/work"
step "$(du -sh "$tree" | cut -f1) in $(find "$tree" -type f | wc -l) files"
