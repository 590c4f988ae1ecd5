#!/bin/sh
# Packs the default guest (level 2) into $cache/guest.cpio.gz, a gzipped newc
# cpio: busybox-static, configs/guest (init, profile, arkvm-report, the
# udhcpc hook), the
# programs named in $ARKVM_GUEST_TOOLS, the
# kernel modules named in configs/guest/modules, and /etc/arkvm-marker with a
# fresh random token, also saved as $cache/guest-marker so the cases can tell
# that the guest really runs this initrd.
# Also packs $cache/guest-gpu.cpio.gz, the same guest with the generic
# kernel's modules and those of configs/guest/modules-gpu (DRM, virtio-gpu).
# Needs tests/lab/setup.sh first. Rebuilt on every call: it takes a second.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}
guest=$top/configs/guest
root=$cache/guest-root

# names FILE: the module names a list holds, one per line.
names() {
	sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"
}

# add_modules KTREE: copies the modules in $root/etc/modules from an unpacked
# kernel package. They keep their path under /lib/modules/RELEASE, so a guest
# booted with a kernel of another release simply finds none of them.
add_modules() {
	mods=$(ls -d "$1"/lib/modules/* | head -n 1)
	while read -r mod; do
		find "$mods" -name "$mod.ko" | while read -r ko; do
			dest=$root/lib/modules/${ko#"$1/lib/modules/"}
			mkdir -p "$(dirname "$dest")"
			cp "$ko" "$dest"
		done
	done < "$root/etc/modules"
}

# pack OUT: the tree as a gzipped cpio; -R 0:0, the guest's files belong to
# root even when a user builds it.
pack() {
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -6 > "$1.tmp"
	mv "$1.tmp" "$1"
	echo "build-guest: $1 ($(du -k "$1" | cut -f1) kB," \
		"$(find "$root/lib" -name '*.ko' 2>/dev/null | wc -l) modules, marker $(cat "$cache/guest-marker"))"
}

rm -rf "$root"
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" \
	"$root/tmp" "$root/root"
# init installs the applet links itself: an arm64 busybox cannot run here.
cp "$cache/busybox/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$guest/init" "$root/init"
cp "$guest/arkvm-report" "$root/bin/arkvm-report"
cp "$guest/profile" "$root/etc/profile"
# Where Debian's busybox udhcpc looks for its hook (--net user: DHCP from passt).
mkdir -p "$root/etc/udhcpc"
cp "$guest/udhcpc-script" "$root/etc/udhcpc/default.script"
chmod 755 "$root/init" "$root/bin/arkvm-report" "$root/etc/udhcpc/default.script"
# ARKVM_GUEST_TOOLS: static arm64 programs the cases run in the guest
# (tests/lab/vsock-tool.c), into its /bin.
for tool in ${ARKVM_GUEST_TOOLS:-}; do
	[ -f "$tool" ] && cp "$tool" "$root/bin/"
done

od -An -N12 -tx1 /dev/urandom | tr -d ' \n' > "$cache/guest-marker"
cp "$cache/guest-marker" "$root/etc/arkvm-marker"

names "$guest/modules" > "$root/etc/modules"
add_modules "$cache/k"
pack "$cache/guest.cpio.gz"

if [ -d "$cache/kg/lib/modules" ]; then
	names "$guest/modules-gpu" >> "$root/etc/modules"
	add_modules "$cache/kg"
	pack "$cache/guest-gpu.cpio.gz"
fi
