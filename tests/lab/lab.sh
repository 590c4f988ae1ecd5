#!/bin/sh
# The arm64 test lab.
#
#   tests/lab/lab.sh test [ARKVM args]  run the lab cases (tests/lab/cases.sh)
#   tests/lab/lab.sh run  [ARKVM args]  boot the default guest to an interactive shell
#
# On an arm64 host with a usable /dev/kvm both run arkvm directly. Anywhere
# else they boot an emulated arm64 host ("level 1": QEMU's virt machine with
# virtualization=on, so the guest kernel starts at EL2 and has KVM and a
# VGICv3), and arkvm runs inside it, booting its own guest ("level 2").
# Level 1 boots once per call and runs every case; it has no network card.
#
# Everything downloaded or built lives in $ARKVM_CACHE (~/.cache/arkvm):
# Debian's arm64 cloud kernel and busybox-static, and the initramfs images.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}
arkvm=${ARKVM_BIN:-$top/build/arm64/arkvm}
mode=${1:-test}
[ $# -gt 0 ] && shift

say() { echo "lab: $*" >&2; }

native() {
	[ "$(uname -m)" = aarch64 ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]
}

# Debian packages: qemu and cpio on the host, the arm64 kernel and busybox unpacked.
setup() {
	mkdir -p "$cache/debs"
	need=
	native || command -v qemu-system-aarch64 >/dev/null || need="$need qemu-system-arm"
	command -v cpio >/dev/null || need="$need cpio"
	if [ -n "$need" ] || ! dpkg --print-foreign-architectures | grep -qx arm64; then
		say "installing$need"
		dpkg --add-architecture arm64
		apt-get update -q >/dev/null
		[ -z "$need" ] || DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends $need >/dev/null
	fi
	if [ ! -f "$cache/kernel.stamp" ]; then
		pkg=$(apt-cache depends linux-image-cloud-arm64:arm64 2>/dev/null |
			awk '/Depends: linux-image-/ {print $2; exit}')
		[ -n "$pkg" ] || { apt-get update -q >/dev/null; pkg=$(apt-cache depends \
			linux-image-cloud-arm64:arm64 | awk '/Depends: linux-image-/ {print $2; exit}'); }
		say "fetching $pkg and busybox-static:arm64"
		rm -rf "$cache/debs"/*.deb "$cache/k" "$cache/busybox"
		(cd "$cache/debs" && apt-get download -q "$pkg" busybox-static:arm64 >/dev/null 2>&1)
		dpkg -x "$cache"/debs/linux-image-*_arm64.deb "$cache/k"
		dpkg -x "$cache"/debs/busybox-static_*_arm64.deb "$cache/busybox"
		touch "$cache/kernel.stamp"
	fi
	kernel=$(ls "$cache"/k/boot/vmlinuz-* | head -n 1)
	release=${kernel##*/vmlinuz-}
}

# Puts busybox into the root at $1; each init installs the applet links itself
# (an arm64 busybox cannot run here to do it).
install_busybox() {
	mkdir -p "$1/bin" "$1/sbin" "$1/proc" "$1/sys" "$1/dev" "$1/tmp" "$1/etc" "$1/root"
	cp "$cache/busybox/bin/busybox" "$1/bin/busybox"
	ln -s busybox "$1/bin/sh"
}

cpio_dir() {
	(cd "$1" && find . | cpio -o -H newc --quiet | gzip -1)
}

# The level-2 guest: busybox, configs/guest, the virtio modules, a marker.
build_guest() {
	root=$cache/guest-root
	rm -rf "$root" && install_busybox "$root"
	cp "$top/configs/guest/init" "$root/init"
	cp "$top/configs/guest/profile" "$root/etc/profile"
	cp "$top/configs/guest/arkvm-report" "$root/bin/arkvm-report"
	grep -v '^#' "$top/configs/guest/modules" > "$root/etc/modules"
	while read -r mod; do
		case "$mod" in ''|'#'*) continue ;; esac
		find "$cache/k/lib/modules/$release" -name "$mod.ko" | while read -r ko; do
			dest=$root/lib/modules/$release/${ko#"$cache/k/lib/modules/$release/"}
			mkdir -p "$(dirname "$dest")" && cp "$ko" "$dest"
		done
	done < "$top/configs/guest/modules"
	head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$cache/guest-marker"
	cp "$cache/guest-marker" "$root/etc/arkvm-marker"
	cpio_dir "$root" > "$cache/guest.cpio.gz"
}

# Level 1: busybox, arkvm, the kernel, the level-2 guest and the cases.
build_level1() {
	root=$cache/l1-root
	rm -rf "$root" && install_busybox "$root"
	mkdir -p "$root/lab"
	cp "$arkvm" "$root/bin/arkvm"
	cp "$kernel" "$root/lab/Image"
	cp "$cache/guest.cpio.gz" "$cache/guest-marker" "$top/tests/lab/cases.sh" "$root/lab/"
	cp "$top/tests/lab/level1-init" "$root/init"
	printf '%s\n' "$@" > "$root/lab/args"
	cpio_dir "$root" > "$cache/level1.cpio.gz"
}

qemu_level1() {
	lab_mode=$1; shift
	qemu-system-aarch64 \
		-M virt,virtualization=on,gic-version=3 -cpu max -smp 2 -m 3072 \
		-nic none -no-reboot -display none -monitor none \
		-kernel "$kernel" -initrd "$cache/level1.cpio.gz" \
		-append "console=ttyAMA0 quiet loglevel=1 panic=-1 arkvm.lab=$lab_mode" "$@"
}

# Checks, on this host, a device tree that level 1 printed in base64.
check_dtb_from_log() {
	sed -n '/^DTB-BASE64-BEGIN/,/^DTB-BASE64-END/p' "$1" | sed '1d;$d' |
		base64 -d > "$cache/lab.dtb" 2>/dev/null || true
	if dtc -I dtb -O dts "$cache/lab.dtb" > "$cache/lab.dts" 2>/dev/null &&
	    grep -q 'cpu@1 {' "$cache/lab.dts" && grep -q 'stdout-path = "/uart@9000000"' "$cache/lab.dts"; then
		echo "PASS: lab/dump-dtb-read-by-dtc"
	else
		echo "FAIL: lab/dump-dtb-read-by-dtc: dtc could not read the dumped tree"
		return 1
	fi
}

[ -x "$arkvm" ] || { say "no arkvm binary at $arkvm (make STATIC=1)"; exit 1; }
setup
build_guest

case "$mode" in
test)
	if native; then
		exec env ARKVM="$arkvm" KERNEL="$kernel" INITRD="$cache/guest.cpio.gz" \
			MARKER="$cache/guest-marker" sh "$top/tests/lab/cases.sh"
	fi
	build_level1
	log=$cache/level1.log
	say "booting the emulated arm64 host (log: $log)"
	# Bounded: a hung guest must not hang CI. The console log is parsed after.
	timeout 1200 qemu-system-aarch64 \
		-M virt,virtualization=on,gic-version=3 -cpu max -smp 2 -m 3072 \
		-nic none -no-reboot -display none -monitor none -serial stdio \
		-kernel "$kernel" -initrd "$cache/level1.cpio.gz" \
		-append "console=ttyAMA0 quiet loglevel=1 panic=-1 arkvm.lab=test" \
		< /dev/null 2>&1 | sed -u 's/\r$//' > "$log" || true
	grep -E '^(PASS|FAIL): ' "$log" || true
	dtb_ok=true
	if grep -q '^DTB-BASE64-BEGIN' "$log"; then
		check_dtb_from_log "$log" || dtb_ok=false
	fi
	if ! grep -q '^LAB-DONE' "$log"; then
		echo "FAIL: lab: level 1 did not finish the cases (see $log)"
		exit 1
	fi
	$dtb_ok && ! grep -q '^FAIL: ' "$log"
	;;
run)
	if native; then
		exec "$arkvm" run --kernel "$kernel" --initrd "$cache/guest.cpio.gz" \
			--cmdline "quiet" "$@"
	fi
	build_level1 "$@"
	say "booting the emulated arm64 host, then the default guest (Ctrl-A x quits)"
	qemu_level1 run -chardev stdio,id=c0,signal=off,mux=off -serial chardev:c0
	exit 0
	;;
*)
	say "usage: lab.sh test|run [arkvm args]"
	exit 1
	;;
esac
