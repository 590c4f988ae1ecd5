#!/bin/sh
# disk-images.sh DIR: the images tests/lab/disk-cases.sh reads, made here
# with qemu-img (Debian's qemu-utils), the reference for qcow2:
#   golden.raw     8 MiB of a text pattern
#   overlay.qcow2  an empty overlay over it, backing named relative
#                  ("golden.raw", format raw), as `qemu-img create -b` makes
#   comp.qcow2     compressed, 16 KiB clusters, over numbers and zeroes;
#                  comp.sha holds the sha256 of what it reads as
#   empty.qcow2    256 MiB, nothing allocated (make bench: qcow2 against raw)
set -eu
dir=$1
command -v qemu-img > /dev/null || { echo "disk-images: no qemu-img (make deps)" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
yes arkvm-golden-image | head -c 8388608 > golden.raw
rm -f overlay.qcow2
qemu-img create -q -f qcow2 -b golden.raw -F raw overlay.qcow2
{ seq 1 400000; head -c 1048576 /dev/zero; seq 400000 600000; } | head -c 6291456 > comp.raw
truncate -s 6M comp.raw
qemu-img convert -c -O qcow2 -o cluster_size=16384 comp.raw comp.qcow2
sha256sum comp.raw | cut -c1-64 > comp.sha
rm comp.raw
qemu-img create -q -f qcow2 empty.qcow2 256M
