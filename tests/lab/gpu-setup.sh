#!/bin/sh
# For make test-gpu: what a dynamically linked arm64 arkvm with virglrenderer
# needs, from Debian's arm64 packages only:
#   $cache/gpu-sysroot  every package unpacked (what the build links against:
#                       libvirglrenderer-dev and the libraries behind it);
#   $cache/gpu-tree     the files the emulated host needs to run it: the
#                       dynamic loader, the libraries arkvm and Mesa's EGL and
#                       llvmpipe driver load (found by following DT_NEEDED),
#                       the DRI driver and glvnd's vendor file for Mesa;
#   $cache/guest-gl.cpio unless GL=0: the GPU guest (tests/lab/build-guest.sh) with kmscube
#                       and what it loads, Mesa's virgl driver included
#                       (uncompressed: inflating it twice emulated is slow).
# With an argument (the arkvm binary) it builds the last two.
# Idempotent: a second run only checks a stamp. Needs apt (Debian).
set -eu

cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}
tree=$cache/gpu-tree
step() { echo "gpu-setup: $*"; }
. "$(dirname "$0")/arm64-tree.sh"

fetch_sysroot gpu "libvirglrenderer-dev:arm64 libvirglrenderer1:arm64 libegl-mesa0:arm64
       libgl1-mesa-dri:arm64 libegl1:arm64 libopengl0:arm64 libpng16-16:arm64
       liburing2:arm64 zlib1g:arm64 kmscube:arm64 libgles2:arm64"

# mesa_tree: the loader, glvnd's EGL and GL, Mesa's EGL, its vendor file.
mesa_tree() {
	add_loader
	mkdir -p "$tree/usr/share/glvnd/egl_vendor.d"
	for lib in libEGL.so.1 libOpenGL.so.0 libEGL_mesa.so.0; do
		add "usr/lib/aarch64-linux-gnu/$lib"
	done
	cp "$sysroot"/usr/share/glvnd/egl_vendor.d/*mesa*.json "$tree/usr/share/glvnd/egl_vendor.d/"
}

if [ $# -ge 1 ]; then
	# Level 1: arkvm's libraries, and what libepoxy and glvnd load by name:
	# EGL and GL, Mesa's EGL, its software driver (level 1 has no GPU).
	step "the emulated host's libraries for $1"
	rm -rf "$tree"
	mesa_tree
	for so in $(needed "$1"); do add "$(find_lib "$so")"; done
	add usr/lib/aarch64-linux-gnu/dri/swrast_dri.so
	step "$(du -sh "$tree" | cut -f1) in $(find "$tree" -type f | wc -l) files"

	# The GL guest (GL=0 skips it): kmscube, and Mesa's driver for virtio-gpu (virgl).
	[ "${GL:-1}" = 1 ] || exit 0
	step "the GL guest: kmscube and Mesa"
	tree=$cache/gl-guest-tree
	rm -rf "$tree"
	cp -a "$cache/guest-root" "$tree"
	mesa_tree
	add usr/bin/kmscube
	add usr/lib/aarch64-linux-gnu/libGLESv2.so.2
	add usr/lib/aarch64-linux-gnu/dri/virtio_gpu_dri.so
	(cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) \
		> "$cache/guest-gl.cpio"
	step "$cache/guest-gl.cpio ($(du -k "$cache/guest-gl.cpio" | cut -f1) kB)"
	tree=$cache/gpu-tree
fi
