#!/bin/sh
# The lab cases: each boots a guest with arkvm (or feeds it bad input) and
# asserts on what the guest itself reported, and on arkvm's exit status.
# Runs under busybox sh inside the emulated host, or on any arm64 KVM host.
#
# Environment: ARKVM (the binary), KERNEL (an arm64 Image), INITRD (the
# default guest from configs/guest), MARKER (a file holding the token that
# the initrd carries in /etc/arkvm-marker).
set -u
tmp=${TMPDIR:-/tmp}/arkvm-lab.$$
mkdir -p "$tmp"
marker=$(cat "$MARKER")
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}

pass() { echo "PASS: lab/$1"; }
fail() { echo "FAIL: lab/$1: $2"; }

# boot NAME [arkvm run args...]: boots the default guest, stdin from $tmp/NAME.in
# if present; leaves the console in $tmp/NAME.out and the status in $rc.
boot() {
	name=$1; shift
	[ -f "$tmp/$name.in" ] || : > "$tmp/$name.in"
	timeout "$BOOT_TIMEOUT" "$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" "$@" \
		< "$tmp/$name.in" > "$tmp/$name.out" 2> "$tmp/$name.err"
	rc=$?
	tr -d '\r' < "$tmp/$name.out" > "$tmp/$name.log"
}

show() {
	echo "---- $1: exit $rc, stderr:"; cat "$tmp/$1.err"
	echo "---- console (last 15 lines):"; tail -n 15 "$tmp/$1.log"; echo "----"
}

report_field() {
	sed -n "s/^ARKVM-REPORT.* $2=\([^ ]*\).*/\1/p" "$tmp/$1.log" | head -n 1
}

# check_report NAME CPUS MEM: boots to a shell, has it run arkvm-report
# (configs/guest), and checks what the guest saw.
check_report() {
	name=$1 cpus=$2 mem=$3; shift 3
	token="lab.token=$name-$$"
	printf 'arkvm-report\npoweroff -f\n' > "$tmp/$name.in"
	boot "$name" --cpus "$cpus" --memory "$mem" --cmdline "quiet arkvm.test=shell $token" "$@"
	seen_cpus=$(report_field "$name" cpus)
	seen_mem=$(report_field "$name" mem_kb)
	seen_initrd=$(report_field "$name" initrd)
	mem_kb=$(( ${mem%M} * 1024 ))
	if [ $rc -ne 0 ]; then
		fail "$name" "arkvm exited $rc"; show "$name"
	elif [ "$seen_cpus" != "$cpus" ]; then
		fail "$name" "guest saw '$seen_cpus' CPUs, expected $cpus"; show "$name"
	elif [ -z "$seen_mem" ] || [ "$seen_mem" -gt "$mem_kb" ] || [ "$seen_mem" -lt $((mem_kb * 3 / 4)) ]; then
		fail "$name" "guest saw MemTotal '$seen_mem' kB for --memory $mem"; show "$name"
	elif ! grep -q "^ARKVM-REPORT.*cmdline=.*$token" "$tmp/$name.log"; then
		fail "$name" "the guest's /proc/cmdline lacks $token"; show "$name"
	elif [ "$seen_initrd" != "$marker" ]; then
		fail "$name" "initrd marker '$seen_initrd', expected '$marker'"; show "$name"
	else
		pass "$name"
	fi
}

check_report report-1cpu-256M 1 256M
check_report report-2cpu-512M 2 512M
check_report report-4cpu-384M 4 384M

# Ubuntu ships gzip-compressed Images; arkvm inflates them with zlib.
gzip -1 -c "$KERNEL" > "$tmp/Image.gz"
KERNEL_PLAIN=$KERNEL
KERNEL=$tmp/Image.gz
check_report gzip-kernel 1 256M
KERNEL=$KERNEL_PLAIN
rm -f "$tmp/Image.gz"

# Serial input: the commands are in the pipe before the guest's shell exists.
printf 'echo arkvm-$((6*7))-ok\npoweroff -f\n' > "$tmp/serial-input.in"
boot serial-input --cmdline "quiet arkvm.test=shell"
if [ $rc -eq 0 ] && grep -q '^arkvm-42-ok' "$tmp/serial-input.log"; then
	pass serial-input
else
	fail serial-input "no answer from the guest shell (exit $rc)"; show serial-input
fi

# virtio-blk: four disks at once. vda gets a pattern the host then finds in
# the file; vdb carries a serial (GET_ID); vdc is read-only and must refuse a
# write; vdd is discarded and must give its blocks back to the host.
yes arkvm-lab-pattern | head -c 1048576 > "$tmp/pattern"
dd if=/dev/zero of="$tmp/vda.img" bs=1M count=8 2>/dev/null
dd if=/dev/zero of="$tmp/vdb.img" bs=1M count=4 2>/dev/null
dd if=/dev/zero of="$tmp/vdc.img" bs=1M count=4 2>/dev/null
yes discard-me | head -c 8388608 > "$tmp/vdd.img"
vdd_before=$(du -k "$tmp/vdd.img" | cut -f1)
cat > "$tmp/disks.in" <<'GUEST'
yes arkvm-lab-pattern | head -c 1048576 | dd of=/dev/vda bs=4096 seek=256 conv=fsync 2>/dev/null; echo "VDA-RC=$?"
echo "VDB-SERIAL=$(cat /sys/block/vdb/serial)"
echo "VDC-RO=$(cat /sys/block/vdc/ro)"
echo hello | dd of=/dev/vdc conv=fsync 2>/dev/null; echo "VDC-WRITE-RC=$?"
blkdiscard /dev/vdd; echo "VDD-DISCARD-RC=$?"
echo "VDA-SIZE=$(cat /sys/block/vda/size)"
echo "HWRNG=$(head -c 64 /dev/hwrng | od -An -tx1 | wc -w) $(cat /sys/class/misc/hw_random/rng_current)"
sync
poweroff -f
GUEST
boot disks --cmdline "quiet arkvm.test=shell" --disk "$tmp/vda.img" \
	--disk "$tmp/vdb.img,serial=lab-serial-2" --disk "$tmp/vdc.img,readonly" --disk "$tmp/vdd.img"
field() { sed -n "s/^$1=//p" "$tmp/disks.log" | head -n 1; }
if [ $rc -eq 0 ] && [ "$(field VDA-RC)" = 0 ] && [ "$(field VDA-SIZE)" = 16384 ] &&
    dd if="$tmp/vda.img" bs=4096 skip=256 count=256 2>/dev/null | cmp -s - "$tmp/pattern" &&
    [ "$(dd if="$tmp/vda.img" bs=4096 count=256 2>/dev/null | tr -d '\000' | wc -c)" -eq 0 ]; then
	pass disk-write-pattern
else
	fail disk-write-pattern "the host file does not hold the guest's pattern (exit $rc)"; show disks
fi
[ "$(field VDB-SERIAL)" = lab-serial-2 ] && pass disk-serial-get-id ||
	fail disk-serial-get-id "serial '$(field VDB-SERIAL)'"
if [ "$(field VDC-RO)" = 1 ] && [ "$(field VDC-WRITE-RC)" != 0 ] &&
    [ "$(tr -d '\000' < "$tmp/vdc.img" | wc -c)" -eq 0 ]; then
	pass disk-readonly-refuses-writes
else
	fail disk-readonly-refuses-writes "ro=$(field VDC-RO) write-rc=$(field VDC-WRITE-RC)"
fi
vdd_after=$(du -k "$tmp/vdd.img" | cut -f1)
if [ "$(field VDD-DISCARD-RC)" = 0 ] && [ "$vdd_after" -lt "$vdd_before" ]; then
	pass disk-discard-frees-blocks
else
	fail disk-discard-frees-blocks "rc=$(field VDD-DISCARD-RC), $vdd_before kB -> $vdd_after kB"
fi
case "$(field HWRNG)" in
"64 virtio_rng"*) pass hwrng-yields-bytes ;;
*) fail hwrng-yields-bytes "'$(field HWRNG)'" ;;
esac
rm -f "$tmp"/vd?.img

# Exit statuses: power-off is covered above; reset and panic give 2.
boot reset --cmdline "quiet arkvm.test=reset"
[ $rc -eq 2 ] && pass exit-status-reset || { fail exit-status-reset "exit $rc, expected 2"; show reset; }
boot panic --cmdline "quiet arkvm.test=panic panic=-1"
if [ $rc -eq 2 ] && grep -q 'Kernel panic' "$tmp/panic.log"; then
	pass exit-status-panic
else
	fail exit-status-panic "exit $rc, expected 2 after a panic"; show panic
fi

# SIGTERM stops a running guest cleanly: exit 128+15.

"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=idle" \
	< /dev/null > "$tmp/idle.out" 2> "$tmp/idle.err" &
pid=$!
waited=0
until grep -q ARKVM-IDLE "$tmp/idle.out" 2>/dev/null || [ $waited -ge "$BOOT_TIMEOUT" ]; do
	sleep 1; waited=$((waited + 1))
done
kill -TERM $pid
wait $pid
rc=$?
tr -d '\r' < "$tmp/idle.out" > "$tmp/idle.log"
if [ $rc -eq 143 ] && grep -q ARKVM-IDLE "$tmp/idle.log"; then
	pass sigterm-stops-cleanly
else
	fail sigterm-stops-cleanly "exit $rc, expected 143"; show idle
fi

# --dump-dtb writes the tree the guest would get; dtc must read it.
"$ARKVM" run --kernel "$KERNEL" --cpus 2 --cmdline "console=ttyS0" --dump-dtb "$tmp/guest.dtb" \
	> "$tmp/dtb.out" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ "$(od -An -tx1 -N4 "$tmp/guest.dtb" | tr -d ' ')" != d00dfeed ]; then
	fail dump-dtb "exit $rc, or no FDT magic"; cat "$tmp/dtb.out"
elif command -v dtc > /dev/null; then
	dtc -I dtb -O dts "$tmp/guest.dtb" > "$tmp/guest.dts" 2>/dev/null && grep -q 'cpu@1 {' "$tmp/guest.dts" &&
		pass dump-dtb-read-by-dtc || fail dump-dtb-read-by-dtc "dtc could not read it"
else
	pass dump-dtb
	# No dtc here: the lab driver checks the blob on its own host.
	echo DTB-BASE64-BEGIN; base64 "$tmp/guest.dtb"; echo DTB-BASE64-END
fi

# Bad input: exit status 1, exactly one line on stderr, nothing started.
bad() {
	name=$1; shift
	timeout 30 "$ARKVM" "$@" < /dev/null > "$tmp/bad.out" 2> "$tmp/bad.err"
	rc=$?
	lines=$(wc -l < "$tmp/bad.err")
	if [ $rc -eq 1 ] && [ "$lines" -eq 1 ]; then
		pass "bad-input-$name"
	else
		fail "bad-input-$name" "exit $rc with $lines stderr lines: $(head -c 300 "$tmp/bad.err")"
	fi
}
: > "$tmp/empty"
head -c 4000000 "$KERNEL" > "$tmp/truncated"
bad missing-kernel run --kernel /nonexistent/Image
bad directory-kernel run --kernel /
bad empty-kernel run --kernel "$tmp/empty"
bad not-arm64-kernel run --kernel "$ARKVM"
bad truncated-kernel run --kernel "$tmp/truncated"
bad missing-initrd run --kernel "$KERNEL" --initrd /nonexistent/initrd
bad too-big-for-memory run --kernel "$KERNEL" --initrd "$KERNEL" --memory 48M
bad cpus-zero run --kernel "$KERNEL" --cpus 0
bad cpus-too-many run --kernel "$KERNEL" --cpus 100000
bad memory-malformed run --kernel "$KERNEL" --memory 12X
bad memory-too-small run --kernel "$KERNEL" --memory 1M
bad memory-beyond-host run --kernel "$KERNEL" --memory 100000G
bad unknown-option run --kernel "$KERNEL" --bogus
bad duplicated-option run --kernel "$KERNEL" --kernel "$KERNEL"
bad no-command
bad missing-disk run --kernel "$KERNEL" --disk /nonexistent/disk.img
bad disk-twice run --kernel "$KERNEL" --disk "$tmp/empty" --disk "$tmp/empty"
bad disk-bad-option run --kernel "$KERNEL" --disk "$KERNEL,bogus"

# No /dev/kvm: arkvm says why instead of failing obscurely.
if [ -c /dev/kvm ] && mv /dev/kvm /dev/kvm.hidden 2>/dev/null; then
	bad no-dev-kvm run --kernel "$KERNEL"
	grep -q 'KVM not available' "$tmp/bad.err" || fail no-dev-kvm-message "$(cat "$tmp/bad.err")"
	mv /dev/kvm.hidden /dev/kvm
fi

rm -rf "$tmp"
