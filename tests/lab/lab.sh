#!/bin/sh
# The arm64 test lab.
#
#   tests/lab/lab.sh test               run the lab cases (tests/lab/cases.sh)
#   tests/lab/lab.sh run [arkvm args]   boot the default guest to an interactive shell
#
# On an arm64 host with a usable /dev/kvm both run arkvm directly. Anywhere
# else they boot an emulated arm64 host ("level 1": QEMU's virt machine with
# virtualization=on, so its kernel starts at EL2 and has KVM and a VGICv3),
# and arkvm runs inside it, booting its own guest ("level 2"). Level 1 boots
# once per call and has no network card.
#
# ARKVM_BIN: the static arm64 arkvm (default build/arm64/arkvm, from
# `make STATIC=1`). ARKVM_CACHE: downloads and builds (~/.cache/arkvm).
# LAB_TIMEOUT: seconds level 1 may take for all the cases (default 2400).
# LAB_CASES: another script to run instead of cases.sh (make bench, make
# test-gpu), with LAB_FILES copied next to it into level 1's /lab, and the
# tree LAB_TREE into level 1's root; LAB_GPU=1 brings the GPU case's kernel
# and guest along.
# LAB_GIC=2: level 1 gets a GICv2 (QEMU's gic-version=2), so arkvm runs on
# KVM's VGICv2. LAB_KERNEL=16k: level 1 boots Debian's 16K-page kernel
# (setup.sh fetches it from bookworm-backports); its guests keep the 4K one.
# Some verdicts are given here, on the lab host, from what the cases print:
# the dumped device tree (read by dtc) and the GPU case's screenshot
# (measured by tests/lab/png-box.c, built with the host's libpng).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export ARKVM_CACHE="${ARKVM_CACHE:-$HOME/.cache/arkvm}"
cache=$ARKVM_CACHE
arkvm=${ARKVM_BIN:-$top/build/arm64/arkvm}
mode=${1:-}
[ $# -gt 0 ] && shift

say() { echo "lab: $*" >&2; }

native() {
	[ "$(uname -m)" = aarch64 ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]
}

case "$mode" in
test|run) ;;
*) say "usage: lab.sh test | lab.sh run [arkvm run options]"; exit 1 ;;
esac
[ -x "$arkvm" ] || { say "no arkvm binary at $arkvm (make STATIC=1)"; exit 1; }
case "$(od -An -tx1 -j18 -N2 "$arkvm" | tr -d ' ')" in
b700) ;;  # e_machine EM_AARCH64
*) say "$arkvm is not an arm64 binary"; exit 1 ;;
esac

# Progress goes to stderr: stdout carries only the cases' verdicts.
"$here/setup.sh" >&2
"$here/build-guest.sh" >&2
# passt for --net user: on this host from make deps, in level 1 from a tree.
native || "$here/passt-tree.sh" >&2
kernel=$(ls "$cache"/k/boot/vmlinuz-* | head -n 1)
# Level 1's own kernel, and where its tun/vhost modules come from.
l1_dir=$cache/k
[ "${LAB_KERNEL:-}" = 16k ] && l1_dir=$cache/k16
l1_kernel=$(ls "$l1_dir"/boot/vmlinuz-* | head -n 1)
gpu_kernel=$(ls "$cache"/kg/boot/vmlinuz-* 2>/dev/null | head -n 1)
cases=${LAB_CASES:-$here/cases.sh}

# The default guest boots quietly, unless the user brings a command line.
case " $* " in
*" --cmdline"*) ;;
*) set -- --cmdline quiet "$@" ;;
esac

# exec_image FILE: arkvm exec --image's root, busybox on ext4 (mke2fs -d
# needs no privileges), as qcow2 so that it is small in level 1's memory.
exec_image() {
	t=$cache/exec-image-tree
	rm -rf "$t" "$cache/exec-root.img"
	mkdir -p "$t/bin" "$t/proc" "$t/sys" "$t/dev" "$t/tmp" "$t/etc" "$t/run"
	cp "$cache/busybox/bin/busybox" "$t/bin/busybox"
	for a in sh cat echo dmesg grep head od tr date ls true sha256sum rm; do
		ln -s busybox "$t/bin/$a"
	done
	echo exec-image-root > "$t/etc/marker"
	mke2fs -q -F -t ext4 -d "$t" "$cache/exec-root.img" 32M &&
		qemu-img convert -O qcow2 "$cache/exec-root.img" "$1"
	rc=$?
	rm -rf "$t" "$cache/exec-root.img"
	return $rc
}

# build_level1 [arkvm args]: level 1's initramfs, uncompressed (inflating it
# under emulation costs more than reading it): busybox, arkvm, the kernel,
# the default guest and its marker, the cases, and the init.
build_level1() {
	root=$cache/l1-root
	rm -rf "$root"
	mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/lab"
	cp "$cache/busybox/bin/busybox" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$arkvm" "$root/bin/arkvm"
	cp "$kernel" "$root/lab/Image"
	cp "$cache/guest.cpio.gz" "$cache/guest-marker" "$root/lab/"
	# The GPU case's kernel and guest: for the cases and make test-gpu, not make bench.
	if { [ -z "${LAB_CASES:-}" ] || [ -n "${LAB_GPU:-}" ]; } && [ -n "$gpu_kernel" ]; then
		cp "$gpu_kernel" "$root/lab/Image-generic"
		cp "$cache/guest-gpu.cpio.gz" "$root/lab/"
	fi
	cp "$cases" "$root/lab/cases.sh"
	cp "$here/net.sh" "$here/disk-cases.sh" "$here/platform-cases.sh" "$here/arm64-cases.sh" \
		"$here/exec-cases.sh" "$here/net-user-cases.sh" "$root/lab/"
	# arkvm exec's --modules: the modules its guest needs, with their
	# modules.order (the package has no modules.dep: no depmod ran).
	mkdir -p "$root/lab/exec-modules"
	for mod in virtio virtio_ring virtio_mmio fuse virtiofs vsock vmw_vsock_virtio_transport_common \
		vmw_vsock_virtio_transport virtio_blk virtio_net net_failover failover; do
		ko=$(cd "$cache"/k/lib/modules/* && find kernel -name "$mod.ko" | head -n 1)
		[ -n "$ko" ] || continue
		mkdir -p "$root/lab/exec-modules/$(dirname "$ko")"
		cp "$(ls -d "$cache"/k/lib/modules/*)/$ko" "$root/lab/exec-modules/$ko"
		echo "$ko" >> "$root/lab/exec-modules/modules.order"
	done
	# The image cases' qcow2 images, made by qemu-img here (fresh each run).
	"$here/disk-images.sh" "$root/lab" >&2 || true
	exec_image "$root/lab/exec-root.qcow2" || echo "lab: no image for arkvm exec --image" >&2
	for f in ${LAB_FILES:-}; do cp "$f" "$root/lab/"; done
	# passt and its C library, for --net user (tests/lab/passt-tree.sh).
	cp -a "$cache/passt-tree"/. "$root/"
	# LAB_TREE: a tree of files for level 1's root (make test-gpu: libraries).
	[ -n "${LAB_TREE:-}" ] && cp -a "$LAB_TREE"/. "$root/"
	cp "$here/level1-init" "$root/init"
	# tun and vhost-net for the network cases, dummy for the default route
	# passt wants: level 1 has no other modules.
	for mod in tun tap vhost_iotlb vhost vhost_net dummy; do
		find "$l1_dir/lib/modules" -name "$mod.ko" -exec cp {} "$root/lab/" \;
	done
	chmod 755 "$root/init"
	: > "$root/lab/args"
	for a in "$@"; do printf '%s\n' "$a" >> "$root/lab/args"; done
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$cache/level1.cpio"
}

# qemu_level1 MODE TIMEOUT [qemu args]: the emulated arm64 host; TIMEOUT 0 for
# none (GNU timeout would take the terminal from an interactive QEMU).
# -no-reboot: a level-1 panic ends QEMU instead of looping.
# pauth-impdef: QEMU's own pointer-authentication cipher instead of QARMA,
# which is slow to emulate; guests get pointer auth by default (issue 24)
# and Debian's kernels sign every function return, so it halves some cases.
qemu_level1() {
	lab_mode=$1 limit=$2; shift 2
	[ "$limit" = 0 ] && wrap= || wrap="timeout $limit"
	$wrap qemu-system-aarch64 \
		-M virt,virtualization=on,gic-version=${LAB_GIC:-3} -cpu max,pauth-impdef=on -smp 2 -m 3072 \
		-nic none -no-reboot -display none -monitor none \
		-kernel "$l1_kernel" -initrd "$cache/level1.cpio" \
		-append "console=ttyAMA0 quiet loglevel=1 panic=-1 arkvm.lab=$lab_mode" "$@"
}

# check_dtb LOG: level 1 has no dtc; it printed the dumped tree in base64.
check_dtb() {
	sed -n '/^DTB-BASE64-BEGIN/,/^DTB-BASE64-END/p' "$1" | sed '1d;$d' |
		base64 -d > "$cache/lab.dtb" 2>/dev/null || true
	if dtc -I dtb -O dts "$cache/lab.dtb" > "$cache/lab.dts" 2>/dev/null &&
	    grep -q 'cpu@1 {' "$cache/lab.dts" && grep -q 'stdout-path = ' "$cache/lab.dts"; then
		echo "PASS: lab/dump-dtb-read-by-dtc"
	else
		echo "FAIL: lab/dump-dtb-read-by-dtc: dtc could not read the dumped tree ($cache/lab.dtb)"
	fi
}

# check_png LOG: the GPU case printed its screenshot in base64; the guest
# wrote three short lines at the top left of a 1024x768 display, so the lit
# pixels must be there and nowhere else (tests/lab/png-box.c measures).
check_png() {
	png=$cache/lab-gpu.png
	sed -n '/^PNG-BASE64-BEGIN/,/^PNG-BASE64-END/p' "$1" | sed '1d;$d' |
		base64 -d > "$png" 2>/dev/null || true
	if ! ${HOST_CC:-cc} -O2 -o "$cache/png-box" "$here/png-box.c" -lpng16 2>&1; then
		echo "FAIL: lab/gpu-screenshot-shows-text: cannot build png-box"
		return
	fi
	box=$("$cache/png-box" "$png" 2>&1)
	set -- $(echo "$box" | sed -n 's/^\([0-9]*\)x\([0-9]*\) lit=\([0-9]*\) box=\([0-9]*\),\([0-9]*\),\([0-9]*\),\([0-9]*\)$/\1 \2 \3 \4 \5 \6 \7/p')
	if [ $# -eq 7 ] && [ "$1" = 1024 ] && [ "$2" = 768 ] && [ "$3" -ge 300 ] &&
	    [ "$4" -lt 8 ] && [ "$5" -lt 16 ] && [ "$6" -ge 114 ] && [ "$6" -le 320 ] &&
	    [ "$7" -le 72 ]; then
		echo "PASS: lab/gpu-screenshot-shows-text ($box)"
	else
		echo "FAIL: lab/gpu-screenshot-shows-text: expected 1024x768 with text only in the top left, got '$box' ($png)"
	fi
}

# check_overlay LOG: the qcow2 overlay the guest wrote through came back
# gzipped in base64; qemu-img, the reference, must find it clean (leaks
# would be allowed; errors are not). Its backing file stayed in level 1,
# so the overlay is checked on its own.
check_overlay() {
	ov=$cache/lab-overlay.qcow2
	sed -n '/^QCOW2-OVERLAY-BEGIN/,/^QCOW2-OVERLAY-END/p' "$1" | sed '1d;$d' |
		base64 -d 2>/dev/null | gzip -dc > "$ov" 2>/dev/null || true
	if qemu-img rebase -u -b '' "$ov" 2>/dev/null && out=$(qemu-img check "$ov" 2>&1); then
		echo "PASS: lab/qcow2-overlay-checks-clean"
	else
		echo "FAIL: lab/qcow2-overlay-checks-clean: qemu-img check: $(echo "${out:-cannot read $ov}" | head -n 3 | tr '\n' ' ')"
	fi
}

# check_output LOG: the verdicts only the lab host can give.
check_output() {
	if grep -q '^QCOW2-OVERLAY-BEGIN' "$1"; then
		verdict=$(check_overlay "$1")
		echo "$verdict"; echo "$verdict" >> "$1"
	fi
	if grep -q '^DTB-BASE64-BEGIN' "$1"; then
		verdict=$(check_dtb "$1")
		echo "$verdict"; echo "$verdict" >> "$1"
	fi
	if grep -q '^PNG-BASE64-BEGIN' "$1"; then
		verdict=$(check_png "$1")
		echo "$verdict"; echo "$verdict" >> "$1"
	fi
	# make test-gpu: kmscube's screenshot, checked in the lab, kept to look at.
	if grep -q '^GL-PNG-BASE64-BEGIN' "$1"; then
		sed -n '/^GL-PNG-BASE64-BEGIN/,/^GL-PNG-BASE64-END/p' "$1" | sed '1d;$d' |
			base64 -d > "$cache/lab-kmscube.png" 2>/dev/null &&
			echo "lab: kmscube's screenshot: $cache/lab-kmscube.png"
	fi
}

case "$mode" in
test)
	log=$cache/level1.log
	t0=$(date +%s)
	if native; then
		{ GPU_KERNEL=$gpu_kernel GPU_INITRD=$cache/guest-gpu.cpio.gz \
			"$cases" "$arkvm" "$kernel" "$cache/guest.cpio.gz" "$cache/guest-marker" 2>&1
		  echo "ARKVM-LAB-DONE"; } | tee "$log" | grep --line-buffered -E '^(PASS|FAIL|BENCH): ' || true
	else
		build_level1
		say "booting the emulated arm64 host; its console goes to $log"
		# Bounded, so a hung guest cannot hang CI; the verdicts show as they come.
		{ qemu_level1 test "${LAB_TIMEOUT:-2400}" -serial stdio < /dev/null 2>&1 || true; } |
			sed -u 's/\r$//' | tee "$log" | grep --line-buffered -E '^(PASS|FAIL|BENCH): ' || true
	fi
	check_output "$log"
	say "the cases ran $(( $(date +%s) - t0 )) s"
	if ! grep -q '^ARKVM-LAB-DONE' "$log"; then
		echo "FAIL: lab: level 1 did not finish the cases within ${LAB_TIMEOUT:-2400} s (see $log)"
		failed=true
	elif grep -q '^FAIL: ' "$log"; then
		failed=true
	else
		failed=false
	fi
	if $failed; then
		# The whole console, for a CI log that is all one gets.
		say "level 1 console:"; cat "$log" >&2
		exit 1
	fi
	;;
run)
	if native; then
		exec "$arkvm" run --kernel "$kernel" --initrd "$cache/guest.cpio.gz" "$@"
	fi
	build_level1 "$@"
	say "booting the emulated arm64 host, then the default guest (about 30 s; Ctrl-A x quits)"
	# No QEMU mux on stdio: Ctrl-A, Ctrl-C and the rest reach arkvm untouched.
	qemu_level1 run 0 -chardev stdio,id=c0,signal=off,mux=off -serial chardev:c0
	;;
esac
