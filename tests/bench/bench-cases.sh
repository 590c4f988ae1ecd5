#!/bin/sh
# The measurements of `make bench`, run where arkvm runs: inside the lab's
# emulated arm64 host (tests/lab/lab.sh with LAB_CASES), or directly on an
# arm64 host with KVM. Prints raw figures, one per line:
#   BENCH: <name> <value> <unit>
# and tests/bench/bench.sh turns them into the table, ratios and targets.
#
#   bench-cases.sh ARKVM KERNEL INITRD MARKER
# LOADGEN (tests/bench/loadgen.c, static arm64), LOADGEN_CPIO (a newc
# archive holding it as bin/loadgen, for the guest) and MICRO_KERNEL (the
# `make guest-kernel` Image, optional) are taken from the environment, or
# from this script's directory (level 1's /lab), and so are the peers arkvm
# is set against, each optional: KVMTOOL (a kvmtool lkvm binary) and QEMU
# (a qemu-system-aarch64, or a script that runs one). APIBENCH
# (tests/bench/apibench.c, static arm64) times Firecracker's API and
# snapshots.
set -u
ARKVM=$1 KERNEL=$2 INITRD=$3
here=$(dirname "$0")
LOADGEN=${LOADGEN:-$here/loadgen}
LOADGEN_CPIO=${LOADGEN_CPIO:-$here/loadgen.cpio}
MICRO_KERNEL=${MICRO_KERNEL:-$here/Image-micro}
KVMTOOL=${KVMTOOL:-$here/lkvm}
QEMU=${QEMU:-$here/qemu}
BOOT_RUNS=${BOOT_RUNS:-3}
lib=$here/net.sh
[ -f "$lib" ] || lib=$here/../lab/net.sh
. "$lib"
tmp=${TMPDIR:-/tmp}/arkvm-bench.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# BENCH: NAME VALUE UNIT [round=N]: the round tags figures of the I/O rounds.
bench() { echo "BENCH: $*${round:+ round=$round}"; }
# The lab's disk images (tests/lab/disk-images.sh), next to this script in level 1.
IMAGES=${IMAGES:-$(dirname "$0")}
info() { echo "bench: $*"; }

# cpu_figures PREFIX ERRFILE N: from --stats, arkvm's I/O thread CPU per
# unit of work (N of them: requests, packets) and as a share of the vCPU
# thread's (the guest's own time plus its exits).
cpu_figures() {
	io=$(sed -n 's/^arkvm: stats: I\/O thread: \([0-9.]*\) ms CPU.*/\1/p' "$2")
	vcpu=$(sed -n 's/^arkvm: stats: vcpu0: .*; \([0-9.]*\) ms CPU$/\1/p' "$2")
	if [ -z "$io" ] || [ -z "$vcpu" ] || [ "${3:-0}" -eq 0 ]; then
		info "$1: no CPU figures in --stats"
		return
	fi
	bench "$1-io-cpu-per-unit $(awk -v t="$io" -v n="$3" 'BEGIN { printf "%.1f", 1000 * t / n }') us"
	bench "$1-io-cpu-share $(awk -v t="$io" -v v="$vcpu" 'BEGIN { printf "%.1f", v ? 100 * t / v : 0 }') %"
}

# The guest's initrd with loadgen added: the kernel unpacks concatenated
# archives in turn, each starting on a 4-byte boundary (zeros pad).
pad=$(( (4 - $(wc -c < "$INITRD") % 4) % 4 ))
{ cat "$INITRD"; head -c $pad /dev/zero; cat "$LOADGEN_CPIO"; } > "$tmp/initrd"

# start NAME [arkvm args] < input: arkvm in the background; $pid.
start() {
	name=$1; shift
	exec 3<&0
	"$ARKVM" run --initrd "$tmp/initrd" "$@" <&3 > "$tmp/$name.out" 2> "$tmp/$name.err" &
	pid=$!
	exec 3<&-
}

# wait_for NAME TEXT: until the guest's console shows TEXT (300 s at most).
wait_for() {
	i=0
	until grep -q "$2" "$tmp/$1.out" 2> /dev/null || [ $i -ge 1500 ]; do
		sleep 0.2; i=$((i + 1))
	done
}

# finish: waits for arkvm, killing it after 600 s.
finish() {
	( sleep 600; kill -KILL $pid 2> /dev/null ) &
	killer=$!
	wait $pid
	kill $killer 2> /dev/null
}

# --- boot time, CPU and memory -------------------------------------------------

# vmm_rss SMAPS LO HI: the resident KiB of every mapping outside guest RAM,
# [LO, HI) (from --stats).
vmm_rss() {
	lo=$(($2)) hi=$(($3)) total=0 inside=0
	while read -r a b _; do
		case "$a" in
		*-*) s=${a%-*} e=${a#*-}
		     if [ $((0x$s)) -ge "$lo" ] && [ $((0x$e)) -le "$hi" ]; then inside=1; else inside=0; fi ;;
		Rss:) [ $inside = 0 ] && total=$((total + b)) ;;
		esac
	done < "$1"
	echo $total
}

# boot_split LABEL KERNEL: BOOT_RUNS idle boots with 1 vCPU and 128 MiB and
# --boot-timer. The first run also gives arkvm's resident memory outside
# guest RAM, read from smaps while the guest idles.
boot_split() {
	label=$1 kernel=$2 n=1
	while [ $n -le "$BOOT_RUNS" ]; do
		start "boot-$label-$n" --kernel "$kernel" --cpus 1 --memory 128M --boot-timer --stats \
			--cmdline "quiet arkvm.test=idle" < /dev/null
		wait_for "boot-$label-$n" ARKVM-IDLE
		if [ $n -eq 1 ]; then
			sleep 2
			cp "/proc/$pid/smaps" "$tmp/smaps"
		fi
		kill -TERM $pid
		finish
		if [ $n -eq 1 ]; then
			set -- $(sed -n 's/^arkvm: stats: guest RAM at host \(0x[0-9a-f]*\)-\(0x[0-9a-f]*\)$/\1 \2/p' \
				"$tmp/boot-$label-$n.err")
			[ $# -eq 2 ] && bench "overhead-$label $(vmm_rss "$tmp/smaps" "$1" "$2") KiB"
		fi
		line=$(grep 'boot-timer: start' "$tmp/boot-$label-$n.err")
		info "$label: $(grep 'boot-timer: set-up steps' "$tmp/boot-$label-$n.err")"
		n=$((n + 1))
		if [ -z "$line" ]; then
			info "boot-$label: no boot-timer line: $(head -c 300 "$tmp/boot-$label-$((n - 1)).err")"
			continue
		fi
		set -- $(echo "$line" | sed 's/[^0-9. ]//g')
		# start-to-run, CPU, run-to-init, total (ms)
		bench "boot-$label-setup $1 ms"
		bench "boot-$label-setup-cpu $2 ms"
		bench "boot-$label-guest $3 ms"
		bench "boot-$label-total $4 ms"
	done
}
boot_split cloud "$KERNEL"
if [ -f "$MICRO_KERNEL" ]; then
	boot_split micro "$MICRO_KERNEL"
else
	info "no minimal kernel ($MICRO_KERNEL): make guest-kernel"
fi

# --- arkvm exec ------------------------------------------------------------------
# `exec -- true` from start to exit (loadgen wall), cold, with the cloud
# kernel and the modules exec loads, next to that kernel's plain boot above;
# then EXEC_MANY of them at once: their wall time, how many exited 0, and
# how far level 1's available memory fell meanwhile (sampled).
EXEC_MODULES=$(dirname "$0")/exec-modules
EXEC_MANY=${EXEC_MANY:-20}
bench_exec() {
	[ -f "$EXEC_MODULES/modules.order" ] || { info "exec: no modules in $EXEC_MODULES: skipped"; return; }
	xr=$tmp/exec-root
	mkdir -p "$xr/bin" "$xr/proc" "$xr/sys" "$xr/dev" "$xr/tmp"
	cp /bin/busybox "$xr/bin/busybox"
	ln -sf busybox "$xr/bin/sh"; ln -sf busybox "$xr/bin/true"
	# --timeout: twenty boots at once under the lab's emulation take minutes.
	set -- --kernel "$KERNEL" --modules "$EXEC_MODULES" --rootfs "$xr" --memory 128M \
		--timeout 900 -- true
	n=1
	while [ $n -le "$BOOT_RUNS" ]; do
		"$LOADGEN" wall "$ARKVM" exec "$@" < /dev/null 2> "$tmp/exec-cold.err" |
			sed -n 's/^LOADGEN wall \([0-9.]*\) ms/exec-true-cold \1 ms/p' |
			while read -r line; do bench "$line"; done
		n=$((n + 1))
	done
	# --warm: one run fills the cache (not timed), then restores are.
	"$ARKVM" exec --warm "$tmp/exec-cache" "$@" < /dev/null 2> "$tmp/exec-warm.err" ||
		info "exec --warm, first run: $(head -c 300 "$tmp/exec-warm.err")"
	n=1
	while [ $n -le "$BOOT_RUNS" ]; do
		"$LOADGEN" wall "$ARKVM" exec --warm "$tmp/exec-cache" "$@" < /dev/null \
			2> "$tmp/exec-warm.err" |
			sed -n 's/^LOADGEN wall \([0-9.]*\) ms/exec-true-warm \1 ms/p' |
			while read -r line; do bench "$line"; done
		n=$((n + 1))
	done
	rm -rf "$tmp/exec-cache"
	avail0=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
	low=$avail0 pids= i=0
	t0=$(cut -d' ' -f1 /proc/uptime)
	while [ $i -lt "$EXEC_MANY" ]; do
		"$ARKVM" exec "$@" < /dev/null > /dev/null 2> "$tmp/exec-many-$i.err" &
		pids="$pids $!"
		i=$((i + 1))
	done
	while :; do
		alive=0
		for p in $pids; do kill -0 "$p" 2> /dev/null && alive=1; done
		[ $alive = 0 ] && break
		a=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
		[ "$a" -lt "$low" ] && low=$a
		sleep 0.2
	done
	t1=$(cut -d' ' -f1 /proc/uptime)
	ok=0
	for p in $pids; do wait "$p" && ok=$((ok + 1)); done
	bench "exec-many-wall $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", 1000 * (b - a) }') ms"
	bench "exec-many-ok $ok x"
	bench "exec-many-memory $(( (avail0 - low) / 1024 )) MiB"
	[ $ok -eq "$EXEC_MANY" ] || info "exec: $((EXEC_MANY - ok)) of $EXEC_MANY failed: $(cat "$tmp"/exec-many-*.err | head -c 300)"
	rm -rf "$xr" "$tmp"/exec-many-*.err
}
bench_exec

# --- Firecracker's API ------------------------------------------------------------

# api_boot LABEL KERNEL: BOOT_RUNS times, the idle guest of boot_split
# (1 vCPU, 128 MiB, --boot-timer) configured over the API socket and
# started with InstanceStart, then the same guest from arkvm's command
# line, both started and timed alike by APIBENCH (tests/bench/apibench.c):
# from its fork, to the socket accepting and answering, 1000 PUTs on one
# connection, InstanceStart to the boot timer's line, and smaps once idle;
# then the same PUTs answered by a bare server, the floor of a round trip
# here. Its figures come back as "api-LABEL-NAME", each run a round, so
# that bench.sh sets each API figure against the CLI's or the floor's of
# the same run (the lab's speed drifts from minute to minute).
APIBENCH=${APIBENCH:-$here/apibench}
api_boot() {
	label=$1 kernel=$2 n=1
	while [ $n -le "$BOOT_RUNS" ]; do
		round=$n
		"$APIBENCH" floor 1000 > "$tmp/api.fig" 2> "$tmp/api.err"
		"$APIBENCH" api "$tmp/api.sock" "$kernel" "$tmp/initrd" "quiet arkvm.test=idle" 128 1000 -- \
			"$ARKVM" --api-sock "$tmp/api.sock" --boot-timer >> "$tmp/api.fig" 2>> "$tmp/api.err"
		"$APIBENCH" cli -- "$ARKVM" run --kernel "$kernel" --initrd "$tmp/initrd" --cpus 1 \
			--memory 128M --boot-timer --cmdline "quiet arkvm.test=idle" >> "$tmp/api.fig" 2>> "$tmp/api.err"
		[ -s "$tmp/api.err" ] && info "api $label, run $n: $(tr '\n' '|' < "$tmp/api.err" | head -c 800)"
		sed -n 's/^APIBENCH //p' "$tmp/api.fig" | while read -r fig value unit; do
			bench "api-$label-$fig $value $unit"
		done
		n=$((n + 1))
	done
	round=
}
# A microVM's kernel, as Firecracker's figures assume, when there is one.
if [ ! -x "$APIBENCH" ]; then
	info "no $APIBENCH: the API figures stay empty"
elif [ -f "$MICRO_KERNEL" ]; then
	api_boot micro "$MICRO_KERNEL"
else
	api_boot cloud "$KERNEL"
fi

# --- snapshots --------------------------------------------------------------------

# snap_bench LABEL KERNEL: BOOT_RUNS rounds of APIBENCH snap
# (tests/bench/snapbench.c): a 256 MiB guest counting on its console,
# booted cold over the API, snapshotted, killed, loaded over the API in a
# fresh process and restored from the command line, then booted cold from
# the command line; each time to its first COUNT line, smaps 1 s after.
# Figures come back as "snap-NAME", each run a round, so that bench.sh
# sets each restore against the cold boot of its own round.
snap_bench() {
	label=$1 kernel=$2 n=1
	mkdir -p "$tmp/snap"
	while [ $n -le "$BOOT_RUNS" ]; do
		round=$n
		"$APIBENCH" snap "$tmp/snap" "$kernel" "$tmp/initrd" 256 -- "$ARKVM" \
			> "$tmp/snap.fig" 2> "$tmp/snap.err"
		[ -s "$tmp/snap.err" ] && info "snap $label, run $n: $(tr '\n' '|' < "$tmp/snap.err" | head -c 800)"
		sed -n 's/^APIBENCH //p' "$tmp/snap.fig" | while read -r fig value unit; do
			bench "snap-$fig $value $unit"
		done
		n=$((n + 1))
	done
	round=
	rm -rf "$tmp/snap"
}
if [ ! -x "$APIBENCH" ]; then
	info "no $APIBENCH: the snapshot figures stay empty"
elif [ -f "$MICRO_KERNEL" ]; then
	snap_bench micro "$MICRO_KERNEL"
else
	snap_bench cloud "$KERNEL"
fi

# --- the peers: kvmtool, QEMU ------------------------------------------------------

PEERS=
[ -x "$KVMTOOL" ] && PEERS="$PEERS kvmtool"
[ -x "$QEMU" ] && PEERS="$PEERS qemu"
if [ -n "$PEERS" ] && [ ! -f "$MICRO_KERNEL" ]; then
	info "$PEERS: needs the minimal kernel (make guest-kernel)"
	PEERS=
fi

# vmm_boot VMM MIB DEVICE GUEST [PREFIX...]: the bench's guest on the minimal
# kernel with 1 vCPU and MIB MiB, booted by VMM (arkvm, kvmtool, qemu) under
# PREFIX (loadgen wall, or exec), its console on stdout. DEVICE is none,
# disk=FILE or tap=NAME[,vhost]; GUEST is its arkvm.test= mode and the rest
# of its command line.
vmm_boot() {
	vmm=$1 mib=$2 dev=$3 guest=$4; shift 4
	ifname=${dev#tap=} vhost=
	[ "$ifname" = "${ifname%,vhost}" ] || ifname=${ifname%,vhost} vhost=yes
	# devargs is split into words: the bench's paths have no blanks.
	case $vmm:$dev in
	arkvm:none) devargs= ;;
	arkvm:disk=*) devargs="--disk ${dev#disk=}" ;;
	arkvm:tap=*) devargs="--net $dev" ;;
	kvmtool:none) devargs="--network mode=none" ;;
	kvmtool:disk=*) devargs="--network mode=none -d ${dev#disk=}" ;;
	kvmtool:tap=*)
		devargs="--network mode=tap,tapif=$ifname,script=none,trans=mmio${vhost:+,vhost=1}" ;;
	# QEMU's disk as arkvm's: through the page cache, with io_uring.
	qemu:none) devargs= ;;
	qemu:disk=*) devargs="-drive file=${dev#disk=},if=none,id=d0,format=raw,cache=writeback,aio=io_uring
		-device virtio-blk-device,drive=d0" ;;
	qemu:tap=*)
		devargs="-netdev tap,id=n0,ifname=$ifname,script=no,downscript=no${vhost:+,vhost=on}
			-device virtio-net-device,netdev=n0" ;;
	esac
	case $vmm in
	arkvm) "$@" "$ARKVM" run --kernel "$MICRO_KERNEL" --initrd "$tmp/initrd" --cpus 1 \
		--memory "${mib}M" $devargs --cmdline "quiet arkvm.test=$guest" ;;
	kvmtool) HOME=$tmp "$@" "$KVMTOOL" run -k "$MICRO_KERNEL" -i "$tmp/initrd" -c 1 -m "$mib" \
		--console serial --virtio-transport mmio $devargs -p "quiet arkvm.test=$guest" ;;
	# QEMU's virt board has a PL011, which the minimal kernel lacks: its
	# console is a virtio console instead.
	qemu) "$@" "$QEMU" -M virt,gic-version=3 -accel kvm -cpu host -smp 1 -m "$mib" \
		-nodefaults -no-user-config -display none -device virtio-serial-device \
		-chardev stdio,id=con0 -device virtconsole,chardev=con0 -kernel "$MICRO_KERNEL" \
		-initrd "$tmp/initrd" $devargs -append "quiet console=hvc0 arkvm.test=$guest" ;;
	esac
}

# largest_mapping SMAPS: "LO HI" of the biggest mapping, the guest's RAM
# for every VMM here.
largest_mapping() {
	best=0 out=
	while read -r a _; do
		case "$a" in
		*-*) lo=$((0x${a%-*})) hi=$((0x${a#*-}))
		     [ $((hi - lo)) -gt $best ] && best=$((hi - lo)) out="$lo $hi" ;;
		esac
	done < "$1"
	echo $out
}

# peer_off VMM: one boot timed from the VMM's start to its exit, the guest
# powering off as soon as init runs. Every VMM is timed alike.
peer_off() {
	vmm_boot $1 128 none poweroff "$LOADGEN" wall < /dev/null > "$tmp/peer-$1.out" 2> "$tmp/peer-$1.err"
	ms=$(sed -n 's/^LOADGEN wall \([0-9.]*\) ms.*/\1/p' "$tmp/peer-$1.out")
	if [ -n "$ms" ]; then
		bench "peer-off-$1 $ms ms"
	else
		info "peer $1: $(tail -c 300 "$tmp/peer-$1.err" | tr '\n' '|')"
	fi
}

# peer_overhead VMM: an idle boot; the VMM's resident memory outside guest
# RAM (its biggest mapping), read alike for every VMM.
peer_overhead() {
	peer=$1
	# exec: the background job becomes the VMM, so that $! is its pid.
	vmm_boot $peer 128 none idle exec < /dev/null > "$tmp/peer-idle-$peer.out" 2> "$tmp/peer-idle-$peer.err" &
	pid=$!
	wait_for peer-idle-$peer ARKVM-IDLE
	sleep 2
	cp "/proc/$pid/smaps" "$tmp/peer.smaps" 2> /dev/null
	kill -KILL $pid
	wait $pid 2> /dev/null
	set -- $(largest_mapping "$tmp/peer.smaps")
	[ $# -eq 2 ] && bench "peer-overhead-$peer $(vmm_rss "$tmp/peer.smaps" "$1" "$2") KiB"
}

if [ -n "$PEERS" ]; then
	n=1
	while [ $n -le "$BOOT_RUNS" ]; do
		for who in arkvm $PEERS; do peer_off $who; done
		n=$((n + 1))
	done
	for who in arkvm $PEERS; do peer_overhead $who; done
fi

# --- block and network, in rounds ------------------------------------------------

# Every figure below is taken ROUNDS times (BENCH_ROUNDS, default 3), and
# each round measures the guest and then its ceiling back to back, so that
# bench.sh can set each guest figure against the ceiling of its own round:
# in the lab the machine's speed drifts by tens of percent from minute to
# minute. The guests run the minimal kernel when there is one (a microVM's
# kernel, and five times quicker to boot in the lab), else KERNEL.
ROUNDS=${BENCH_ROUNDS:-3}
IO_KERNEL=$KERNEL
[ -f "$MICRO_KERNEL" ] && IO_KERNEL=$MICRO_KERNEL

# A 256 MiB image in level 1's memory. The guest drives /dev/vda with
# loadgen (O_DIRECT); level 1 runs the same load on the same file.
MIB=256
cat > "$tmp/blk.in" <<GUEST
echo VDASTAT \$(cat /sys/block/vda/stat)
loadgen seq-write /dev/vda $MIB
echo VDASTAT \$(cat /sys/block/vda/stat)
loadgen seq-read /dev/vda $MIB
echo VDASTAT \$(cat /sys/block/vda/stat)
loadgen rand-read /dev/vda 1 10
poweroff -f
GUEST
printf '%s\n' 'loadgen rand-read /dev/vda 32 10' 'poweroff -f' > "$tmp/blk32.in"

bench_block() {
	dd if=/dev/zero of="$tmp/disk.img" bs=1M count=$MIB 2> /dev/null
	start blk --kernel "$IO_KERNEL" --memory 256M --disk "$tmp/disk.img" \
		--cmdline "quiet arkvm.test=shell" < "$tmp/blk.in"
	finish
	start blk32 --kernel "$IO_KERNEL" --memory 256M --disk "$tmp/disk.img" --stats \
		--cmdline "quiet arkvm.test=shell" < "$tmp/blk32.in"
	finish
	for f in blk blk32; do
		tr -d '\r' < "$tmp/$f.out" > "$tmp/$f.log"
		grep -q '^LOADGEN ' "$tmp/$f.log" ||
			info "$f: no figures; console: $(tail -n 5 "$tmp/$f.log" | tr '\n' '|')"
		sed -n 's/^LOADGEN \([^ ]*\) \([0-9.]*\) \([^ ]*\).*/guest-\1 \2 \3/p' "$tmp/$f.log"
	done | while read -r line; do bench "$line"; done
	# One request is one buffer; register accesses are the exits to arkvm,
	# kicks the exits KVM ends itself (ioeventfd).
	sed -n 's/^arkvm: stats: virtio-blk@[0-9a-f]*: .*per buffer: \([0-9.]*\) kicks, \([0-9.]*\) interrupts, \([0-9.]*\) register.*/\1 \2 \3/p' \
		"$tmp/blk32.err" | { read -r k i m; bench "blk-qd32-kicks-per-request ${k:-?} x"
				      bench "blk-qd32-interrupts-per-request ${i:-?} x"
				      bench "blk-qd32-exits-per-request ${m:-?} x"; }
	# The guest's own count (/sys/block/vda/stat: reads, merged, sectors,
	# ms, writes, merged, sectors, ...) around the sequential loads: the
	# size of the requests that reached the device, 1024 KiB when none was
	# split.
	grep '^VDASTAT ' "$tmp/blk.log" | awk '
		{ r[NR] = $2; rs[NR] = $4; w[NR] = $6; ws[NR] = $8 }
		END {
			if (NR < 3) exit
			if (w[2] > w[1]) printf "BENCH: blk-seq-write-request-kib %.0f KiB\n", (ws[2] - ws[1]) / 2 / (w[2] - w[1])
			if (r[3] > r[2]) printf "BENCH: blk-seq-read-request-kib %.0f KiB\n", (rs[3] - rs[2]) / 2 / (r[3] - r[2])
		}'
	cpu_figures blk-qd32 "$tmp/blk32.err" \
		"$(sed -n 's/^arkvm: stats: virtio-blk@[0-9a-f]*: \([0-9]*\) buffers used.*/\1/p' "$tmp/blk32.err")"
	# The ceiling: the same load on the same file, in level 1.
	{
		"$LOADGEN" seq-write "$tmp/disk.img" $MIB
		"$LOADGEN" seq-read "$tmp/disk.img" $MIB
		"$LOADGEN" rand-read "$tmp/disk.img" 1 10
		"$LOADGEN" rand-read "$tmp/disk.img" 32 10
	} | sed -n 's/^LOADGEN \([^ ]*\) \([0-9.]*\) \([^ ]*\).*/host-\1 \2 \3/p' |
		while read -r line; do bench "$line"; done
	rm -f "$tmp/disk.img"
}

# TCP over the tap, each way, 32 MiB, with arkvm moving the packets and
# then (where /dev/vhost-net exists) the host kernel's vhost-net; the same
# tool over level 1's loopback is the ceiling, measured right after.
# bench_net_guest PORT SUFFIX [,vhost]: one guest; PORT and PORT + 1.
bench_net_guest() {
	port=$1 sfx=$2 name=net$2
	cat > "$tmp/net.in" <<GUEST
ip link set eth0 up; ip addr add 10.79.0.2/24 dev eth0
loadgen tcp-send 10.79.0.1 $port 32
loadgen tcp-recv $((port + 1)) &
sleep 600
GUEST
	timeout 300 "$LOADGEN" tcp-recv $port > "$tmp/up.out" &
	recv=$!
	start $name --kernel "$IO_KERNEL" --memory 256M --net tap=$tap${3:-} --stats \
		--cmdline "quiet arkvm.test=shell" < "$tmp/net.in"
	wait $recv
	"$LOADGEN" tcp-send 10.79.0.2 $((port + 1)) 32 > /dev/null
	wait_for $name 'LOADGEN tcp-recv'
	kill -TERM $pid
	finish
	bench "guest-tcp-tx$sfx $(awk '{ print $3 }' "$tmp/up.out") MB/s"
	bench "guest-tcp-rx$sfx $(tr -d '\r' < "$tmp/$name.out" | sed -n 's/^LOADGEN tcp-recv \([0-9.]*\).*/\1/p') MB/s"
	# Exits to arkvm (register accesses) per packet, each way counted, from
	# --stats (which takes a vhost-net NIC's packets from the tap's counters).
	e=$(sed -n 's/^arkvm: stats: virtio-net .*per packet: \([0-9.]* kicks, [0-9.]* interrupts, \)\{0,1\}//p' \
		"$tmp/$name.err" | sed -n 's/^\([0-9.]*\) register accesses.*/\1/p')
	[ -n "$e" ] && bench "net$sfx-exits-per-packet $e x"
	[ -n "$sfx" ] && return # the kernel moved the packets: arkvm has no more counts
	sed -n 's/^arkvm: stats: virtio-net .*per packet: \([0-9.]*\) kicks, \([0-9.]*\) interrupts, .*/\1 \2/p' \
		"$tmp/$name.err" | { read -r k i; bench "net-kicks-per-packet ${k:-?} x"
				    bench "net-interrupts-per-packet ${i:-?} x"; }
	cpu_figures net "$tmp/$name.err" "$(sed -n 's/^arkvm: stats: virtio-net .*: \([0-9]*\) packets received, \([0-9]*\) sent.*/\1 \2/p' \
		"$tmp/$name.err" | awk '{ print $1 + $2 }')"
	# Refilling the receive ring: the guest's kicks on it per packet received.
	bench "net-rx-refill-kicks-per-packet $(sed -n 's/^arkvm: stats: virtio-net .*receive-queue kicks per packet received: \([0-9.]*\).*/\1/p' "$tmp/$name.err" | head -n 1) x"
}

# bench_net PORT: a round; ports PORT to PORT + 4.
bench_net() {
	bench_net_guest $1 ""
	[ -c /dev/vhost-net ] && bench_net_guest $(($1 + 2)) -vhost ,vhost
	timeout 300 "$LOADGEN" tcp-recv $(($1 + 4)) > "$tmp/lo.out" &
	recv=$!
	"$LOADGEN" tcp-send 127.0.0.1 $(($1 + 4)) 32 > /dev/null
	wait $recv
	bench "host-tcp-loopback $(awk '{ print $3 }' "$tmp/lo.out") MB/s"
}

# TCP over passt (--net user) in the same rounds, each way 32 MiB, set
# against the tap of the same round: the guest takes passt's lease, sends to
# level 1's loopback through passt's gateway, then receives what level 1
# sends to the forwarded port. Until the guest listens, passt would answer
# the host's connection and then drop it: the guest says when it does.
# bench_passt PORT: level 1 receives on PORT; PORT + 1 on the host is
# forwarded to PORT + 2 in the guest.
bench_passt() {
	port=$1 name=net-passt
	cat > "$tmp/passt.in" <<GUEST
ip link set eth0 up; udhcpc -i eth0 -n -q -t 10 -T 3 > /dev/null 2>&1
gw=\$(ip route | awk '\$1 == "default" { print \$3; exit }'); echo "PASST-LEASE \$gw mtu \$(cat /sys/class/net/eth0/mtu)"
loadgen tcp-send \$gw $port 32
loadgen tcp-recv $((port + 2)) &
until grep -q ":$(printf %04X $((port + 2))) 00000000:0000 0A" /proc/net/tcp; do sleep 0.2; done; echo PASST-RECV-READY
sleep 600
GUEST
	timeout 300 "$LOADGEN" tcp-recv $port > "$tmp/up.out" &
	recv=$!
	start $name --kernel "$IO_KERNEL" --memory 256M --net "user,tcp=$((port + 1)):$((port + 2))" \
		--stats --cmdline "quiet arkvm.test=shell" < "$tmp/passt.in"
	wait $recv
	wait_for $name '^PASST-RECV-READY'
	"$LOADGEN" tcp-send 127.0.0.1 $((port + 1)) 32 > /dev/null
	wait_for $name 'LOADGEN tcp-recv'
	kill -TERM $pid
	finish
	info "passt: $(tr -d '\r' < "$tmp/$name.out" | grep '^PASST-LEASE' | head -n 1);" \
		"$(grep 'stats: virtio-net' "$tmp/$name.err" | tail -n 1)"
	bench "guest-tcp-tx-passt $(awk '{ print $3 }' "$tmp/up.out") MB/s"
	bench "guest-tcp-rx-passt $(tr -d '\r' < "$tmp/$name.out" | sed -n 's/^LOADGEN tcp-recv \([0-9.]*\).*/\1/p') MB/s"
}

# vsock in the same rounds, on the same kernel: 32 MiB each way through
# Firecracker's hybrid protocol (tests/lab/vsock-tool.c in the guest and
# here), each timed on this side from the connection to both ends done.
VSOCK_TOOL=${VSOCK_TOOL:-$here/vsock-tool}
VSOCK_MIB=32
cat > "$tmp/vs.in" <<GUEST
(sleep 1; echo VSOCK-READY) &
vsock-tool listen 5000 < /dev/null > /dev/null
VSOCK_TOOL_ZEROS=$((VSOCK_MIB * 1048576)) vsock-tool connect 2 1234 > /dev/null
echo VSOCK-TX-DONE
poweroff -f
GUEST
# mbps FILE: MB/s from vsock-tool's "sent S received R bytes in T s", for
# whichever of S and R is the transfer.
mbps() {
	sed -n 's/^vsock-tool: sent \([0-9]*\) received \([0-9]*\) bytes in \([0-9.]*\) s/\1 \2 \3/p' "$1" |
		awk '{ b = $1 > $2 ? $1 : $2; if ($3 > 0) printf "%.1f", b / 1e6 / $3 }'
}
bench_vsock() {
	uds=$tmp/vs.sock
	rm -f "$uds" "${uds}_1234"
	VSOCK_TOOL_STATS=1 "$VSOCK_TOOL" ulisten "${uds}_1234" < /dev/null > /dev/null 2> "$tmp/vs-tx.err" &
	lpid=$!
	start vsock --kernel "$IO_KERNEL" --memory 256M --vsock "cid=3,socket=$uds" \
		--cmdline "quiet arkvm.test=shell" < "$tmp/vs.in"
	wait_for vsock '^VSOCK-READY'
	VSOCK_TOOL_ZEROS=$((VSOCK_MIB * 1048576)) VSOCK_TOOL_STATS=1 \
		"$VSOCK_TOOL" uconnect "$uds" 5000 < /dev/null > /dev/null 2> "$tmp/vs-rx.err"
	wait_for vsock '^VSOCK-TX-DONE'
	wait $lpid
	finish
	bench "guest-vsock-tx $(mbps "$tmp/vs-tx.err") MB/s"
	bench "guest-vsock-rx $(mbps "$tmp/vs-rx.err") MB/s"
}

# qcow2 against raw, in the same round: a fresh image each (qcow2: empty,
# made by qemu-img on the lab host; raw: sparse), written twice in a row
# (the first write allocates every cluster, the second finds them), read,
# then 4 KiB random reads and writes on the allocated clusters, and random
# writes on a second fresh image (each one allocates). Figures are named
# raw-* and qcow2-*; bench.sh sets each qcow2 one against its raw one.
cat > "$tmp/img.in" <<GUEST
loadgen seq-write /dev/vda $MIB | sed 's/seq-write/seq-write-fresh/'
loadgen seq-write /dev/vda $MIB
loadgen seq-read /dev/vda $MIB
loadgen rand-read /dev/vda 1 10
loadgen rand-write /dev/vda 1 10
loadgen rand-write /dev/vdb 1 10 | sed 's/rand-write/rand-write-fresh/'
poweroff -f
GUEST

bench_qcow2() {
	[ -f "$IMAGES/empty.qcow2" ] || { info "qcow2: no $IMAGES/empty.qcow2: skipped"; return; }
	for fmt in raw qcow2; do
		if [ $fmt = raw ]; then
			truncate -s ${MIB}M "$tmp/a.img" "$tmp/b.img"
		else
			cp "$IMAGES/empty.qcow2" "$tmp/a.img"
			cp "$IMAGES/empty.qcow2" "$tmp/b.img"
		fi
		start img-$fmt --kernel "$IO_KERNEL" --memory 256M --disk "$tmp/a.img,format=$fmt" \
			--disk "$tmp/b.img,format=$fmt" --cmdline "quiet arkvm.test=shell" < "$tmp/img.in"
		finish
		tr -d '\r' < "$tmp/img-$fmt.out" > "$tmp/img-$fmt.log"
		grep -q '^LOADGEN ' "$tmp/img-$fmt.log" ||
			info "img-$fmt: no figures; console: $(tail -n 5 "$tmp/img-$fmt.log" | tr '\n' '|')"
		sed -n "s/^LOADGEN \([^ ]*\) \([0-9.]*\) \([^ ]*\).*/$fmt-\1 \2 \3/p" "$tmp/img-$fmt.log" |
			while read -r line; do bench "$line"; done
		rm -f "$tmp/a.img" "$tmp/b.img"
	done
}

tap=arkvmbench0 have_tap=yes
ip link set lo up 2> /dev/null  # level 1 brings up no interface at all
net_host_up $tap 10.79.0.1/24 2> "$tmp/tap.err" || { have_tap=no; info "no tap: $(cat "$tmp/tap.err")"; }
# --net user needs passt on PATH, and an arkvm that has it.
have_passt=yes
command -v passt > /dev/null || { have_passt=no; info "no passt on PATH: no passt rows"; }
"$ARKVM" run --help 2>&1 | grep -- '--net' | grep -q user || { have_passt=no; info "arkvm has no --net user"; }
round=1
while [ $round -le "$ROUNDS" ]; do
	info "round $round of $ROUNDS"
	bench_block
	[ $have_tap = no ] || bench_net $((7200 + 10 * round))
	[ $have_passt = no ] || bench_passt $((7400 + 10 * round))
	[ -x "$VSOCK_TOOL" ] && bench_vsock
	bench_qcow2
	round=$((round + 1))
done

# --- virtio-fs ----------------------------------------------------------------------

# A share against virtio-blk in the same guest: 256 MiB written and read
# back through each (loadgen, O_DIRECT where the file system takes it), the
# first-level host's own read of the same file, and the untar of a source
# tree of 2000 small files onto each (ext2 on the disk, made by the guest).
FS_MIB=256
bench_fs() {
	fsb=$tmp/fsb
	rm -rf "$fsb"; mkdir -p "$fsb/src"
	d=0
	while [ $d -lt 40 ]; do
		mkdir -p "$fsb/src/d$d"; f=0
		while [ $f -lt 50 ]; do echo "/* file $d.$f */ int f${d}_$f;" > "$fsb/src/d$d/f$f.c"; f=$((f + 1)); done
		d=$((d + 1))
	done
	(cd "$fsb" && tar cf src.tar src && rm -rf src)
	dd if=/dev/zero of="$tmp/fsdisk.img" bs=1M count=0 seek=1024 2> /dev/null
	cat > "$tmp/fsb.in" <<GUEST
mkdir -p /mnt/s /mnt/d
mount -t virtiofs bench /mnt/s
mke2fs /dev/vda > /dev/null 2>&1; mount /dev/vda /mnt/d
cp /mnt/s/src.tar /tmp/src.tar
touch /mnt/s/w /mnt/d/w
for m in s d; do echo "FSB \$m-seq-write \$(loadgen seq-write /mnt/\$m/w $FS_MIB | awk '{ print \$3 }')"; done
sync; echo 3 > /proc/sys/vm/drop_caches
for m in s d; do echo "FSB \$m-seq-read \$(loadgen seq-read /mnt/\$m/w $FS_MIB | awk '{ print \$3 }')"; done
for m in s d; do echo "FSB \$m-untar \$(loadgen wall tar xf /tmp/src.tar -C /mnt/\$m | awk '{ print \$3 }')"; done
echo FSB-DONE
poweroff -f
GUEST
	start fs --kernel "$IO_KERNEL" --memory 512M --disk "$tmp/fsdisk.img" --share "$fsb,tag=bench" \
		--cmdline "quiet arkvm.test=shell" < "$tmp/fsb.in"
	finish
	tr -d '\r' < "$tmp/fs.out" | sed -n 's/^FSB \([sd]\)-\([a-z-]*\) \([0-9.]*\)$/\1 \2 \3/p' |
		while read -r m what v; do
			case "$what" in untar) unit=ms ;; *) unit=MB/s ;; esac
			[ "$m" = s ] && dev=fs || dev=blk
			bench "$dev-$what $v $unit"
		done
	: > "$fsb/host"
	"$LOADGEN" seq-write "$fsb/host" $FS_MIB > /dev/null
	sync; echo 3 > /proc/sys/vm/drop_caches 2> /dev/null
	bench "fs-host-seq-read $("$LOADGEN" seq-read "$fsb/host" $FS_MIB | awk '{ print $3 }') MB/s"
	rm -rf "$fsb" "$tmp/fsdisk.img"
}
if "$ARKVM" run --help 2>&1 | grep -q -- '--share'; then
	bench_fs
fi

# --- the balloon ---------------------------------------------------------------------

# A guest fills 128 MiB of page cache and frees it; arkvm's resident memory
# (guest RAM included) then, and after the guest gave it back: through the
# balloon inflated to 160 MiB with PATCH /balloon, or by free page
# reporting with no call at all.
API_CALL=${API_CALL:-$here/api-call}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2> /dev/null || echo 0; }
# settled PID SECONDS: resident memory once it stops falling (or after SECONDS).
settled() {
	last=$(rss_kib "$1") n=0
	while [ $n -lt "$2" ]; do
		sleep 2; n=$((n + 2)); now=$(rss_kib "$1")
		[ "$now" -ge $((last - 1024)) ] && break
		last=$now
	done
	rss_kib "$1"
}
cat > "$tmp/balloon.in" <<'GUEST'
dd if=/dev/zero of=/big bs=1M count=128 2> /dev/null; sync
echo BALLOON-FILLED; sleep 2; rm /big; sleep 2; echo BALLOON-FREED; sleep 600
GUEST
bench_balloon() {
	rm -f "$tmp/b.sock"
	start balloon --kernel "$IO_KERNEL" --memory 384M --balloon "$1" --api-sock "$tmp/b.sock" \
		--cmdline "quiet arkvm.test=shell" < "$tmp/balloon.in"
	wait_for balloon '^BALLOON-FILLED'
	sleep 1
	bench "balloon-$2-filled $(rss_kib $pid) KiB"
	wait_for balloon '^BALLOON-FREED'
	[ "$2" = api ] && "$API_CALL" "$tmp/b.sock" PATCH /balloon '{"amount_mib": 160}' > /dev/null
	bench "balloon-$2-after $(settled $pid 60) KiB"
	kill -TERM $pid
	finish
}
if "$ARKVM" run --help 2>&1 | grep -q -- '--balloon'; then
	[ -x "$API_CALL" ] && bench_balloon size=0 api
	bench_balloon free-page-reporting reporting
fi

# --- block and network against the peers -----------------------------------------

# With a peer: the same block and TCP loads under arkvm and each peer in
# turn (BENCH_PEER_ROUNDS, default 2), on the minimal kernel with 1 vCPU and
# 256 MiB. The guest runs them from its init (tests/bench/guest-loads.sh) and
# powers off, so every VMM runs them alike.

# peer_io VMM NAME DEVICE ARGS: such a guest in the background, with ARGS
# on its command line; its console goes to peer-NAME-VMM.out.
peer_io() {
	vmm_boot $1 256 "$3" "run:/bench/loads $4" exec < /dev/null \
		> "$tmp/peer-$2-$1.out" 2> "$tmp/peer-$2-$1.err" &
	pid=$!
}

# peer_figure VMM NAME FIGURE VALUE UNIT: one figure of VMM's guest NAME, or
# a line saying it is missing, with the end of that guest's console.
peer_figure() {
	if [ -n "$4" ]; then
		bench "peer-$3-$1 $4 $5"
	else
		info "peer $3 $1: no figure; console: $(tr -d '\r' < "$tmp/peer-$2-$1.out" | tail -n 5 | tr '\n' '|')"
	fi
}

# guest_figure VMM NAME TEST: the value of the guest's "LOADGEN TEST" line.
guest_figure() {
	tr -d '\r' < "$tmp/peer-$2-$1.out" | sed -n "s/^LOADGEN $3 \([0-9.]*\) .*/\1/p"
}

peer_block() {
	dd if=/dev/zero of="$tmp/disk.img" bs=1M count=$MIB 2> /dev/null
	peer_io $1 blk disk="$tmp/disk.img" "bench.load=blk bench.mib=$MIB"
	finish
	for t in seq-write seq-read rand-read-qd1 rand-read-qd32; do
		case $t in rand*) u=IOPS ;; *) u=MB/s ;; esac
		peer_figure $1 blk $t "$(guest_figure $1 blk $t)" $u
	done
	rm -f "$tmp/disk.img"
}

# peer_net VMM [,vhost]: guest to host as the host received it, host to
# guest as the guest did.
peer_net() {
	sfx=${2:+-vhost}
	timeout 300 "$LOADGEN" tcp-recv 7300 > "$tmp/up.out" &
	recv=$!
	peer_io $1 net$sfx tap=$tap${2:-} "bench.load=net bench.port=7300"
	wait $recv
	"$LOADGEN" tcp-send 10.79.0.2 7301 32 > /dev/null
	finish
	peer_figure $1 net$sfx tcp-tx$sfx "$(awk '{ print $3 }' "$tmp/up.out")" MB/s
	peer_figure $1 net$sfx tcp-rx$sfx "$(guest_figure $1 net$sfx tcp-recv)" MB/s
}

round= # these figures belong to no round
if [ -n "$PEERS" ]; then
	n=1
	while [ $n -le "${BENCH_PEER_ROUNDS:-2}" ]; do
		info "peer I/O round $n"
		for who in arkvm $PEERS; do
			peer_block $who
			[ $have_tap = no ] && continue
			peer_net $who
			[ -c /dev/vhost-net ] && peer_net $who ,vhost
		done
		n=$((n + 1))
	done
fi
[ $have_tap = no ] || net_host_down $tap
