#!/bin/sh
# Installs what the lab needs, from Debian's archive only:
#   - on this host: qemu-system-aarch64 (unless it is an arm64 KVM host),
#     cpio and gzip to pack initramfs images, dtc to read dumped trees;
#   - into the cache: Debian's arm64 cloud kernel (an uncompressed Image with
#     KVM built in, and its modules), Debian's generic arm64 kernel (for the
#     GPU case: the cloud kernel has no virtio-gpu) and busybox-static for
#     arm64, unpacked.
# Prints one line per step. Idempotent: a second run only checks stamps.
#
# Cache: $ARKVM_CACHE, default ~/.cache/arkvm. Needs root when something is
# missing (apt-get).
set -eu

cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}
mkdir -p "$cache/debs"

step() { echo "setup: $*"; }

native() {
	[ "$(uname -m)" = aarch64 ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]
}

# apt-get update at most once per run: it is the slow part.
updated=false
apt_update() {
	$updated && return 0
	step "apt-get update"
	apt-get update -q > "$cache/apt.log" 2>&1 || { cat "$cache/apt.log" >&2; exit 1; }
	updated=true
}

# Foreign packages (apt-get download PKG:arm64) need the architecture known.
if [ "$(dpkg --print-architecture)" != arm64 ] &&
    ! dpkg --print-foreign-architectures | grep -qx arm64; then
	step "dpkg --add-architecture arm64"
	dpkg --add-architecture arm64
	apt_update
fi

# Host tools, checked by command so a second run needs no apt at all.
need=
command -v cpio > /dev/null || need="$need cpio"
command -v gzip > /dev/null || need="$need gzip"
command -v dtc > /dev/null || need="$need device-tree-compiler"
native || command -v qemu-system-aarch64 > /dev/null || need="$need qemu-system-arm"
if [ -n "$need" ]; then
	apt_update
	step "apt-get install$need"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need \
		> "$cache/apt.log" 2>&1 || { cat "$cache/apt.log" >&2; exit 1; }
else
	step "host tools present (cpio, gzip, dtc$(native || echo ', qemu-system-aarch64'))"
fi

# fetch PKG DIR: downloads the .deb of PKG into the cache and unpacks it to DIR.
fetch() {
	rm -rf "$2"
	(cd "$cache/debs" && apt-get download -q "$1" > "$cache/apt.log" 2>&1) || return 1
	dpkg -x "$(ls -t "$cache"/debs/"${1%%:*}"_*.deb | head -n 1)" "$2"
}

# The kernel package the linux-image-cloud-arm64 metapackage points at today.
kernel_pkg() {
	apt-cache depends linux-image-cloud-arm64:arm64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {sub(/:arm64$/, "", $2); print $2; exit}'
}

# get_kernel: resolves and fetches; 1 when apt's lists are missing or stale
# (Debian drops superseded kernels from the mirror).
get_kernel() {
	pkg=$(kernel_pkg)
	[ -n "$pkg" ] || return 1
	step "fetching $pkg:arm64"
	rm -f "$cache"/debs/linux-image-*.deb
	fetch "$pkg:arm64" "$cache/k"
}

if [ -f "$cache/kernel.stamp" ] && ls "$cache"/k/boot/vmlinuz-* > /dev/null 2>&1; then
	step "kernel $(basename "$(ls "$cache"/k/boot/vmlinuz-* | head -n 1)") (cached)"
else
	get_kernel || { apt_update; get_kernel; } || { cat "$cache/apt.log" >&2; exit 1; }
	touch "$cache/kernel.stamp"
fi

# Debian's generic arm64 kernel, for the GPU case only: unlike the cloud
# kernel it builds virtio-gpu, DRM and the framebuffer console.
generic_pkg() {
	apt-cache depends linux-image-arm64:arm64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {sub(/:arm64$/, "", $2); print $2; exit}'
}

get_generic() {
	pkg=$(generic_pkg)
	[ -n "$pkg" ] || return 1
	step "fetching $pkg:arm64 (the GPU case's guest kernel)"
	rm -f "$cache"/debs/"$pkg"_*.deb
	fetch "$pkg:arm64" "$cache/kg" || return 1
	# Only the kernel and the modules a guest loads are kept.
	find "$cache/kg/lib/modules" -name '*.ko' | grep -v -E \
		'/kernel/drivers/(virtio|gpu/drm|block|char)/' | xargs rm -f
	rm -f "$cache"/debs/"$pkg"_*.deb
}

if [ -f "$cache/kernel-generic.stamp" ] && ls "$cache"/kg/boot/vmlinuz-* > /dev/null 2>&1; then
	step "generic kernel $(basename "$(ls "$cache"/kg/boot/vmlinuz-* | head -n 1)") (cached)"
else
	get_generic || { apt_update; get_generic; } || { cat "$cache/apt.log" >&2; exit 1; }
	touch "$cache/kernel-generic.stamp"
fi

if [ -f "$cache/busybox.stamp" ] && [ -x "$cache/busybox/bin/busybox" ]; then
	step "busybox-static:arm64 (cached)"
else
	step "fetching busybox-static:arm64"
	rm -f "$cache"/debs/busybox-static_*.deb
	fetch busybox-static:arm64 "$cache/busybox" ||
		{ apt_update; fetch busybox-static:arm64 "$cache/busybox"; } ||
		{ cat "$cache/apt.log" >&2; exit 1; }
	touch "$cache/busybox.stamp"
fi

# LAB_KERNEL=16k (make test-16k): level 1 boots Debian's 16K-page kernel,
# from bookworm-backports, which the host's sources need not list: apt
# reads a sources list of its own here, with its own lists and cache, and
# the host's apt state is left alone. Only tun and the vhost modules are
# kept (level 1's network cases).
bpo_apt() {
	bpo=$cache/bpo-apt
	mkdir -p "$bpo/lists/partial" "$bpo/cache/archives/partial"
	echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" \
		> "$bpo/sources.list"
	"$@" -o Dir::Etc::SourceList="$bpo/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$bpo/lists" -o Dir::Cache="$bpo/cache"
}

get_16k() {
	bpo_apt apt-get update -q > "$cache/apt.log" 2>&1 || return 1
	pkg=$(bpo_apt apt-cache depends linux-image-arm64-16k:arm64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-6/ {sub(/:arm64$/, "", $2); print $2; exit}')
	[ -n "$pkg" ] || return 1
	step "fetching $pkg:arm64 (level 1's 16K-page kernel, bookworm-backports)"
	rm -rf "$cache/k16"
	(cd "$cache/debs" && bpo_apt apt-get download -q "$pkg:arm64" > "$cache/apt.log" 2>&1) ||
		return 1
	dpkg -x "$(ls -t "$cache"/debs/"$pkg"_*.deb | head -n 1)" "$cache/k16"
	find "$cache/k16/lib/modules" -name '*.ko*' | grep -v -E \
		'/(tun|tap|vhost|vhost_net|vhost_iotlb)\.ko' | xargs rm -f
	# Level 1's insmod takes plain .ko files.
	find "$cache/k16/lib/modules" -name '*.ko.xz' -exec xz -d {} \;
	rm -f "$cache"/debs/"$pkg"_*.deb
}

if [ "${LAB_KERNEL:-}" = 16k ]; then
	if [ -f "$cache/kernel-16k.stamp" ] && ls "$cache"/k16/boot/vmlinuz-* > /dev/null 2>&1; then
		step "16K kernel $(basename "$(ls "$cache"/k16/boot/vmlinuz-* | head -n 1)") (cached)"
	else
		get_16k || { cat "$cache/apt.log" >&2; exit 1; }
		touch "$cache/kernel-16k.stamp"
	fi
fi
