#!/bin/sh
# make test-gicv2, make test-16k: the basics on another kind of host (level 1
# started with a GICv2, or booting a 16K-page kernel): a 2-vCPU guest boots
# on the interrupt controller the host offers, its disk writes and reads
# back, its NIC pings the host when level 1 can make a tap; and on a GICv2,
# the limits say so in one line.
#
#   host-cases.sh ARKVM KERNEL INITRD MARKER
set -u
ARKVM=$1 KERNEL=$2 INITRD=$3
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
tmp=${TMPDIR:-/tmp}/arkvm-host.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
pass() { echo "PASS: lab/$1"; }
fail() { echo "FAIL: lab/$1: $2"; }
info() { echo "lab: $*"; }
field() { sed -n "s/^$2=//p" "$tmp/$1.log" | head -n 1; }
boot() {
	name=$1; shift
	timeout "$BOOT_TIMEOUT" "$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" "$@" \
		> "$tmp/$name.out" 2> "$tmp/$name.err"
	rc=$?
	tr -d '\r' < "$tmp/$name.out" > "$tmp/$name.log"
}
show() {
	echo "---- $1: exit $rc, stderr:"; cat "$tmp/$1.err"
	echo "---- $1: console (last 20 lines):"; tail -n 20 "$tmp/$1.log"; echo "----"
}

# Level 1's own GIC is the one its KVM emulates (QEMU's GICv3 has no GICv2
# compatibility), so the guest gets the same, as --irqchip auto chooses.
if grep -q GICv3 /proc/interrupts; then host_gic=GICv3 want_irq=GICv3; else host_gic=GICv2 want_irq=GIC-0; fi
info "level 1: $(uname -r), $host_gic, $(awk '/^KernelPageSize/ { print $2 " kB"; exit }' /proc/self/smaps) pages"

# --- a 2-vCPU guest: its interrupt controller, its disk ---------------------------
dd if=/dev/zero of="$tmp/disk.img" bs=1M count=8 2>/dev/null
cat > "$tmp/basic.in" <<'GUEST'
echo "HOST-CPUS=$(grep -c ^processor /proc/cpuinfo)"
echo "HOST-GIC=$(sed -n 's/^ *[0-9]*: *[0-9 ]* \(GIC[^ ]*\) .*arch_timer.*/\1/p' /proc/interrupts | head -n 1)"
printf 'arkvm-host-case' | dd of=/dev/vda bs=512 seek=100 conv=fsync 2>/dev/null
echo 3 > /proc/sys/vm/drop_caches
echo "HOST-DISK=$(dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -c 15)"
poweroff -f
GUEST
boot basic --cpus 2 --cmdline "quiet arkvm.test=shell" --disk "$tmp/disk.img" < "$tmp/basic.in"
if [ $rc -ne 0 ] || [ "$(field basic HOST-CPUS)" != 2 ]; then
	fail host-guest-boots-2cpus "exit $rc, $(field basic HOST-CPUS) CPUs"; show basic
else
	pass host-guest-boots-2cpus
fi
if [ "$(field basic HOST-GIC)" = "$want_irq" ]; then
	pass "host-guest-runs-on-$want_irq"
else
	fail "host-guest-runs-on-$want_irq" "the timer is on '$(field basic HOST-GIC)'"; show basic
fi
if [ "$(field basic HOST-DISK)" = arkvm-host-case ] &&
    [ "$(dd if="$tmp/disk.img" bs=512 skip=100 count=1 2>/dev/null | head -c 15)" = arkvm-host-case ]; then
	pass host-disk-write-read
else
	fail host-disk-write-read "the guest read '$(field basic HOST-DISK)'"; show basic
fi

# --- the network, when level 1 can make a tap ----------------------------------
. "$(dirname "$0")/net.sh"
if [ -c /dev/net/tun ] && net_host_up arkvmhost0 10.78.0.1/24 2>/dev/null; then
	cat > "$tmp/net.in" <<'GUEST'
ip link set eth0 up; ip addr add 10.78.0.2/24 dev eth0
ping -c 3 -W 5 10.78.0.1 > /dev/null; echo "HOST-PING-RC=$?"
poweroff -f
GUEST
	boot net --cpus 2 --cmdline "quiet arkvm.test=shell" --net tap=arkvmhost0 < "$tmp/net.in"
	if [ $rc -eq 0 ] && [ "$(field net HOST-PING-RC)" = 0 ]; then
		pass host-net-ping
	else
		fail host-net-ping "exit $rc, ping rc '$(field net HOST-PING-RC)'"; show net
	fi
	net_host_down arkvmhost0
else
	info "no tap on level 1 (no tun module for its kernel): the network case skipped"
fi

# --- a GICv2's limits: one clear line, exit 1 -------------------------------------
if [ "$host_gic" = GICv2 ]; then
	boot cpus9 --cpus 9 < /dev/null
	if [ $rc -eq 1 ] && grep -q 'a GICv2 serves at most 8 vCPUs' "$tmp/cpus9.err"; then
		pass gicv2-refuses-9-vcpus
	else
		fail gicv2-refuses-9-vcpus "exit $rc: $(head -n 2 "$tmp/cpus9.err")"
	fi
	boot want3 --irqchip gicv3 < /dev/null
	if [ $rc -eq 1 ] && grep -q 'cannot emulate a GICv3' "$tmp/want3.err"; then
		pass gicv2-host-refuses-irqchip-gicv3
	else
		fail gicv2-host-refuses-irqchip-gicv3 "exit $rc: $(head -n 2 "$tmp/want3.err")"
	fi
fi
