#!/bin/sh
# Sourced: Debian's arm64 packages for programs the emulated host runs
# dynamically linked (make test-gpu's arkvm and Mesa, make bench's QEMU).
# Level 1 has no package manager, so the files a program loads are copied
# into a tree that tests/lab/lab.sh lays over its root (LAB_TREE).
#
#   fetch_sysroot NAME ROOTS  apt fetches ROOTS (arm64 packages) and what they
#                             depend on, unpacked into $cache/NAME-sysroot;
#                             a second call with the same ROOTS only checks a
#                             stamp. Sets $sysroot.
#   add PATH                  copies PATH (relative to $sysroot) into $tree,
#                             with every library it needs, once each.
# The caller sets $cache and $tree, and step() to report progress.

fetch_sysroot() {
	name=$1 roots=$2
	debs=$cache/$name-debs sysroot=$cache/$name-sysroot
	# Named after the list, so a longer list fetches again.
	stamp=$cache/$name-sysroot-$(echo "$roots" | cksum | cut -d' ' -f1).stamp
	if [ -f "$stamp" ]; then
		step "arm64 packages for $name (cached)"
		return 0
	fi
	step "fetching arm64 packages for $name: $(echo $roots)"
	rm -rf "$debs" "$sysroot" && mkdir -p "$debs" "$sysroot"
	pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances $roots 2>/dev/null |
		grep -v -e '^ ' -e '^<' | grep ':arm64$' | sort -u)
	(cd "$debs" && apt-get download -q $pkgs > "$cache/$name-apt.log" 2>&1) ||
		{ cat "$cache/$name-apt.log" >&2; exit 1; }
	for deb in "$debs"/*.deb; do dpkg -x "$deb" "$sysroot"; done
	rm -f "$cache/$name"-sysroot-*.stamp
	touch "$stamp"
}

# needed FILE: the sonames FILE asks for.
needed() {
	aarch64-linux-gnu-readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# find_lib SONAME: its path in the sysroot.
find_lib() {
	for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib; do
		[ -e "$sysroot/$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}

add() {
	[ -e "$tree/$1" ] && return 0
	mkdir -p "$(dirname "$tree/$1")"
	cp -L "$sysroot/$1" "$tree/$1"
	for so in $(needed "$sysroot/$1"); do
		lib=$(find_lib "$so") || { echo "arm64-tree: $1 needs $so, not found" >&2; exit 1; }
		add "$lib"
	done
}

# add_loader: the dynamic loader, where arm64 programs look for it.
add_loader() {
	mkdir -p "$tree/lib"
	cp -L "$sysroot/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" "$tree/lib/"
}
