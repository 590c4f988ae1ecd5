#!/bin/sh
# For arkvm's --net user in the emulated host: Debian's arm64 passt and the C
# library it loads (the dynamic loader, libc), as a tree that
# tests/lab/lab.sh lays over level 1's root: $cache/passt-tree. passt runs
# as root there, so it drops to "nobody", which getpwnam() finds in the
# tree's /etc/passwd (glibc reads the file without an nsswitch.conf).
# Needs apt (Debian); the packages are fetched once, the tree is remade on
# every call (it takes a moment).
set -eu
cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}
tree=$cache/passt-tree
step() { echo "passt-tree: $*"; }
. "$(dirname "$0")/arm64-tree.sh"

fetch_sysroot passt passt:arm64
rm -rf "$tree"
add_loader
add usr/bin/passt
mkdir -p "$tree/etc"
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
	> "$tree/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' > "$tree/etc/group"
step "$(du -sh "$tree" | cut -f1) in $(find "$tree" -type f | wc -l) files"
