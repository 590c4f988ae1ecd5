#!/bin/sh
# The lab cases: each boots a guest with arkvm (or feeds it bad input) and
# asserts on what the guest itself reported and on arkvm's exit status.
# Prints one line per case: "PASS: lab/NAME" or "FAIL: lab/NAME: why".
# POSIX sh: runs under busybox sh inside the emulated host (tests/lab/lab.sh)
# and directly on any arm64 host with KVM.
#
#   cases.sh [ARKVM KERNEL INITRD MARKER]
#
# or the same four in the environment: ARKVM (the binary), KERNEL (an arm64
# Image), INITRD (the default guest, tests/lab/build-guest.sh), MARKER (the
# file holding the token that the initrd carries in /etc/arkvm-marker).
# BOOT_TIMEOUT bounds each boot (seconds). ARKVM_LAB_SCRATCH_HOST=1 says the
# host is disposable (the emulated one), which allows hiding /dev/kvm.
set -u
if [ $# -eq 4 ]; then
	ARKVM=$1 KERNEL=$2 INITRD=$3 MARKER=$4
elif [ $# -ne 0 ]; then
	echo "usage: cases.sh [ARKVM KERNEL INITRD MARKER]" >&2
	exit 1
fi
: "${ARKVM:?}" "${KERNEL:?}" "${INITRD:?}" "${MARKER:?}"
BOOT_TIMEOUT=${BOOT_TIMEOUT:-90}
tmp=${TMPDIR:-/tmp}/arkvm-lab.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
marker=$(cat "$MARKER")

pass() { echo "PASS: lab/$1"; }
fail() { echo "FAIL: lab/$1: $2"; }
info() { echo "lab: $*"; }

# boot NAME [arkvm run args...] < input: boots a guest with the kernel in
# $KERNEL and the default initrd. Leaves the console (CRs dropped) in
# $tmp/NAME.log, stderr in $tmp/NAME.err, and the exit status in $rc and in
# $tmp/NAME.rc (for callers that run it in a pipeline, hence a subshell).
boot() {
	name=$1; shift
	t0=$(date +%s)
	timeout "$BOOT_TIMEOUT" "$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" "$@" \
		> "$tmp/$name.out" 2> "$tmp/$name.err"
	rc=$?
	echo $rc > "$tmp/$name.rc"
	tr -d '\r' < "$tmp/$name.out" > "$tmp/$name.log"
	echo $(( $(date +%s) - t0 )) > "$tmp/$name.took"
	info "$name: exit $rc after $(cat "$tmp/$name.took") s"
}

# why RC: a phrase for an exit status that was not the expected one. (busybox
# timeout lets the SIGTERM'd program's own status through: tell by the time.)
why() {
	if [ "$(cat "$tmp/$name.took" 2>/dev/null || echo 0)" -ge "$BOOT_TIMEOUT" ]; then
		echo "timed out after $BOOT_TIMEOUT s (exit $1)"
	else
		echo "exit $1"
	fi
}

# show NAME: what a failing case saw, for the log.
show() {
	echo "---- $1: exit $(cat "$tmp/$1.rc" 2>/dev/null), stderr:"
	cat "$tmp/$1.err"
	echo "---- $1: console (last 20 lines):"
	tail -n 20 "$tmp/$1.log"
	echo "----"
}

report_field() {
	sed -n "s/^ARKVM-REPORT.* $2=\([^ ]*\).*/\1/p" "$tmp/$1.log" | head -n 1
}

# check_report NAME CPUS MEM [arkvm run args...]: boots the guest in report
# mode with a token of its own on the command line and checks what it saw.
# It prints "ARKVM-REPORT cpus= mem_kb= initrd= cmdline=" (configs/guest).
check_report() {
	name=$1 cpus=$2 mem=$3; shift 3
	token="lab.token=$name-$$"
	boot "$name" --cmdline "quiet arkvm.test=report $token" "$@" < /dev/null
	seen_cpus=$(report_field "$name" cpus)
	seen_mem=$(report_field "$name" mem_kb)
	seen_initrd=$(report_field "$name" initrd)
	info "$name: cpus=$seen_cpus mem_kb=$seen_mem"
	# MemTotal is RAM less what the kernel keeps for itself (its image, the
	# page structs, reservations): between RAM - RAM/8 - 40 MiB and RAM.
	mem_kb=$(( ${mem%M} * 1024 ))
	min_kb=$(( mem_kb - mem_kb / 8 - 40 * 1024 ))
	if [ $rc -ne 0 ]; then
		fail "$name" "$(why $rc), expected 0 after the report"; show "$name"
	elif ! grep -q '^ARKVM-REPORT' "$tmp/$name.log"; then
		fail "$name" "the guest printed no ARKVM-REPORT line"; show "$name"
	elif [ "$seen_cpus" != "$cpus" ]; then
		fail "$name" "guest saw '$seen_cpus' CPUs, expected $cpus"; show "$name"
	elif [ -z "$seen_mem" ] || [ "$seen_mem" -gt "$mem_kb" ] || [ "$seen_mem" -lt "$min_kb" ]; then
		fail "$name" "guest saw MemTotal '$seen_mem' kB, expected $min_kb..$mem_kb for $mem"
		show "$name"
	elif ! grep -q "^ARKVM-REPORT.* cmdline=.*$token" "$tmp/$name.log"; then
		fail "$name" "the guest's /proc/cmdline lacks $token"; show "$name"
	elif [ "$seen_initrd" != "$marker" ]; then
		fail "$name" "initrd marker '$seen_initrd', expected '$marker'"; show "$name"
	else
		pass "$name"
	fi
}

# --- guests that report what they see ------------------------------------

# The defaults: 1 vCPU and 256M.
check_report report-defaults-1cpu-256M 1 256M
check_report report-2cpu-512M 2 512M --cpus 2 --memory 512M

# Ubuntu-style gzip-compressed Image; arkvm inflates it. Four vCPUs too.
t0=$(date +%s)
gzip -1 -c "$KERNEL" > "$tmp/Image.gz"
info "gzip -1 of the kernel: $(( $(date +%s) - t0 )) s"
KERNEL_PLAIN=$KERNEL KERNEL=$tmp/Image.gz
check_report report-4cpu-384M-gzip-kernel 4 384M --cpus 4 --memory 384M
KERNEL=$KERNEL_PLAIN
rm -f "$tmp/Image.gz"

# Guest RAM faulted in up front, and on hugetlb pages that level 1 sets
# aside (only there: a real host's hugepages are not ours to take).
check_report report-prefault-128M 1 128M --memory 128M,prefault
if [ "${ARKVM_LAB_SCRATCH_HOST:-0}" = 1 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
	echo 72 > /proc/sys/vm/nr_hugepages
	check_report report-hugepages-prefault-128M 1 128M --memory 128M,hugepages,prefault
	echo 0 > /proc/sys/vm/nr_hugepages
fi

# --- boot timer and counters ---------------------------------------------------

# --boot-timer: the guest's init writes 123 to the boot timer, and arkvm
# prints the boot split once. --stats: counters when the VM stops; the
# guest reads 4 MiB from its disk with O_DIRECT in 64 KiB requests, so the
# disk must have used at least 64 buffers.
dd if=/dev/zero of="$tmp/stats.img" bs=1M count=4 2>/dev/null
printf '%s\n' 'dd if=/dev/vda of=/dev/null bs=65536 iflag=direct' 'poweroff -f' > "$tmp/stats.in"
boot boot-timer --boot-timer --stats --disk "$tmp/stats.img" \
	--cmdline "quiet arkvm.test=shell" < "$tmp/stats.in"
timer_re='^arkvm: boot-timer: start to first KVM_RUN [0-9.]* ms (CPU [0-9.]* ms), first KVM_RUN to init [0-9.]* ms, total [0-9.]* ms$'
if [ $rc -eq 0 ] && [ "$(grep -c "$timer_re" "$tmp/boot-timer.err")" -eq 1 ] &&
    ! grep -q boot-timer "$tmp/report-defaults-1cpu-256M.err"; then
	pass boot-timer-reports-once
else
	fail boot-timer-reports-once "$(why $rc); no boot-timer line, or one without --boot-timer"
	show boot-timer
fi
used=$(sed -n 's/^arkvm: stats: virtio-blk@a000000: \([0-9]*\) buffers used.*/\1/p' "$tmp/boot-timer.err")
if [ $rc -eq 0 ] && [ "${used:-0}" -ge 64 ] && grep -q '^arkvm: stats: vcpu0: [0-9]* exits' "$tmp/boot-timer.err"; then
	pass stats-count-disk-buffers
else
	fail stats-count-disk-buffers "$(why $rc); disk buffers used: ${used:-none}"
	show boot-timer
fi

# --- serial input ------------------------------------------------------------

# The commands are in the pipe, and the pipe at EOF, long before the guest's
# shell exists: arkvm must keep them until the UART can take them, and EOF
# must not stop the guest. $((6*7)) proves a shell ran it, not an echo.
printf 'echo arkvm-$((6*7))-ok\npoweroff -f\n' |
	boot serial-input --cmdline "quiet arkvm.test=shell"
name=serial-input rc=$(cat "$tmp/serial-input.rc")
if [ "$rc" -eq 0 ] && grep -q '^arkvm-42-ok' "$tmp/serial-input.log"; then
	pass serial-input
else
	fail serial-input "no arkvm-42-ok from the guest shell ($(why "$rc"))"; show serial-input
fi

# --- a guest's work from an added archive -----------------------------------------

# arkvm.test=run:PATH: the guest's init runs a script that an archive added
# to the initrd carries, reports its exit status and powers off (make bench
# gives kvmtool's guest its loads this way). The script exits 3 on purpose.
mkdir -p "$tmp/job/etc"
printf 'echo arkvm-job-$((6 * 7))\nexit 3\n' > "$tmp/job/etc/job"
(cd "$tmp/job" && find . | cpio -o -H newc 2> /dev/null) > "$tmp/job.cpio"
pad=$(( (4 - $(wc -c < "$INITRD") % 4) % 4 ))
{ cat "$INITRD"; head -c $pad /dev/zero; cat "$tmp/job.cpio"; } > "$tmp/job-initrd"
initrd=$INITRD INITRD=$tmp/job-initrd
boot run-script --cmdline "quiet arkvm.test=run:/etc/job" < /dev/null
INITRD=$initrd
if [ $rc -eq 0 ] && grep -q '^arkvm-job-42' "$tmp/run-script.log" &&
   grep -q '^ARKVM-RUN-EXIT 3' "$tmp/run-script.log"; then
	pass guest-runs-a-script-from-an-added-archive
else
	fail guest-runs-a-script-from-an-added-archive "$(why $rc), or no arkvm-job-42 and ARKVM-RUN-EXIT 3"
	show run-script
fi

# --- virtio-blk and virtio-rng -------------------------------------------------

# Four disks at once. vda gets a pattern the host then finds in the file;
# vdb carries a serial (GET_ID); vdc is read-only and must refuse a write;
# vdd is discarded and must give its blocks back to the host. The commands
# come from a regular file this time (stdin that epoll cannot watch).
# vdb also takes many requests in flight at once: four readers of its
# first 2 MiB (random, from the host) and four writers of its last 2 MiB,
# each on its own 512 KiB in 4 KiB O_DIRECT requests, all at the same time.
yes arkvm-lab-pattern | head -c 1048576 > "$tmp/pattern"
dd if=/dev/zero of="$tmp/vda.img" bs=1M count=8 2>/dev/null
head -c 2097152 /dev/urandom > "$tmp/vdb.img"
dd if=/dev/zero bs=1M count=2 2>/dev/null >> "$tmp/vdb.img"
dd if=/dev/zero of="$tmp/vdc.img" bs=1M count=4 2>/dev/null
yes discard-me | head -c 8388608 > "$tmp/vdd.img"
vdd_before=$(du -k "$tmp/vdd.img" | cut -f1)
cat > "$tmp/disks.in" <<'GUEST'
yes arkvm-lab-pattern | head -c 1048576 | dd of=/dev/vda bs=4096 seek=256 conv=fsync 2>/dev/null; echo "VDA-RC=$?"
echo "VDB-SERIAL=$(cat /sys/block/vdb/serial)"
for i in 0 1 2 3; do
	dd if=/dev/vdb iflag=direct bs=4096 skip=$((i * 128)) count=128 2>/dev/null | sha256sum > /tmp/r$i &
	yes "arkvm-writer-$i" | dd of=/dev/vdb oflag=direct iflag=fullblock bs=4096 seek=$((512 + i * 128)) count=128 2>/dev/null &
done; wait
for i in 0 1 2 3; do echo "VDB-READ-$i=$(cut -c1-64 /tmp/r$i)"; done
echo "VDC-RO=$(cat /sys/block/vdc/ro)"
echo hello | dd of=/dev/vdc conv=fsync 2>/dev/null; echo "VDC-WRITE-RC=$?"
blkdiscard /dev/vdd; echo "VDD-DISCARD-RC=$?"
echo "VDA-SIZE=$(cat /sys/block/vda/size)"
vda=$(basename "$(readlink /sys/block/vda/device)")
echo "$vda" > /sys/bus/virtio/drivers/virtio_blk/unbind && echo "$vda" > /sys/bus/virtio/drivers/virtio_blk/bind
echo "VDA-REBIND=$(dd if=/dev/vda bs=4096 skip=256 count=1 iflag=direct 2>/dev/null | head -c 17)"
echo "HWRNG=$(head -c 64 /dev/hwrng | od -An -tx1 | wc -w) $(cat /sys/class/misc/hw_random/rng_current)"
sync
poweroff -f
GUEST
boot disks --cmdline "quiet arkvm.test=shell" --disk "$tmp/vda.img" \
	--disk "$tmp/vdb.img,serial=lab-serial-2" --disk "$tmp/vdc.img,readonly" \
	--disk "$tmp/vdd.img" < "$tmp/disks.in"
field() { sed -n "s/^$1=//p" "$tmp/disks.log" | head -n 1; }
if [ $rc -eq 0 ] && [ "$(field VDA-RC)" = 0 ] && [ "$(field VDA-SIZE)" = 16384 ] &&
    dd if="$tmp/vda.img" bs=4096 skip=256 count=256 2>/dev/null | cmp -s - "$tmp/pattern" &&
    [ "$(dd if="$tmp/vda.img" bs=4096 count=256 2>/dev/null | tr -d '\000' | wc -c)" -eq 0 ]; then
	pass disk-write-pattern
else
	fail disk-write-pattern "the host file does not hold the guest's pattern ($(why $rc))"
	show disks
fi
[ "$(field VDB-SERIAL)" = lab-serial-2 ] && pass disk-serial-get-id ||
	fail disk-serial-get-id "serial '$(field VDB-SERIAL)'"
bad_parts=
for i in 0 1 2 3; do
	want=$(dd if="$tmp/vdb.img" bs=4096 skip=$((i * 128)) count=128 2>/dev/null | sha256sum | cut -c1-64)
	[ "$(field "VDB-READ-$i")" = "$want" ] || bad_parts="$bad_parts read$i"
	want=$(yes "arkvm-writer-$i" | head -c 524288 | sha256sum | cut -c1-64)
	got=$(dd if="$tmp/vdb.img" bs=4096 skip=$((512 + i * 128)) count=128 2>/dev/null | sha256sum | cut -c1-64)
	[ "$got" = "$want" ] || bad_parts="$bad_parts write$i"
done
if [ $rc -eq 0 ] && [ -z "$bad_parts" ]; then
	pass disk-parallel-requests-land-in-place
else
	fail disk-parallel-requests-land-in-place "wrong:$bad_parts ($(why $rc))"
fi
if [ "$(field VDC-RO)" = 1 ] && [ "$(field VDC-WRITE-RC)" != 0 ] &&
    [ "$(tr -d '\000' < "$tmp/vdc.img" | wc -c)" -eq 0 ]; then
	pass disk-readonly-refuses-writes
else
	fail disk-readonly-refuses-writes "ro=$(field VDC-RO) write-rc=$(field VDC-WRITE-RC)"
fi
# The driver let go of vda and took it again: a reset and a fresh start.
[ "$(field VDA-REBIND)" = arkvm-lab-pattern ] && pass disk-reset-and-rebind ||
	fail disk-reset-and-rebind "read after rebind: '$(field VDA-REBIND)'"
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

# --- rate limiter ----------------------------------------------------------------

# --disk ...,bw=4M holds an O_DIRECT read to 4 MiB/s. The bucket starts full
# (4 MiB), so the guest first drains it, then times the next 16 MiB with its
# own clock (about 4 s) and prints the rate; ±15% is asked.
dd if=/dev/zero of="$tmp/rl.img" bs=1M count=20 2>/dev/null
cat > "$tmp/rl.in" <<'GUEST'
dd if=/dev/vda of=/dev/null bs=1M count=4 iflag=direct 2>/dev/null
t0=$(cut -d' ' -f1 /proc/uptime)
dd if=/dev/vda of=/dev/null bs=1M skip=4 count=16 iflag=direct 2>/dev/null; echo "RL-DD-RC=$?"
t1=$(cut -d' ' -f1 /proc/uptime)
echo "RL-KIBPS=$(awk "BEGIN { printf \"%d\", 16 * 1024 / ($t1 - $t0) }")"
poweroff -f
GUEST
boot disk-rate-limit --cmdline "quiet arkvm.test=shell" --disk "$tmp/rl.img,bw=4M" < "$tmp/rl.in"
rl_kibps=$(sed -n 's/^RL-KIBPS=//p' "$tmp/disk-rate-limit.log" | head -n 1)
if [ $rc -eq 0 ] && [ "$(sed -n 's/^RL-DD-RC=//p' "$tmp/disk-rate-limit.log")" = 0 ] &&
    [ "${rl_kibps:-0}" -ge 3481 ] && [ "${rl_kibps:-0}" -le 4710 ]; then
	pass disk-rate-limit-4mibps
else
	fail disk-rate-limit-4mibps "$(why $rc); guest measured ${rl_kibps:-nothing} KiB/s, want 4096 ±15%"
	show disk-rate-limit
fi
rm -f "$tmp/rl.img"

# --- virtio-net ----------------------------------------------------------------

# The host side of the guest's NIC: tests/lab/net.sh.
. "$(dirname "$0")/net.sh"
net_tap=arkvmlab0

# The guest configures eth0, pings the host, then $MIB MiB (the first line
# it is fed) crosses each way over TCP (busybox nc) and both ends compare
# sha256 sums. An nc whose stdin is a FIFO it holds open itself never sees
# end-of-file there, so it stays until the peer closes. Then the driver lets
# the NIC go and takes it again (a device reset and a new bring-up), and
# pings once more.
cat > "$tmp/net.in" <<'GUEST'
ip link set eth0 up; ip addr add 10.77.0.2/24 dev eth0
echo "NET-MAC=$(cat /sys/class/net/eth0/address)"
ping -c 3 -W 5 10.77.0.1 > /dev/null; echo "NET-PING-RC=$?"
dd if=/dev/urandom of=/up bs=1M count=$MIB 2> /dev/null
echo "NET-UP-SHA=$(sha256sum /up | cut -d' ' -f1)"
t0=$(cut -d' ' -f1 /proc/uptime)
nc 10.77.0.1 7001 < /up; echo "NET-UP-RC=$?"; rm /up
echo "NET-UP-TOOK=$(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $t0 }")"
mkfifo /hold
t0=$(cut -d' ' -f1 /proc/uptime)
nc 10.77.0.1 7002 > /down 0<> /hold; echo "NET-DOWN-RC=$?"
echo "NET-DOWN-TOOK=$(awk "BEGIN { print $(cut -d' ' -f1 /proc/uptime) - $t0 }")"
echo "NET-DOWN-SHA=$(sha256sum /down | cut -d' ' -f1)"
dev=$(basename "$(readlink /sys/class/net/eth0/device)")
echo "$dev" > /sys/bus/virtio/drivers/virtio_net/unbind
echo "$dev" > /sys/bus/virtio/drivers/virtio_net/bind
ip link set eth0 up; ip addr add 10.77.0.2/24 dev eth0
ping -c 3 -W 5 10.77.0.1 > /dev/null; echo "NET-REBOUND-PING-RC=$?"
poweroff -f
GUEST

# net_case SUFFIX [--net options]: the guest above on the tap, 32 MiB each
# way; the cases' names end in SUFFIX.
net_case() {
	sfx=$1 opts=${2:-} bytes=33554432
	head -c $bytes /dev/urandom > "$tmp/down"
	{ echo "MIB=$((bytes / 1048576))"; cat "$tmp/net.in"; } > "$tmp/net$sfx.feed"
	down_sha=$(sha256sum "$tmp/down" | cut -d' ' -f1)
	mkfifo "$tmp/hold"
	timeout 300 nc -l -p 7001 > "$tmp/up" 0<> "$tmp/hold" &
	up_pid=$!
	timeout 300 nc -l -p 7002 < "$tmp/down" &
	down_pid=$!
	saved_timeout=$BOOT_TIMEOUT BOOT_TIMEOUT=300
	boot "net$sfx" --memory 512M --cmdline "quiet arkvm.test=shell" --stats \
		--net "tap=$net_tap,mac=02:00:00:77:00:02$opts" < "$tmp/net$sfx.feed"
	BOOT_TIMEOUT=$saved_timeout
	kill $up_pid $down_pid 2> /dev/null
	wait $up_pid $down_pid 2> /dev/null
	nfield() { sed -n "s/^NET-$1=//p" "$tmp/net$sfx.log" | head -n 1; }
	if [ $rc -eq 0 ] && [ "$(nfield MAC)" = 02:00:00:77:00:02 ] && [ "$(nfield PING-RC)" = 0 ]; then
		pass "net-ping$sfx"
	else
		fail "net-ping$sfx" "mac '$(nfield MAC)', ping rc '$(nfield PING-RC)' ($(why $rc))"
		show "net$sfx"
	fi
	info "net$sfx: 32 MiB guest->host in $(nfield UP-TOOK) s, host->guest in $(nfield DOWN-TOOK) s"
	up_sha=$(sha256sum "$tmp/up" | cut -d' ' -f1)
	if [ "$(nfield UP-RC)" = 0 ] && [ "$(nfield UP-SHA)" = "$up_sha" ] &&
	    [ "$(wc -c < "$tmp/up")" -eq $bytes ]; then
		pass "net-32MiB-guest-to-host$sfx"
	else
		fail "net-32MiB-guest-to-host$sfx" "rc '$(nfield UP-RC)', $(wc -c < "$tmp/up") bytes, sha $(nfield UP-SHA) vs $up_sha"
	fi
	if [ "$(nfield DOWN-RC)" = 0 ] && [ "$(nfield DOWN-SHA)" = "$down_sha" ]; then
		pass "net-32MiB-host-to-guest$sfx"
	else
		fail "net-32MiB-host-to-guest$sfx" "rc '$(nfield DOWN-RC)', sha $(nfield DOWN-SHA) vs $down_sha"
	fi
	if [ "$(nfield REBOUND-PING-RC)" = 0 ]; then
		pass "net-reset-and-bring-up-again$sfx"
	else
		fail "net-reset-and-bring-up-again$sfx" "ping rc '$(nfield REBOUND-PING-RC)'"
		show "net$sfx"
	fi
	rm -f "$tmp/up" "$tmp/down" "$tmp/hold"
}

if net_host_up "$net_tap" 10.77.0.1/24 2> "$tmp/net-setup.err"; then
	net_case ""
	# --stats counts packets each way: 32 MiB is at least 512 of 64 KiB.
	pkts=$(sed -n "s/^arkvm: stats: virtio-net $net_tap: \([0-9]*\) packets received, \([0-9]*\) sent.*/\1 \2/p" "$tmp/net.err")
	if [ "${pkts%% *}" -ge 512 ] 2> /dev/null && [ "${pkts##* }" -ge 512 ]; then
		pass "stats-count-packets ($pkts)"
	else
		fail stats-count-packets "received and sent: '$pkts'; $(grep 'stats: virtio-net' "$tmp/net.err")"
	fi
	# The same with the host kernel's vhost-net moving the packets: arkvm
	# sees none of them, says so, and counts them from the tap's counters.
	net_case -vhost ,vhost
	pkts=$(sed -n "s/^arkvm: stats: virtio-net $net_tap: packets moved by vhost-net in the kernel: \([0-9]*\) received, \([0-9]*\) sent (the tap's counters); per packet: [0-9.]* register accesses$/\1 \2/p" \
		"$tmp/net-vhost.err")
	if [ "${pkts%% *}" -ge 512 ] 2> /dev/null && [ "${pkts##* }" -ge 512 ]; then
		pass "net-vhost-moves-the-packets-and-the-tap-counts-them ($pkts)"
	else
		fail net-vhost-moves-the-packets-and-the-tap-counts-them \
			"received and sent: '$pkts'; $(grep 'stats: virtio-net' "$tmp/net-vhost.err")"
	fi
	net_host_down "$net_tap"
else
	fail net-ping "cannot make the tap on this host: $(head -n 1 "$tmp/net-setup.err")"
fi

# --- load: four guests at once --------------------------------------------------

# Each guest has its own disk and its own tap and subnet. It writes a
# pattern of its own to its disk and syncs, reads it back, and sends 2 MiB
# to the host over TCP. Afterwards each disk must hold exactly its guest's
# pattern, and each transfer must match the sum its guest printed. (Sizes
# are small: what is tested is that four guests keep to their own devices;
# throughput is the network case's and make bench's.)
load_guests="1 2 3 4"
load_ok=true
load_listeners=
[ -p "$tmp/hold" ] || mkfifo "$tmp/hold"
for i in $load_guests; do
	if ! net_host_up "arkvmload$i" "10.78.$i.1/24" 2> "$tmp/load-setup.err"; then
		load_ok=false
		break
	fi
	dd if=/dev/zero of="$tmp/load$i.img" bs=1M count=16 2>/dev/null
	cat > "$tmp/load$i.in" <<GUEST
ip link set eth0 up; ip addr add 10.78.$i.2/24 dev eth0
yes arkvm-load-$i | head -c 4194304 | dd of=/dev/vda bs=65536 conv=fsync 2> /dev/null
echo 3 > /proc/sys/vm/drop_caches
echo "LOAD-DISK-SHA=\$(head -c 4194304 /dev/vda | sha256sum | cut -d' ' -f1)"
dd if=/dev/urandom of=/up bs=1M count=2 2> /dev/null
echo "LOAD-NET-SHA=\$(sha256sum /up | cut -d' ' -f1)"
nc 10.78.$i.1 $((7100 + i)) < /up; echo "LOAD-NET-RC=\$?"
poweroff -f
GUEST
	timeout 600 nc -l -p $((7100 + i)) > "$tmp/load$i.recv" 0<> "$tmp/hold" &
	load_listeners="$load_listeners $!"
done
if $load_ok; then
	saved_timeout=$BOOT_TIMEOUT BOOT_TIMEOUT=600
	for i in $load_guests; do
		boot "load$i" --memory 256M --cmdline "quiet arkvm.test=shell" --disk "$tmp/load$i.img" \
			--net "tap=arkvmload$i" < "$tmp/load$i.in" &
	done
	wait_boots() { for i in $load_guests; do while [ ! -f "$tmp/load$i.rc" ]; do sleep 1; done; done; }
	wait_boots
	BOOT_TIMEOUT=$saved_timeout
	for i in $load_guests; do
		lfield() { sed -n "s/^LOAD-$1=//p" "$tmp/load$i.log" | head -n 1; }
		want_disk=$(yes "arkvm-load-$i" | head -c 4194304 | sha256sum | cut -d' ' -f1)
		got_disk=$(head -c 4194304 "$tmp/load$i.img" | sha256sum | cut -d' ' -f1)
		got_net=$(sha256sum "$tmp/load$i.recv" | cut -d' ' -f1)
		if [ "$(cat "$tmp/load$i.rc")" = 0 ] && [ "$got_disk" = "$want_disk" ] &&
		    [ "$(lfield DISK-SHA)" = "$want_disk" ] && [ "$(lfield NET-SHA)" = "$got_net" ] &&
		    [ "$(lfield NET-RC)" = 0 ]; then
			pass "load-four-guests-guest$i"
		else
			fail "load-four-guests-guest$i" "exit $(cat "$tmp/load$i.rc"), disk ok: $([ "$got_disk" = "$want_disk" ] && echo yes || echo no), guest read back: $(lfield DISK-SHA | cut -c1-8), net $(lfield NET-SHA | cut -c1-8) vs $(echo "$got_net" | cut -c1-8)"
			show "load$i"
		fi
	done
else
	fail load-four-guests "cannot make the taps: $(head -n 1 "$tmp/load-setup.err")"
fi
kill $load_listeners 2> /dev/null
for i in $load_guests; do
	net_host_down "arkvmload$i"
	rm -f "$tmp/load$i.img" "$tmp/load$i.recv"
done

# --- virtio-console ------------------------------------------------------------

# feed_when_ready NAME INPUT: prints INPUT once guest NAME's console shows
# that its shell runs, as a person would type only after seeing a prompt.
# (Linux's hvc driver leaves input that arrives before hvc0 is opened in the
# port until more input comes; the UART needs no such care, arkvm only
# offers it input once the guest enables its receive interrupt.)
feed_when_ready() {
	i=0
	while [ $i -lt "$BOOT_TIMEOUT" ] && ! grep -q ARKVM-SHELL-READY "$tmp/$1.out" 2> /dev/null; do
		sleep 1; i=$((i + 1))
	done
	cat "$2"
}

# --console virtio: the shell runs on hvc0, fed from stdin through the
# virtio console (the UART gets no input at all), and its answers come back.
printf '%s\n' 'echo "CONSOLE=$(cat /sys/class/tty/console/active) arkvm-$((6 * 7))-hvc"' \
	'poweroff -f' > "$tmp/hvc.in"
rm -f "$tmp/hvc.out"
feed_when_ready hvc "$tmp/hvc.in" | boot hvc --console virtio --cmdline "quiet arkvm.test=shell"
rc=$(cat "$tmp/hvc.rc")
if [ $rc -eq 0 ] && grep -q '^CONSOLE=.*hvc0.* arkvm-42-hvc' "$tmp/hvc.log"; then
	pass console-virtio-shell-on-hvc0
else
	fail console-virtio-shell-on-hvc0 "no answer from a shell on hvc0 ($(why $rc))"; show hvc
fi

# --- exit statuses -----------------------------------------------------------

# Power-off (0) is what every case above ends with; reset and panic give 2.
boot reset --cmdline "quiet arkvm.test=reset" < /dev/null
if [ $rc -eq 2 ]; then
	pass exit-status-reset
else
	fail exit-status-reset "$(why $rc), expected 2 after reboot -f"; show reset
fi
boot panic --cmdline "quiet arkvm.test=panic panic=-1" < /dev/null
if [ $rc -eq 2 ] && grep -q 'Kernel panic' "$tmp/panic.log"; then
	pass exit-status-panic
else
	fail exit-status-panic "$(why $rc), expected 2 after a panic with panic=-1"; show panic
fi

# --- seccomp -------------------------------------------------------------------

# make test builds arkvm with TEST_HOOKS=1: ARKVM_TEST_SECCOMP=KIND makes
# that thread call socket(2) (198 on arm64) once its filter is loaded. arkvm
# must stop at once with 128+SIGSYS and name the thread and the syscall.
for kind in main io vcpu; do
	export ARKVM_TEST_SECCOMP=$kind
	boot seccomp-$kind --cmdline "quiet arkvm.test=report" < /dev/null
	unset ARKVM_TEST_SECCOMP
	if [ $rc -eq 159 ] && grep -q "seccomp: the $kind thread made syscall 198," "$tmp/seccomp-$kind.err" &&
	    ! grep -q '^ARKVM-REPORT ' "$tmp/seccomp-$kind.log"; then
		pass seccomp-blocks-socket-in-$kind-thread
	else
		fail seccomp-blocks-socket-in-$kind-thread "$(why $rc), expected 159 and a seccomp line"
		show seccomp-$kind
	fi
done
# --no-seccomp: the same call goes through and the guest runs to the end.
export ARKVM_TEST_SECCOMP=vcpu
boot seccomp-off --no-seccomp --cmdline "quiet arkvm.test=report" < /dev/null
unset ARKVM_TEST_SECCOMP
if [ $rc -eq 0 ] && grep -q 'socket() in the vcpu thread was not blocked' "$tmp/seccomp-off.err" &&
    grep -q '^ARKVM-REPORT ' "$tmp/seccomp-off.log"; then
	pass seccomp-off-with-no-seccomp
else
	fail seccomp-off-with-no-seccomp "$(why $rc), expected 0 and the hook's warning"; show seccomp-off
fi

# run_until NAME MARKER SIGNAL [arkvm run args...] < input: boots a guest
# in the background, sends SIGNAL as soon as MARKER shows on its console,
# and waits for arkvm (killing it 20 s later if it ignores the signal).
# Leaves the exit status in $rc and the console in $tmp/NAME.log. The
# command in $at_marker, if any, runs just before the signal.
# (A background command's stdin would be /dev/null: it gets the caller's
# stdin through fd 3.)
run_until() {
	name=$1 marker=$2 sig=$3; shift 3
	t0=$(date +%s)
	exec 3<&0
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" "$@" \
		<&3 > "$tmp/$name.out" 2> "$tmp/$name.err" &
	exec 3<&-
	pid=$!
	tries=0
	until grep -q "$marker" "$tmp/$name.out" 2>/dev/null || [ $tries -ge $((BOOT_TIMEOUT * 5)) ]; do
		sleep 0.2; tries=$((tries + 1))
	done
	eval "${at_marker:-}"
	kill -"$sig" $pid
	( sleep 20; kill -KILL $pid 2>/dev/null ) &
	killer=$!
	wait $pid
	rc=$?
	kill $killer 2>/dev/null
	echo $rc > "$tmp/$name.rc"
	tr -d '\r' < "$tmp/$name.out" > "$tmp/$name.log"
	info "$name: exit $rc after $(( $(date +%s) - t0 )) s (SIG$sig sent after $((tries / 5)) s)"
}

# stop_by SIGNAL STATUS: a running guest stopped by a signal exits 128+N,
# after an orderly stop: --stats prints only then (a process the signal
# itself killed would give the shell the same status).
stop_by() {
	name=sig$(echo "$1" | tr 'A-Z' 'a-z')
	run_until "$name" ARKVM-IDLE "$1" --stats --cmdline "quiet arkvm.test=idle" < /dev/null
	if [ $rc -eq "$2" ] && grep -q ARKVM-IDLE "$tmp/$name.log" &&
	    grep -q '^arkvm: stats: vcpu0: ' "$tmp/$name.err"; then
		pass "$name-stops-cleanly"
	else
		fail "$name-stops-cleanly" "exit $rc, expected $2, and --stats printed"; show "$name"
	fi
}
stop_by TERM 143
stop_by INT 130

# --- pause and resume ------------------------------------------------------------

# A paused VM does nothing: its console stays silent and its disk gets no
# write, then it goes on where it was. The guest prints a tick and writes
# it to vda (O_DIRECT, so each one is a request arkvm completes) five times
# a second, and pings the host through a NIC served by vhost-net (whose
# rings the kernel lets go of for the pause) where level 1 has one.
# SIGUSR2 (TEST_HOOKS=1 builds) pauses and resumes it.
wait_for() { # FILE PATTERN SECONDS
	n=0
	until grep -q "$2" "$1" 2>/dev/null || [ $n -ge $(($3 * 5)) ]; do sleep 0.2; n=$((n + 1)); done
	grep -q "$2" "$1" 2>/dev/null
}
pause_case() {
	dd if=/dev/zero of="$tmp/pause.img" bs=1M count=1 2>/dev/null
	nic= tap=arkvmpause0
	if [ -c /dev/vhost-net ] && net_host_up $tap 10.78.0.1/24 2> /dev/null; then
		nic="--net tap=$tap,vhost"
		echo 'ip link set eth0 up; ip addr add 10.78.0.2/24 dev eth0' > "$tmp/pause.in"
	else
		info "pause: no tap or no /dev/vhost-net here: the paused VM has no NIC"
		: > "$tmp/pause.in"
	fi
	printf '%s\n' 'i=0; while true; do i=$((i+1)); echo "TICK $i"; echo "tick $i" |' \
		'dd of=/dev/vda bs=512 conv=sync oflag=direct 2>/dev/null;' \
		'[ -e /sys/class/net/eth0 ] && ping -c 1 -W 1 10.78.0.1 > /dev/null && echo "PONG $i";' \
		'sleep 0.2; done' >> "$tmp/pause.in"
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--disk "$tmp/pause.img" $nic < "$tmp/pause.in" > "$tmp/pause.out" 2> "$tmp/pause.err" &
	pid=$!
	why_not=
	if ! wait_for "$tmp/pause.out" 'TICK 5' "$BOOT_TIMEOUT"; then
		why_not="the guest never ticked"
	else
		kill -USR2 $pid
		wait_for "$tmp/pause.err" 'arkvm: paused' 20 || why_not="no 'paused' from arkvm"
		# The devices' state, saved while paused (TEST_HOOKS): the UART, the
		# disk and virtio-rng at least.
		wait_for "$tmp/pause.err" 'bytes of state saved from [3-9] devices' 5 ||
			why_not="$why_not; no device state saved while paused"
	fi
	if [ -z "$why_not" ]; then
		sleep 1  # output the guest wrote before the pause may still be on its way
		out1=$(wc -c < "$tmp/pause.out") disk1=$(head -c 64 "$tmp/pause.img" | tr -d '\0')
		sleep 3
		out2=$(wc -c < "$tmp/pause.out") disk2=$(head -c 64 "$tmp/pause.img" | tr -d '\0')
		info "pause: console $out1 -> $out2 bytes, disk '$disk1' -> '$disk2' while paused"
		[ "$out1" = "$out2" ] || why_not="the console went on while paused ($out1 -> $out2 bytes)"
		[ "$disk1" = "$disk2" ] || why_not="$why_not; the disk was written while paused"
		kill -USR2 $pid
		wait_for "$tmp/pause.err" 'arkvm: resumed' 20 || why_not="$why_not; no 'resumed'"
		last=$(sed -n 's/^TICK \([0-9]*\).*/\1/p' "$tmp/pause.out" | tail -n 1)
		wait_for "$tmp/pause.out" "TICK $((last + 3))" 20 ||
			why_not="$why_not; the guest did not go on after resume (last tick $last)"
		disk3=$(head -c 64 "$tmp/pause.img" | tr -d '\0')
		[ "$disk3" != "$disk2" ] || why_not="$why_not; no disk write after resume"
		if [ -n "$nic" ]; then
			pongs=$(grep -c '^PONG' "$tmp/pause.out") n=0
			until [ "$(grep -c '^PONG' "$tmp/pause.out")" -gt "$pongs" ] || [ $n -ge 100 ]; do
				sleep 0.2; n=$((n + 1))
			done
			[ $n -lt 100 ] || why_not="$why_not; the vhost-net NIC did not answer after resume"
		fi
	fi
	kill -TERM $pid; wait $pid; rc=$?
	[ -n "$nic" ] && net_host_down $tap
	tr -d '\r' < "$tmp/pause.out" > "$tmp/pause.log"
	echo $rc > "$tmp/pause.rc"
	if [ -z "$why_not" ] && [ $rc -eq 143 ]; then
		pass pause-stops-console-and-disk-then-resumes
	else
		fail pause-stops-console-and-disk-then-resumes "${why_not:-exit $rc, expected 143}"
		show pause
	fi
}
pause_case

# --- Firecracker's API ----------------------------------------------------------

# The getting-started sequence of Firecracker's docs, spoken over the socket
# with a plain HTTP client (tests/lab/api-call.c): the guest must see what
# the API set, every refusal gets its 400 and fault message, pause stops the
# guest's clock-driven output and resume restarts it, FlushMetrics writes a
# JSON line.
API_CALL=$(dirname "$0")/api-call
# api NAME EXPECTED_STATUS METHOD PATH [BODY]: one call, checked.
api() {
	aname=$1 want=$2; shift 2
	got=$("$API_CALL" "$tmp/api.sock" "$@" 2>&1)
	code=$(echo "$got" | head -n 1)
	echo "$* -> $got" >> "$tmp/api.calls"
	if [ "$code" != "$want" ]; then
		api_why="$api_why; $aname: got '$got', want $want"
	elif [ "$want" = 400 ] && ! echo "$got" | grep -q '"fault_message"'; then
		api_why="$api_why; $aname: a 400 without fault_message"
	fi
}
api_case() {
	api_why=
	: > "$tmp/api.calls"
	# Two images that say which they are: PATCH /drives swaps one for the other.
	for w in first second; do
		{ echo "DISK-$w"; head -c 4194304 /dev/zero; } | head -c 4194304 > "$tmp/api-$w.img"
	done
	: > "$tmp/metrics.json"
	printf '%s\n' '[ -b /dev/vda ] && echo "API-VDA=yes"' \
		'echo "API-CPUS=$(grep -c ^processor /proc/cpuinfo)"' \
		'echo "API-MEM=$(awk "/^MemTotal:/ {print \$2}" /proc/meminfo)"' \
		'i=0; while true; do i=$((i+1)); echo "TICK $i"; dd if=/dev/vda bs=512 count=1 iflag=direct 2>/dev/null | head -n 1; sleep 0.2; done' > "$tmp/api.in"
	"$ARKVM" --api-sock "$tmp/api.sock" --id lab-api-1 < "$tmp/api.in" \
		> "$tmp/api.out" 2> "$tmp/api.err" &
	pid=$!
	n=0; until [ -S "$tmp/api.sock" ] || [ $n -ge 50 ]; do sleep 0.1; n=$((n + 1)); done
	[ -S "$tmp/api.sock" ] || api_why="no API socket"
	mode=$(stat -c %a "$tmp/api.sock" 2>/dev/null)
	[ "$mode" = 600 ] || api_why="$api_why; socket mode $mode, not 600"
	api get-instance 200 GET /
	grep -q '"state":"Not started"' "$tmp/api.calls" || api_why="$api_why; not 'Not started'"
	# Every refusal before the start.
	api bad-json 400 PUT /machine-config '{"vcpu_count": 2,'
	api wrong-type 400 PUT /machine-config '{"vcpu_count": "2", "mem_size_mib": 192}'
	api unknown-field 400 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 192, "cpus": 2}'
	api id-mismatch 400 PUT /drives/rootfs "{\"drive_id\": \"other\", \"path_on_host\": \"$tmp/api-first.img\", \"is_root_device\": false}"
	api unknown-path 400 GET /snapshots
	api unknown-method 400 DELETE /machine-config
	api pause-before-start 400 PATCH /vm '{"state": "Paused"}'
	api missing-kernel 400 PUT /boot-source '{"kernel_image_path": "/nonexistent/Image"}'
	api missing-drive 400 PUT /drives/data '{"drive_id": "data", "path_on_host": "/nonexistent/d.img", "is_root_device": false}'
	api missing-tap 400 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "arkvmnotap0"}'
	api ctrl-alt-del 400 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	api start-unconfigured 400 PUT /actions '{"action_type": "InstanceStart"}'
	# The configuration.
	api metrics 204 PUT /metrics "{\"metrics_path\": \"$tmp/metrics.json\"}"
	api boot-source 204 PUT /boot-source "{\"kernel_image_path\": \"$KERNEL\", \"initrd_path\": \"$INITRD\", \"boot_args\": \"quiet arkvm.test=shell\"}"
	api drive 204 PUT /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$tmp/api-first.img\", \"is_root_device\": false, \"is_read_only\": true}"
	api machine-config 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 192}'
	api get-machine-config 200 GET /machine-config
	api start 204 PUT /actions '{"action_type": "InstanceStart"}'
	wait_for "$tmp/api.out" 'TICK 5' "$BOOT_TIMEOUT" || api_why="$api_why; the guest never ticked"
	api second-start 400 PUT /actions '{"action_type": "InstanceStart"}'
	api config-after-start 400 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 128}'
	api vm-config 200 GET /vm/config
	grep -q '"drive_id":"data"' "$tmp/api.calls" || api_why="$api_why; GET /vm/config has no drive"
	cpus=$(sed -n 's/^API-CPUS=//p' "$tmp/api.out" | tr -d '\r') mem=$(sed -n 's/^API-MEM=//p' "$tmp/api.out" | tr -d '\r')
	[ "$cpus" = 2 ] || api_why="$api_why; the guest saw '$cpus' CPUs, not 2"
	[ "${mem:-0}" -le $((192 * 1024)) ] && [ "${mem:-0}" -ge $((192 * 1024 - 192 * 128 - 40 * 1024)) ] ||
		api_why="$api_why; the guest saw MemTotal '$mem' kB for 192 MiB"
	grep -q '^API-VDA=yes' "$tmp/api.out" || api_why="$api_why; the guest has no /dev/vda"
	# Pause: the guest's clock-driven output stops; resume: it goes on.
	api pause 204 PATCH /vm '{"state": "Paused"}'
	api get-paused 200 GET /
	grep -q '"state":"Paused"' "$tmp/api.calls" || api_why="$api_why; GET / did not say Paused"
	sleep 1
	out1=$(wc -c < "$tmp/api.out"); sleep 2; out2=$(wc -c < "$tmp/api.out")
	[ "$out1" = "$out2" ] || api_why="$api_why; the console went on while paused ($out1 -> $out2)"
	api resume 204 PATCH /vm '{"state": "Resumed"}'
	last=$(sed -n 's/^TICK \([0-9]*\).*/\1/p' "$tmp/api.out" | tail -n 1)
	wait_for "$tmp/api.out" "TICK $((last + 3))" 20 || api_why="$api_why; no ticks after resume"
	# After start: the drive's file is swapped, and a rate limiter set, by PATCH.
	grep -q '^DISK-first' "$tmp/api.out" || api_why="$api_why; the guest did not read the first image"
	api patch-drive 204 PATCH /drives/data "{\"drive_id\": \"data\", \"path_on_host\": \"$tmp/api-second.img\", \"rate_limiter\": {\"ops\": {\"size\": 100, \"refill_time\": 100}}}"
	api patch-missing 400 PATCH /drives/data '{"drive_id": "data", "path_on_host": "/nonexistent/x.img"}'
	api patch-unknown 400 PATCH /drives/nosuch '{"drive_id": "nosuch"}'
	wait_for "$tmp/api.out" '^DISK-second' 20 || api_why="$api_why; the guest never read the swapped image"
	api flush-metrics 204 PUT /actions '{"action_type": "FlushMetrics"}'
	grep -q '"utc_timestamp_ms"' "$tmp/metrics.json" && grep -q '"put_api_requests"' "$tmp/metrics.json" ||
		api_why="$api_why; FlushMetrics wrote no JSON line"
	kill -TERM $pid; wait $pid; rc=$?
	[ $rc -eq 143 ] || api_why="$api_why; exit $rc after SIGTERM, expected 143"
	[ -e "$tmp/api.sock" ] && api_why="$api_why; the socket was left behind"
	if [ -z "$api_why" ]; then
		pass api-getting-started-pause-metrics-and-400s
	else
		fail api-getting-started-pause-metrics-and-400s "${api_why#; }"
		cat "$tmp/api.calls"; tail -n 20 "$tmp/api.err"
	fi
	rm -f "$tmp/api-first.img" "$tmp/api-second.img"
}

# arkvm's own flags with --api-sock: the VM boots at once, and the API
# pauses and resumes it.
run_api_case() {
	api_why=
	: > "$tmp/api.calls"
	printf '%s\n' 'i=0; while true; do i=$((i+1)); echo "TICK $i"; sleep 0.2; done' > "$tmp/api.in"
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--cpus 2 --api-sock "$tmp/api.sock" < "$tmp/api.in" > "$tmp/api.out" 2> "$tmp/api.err" &
	pid=$!
	wait_for "$tmp/api.out" 'TICK 3' "$BOOT_TIMEOUT" || api_why="the guest never ticked"
	api get-running 200 GET /
	grep -q '"state":"Running"' "$tmp/api.calls" || api_why="$api_why; GET / did not say Running"
	api vm-config 200 GET /vm/config
	grep -q '"vcpu_count":2' "$tmp/api.calls" || api_why="$api_why; GET /vm/config lost --cpus 2"
	api boot-after-start 400 PUT /boot-source "{\"kernel_image_path\": \"$KERNEL\"}"
	api pause 204 PATCH /vm '{"state": "Paused"}'
	sleep 1
	out1=$(wc -c < "$tmp/api.out"); sleep 2; out2=$(wc -c < "$tmp/api.out")
	[ "$out1" = "$out2" ] || api_why="$api_why; the console went on while paused"
	api resume 204 PATCH /vm '{"state": "Resumed"}'
	last=$(sed -n 's/^TICK \([0-9]*\).*/\1/p' "$tmp/api.out" | tail -n 1)
	wait_for "$tmp/api.out" "TICK $((last + 3))" 20 || api_why="$api_why; no ticks after resume"
	kill -TERM $pid; wait $pid; rc=$?
	[ $rc -eq 143 ] || api_why="$api_why; exit $rc after SIGTERM, expected 143"
	if [ -z "$api_why" ]; then
		pass run-with-api-sock-pauses-and-resumes
	else
		fail run-with-api-sock-pauses-and-resumes "${api_why#; }"
		cat "$tmp/api.calls"; tail -n 20 "$tmp/api.err"
	fi
}
# SIGTERM before InstanceStart ends the process as it would a running VM,
# and takes the socket with it.
idle_api_case() {
	"$ARKVM" --api-sock "$tmp/idle.sock" > /dev/null 2> "$tmp/idle.err" &
	pid=$!
	n=0; until [ -S "$tmp/idle.sock" ] || [ $n -ge 50 ]; do sleep 0.1; n=$((n + 1)); done
	kill -TERM $pid; wait $pid; rc=$?
	if [ $rc -eq 143 ] && [ ! -e "$tmp/idle.sock" ] && [ $n -lt 50 ]; then
		pass api-sigterm-before-start-exits-143-and-removes-socket
	else
		fail api-sigterm-before-start-exits-143-and-removes-socket \
			"exit $rc; socket $( [ -e "$tmp/idle.sock" ] && echo left || echo gone); $(cat "$tmp/idle.err")"
	fi
}
if [ -x "$API_CALL" ]; then
	api_case
	run_api_case
	idle_api_case
else
	info "no $API_CALL: the API case is skipped"
fi

# Firecracker's --no-api --config-file with the example config of configs/:
# its placeholder paths rewritten to the lab's kernel and guest.
CONFIG_EXAMPLE=$(dirname "$0")/vm-minimal.json
if [ -f "$CONFIG_EXAMPLE" ]; then
	sed -e "s|/var/lib/arkvm/Image|$KERNEL|" -e "s|/var/lib/arkvm/initrd.cpio|$INITRD|" \
		-e 's|"boot_args": "[^"]*"|"boot_args": "quiet arkvm.test=report"|' \
		"$CONFIG_EXAMPLE" > "$tmp/vm-minimal.json"
	ln -sf "$ARKVM" "$tmp/firecracker"
	timeout "$BOOT_TIMEOUT" "$tmp/firecracker" --no-api --config-file "$tmp/vm-minimal.json" \
		< /dev/null > "$tmp/cfgfile.out" 2> "$tmp/cfgfile.err"
	rc=$?
	tr -d '\r' < "$tmp/cfgfile.out" > "$tmp/cfgfile.log"
	if [ $rc -eq 0 ] && grep -q "^ARKVM-REPORT cpus=1 .*initrd=$(cat "$MARKER")" "$tmp/cfgfile.log"; then
		pass config-file-no-api-boots
	else
		fail config-file-no-api-boots "exit $rc; $(grep ARKVM-REPORT "$tmp/cfgfile.log")"
		tail -n 5 "$tmp/cfgfile.err"
	fi
	# A config file that is not JSON: one line and Firecracker's 152; bad flags: 153.
	echo '{"boot-source": ' > "$tmp/bad.json"
	"$ARKVM" --no-api --config-file "$tmp/bad.json" > /dev/null 2> "$tmp/badcfg.err"; rc=$?
	if [ $rc -eq 152 ] && [ "$(wc -l < "$tmp/badcfg.err")" -eq 1 ]; then
		pass config-file-bad-json-exit-152
	else
		fail config-file-bad-json-exit-152 "exit $rc: $(cat "$tmp/badcfg.err")"
	fi
	"$ARKVM" --no-api > /dev/null 2> "$tmp/badargs.err"; rc=$?
	if [ $rc -eq 153 ] && [ "$(wc -l < "$tmp/badargs.err")" -eq 1 ]; then
		pass firecracker-flags-bad-exit-153
	else
		fail firecracker-flags-bad-exit-153 "exit $rc: $(cat "$tmp/badargs.err")"
	fi
else
	info "no $CONFIG_EXAMPLE: the config-file case is skipped"
fi

# --- snapshots ------------------------------------------------------------------

# A guest counting on its console is paused, snapshotted through the API,
# killed with SIGKILL and restored from the files: the count goes on from
# where it stopped, without a boot (no init banner), and its disk works.
snapshot_case() {
	snap_why= api_why=
	: > "$tmp/api.calls"
	dd if=/dev/zero of="$tmp/snap.img" bs=1M count=4 2>/dev/null
	nic= tap=arkvmsnap0
	: > "$tmp/snap.in"
	if net_host_up $tap 10.79.0.1/24 2> /dev/null; then
		nic="--net tap=$tap"
		echo 'ip link set eth0 up; ip addr add 10.79.0.2/24 dev eth0' > "$tmp/snap.in"
	else
		info "snapshot: no tap here: the snapshotted VM has no NIC"
	fi
	printf '%s\n' 'i=0; while true; do i=$((i+1)); echo "COUNT $i"; echo "count $i" |' \
		'dd of=/dev/vda bs=512 conv=sync oflag=direct 2>/dev/null;' \
		'[ -e /sys/class/net/eth0 ] && ping -c 1 -W 1 10.79.0.1 > /dev/null && echo "PONG $i";' \
		'sleep 0.2; done' >> "$tmp/snap.in"
	rm -f "$tmp/api.sock"
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--disk "$tmp/snap.img" $nic --cpus 2 --api-sock "$tmp/api.sock" \
		< "$tmp/snap.in" > "$tmp/snap1.out" 2> "$tmp/snap1.err" &
	pid=$!
	wait_for "$tmp/snap1.out" 'COUNT 10' "$BOOT_TIMEOUT" || snap_why="the guest never counted"
	api pause 204 PATCH /vm '{"state": "Paused"}'
	api create-running 400 PUT /snapshot/load "{\"snapshot_path\": \"$tmp/vm.snap\", \"mem_file_path\": \"$tmp/vm.mem\"}"
	api create 204 PUT /snapshot/create "{\"snapshot_path\": \"$tmp/vm.snap\", \"mem_file_path\": \"$tmp/vm.mem\"}"
	[ -n "$api_why" ] && snap_why="$snap_why; $api_why"
	last=$(sed -n 's/^COUNT \([0-9]*\).*/\1/p' "$tmp/snap1.out" | tail -n 1)
	kill -KILL $pid; wait $pid 2>/dev/null
	info "snapshot: count $last; files $(ls -ls "$tmp/vm.snap" "$tmp/vm.mem" | awk '{print $1 "K " $6}' | tr '\n' ' ')"
	rm -f "$tmp/api.sock"
	"$ARKVM" restore --snapshot "$tmp/vm.snap" --mem "$tmp/vm.mem" \
		< /dev/null > "$tmp/snap2.out" 2> "$tmp/snap2.err" &
	pid=$!
	wait_for "$tmp/snap2.out" "COUNT $((last + 5))" 60 ||
		snap_why="$snap_why; the restored guest did not count on from $last"
	first=$(sed -n 's/^COUNT \([0-9]*\).*/\1/p' "$tmp/snap2.out" | head -n 1)
	[ -n "$first" ] && [ "$first" -ge "$last" ] && [ "$first" -le $((last + 2)) ] ||
		snap_why="$snap_why; the restored count began at '$first', not after $last"
	grep -q 'ARKVM' "$tmp/snap2.out" && snap_why="$snap_why; the guest booted again"
	# A clone that would share the running one's writable disk is refused by its lock.
	"$ARKVM" restore --snapshot "$tmp/vm.snap" --mem "$tmp/vm.mem" --net-override net0=arkvmsnap9 \
		< /dev/null > /dev/null 2> "$tmp/snap3.err"
	rc=$?
	if [ $rc -eq 1 ] && grep -qi 'lock' "$tmp/snap3.err"; then
		pass snapshot-clone-refused-on-a-shared-writable-disk
	else
		fail snapshot-clone-refused-on-a-shared-writable-disk "exit $rc: $(head -n 2 "$tmp/snap3.err")"
	fi
	disk=$(head -c 64 "$tmp/snap.img" | tr -d '\0')
	case "$disk" in "count $((last))"*|"count $((last + 1))"*) snap_why="$snap_why; no disk write after restore ($disk)";; esac
	if [ -n "$nic" ] && ! grep -q '^PONG' "$tmp/snap2.out"; then
		wait_for "$tmp/snap2.out" '^PONG' 20 || snap_why="$snap_why; no ping answered over the tap after restore"
	fi
	kill -TERM $pid; wait $pid; rc=$?
	[ -n "$nic" ] && net_host_down $tap
	[ $rc -eq 143 ] || snap_why="$snap_why; exit $rc after SIGTERM"
	if [ -z "$snap_why" ]; then
		pass "snapshot-restore-counts-on (from $last to $first; disk '$disk'${nic:+; ping answered})"
	else
		fail snapshot-restore-counts-on "${snap_why#; }"
		cat "$tmp/api.calls"; tail -n 15 "$tmp/snap1.err" "$tmp/snap2.err"; tail -n 5 "$tmp/snap2.out"
	fi
	# A snapshot cut short is refused with one line, and nothing crashes.
	head -c 300 "$tmp/vm.snap" > "$tmp/cut.snap"
	"$ARKVM" restore --snapshot "$tmp/cut.snap" --mem "$tmp/vm.mem" < /dev/null > /dev/null 2> "$tmp/cut.err"
	rc=$?
	if [ $rc -eq 1 ] && grep -q 'cut short' "$tmp/cut.err"; then
		pass snapshot-truncated-refused
	else
		fail snapshot-truncated-refused "exit $rc: $(cat "$tmp/cut.err")"
	fi
	rm -f "$tmp/vm.mem" "$tmp/snap.img"
	clones_case
	diff_case
}

# A Diff snapshot taken after a little more counting is much smaller than
# the Full one, and merged onto it restores the guest where the diff left it.
diff_case() {
	diff_why= api_why=
	printf '%s\n' 'i=0; while true; do i=$((i+1)); echo "COUNT $i"; sleep 0.2; done' > "$tmp/diff.in"
	rm -f "$tmp/api.sock"
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--memory 256M,track-dirty --api-sock "$tmp/api.sock" \
		< "$tmp/diff.in" > "$tmp/diff0.out" 2> "$tmp/diff0.err" &
	pid=$!
	wait_for "$tmp/diff0.out" 'COUNT 5' "$BOOT_TIMEOUT" || diff_why="the guest never counted"
	api pause 204 PATCH /vm '{"state": "Paused"}'
	api full 204 PUT /snapshot/create "{\"snapshot_path\": \"$tmp/f.snap\", \"mem_file_path\": \"$tmp/f.mem\"}"
	api resume 204 PATCH /vm '{"state": "Resumed"}'
	n=$(sed -n 's/^COUNT \([0-9]*\).*/\1/p' "$tmp/diff0.out" | tail -n 1)
	wait_for "$tmp/diff0.out" "COUNT $((n + 5))" 20
	api pause-again 204 PATCH /vm '{"state": "Paused"}'
	api diff 204 PUT /snapshot/create "{\"snapshot_path\": \"$tmp/d.snap\", \"mem_file_path\": \"$tmp/d.mem\", \"snapshot_type\": \"Diff\"}"
	[ -n "$api_why" ] && diff_why="$diff_why; $api_why"
	last=$(sed -n 's/^COUNT \([0-9]*\).*/\1/p' "$tmp/diff0.out" | tail -n 1)
	kill -KILL $pid; wait $pid 2>/dev/null
	full_kb=$(du -k "$tmp/f.mem" | cut -f1) diff_kb=$(du -k "$tmp/d.mem" | cut -f1)
	info "diff: full memory file $full_kb KiB on disk, diff $diff_kb KiB; count $last"
	[ "${diff_kb:-99999}" -lt $((full_kb / 4)) ] || diff_why="$diff_why; the diff ($diff_kb KiB) is not much smaller than the full ($full_kb KiB)"
	"$ARKVM" snapshot-merge "$tmp/f.mem" "$tmp/d.mem" 2> "$tmp/merge.err" || diff_why="$diff_why; merge: $(cat "$tmp/merge.err")"
	"$ARKVM" restore --snapshot "$tmp/d.snap" --mem "$tmp/f.mem" < /dev/null \
		> "$tmp/diff1.out" 2> "$tmp/diff1.err" &
	pid=$!
	wait_for "$tmp/diff1.out" "COUNT $((last + 5))" 60 || diff_why="$diff_why; the restored guest did not count on from $last"
	first=$(sed -n 's/^COUNT \([0-9]*\).*/\1/p' "$tmp/diff1.out" | head -n 1)
	[ -n "$first" ] && [ "$first" -ge "$last" ] && [ "$first" -le $((last + 2)) ] ||
		diff_why="$diff_why; the restored count began at '$first', not after $last"
	kill -TERM $pid; wait $pid
	if [ -z "$diff_why" ]; then
		pass "snapshot-diff-is-small-and-restores-on-its-base ($diff_kb of $full_kb KiB)"
	else
		fail snapshot-diff-is-small-and-restores-on-its-base "${diff_why#; }"
		tail -n 5 "$tmp/diff0.err" "$tmp/diff1.err"
	fi
	rm -f "$tmp/f.snap" "$tmp/f.mem" "$tmp/d.snap" "$tmp/d.mem"
}

# Two clones restored at once from one snapshot both run on to power-off.
clones_case() {
	clone_why= api_why=
	printf '%s\n' 'i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo "COUNT $i"; sleep 0.2; done; poweroff -f' \
		> "$tmp/clone.in"
	rm -f "$tmp/api.sock"
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--api-sock "$tmp/api.sock" < "$tmp/clone.in" > "$tmp/clone0.out" 2> "$tmp/clone0.err" &
	pid=$!
	wait_for "$tmp/clone0.out" 'COUNT 5' "$BOOT_TIMEOUT" || clone_why="the guest never counted"
	api pause 204 PATCH /vm '{"state": "Paused"}'
	api create 204 PUT /snapshot/create "{\"snapshot_path\": \"$tmp/c.snap\", \"mem_file_path\": \"$tmp/c.mem\"}"
	[ -n "$api_why" ] && clone_why="$clone_why; $api_why"
	kill -KILL $pid; wait $pid 2>/dev/null
	for c in 1 2; do
		"$ARKVM" restore --snapshot "$tmp/c.snap" --mem "$tmp/c.mem" < /dev/null \
			> "$tmp/clone$c.out" 2> "$tmp/clone$c.err" &
		eval "p$c=\$!"
	done
	wait $p1; rc1=$?
	wait $p2; rc2=$?
	for c in 1 2; do
		eval "rc=\$rc$c"
		[ "$rc" -eq 0 ] && tr -d '\r' < "$tmp/clone$c.out" | grep -q '^COUNT 30' ||
			clone_why="$clone_why; clone $c: exit $rc, last $(tr -d '\r' < "$tmp/clone$c.out" | grep COUNT | tail -n 1)"
	done
	if [ -z "$clone_why" ]; then
		pass snapshot-two-clones-run-to-power-off
	else
		fail snapshot-two-clones-run-to-power-off "${clone_why#; }"
		tail -n 5 "$tmp/clone1.err" "$tmp/clone2.err"
	fi
	rm -f "$tmp/c.snap" "$tmp/c.mem"
}

# Firecracker's Uffd backend: the snapshot's memory comes from a page
# server of our own (tests/lab/uffd-server.c) through a userfaultfd, and
# the guest restored by PUT /snapshot/load counts on.  The server must
# have served pages, and it ends when arkvm does.
UFFD_SERVER=$(dirname "$0")/uffd-server
uffd_case() {
	uffd_why= api_why=
	: > "$tmp/api.calls"
	printf '%s\n' 'i=0; while true; do i=$((i+1)); echo "COUNT $i"; sleep 0.2; done' \
		> "$tmp/uffd.in"
	rm -f "$tmp/api.sock" "$tmp/uffd.sock"
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--api-sock "$tmp/api.sock" < "$tmp/uffd.in" > "$tmp/uffd1.out" 2> "$tmp/uffd1.err" &
	pid=$!
	wait_for "$tmp/uffd1.out" 'COUNT 5' "$BOOT_TIMEOUT" || uffd_why="the guest never counted"
	api pause 204 PATCH /vm '{"state": "Paused"}'
	api create 204 PUT /snapshot/create "{\"snapshot_path\": \"$tmp/u.snap\", \"mem_file_path\": \"$tmp/u.mem\"}"
	last=$(sed -n 's/^COUNT \([0-9]*\).*/\1/p' "$tmp/uffd1.out" | tail -n 1)
	kill -KILL $pid; wait $pid 2>/dev/null
	rm -f "$tmp/api.sock"
	"$UFFD_SERVER" "$tmp/uffd.sock" "$tmp/u.mem" 2> "$tmp/uffd-server.err" &
	spid=$!
	"$ARKVM" --api-sock "$tmp/api.sock" < /dev/null > "$tmp/uffd2.out" 2> "$tmp/uffd2.err" &
	pid=$!
	n=0; until { [ -S "$tmp/api.sock" ] && [ -S "$tmp/uffd.sock" ]; } || [ $n -ge 50 ]; do
		sleep 0.1; n=$((n + 1))
	done
	# The backend path must be a socket: a file is refused, and the process stays fresh.
	api uffd-on-a-file 400 PUT /snapshot/load "{\"snapshot_path\": \"$tmp/u.snap\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$tmp/u.mem\"}}"
	# Bounded: a restore whose page server is gone would wait for ever.
	got=$(timeout 120 "$API_CALL" "$tmp/api.sock" PUT /snapshot/load "{\"snapshot_path\": \"$tmp/u.snap\", \"mem_backend\": {\"backend_type\": \"Uffd\", \"backend_path\": \"$tmp/uffd.sock\"}, \"resume_vm\": true}" 2>&1)
	echo "load Uffd -> $got" >> "$tmp/api.calls"
	[ "$(echo "$got" | head -n 1)" = 204 ] || api_why="$api_why; load: got '$got', want 204"
	[ -n "$api_why" ] && uffd_why="$uffd_why; ${api_why#; }"
	wait_for "$tmp/uffd2.out" "COUNT $((last + 5))" 60 ||
		uffd_why="$uffd_why; the restored guest did not count on from $last"
	first=$(sed -n 's/^COUNT \([0-9]*\).*/\1/p' "$tmp/uffd2.out" | head -n 1)
	[ -n "$first" ] && [ "$first" -ge "$last" ] && [ "$first" -le $((last + 2)) ] ||
		uffd_why="$uffd_why; the restored count began at '$first', not after $last"
	grep -q 'ARKVM' "$tmp/uffd2.out" && uffd_why="$uffd_why; the guest booted again"
	kill -TERM $pid; wait $pid; rc=$?
	[ $rc -eq 143 ] || uffd_why="$uffd_why; arkvm exit $rc after SIGTERM, expected 143"
	# arkvm's end closes the connection: the server ends on its own.
	n=0; while kill -0 $spid 2>/dev/null && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
	if kill -0 $spid 2>/dev/null; then
		uffd_why="$uffd_why; the page server outlived arkvm"
		kill -KILL $spid
	fi
	wait $spid; src=$?
	served=$(sed -n 's/^uffd-server: served \([0-9]*\) pages.*/\1/p' "$tmp/uffd-server.err")
	[ $src -eq 0 ] && [ "${served:-0}" -gt 0 ] ||
		uffd_why="$uffd_why; page server exit $src, served '${served}' pages"
	if [ -z "$uffd_why" ]; then
		pass "snapshot-uffd-page-server-restores (from $last to $first; $(tail -n 1 "$tmp/uffd-server.err"))"
	else
		fail snapshot-uffd-page-server-restores "${uffd_why#; }"
		cat "$tmp/api.calls"; tail -n 15 "$tmp/uffd1.err" "$tmp/uffd2.err" "$tmp/uffd-server.err"
		tail -n 5 "$tmp/uffd2.out"
	fi
}

# The same snapshot from the terminal: arkvm restore --uffd takes guest RAM
# from a fresh page server, as mem_backend Uffd does over the API.  It
# reuses uffd_case's files (u.snap, u.mem, and uffd1.out for the count the
# snapshot stopped at).
uffd_cli_case() {
	ucli_why=
	last=$(sed -n 's/^COUNT \([0-9]*\).*/\1/p' "$tmp/uffd1.out" 2>/dev/null | tail -n 1)
	if [ ! -s "$tmp/u.snap" ] || [ ! -s "$tmp/u.mem" ] || [ -z "$last" ]; then
		fail snapshot-uffd-restore-cli "the Uffd case left no snapshot to restore"
		return
	fi
	rm -f "$tmp/uffd2.sock"
	"$UFFD_SERVER" "$tmp/uffd2.sock" "$tmp/u.mem" 2> "$tmp/uffd-cli-server.err" &
	spid=$!
	n=0; until [ -S "$tmp/uffd2.sock" ] || [ $n -ge 50 ]; do sleep 0.1; n=$((n + 1)); done
	"$ARKVM" restore --snapshot "$tmp/u.snap" --uffd "$tmp/uffd2.sock" < /dev/null \
		> "$tmp/uffd-cli.out" 2> "$tmp/uffd-cli.err" &
	pid=$!
	wait_for "$tmp/uffd-cli.out" "COUNT $((last + 5))" 60 ||
		ucli_why="the restored guest did not count on from $last"
	first=$(sed -n 's/^COUNT \([0-9]*\).*/\1/p' "$tmp/uffd-cli.out" | head -n 1)
	[ -n "$first" ] && [ "$first" -ge "$last" ] && [ "$first" -le $((last + 2)) ] ||
		ucli_why="$ucli_why; the restored count began at '$first', not after $last"
	grep -q 'ARKVM' "$tmp/uffd-cli.out" && ucli_why="$ucli_why; the guest booted again"
	# Bounded: a restore stuck on a missing page would not end on SIGTERM.
	kill -TERM $pid
	n=0; while kill -0 $pid 2>/dev/null && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
	if kill -0 $pid 2>/dev/null; then
		ucli_why="$ucli_why; arkvm outlived SIGTERM"
		kill -KILL $pid
	fi
	wait $pid; rc=$?
	[ $rc -eq 143 ] || ucli_why="$ucli_why; arkvm exit $rc after SIGTERM, expected 143"
	n=0; while kill -0 $spid 2>/dev/null && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
	if kill -0 $spid 2>/dev/null; then
		ucli_why="$ucli_why; the page server outlived arkvm"
		kill -KILL $spid
	fi
	wait $spid; src=$?
	served=$(sed -n 's/^uffd-server: served \([0-9]*\) pages.*/\1/p' "$tmp/uffd-cli-server.err")
	[ $src -eq 0 ] && [ "${served:-0}" -gt 0 ] ||
		ucli_why="$ucli_why; page server exit $src, served '${served}' pages"
	if [ -z "$ucli_why" ]; then
		pass "snapshot-uffd-restore-cli (from $last to $first; $(tail -n 1 "$tmp/uffd-cli-server.err"))"
	else
		fail snapshot-uffd-restore-cli "${ucli_why#; }"
		tail -n 15 "$tmp/uffd-cli.err" "$tmp/uffd-cli-server.err"
		tail -n 5 "$tmp/uffd-cli.out"
	fi
}
if [ -x "$API_CALL" ]; then
	snapshot_case
	if [ -x "$UFFD_SERVER" ]; then
		uffd_case
		uffd_cli_case
		rm -f "$tmp/u.snap" "$tmp/u.mem"  # both cases restore these
	else
		info "no $UFFD_SERVER: the Uffd case is skipped"
	fi
fi

# --- virtio-vsock ----------------------------------------------------------------

# 16 MiB each way over Firecracker's hybrid protocol, with matching sha256:
# host to guest through "CONNECT 5000" on the device's socket, guest to host
# through the socket's _1234 listener.  Then a port nobody listens on, on
# each side: the guest's connect fails and the host's socket is closed.
VSOCK_TOOL=$(dirname "$0")/vsock-tool
vsock_case() {
	v_why=
	uds=$tmp/v.sock
	rm -f "$uds" "${uds}_1234"
	head -c 16777216 /dev/urandom > "$tmp/v-down.bin"
	down_sha=$(sha256sum "$tmp/v-down.bin" | cut -d' ' -f1)
	cat > "$tmp/v.in" <<'GUEST'
vsock-tool listen 5000 > /down 2> /dev/null &
sleep 2; echo VSOCK-LISTENING
dd if=/dev/urandom of=/up bs=1M count=16 2> /dev/null
echo "VSOCK-UP-SHA=$(sha256sum /up | cut -d' ' -f1)"
vsock-tool connect 2 1234 < /up > /dev/null; echo "VSOCK-UP-RC=$?"
wait; echo "VSOCK-DOWN-SHA=$(sha256sum /down | cut -d' ' -f1) $(wc -c < /down)"
vsock-tool connect 2 9 < /dev/null; echo "VSOCK-REFUSED-RC=$?"
echo VSOCK-DONE
sleep 30
poweroff -f
GUEST
	"$VSOCK_TOOL" ulisten "${uds}_1234" > "$tmp/v-up.bin" 2> /dev/null < /dev/null &
	lpid=$!
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--vsock "cid=3,socket=$uds" < "$tmp/v.in" > "$tmp/v.out" 2> "$tmp/v.err" &
	pid=$!
	# Anchored: the guest's shell echoes each command line after its prompt.
	wait_for "$tmp/v.out" '^VSOCK-LISTENING' "$BOOT_TIMEOUT" || v_why="the guest never listened"
	"$VSOCK_TOOL" uconnect "$uds" 5000 < "$tmp/v-down.bin" > /dev/null 2> "$tmp/v-uc.err" ||
		v_why="$v_why; CONNECT 5000: $(cat "$tmp/v-uc.err")"
	wait_for "$tmp/v.out" '^VSOCK-DONE' 120 || v_why="$v_why; the guest did not finish"
	wait $lpid
	"$VSOCK_TOOL" uconnect "$uds" 6 < /dev/null > /dev/null 2> "$tmp/v-ref.err"
	ref_rc=$?
	kill -TERM $pid; wait $pid
	tr -d '\r' < "$tmp/v.out" > "$tmp/v.log"
	vfield() { sed -n "s/^VSOCK-$1=//p" "$tmp/v.log" | head -n 1; }
	up_sha=$(sha256sum "$tmp/v-up.bin" | cut -d' ' -f1)
	[ "$(vfield UP-SHA)" = "$up_sha" ] && [ "$(vfield UP-RC)" = 0 ] ||
		v_why="$v_why; guest to host: guest $(vfield UP-SHA) rc $(vfield UP-RC), host $up_sha ($(wc -c < "$tmp/v-up.bin") bytes)"
	[ "$(vfield DOWN-SHA)" = "$down_sha 16777216" ] ||
		v_why="$v_why; host to guest: guest $(vfield DOWN-SHA), host $down_sha"
	if [ -z "$v_why" ]; then
		pass vsock-16MiB-each-way-sha256
	else
		fail vsock-16MiB-each-way-sha256 "${v_why#; }"
		tail -n 5 "$tmp/v.err" "$tmp/v.log"
	fi
	if [ "$(vfield REFUSED-RC)" = 1 ] && [ $ref_rc -eq 1 ]; then
		pass vsock-unlistened-port-refused-both-ways
	else
		fail vsock-unlistened-port-refused-both-ways "guest rc $(vfield REFUSED-RC), host rc $ref_rc: $(cat "$tmp/v-ref.err")"
	fi
	rm -f "$tmp/v-down.bin" "$tmp/v-up.bin"
}
# A snapshot of a guest listening on vsock, restored as a clone while the
# parent's socket file is still there: --vsock-override gives the clone its
# own, and the guest's listener, which the transport reset leaves alone,
# takes a connection made through it.
vsock_snapshot_case() {
	api_why=
	: > "$tmp/api.calls"
	rm -f "$tmp/api.sock" "$tmp/vs0.sock" "$tmp/vs1.sock"
	cat > "$tmp/vss.in" <<'GUEST'
(vsock-tool listen 5001 > /got 2> /dev/null; echo "VS-GOT=$(cat /got)") &
sleep 1; echo VS-LISTENING; sleep 120; poweroff -f
GUEST
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--vsock "cid=3,socket=$tmp/vs0.sock" --api-sock "$tmp/api.sock" \
		< "$tmp/vss.in" > "$tmp/vss0.out" 2> "$tmp/vss0.err" &
	pid=$!
	wait_for "$tmp/vss0.out" '^VS-LISTENING' "$BOOT_TIMEOUT" || api_why="the guest never listened"
	api pause 204 PATCH /vm '{"state": "Paused"}'
	api create 204 PUT /snapshot/create "{\"snapshot_path\": \"$tmp/vs.snap\", \"mem_file_path\": \"$tmp/vs.mem\"}"
	kill -KILL $pid; wait $pid 2> /dev/null
	"$ARKVM" restore --snapshot "$tmp/vs.snap" --mem "$tmp/vs.mem" --vsock-override "$tmp/vs1.sock" \
		< /dev/null > "$tmp/vss1.out" 2> "$tmp/vss1.err" &
	pid=$!
	n=0; until [ -S "$tmp/vs1.sock" ] || [ $n -ge 50 ]; do sleep 0.2; n=$((n + 1)); done
	sleep 2
	printf 'hello-clone' | "$VSOCK_TOOL" uconnect "$tmp/vs1.sock" 5001 > /dev/null 2> "$tmp/vss-uc.err" ||
		api_why="$api_why; CONNECT 5001 through the new socket: $(cat "$tmp/vss-uc.err")"
	wait_for "$tmp/vss1.out" '^VS-GOT=hello-clone' 30 || api_why="$api_why; the restored guest did not get it"
	kill -TERM $pid; wait $pid
	if [ -z "$api_why" ]; then
		pass vsock-snapshot-clone-listens-on-its-override-socket
	else
		fail vsock-snapshot-clone-listens-on-its-override-socket "${api_why#; }"
		cat "$tmp/api.calls"; tail -n 5 "$tmp/vss0.err" "$tmp/vss0.out" "$tmp/vss1.err" "$tmp/vss1.out"
	fi
	rm -f "$tmp/vs.snap" "$tmp/vs.mem"
}
if [ -x "$VSOCK_TOOL" ] && "$ARKVM" run --help 2>&1 | grep -q -- '--vsock'; then
	vsock_case
	vsock_snapshot_case
else
	info "no vsock-tool or no --vsock here: the vsock cases are skipped"
fi

# --- virtio-fs ----------------------------------------------------------------

# A host directory shared with the guest: ordinary work on it (reads, the
# usual changes, a 16 MiB write, tar in and out, cp -a, rm -rf, find) must land on the host as
# the guest did it; a readonly share refuses changes; symlinks in the share
# that point outside it (absolute, relative) show the guest nothing of the
# host, since the guest resolves them in its own tree.
share_case() {
	fs_why=
	sd=$tmp/share out=$tmp/outside ro=$tmp/ro
	rm -rf "$sd" "$out" "$ro"
	mkdir -p "$sd/tree/a/b" "$out" "$ro"
	echo "HOST-SECRET-$$" > "$out/secret"
	echo readonly > "$ro/file"
	head -c 1048576 /dev/urandom > "$sd/host.bin"
	i=0; while [ $i -lt 50 ]; do i=$((i + 1)); echo "file $i" > "$sd/tree/a/b/f$i"; done
	ln -s "$out" "$sd/escape-abs"
	ln -s ../outside "$sd/escape-rel"
	cat > "$tmp/fs.in" <<'GUEST'
mkdir -p /mnt/s /mnt/ro
mount -t virtiofs work /mnt/s && mount -t virtiofs ro /mnt/ro && echo FS-MOUNTED
echo "FS-HOST-SHA=$(sha256sum /mnt/s/host.bin | cut -d' ' -f1)"
cd /mnt/s
echo one > new.txt; echo two >> new.txt; mv new.txt renamed.txt
mkdir dir1; ln -s renamed.txt link1; echo x > gone; rm gone
dd if=/dev/urandom of=big bs=1M count=16 2> /dev/null
echo "FS-BIG-SHA=$(sha256sum big | cut -d' ' -f1)"
tar cf /tmp/t.tar tree && mkdir untar && tar xf /tmp/t.tar -C untar
echo "FS-TAR=$(find untar -type f | wc -l)"
cp -a tree copied && cp -a tree doomed && rm -rf doomed && echo "FS-CPA=$(find copied -type f | wc -l)"
echo "FS-ESCAPE=$(cat escape-abs/secret escape-rel/secret 2>&1 | tr '\n' ' ')"
touch /mnt/ro/new 2> /dev/null || echo FS-RO-CREATE-REFUSED
(echo more >> /mnt/ro/file) 2> /dev/null || echo FS-RO-WRITE-REFUSED
cd /; sync; umount /mnt/s; umount /mnt/ro; echo FS-DONE
poweroff -f
GUEST
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--memory 256M --share "$sd,tag=work" --share "$ro,tag=ro,readonly" --stats \
		< "$tmp/fs.in" > "$tmp/fs.out" 2> "$tmp/fs.err" &
	pid=$!
	wait_for "$tmp/fs.out" '^FS-DONE' "$((BOOT_TIMEOUT + 120))" || fs_why="the guest did not finish"
	wait $pid
	tr -d '\r' < "$tmp/fs.out" > "$tmp/fs.log"
	ffield() { sed -n "s/^FS-$1=//p" "$tmp/fs.log" | head -n 1; }
	grep -q '^FS-MOUNTED' "$tmp/fs.log" || fs_why="$fs_why; no mount"
	[ "$(ffield HOST-SHA)" = "$(sha256sum "$sd/host.bin" | cut -d' ' -f1)" ] ||
		fs_why="$fs_why; the guest read the host's file as $(ffield HOST-SHA)"
	[ "$(cat "$sd/renamed.txt" 2> /dev/null | tr '\n' ,)" = "one,two," ] ||
		fs_why="$fs_why; renamed.txt on the host: '$(cat "$sd/renamed.txt" 2>&1)'"
	[ -d "$sd/dir1" ] && [ "$(readlink "$sd/link1")" = renamed.txt ] && [ ! -e "$sd/gone" ] &&
		[ ! -e "$sd/new.txt" ] || fs_why="$fs_why; mkdir, symlink, unlink or rename missing on the host"
	[ "$(ffield BIG-SHA)" = "$(sha256sum "$sd/big" 2> /dev/null | cut -d' ' -f1)" ] &&
		[ "$(wc -c < "$sd/big")" -eq 16777216 ] || fs_why="$fs_why; the 16 MiB write differs on the host"
	[ "$(ffield TAR)" = 50 ] && [ "$(find "$sd/untar" -type f | wc -l)" -eq 50 ] &&
		diff -r "$sd/tree" "$sd/untar/tree" > /dev/null || fs_why="$fs_why; tar in and out: $(ffield TAR) files"
	[ "$(ffield CPA)" = 50 ] && diff -r "$sd/tree" "$sd/copied" > /dev/null && [ ! -e "$sd/doomed" ] ||
		fs_why="$fs_why; cp -a or rm -rf: '$(ffield CPA)'"
	if [ -z "$fs_why" ]; then
		pass share-ordinary-work-lands-on-the-host
	else
		fail share-ordinary-work-lands-on-the-host "${fs_why#; }"
		tail -n 5 "$tmp/fs.err" "$tmp/fs.log"
	fi
	if grep -q '^FS-RO-CREATE-REFUSED' "$tmp/fs.log" && grep -q '^FS-RO-WRITE-REFUSED' "$tmp/fs.log" &&
	   [ "$(cat "$ro/file")" = readonly ] && [ ! -e "$ro/new" ]; then
		pass share-readonly-refuses-changes
	else
		fail share-readonly-refuses-changes "$(grep '^FS-RO' "$tmp/fs.log" | tr '\n' ' ')"
	fi
	if grep -q '^FS-ESCAPE=' "$tmp/fs.log" && ! grep -q "HOST-SECRET" "$tmp/fs.log"; then
		pass share-symlink-out-shows-nothing-of-the-host
	else
		fail share-symlink-out-shows-nothing-of-the-host "$(ffield ESCAPE)"
	fi
}

# Root on virtio-fs: the default guest's own tree, unpacked into a host
# directory, booted with rootfstype=virtiofs root=TAG.  The guest must see
# a virtiofs root, and what it writes there must reach the host.
root_share_case() {
	rd=$tmp/rootfs
	rm -rf "$rd"; mkdir -p "$rd"
	(cd "$rd" && gzip -dc "$INITRD" | cpio -id 2> /dev/null)
	printf '%s\n' 'echo "ROOT-FS=$(awk '"'"'$2 == "/" { t = $3 } END { print t }'"'"' /proc/mounts)"' \
		'echo from-guest > /written-by-guest; sync; echo ROOT-DONE' 'poweroff -f' > "$tmp/root.in"
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --share "$rd,tag=rootfs" \
		--cmdline "quiet arkvm.test=shell rootfstype=virtiofs root=rootfs rw" \
		< "$tmp/root.in" > "$tmp/root.out" 2> "$tmp/root.err" &
	pid=$!
	wait_for "$tmp/root.out" '^ROOT-DONE' "$BOOT_TIMEOUT"
	wait $pid
	tr -d '\r' < "$tmp/root.out" > "$tmp/root.log"
	if grep -q '^ROOT-FS=virtiofs' "$tmp/root.log" && [ "$(cat "$rd/written-by-guest" 2>&1)" = from-guest ]; then
		pass share-boots-a-directory-as-the-root
	else
		fail share-boots-a-directory-as-the-root "$(grep '^ROOT' "$tmp/root.log" | tr '\n' ' ')"
		tail -n 5 "$tmp/root.err" "$tmp/root.log"
	fi
	rm -rf "$rd"
}
if "$ARKVM" run --help 2>&1 | grep -q -- '--share'; then
	share_case
	root_share_case
else
	info "no --share here: the virtio-fs cases are skipped"
fi

# --- virtio-balloon -----------------------------------------------------------

# The guest fills 128 MiB of its page cache and frees it: arkvm's resident
# memory keeps those pages until the guest gives them back, through the
# balloon inflated with PATCH /balloon, or by reporting them free.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# rss_below PID KIB SECONDS: true once PID's resident memory is at most KIB.
rss_below() {
	n=0
	until [ "$(rss_kib "$1")" -le "$2" ] || [ $n -ge $(($3 * 5)) ]; do sleep 0.2; n=$((n + 1)); done
	[ "$(rss_kib "$1")" -le "$2" ]
}
# balloon_vm NAME BALLOON_OPTIONS: boots a guest that fills and frees 128 MiB.
balloon_vm() {
	cat > "$tmp/$1.in" <<'GUEST'
dd if=/dev/zero of=/big bs=1M count=128 2> /dev/null; sync
echo BALLOON-FILLED; sleep 3; rm /big; echo BALLOON-FREED
GUEST
	rm -f "$tmp/api.sock"
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=shell" \
		--memory 384M --balloon "$2" --api-sock "$tmp/api.sock" \
		< "$tmp/$1.in" > "$tmp/$1.out" 2> "$tmp/$1.err" &
	pid=$!
	wait_for "$tmp/$1.out" '^BALLOON-FILLED' "$BOOT_TIMEOUT" || api_why="the guest never filled its memory"
	sleep 1
	filled=$(rss_kib $pid)
	wait_for "$tmp/$1.out" '^BALLOON-FREED' 30 || api_why="$api_why; the guest never freed it"
}
balloon_case() {
	api_why=
	: > "$tmp/api.calls"
	balloon_vm balloon stats=1
	sleep 3
	freed=$(rss_kib $pid)
	api inflate 204 PATCH /balloon '{"amount_mib": 160}'
	rss_below $pid $((freed - 102400)) 90 ||
		api_why="$api_why; resident memory went from $freed KiB (filled: $filled) to $(rss_kib $pid) KiB, not 100 MiB less"
	n=0 # the driver inflates 1 MiB at a time: slow under emulation
	until "$API_CALL" "$tmp/api.sock" GET /balloon/statistics 2> /dev/null |
		grep -q '"actual_mib":160' || [ $n -ge 90 ]; do sleep 1; n=$((n + 1)); done
	api stats 200 GET /balloon/statistics
	grep -q '"actual_mib":160' "$tmp/api.calls" || api_why="$api_why; the guest did not reach 160 MiB"
	grep -q '"total_memory":' "$tmp/api.calls" || api_why="$api_why; no guest statistics"
	api stats-off 400 PATCH /balloon/statistics '{"stats_polling_interval_s": 0}'
	info "balloon: resident $filled KiB filled, $freed KiB freed, $(rss_kib $pid) KiB inflated to 160 MiB"
	kill -TERM $pid; wait $pid
	if [ -z "$api_why" ]; then
		pass balloon-inflate-gives-back-100MiB
	else
		fail balloon-inflate-gives-back-100MiB "${api_why#; }"
		cat "$tmp/api.calls"; tail -n 5 "$tmp/balloon.err"
	fi
	# Free page reporting: no API call at all.
	api_why=
	balloon_vm reporting free-page-reporting
	rss_below $pid $((filled - 65536)) 60 ||
		api_why="$api_why; resident memory went from $filled KiB to $(rss_kib $pid) KiB, not 64 MiB less"
	info "balloon: free page reporting, resident $filled KiB filled, $(rss_kib $pid) KiB after"
	kill -TERM $pid; wait $pid
	if [ -z "$api_why" ]; then
		pass balloon-free-page-reporting-gives-back-freed-memory
	else
		fail balloon-free-page-reporting-gives-back-freed-memory "${api_why#; }"
		tail -n 5 "$tmp/reporting.err" "$tmp/reporting.out"
	fi
}
if "$ARKVM" run --help 2>&1 | grep -q -- '--balloon'; then
	balloon_case
else
	info "no --balloon here: the balloon cases are skipped"
fi

# --- transparent huge pages ------------------------------------------------------

# smaps_inside SMAPS FIELD LO HI: FIELD (kB) summed over the mappings that
# lie inside [LO, HI).
smaps_inside() {
	lo=$(($3)) hi=$(($4)) total=0 inside=0
	while read -r a b _; do
		case "$a" in
		*-*) s=${a%-*} e=${a#*-}
		     if [ $((0x$s)) -ge "$lo" ] && [ $((0x$e)) -le "$hi" ]; then inside=1; else inside=0; fi ;;
		"$2:") [ $inside = 1 ] && total=$((total + b)) ;;
		esac
	done < "$1"
	echo $total
}

# Guest RAM is advised for transparent huge pages, so that a host whose THP
# mode is "madvise" (Ubuntu's) still backs it with them and KVM maps it to
# the guest in 2 MiB blocks. Level 1 takes that mode for one guest, whose
# prefaulted 128 MiB must then be mostly huge pages in arkvm's smaps.
thp=/sys/kernel/mm/transparent_hugepage/enabled
if [ "${ARKVM_LAB_SCRATCH_HOST:-0}" = 1 ] && [ -w $thp ]; then
	thp_was=$(sed 's/.*\[\(.*\)\].*/\1/' $thp)
	echo madvise > $thp
	at_marker='cp /proc/$pid/smaps "$tmp/thp.smaps"'
	run_until thp-madvise ARKVM-IDLE TERM --memory 128M,prefault --stats \
		--cmdline "quiet arkvm.test=idle" < /dev/null
	at_marker=
	echo "$thp_was" > $thp
	set -- $(sed -n 's/^arkvm: stats: guest RAM at host \(0x[0-9a-f]*\)-\(0x[0-9a-f]*\)$/\1 \2/p' \
		"$tmp/thp-madvise.err")
	huge=0
	[ $# -eq 2 ] && [ -f "$tmp/thp.smaps" ] && huge=$(smaps_inside "$tmp/thp.smaps" AnonHugePages "$1" "$2")
	info "thp-madvise: guest RAM has $huge kB in huge pages"
	if [ $rc -eq 143 ] && [ "$huge" -ge 65536 ]; then
		pass guest-ram-on-huge-pages-when-thp-is-madvise
	else
		fail guest-ram-on-huge-pages-when-thp-is-madvise \
			"exit $rc (expected 143); $huge kB of guest RAM in huge pages, expected at least 65536"
		show thp-madvise
	fi
fi

# --- durability ----------------------------------------------------------------

# durable NAME SIGNAL STATUS DD_FLAGS: the guest writes 1 MiB of its own
# pattern to vda with DD_FLAGS and then prints a marker (built at run time,
# so the echoed command does not match); arkvm gets SIGNAL the moment it
# shows. It must exit with STATUS and the image must hold the pattern.
durable() {
	word=arkvm-$1
	yes $word | head -c 1048576 > "$tmp/durable.pattern"
	dd if=/dev/zero of="$tmp/durable.img" bs=1M count=4 2>/dev/null
	printf '%s\n' "yes $word | head -c 1048576 | dd of=/dev/vda bs=65536 $4 2>/dev/null &&"' echo ARKVM-DON$((1))E' \
		'sleep 600' > "$tmp/durable.in"
	run_until "$1" ARKVM-DON1E "$2" --cmdline "quiet arkvm.test=shell" \
		--disk "$tmp/durable.img" < "$tmp/durable.in"
	if [ $rc -eq "$3" ] && dd if="$tmp/durable.img" bs=1M count=1 2>/dev/null |
	    cmp -s - "$tmp/durable.pattern"; then
		pass "$1"
	else
		fail "$1" "exit $rc (expected $3); the image does not hold what the guest wrote"
		show "$1"
	fi
}
# Flushed data survives SIGKILL: conv=fsync ends with a flush request.
durable durability-flushed-data-survives-sigkill KILL 137 conv=fsync
# SIGTERM stops cleanly: what the guest wrote with O_DIRECT was completed by
# the disk, so it is in the file, and the exit status is 143.
durable durability-sigterm-keeps-completed-writes TERM 143 oflag=direct

# A disk in use by another arkvm is refused: one line, exit 1.
run_in_use() {
	"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --cmdline "quiet arkvm.test=idle" \
		--disk "$tmp/durable.img" < /dev/null > "$tmp/holder.out" 2> "$tmp/holder.err" &
	holder=$!
	tries=0
	until grep -q ARKVM-IDLE "$tmp/holder.out" 2>/dev/null || [ $tries -ge $((BOOT_TIMEOUT * 5)) ]; do
		sleep 0.2; tries=$((tries + 1))
	done
}

# --- no guest: the device tree, and bad input ----------------------------------

t0=$(date +%s)
# --dump-dtb writes the tree the guest would get; dtc must read it. Level 1
# has no dtc: it prints the blob in base64 and lab.sh checks it on the host.
"$ARKVM" run --kernel "$KERNEL" --cpus 2 --cmdline "console=ttyS0" --dump-dtb "$tmp/guest.dtb" \
	< /dev/null > "$tmp/dtb.out" 2>&1
rc=$?
if [ $rc -ne 0 ] || [ "$(od -An -tx1 -N4 "$tmp/guest.dtb" | tr -d ' ')" != d00dfeed ]; then
	fail dump-dtb "exit $rc, or no FDT magic: $(head -c 300 "$tmp/dtb.out")"
elif command -v dtc > /dev/null; then
	if dtc -I dtb -O dts "$tmp/guest.dtb" > "$tmp/guest.dts" 2>/dev/null &&
	    grep -q 'cpu@1 {' "$tmp/guest.dts"; then
		pass dump-dtb-read-by-dtc
	else
		fail dump-dtb-read-by-dtc "dtc could not read it, or it has no cpu@1"
	fi
else
	pass dump-dtb
	echo DTB-BASE64-BEGIN; base64 "$tmp/guest.dtb"; echo DTB-BASE64-END
fi

# --help and --version answer on stdout and exit 0.
for opt in help version; do
	"$ARKVM" --$opt < /dev/null > "$tmp/opt.out" 2> "$tmp/opt.err"
	rc=$?
	if [ $rc -eq 0 ] && [ -s "$tmp/opt.out" ] && [ ! -s "$tmp/opt.err" ]; then
		pass "option-$opt"
	else
		fail "option-$opt" "exit $rc, $(wc -c < "$tmp/opt.out") bytes on stdout, stderr: $(head -c 200 "$tmp/opt.err")"
	fi
done

# bad NAME ARGS...: arkvm must refuse at once: exit 1, exactly one line on
# stderr, nothing on stdout (no guest ran). With RUNAS=USER it runs as USER.
bad() {
	name=$1; shift
	if [ -n "${RUNAS:-}" ]; then
		# busybox su passes no arguments after -c: write them to a script.
		{ printf 'exec'; printf " '%s'" "$ARKVM" "$@"; echo; } > "$tmp/runas.sh"
		timeout 30 su "$RUNAS" -s /bin/sh -c "sh $tmp/runas.sh"
	else
		timeout 30 "$ARKVM" "$@"
	fi < /dev/null > "$tmp/bad.out" 2> "$tmp/bad.err"
	rc=$?
	lines=$(wc -l < "$tmp/bad.err")
	if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && [ ! -s "$tmp/bad.out" ] &&
	    grep -q '^arkvm' "$tmp/bad.err"; then
		pass "bad-input-$name"
	else
		fail "bad-input-$name" "exit $rc, $lines stderr lines, $(wc -c < "$tmp/bad.out") stdout bytes: $(head -c 300 "$tmp/bad.err" | tr '\n' '|')"
	fi
}
: > "$tmp/empty"
echo "this is not a kernel" > "$tmp/text"
head -c 4000000 "$KERNEL" > "$tmp/truncated"
bad missing-kernel run --kernel /nonexistent/Image
bad directory-kernel run --kernel /
bad empty-kernel run --kernel "$tmp/empty"
bad text-file-kernel run --kernel "$tmp/text"
bad not-arm64-kernel run --kernel "$ARKVM"
bad truncated-kernel run --kernel "$tmp/truncated"
bad missing-initrd run --kernel "$KERNEL" --initrd /nonexistent/initrd
bad too-big-for-memory run --kernel "$KERNEL" --initrd "$KERNEL" --memory 48M
bad cpus-zero run --kernel "$KERNEL" --cpus 0
bad cpus-too-many run --kernel "$KERNEL" --cpus 100000
bad cpus-not-a-number run --kernel "$KERNEL" --cpus two
bad memory-malformed run --kernel "$KERNEL" --memory 12X
bad memory-too-small run --kernel "$KERNEL" --memory 1M
bad memory-unknown-option run --kernel "$KERNEL" --memory 1G,huge
bad memory-beyond-host run --kernel "$KERNEL" --memory 100000G
bad unknown-option run --kernel "$KERNEL" --bogus
bad option-missing-value run --kernel
bad duplicated-option run --kernel "$KERNEL" --kernel "$KERNEL"
bad no-command
bad unknown-command fly --kernel "$KERNEL"
bad missing-disk run --kernel "$KERNEL" --disk /nonexistent/disk.img
bad disk-twice run --kernel "$KERNEL" --disk "$tmp/empty" --disk "$tmp/empty"
bad disk-bad-option run --kernel "$KERNEL" --disk "$KERNEL,bogus"
bad net-missing-tap run --kernel "$KERNEL" --net tap=arkvmnosuch0
mkdir -p "$tmp/adir"
bad empty-initrd run --kernel "$KERNEL" --initrd "$tmp/empty"
bad directory-initrd run --kernel "$KERNEL" --initrd "$tmp/adir"
bad empty-disk run --kernel "$KERNEL" --disk "$tmp/empty"
bad directory-disk run --kernel "$KERNEL" --disk "$tmp/adir"
dd if=/dev/zero of="$tmp/one.img" bs=1M count=1 2>/dev/null
ln -s one.img "$tmp/same.img"
bad disk-twice-by-two-names run --kernel "$KERNEL" --disk "$tmp/one.img" --disk "$tmp/same.img"
# Nothing is left behind: after a start that failed late (the tap), the
# disk it had opened is not locked any more.
bad disk-then-missing-tap run --kernel "$KERNEL" --disk "$tmp/one.img" --net tap=arkvmnosuch0
if "$ARKVM" run --kernel "$KERNEL" --disk "$tmp/one.img" --dump-dtb "$tmp/one.dtb" \
    < /dev/null > /dev/null 2>&1; then
	pass bad-input-leaves-no-lock-behind
else
	fail bad-input-leaves-no-lock-behind "the disk stayed locked after a failed start"
fi
run_in_use
bad disk-in-use-by-another-arkvm run --kernel "$KERNEL" --disk "$tmp/durable.img"
grep -q 'in use' "$tmp/bad.err" && pass disk-in-use-message ||
	fail disk-in-use-message "stderr: $(cat "$tmp/bad.err")"
kill -TERM $holder; wait $holder
bad net-not-a-tap run --kernel "$KERNEL" --net tap=lo
bad console-unknown run --kernel "$KERNEL" --console usb
bad net-bad-mac run --kernel "$KERNEL" --net tap=lo,mac=01:02:03:04:05:06

info "no-guest cases: $(( $(date +%s) - t0 )) s"

# No /dev/kvm: arkvm says why instead of failing obscurely. Only on the
# emulated host: hiding /dev/kvm on a real one would disturb its other VMs.
if [ "${ARKVM_LAB_SCRATCH_HOST:-0}" = 1 ] && [ -c /dev/kvm ] &&
    mv /dev/kvm /dev/kvm.hidden 2>/dev/null; then
	bad no-dev-kvm run --kernel "$KERNEL"
	mv /dev/kvm.hidden /dev/kvm
	grep -q 'KVM' "$tmp/bad.err" && pass no-dev-kvm-message ||
		fail no-dev-kvm-message "stderr does not mention KVM: $(cat "$tmp/bad.err")"
fi

# Hugepages asked for, none free: one line, exit 1.
if [ "${ARKVM_LAB_SCRATCH_HOST:-0}" = 1 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
	echo 0 > /proc/sys/vm/nr_hugepages
	bad no-free-hugepages run --kernel "$KERNEL" --memory 128M,hugepages
	grep -q 'hugepages' "$tmp/bad.err" && pass no-free-hugepages-message ||
		fail no-free-hugepages-message "stderr: $(cat "$tmp/bad.err")"
fi

# As a user without rights: unreadable files, and no permission on /dev/kvm.
# Only on the emulated host, which may grow a user and change /dev/kvm.
if [ "${ARKVM_LAB_SCRATCH_HOST:-0}" = 1 ] && [ -c /dev/kvm ]; then
	mkdir -p /etc
	grep -q '^nobody:' /etc/passwd 2>/dev/null ||
		echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd
	grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >> /etc/group
	cp "$KERNEL" "$tmp/k-read" && chmod 644 "$tmp/k-read"
	cp "$tmp/one.img" "$tmp/noread" && chmod 000 "$tmp/noread"
	kvm_mode=$(stat -c %a /dev/kvm)
	chmod 666 /dev/kvm
	RUNAS=nobody bad unreadable-kernel run --kernel "$tmp/noread"
	RUNAS=nobody bad unreadable-initrd run --kernel "$tmp/k-read" --initrd "$tmp/noread"
	RUNAS=nobody bad unreadable-disk run --kernel "$tmp/k-read" --disk "$tmp/noread"
	chmod 600 /dev/kvm
	RUNAS=nobody bad no-permission-on-dev-kvm run --kernel "$tmp/k-read"
	grep -q 'permission' "$tmp/bad.err" && pass no-permission-on-dev-kvm-message ||
		fail no-permission-on-dev-kvm-message "stderr: $(cat "$tmp/bad.err")"
	chmod "$kvm_mode" /dev/kvm
fi
# --- virtio-gpu ------------------------------------------------------------------

# Debian's generic kernel loads virtio-gpu and DRM and shows its framebuffer
# console on the display; the guest writes three lines at the top of tty1.
# arkvm's screenshot at exit goes back to the lab host in base64, which
# checks the text is there and nothing else is (tests/lab/lab.sh).
GPU_KERNEL=${GPU_KERNEL:-$(dirname "$KERNEL")/Image-generic}
GPU_INITRD=${GPU_INITRD:-$(dirname "$INITRD")/guest-gpu.cpio.gz}
if [ -f "$GPU_KERNEL" ] && [ -f "$GPU_INITRD" ]; then
	saved_kernel=$KERNEL saved_initrd=$INITRD
	KERNEL=$GPU_KERNEL INITRD=$GPU_INITRD
	boot gpu-2d --gpu 2d --screenshot "$tmp/gpu.png" --memory 512M \
		--cmdline "quiet arkvm.test=gpu logo.nologo" < /dev/null
	KERNEL=$saved_kernel INITRD=$saved_initrd
	if [ $rc -ne 0 ]; then
		fail gpu-2d-card0 "$(why $rc)"; show gpu-2d
	elif ! grep -q '^ARKVM-GPU: card0 on virtio_gpu' "$tmp/gpu-2d.log"; then
		fail gpu-2d-card0 "the guest has no /dev/dri/card0 on virtio_gpu"; show gpu-2d
	elif ! grep -q '^arkvm: screenshot: 1024x768 written' "$tmp/gpu-2d.err"; then
		fail gpu-2d-card0 "no screenshot at exit"; show gpu-2d
	else
		pass gpu-2d-card0
		echo "PNG-BASE64-BEGIN"
		base64 "$tmp/gpu.png"
		echo "PNG-BASE64-END"
	fi
	# A screenshot file that cannot be made: one line, exit 1.
	bad gpu-screenshot-unwritable run --kernel "$KERNEL" --gpu 2d --screenshot /nonexistent/s.png
	bad gpu-virgl-not-built run --kernel "$KERNEL" --gpu virgl
else
	info "no generic kernel for the GPU case ($GPU_KERNEL): skipped"
fi


# --- disk images: qcow2 overlays, compressed images, ephemeral disks -----------
. "$(dirname "$0")/disk-cases.sh"


# --- the platform: the RTC ------------------------------------------------------
. "$(dirname "$0")/platform-cases.sh"
# CPU features and topology (issue 24).
. "$(dirname "$0")/arm64-cases.sh"
# --- arkvm exec: one command in a fresh VM ------------------------------------------
. "$(dirname "$0")/exec-cases.sh"
# --- user-mode networking: passt ----------------------------------------------
. "$(dirname "$0")/net-user-cases.sh"
