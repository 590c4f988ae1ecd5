#!/bin/sh
# make bench BENCH_QEMU=1 in the lab: Debian's arm64 QEMU (qemu-system-aarch64)
# and the libraries it loads, as a tree for the emulated host's root:
# $cache/qemu-tree. Needs apt (Debian); the packages are fetched once.
set -eu
cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}
tree=$cache/qemu-tree
step() { echo "qemu-tree: $*"; }
. "$(dirname "$0")/../lab/arm64-tree.sh"

fetch_sysroot qemu qemu-system-arm:arm64
rm -rf "$tree"
add_loader
add usr/bin/qemu-system-aarch64
step "$(du -sh "$tree" | cut -f1) in $(find "$tree" -type f | wc -l) files"
