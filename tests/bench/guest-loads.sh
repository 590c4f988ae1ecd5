#!/bin/sh
# The loads of make bench's peer comparison, run by the guest from its init
# (arkvm.test=run:/bench/loads), so that arkvm, kvmtool and QEMU run them
# alike: kvmtool reads console input only from a terminal, so its guest
# cannot be handed commands on the console as the rest of the bench does.
# The kernel command line says which load:
#   bench.load=blk bench.mib=N   loadgen's block loads on /dev/vda (N MiB)
#   bench.load=net bench.port=P  32 MiB over TCP to the host at 10.79.0.1:P,
#                                then 32 MiB from it on port P + 1
load= mib= port=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	bench.load=*) load=${arg#*=} ;;
	bench.mib=*) mib=${arg#*=} ;;
	bench.port=*) port=${arg#*=} ;;
	esac
done
case "$load" in
blk)
	loadgen seq-write /dev/vda "$mib"
	loadgen seq-read /dev/vda "$mib"
	loadgen rand-read /dev/vda 1 10
	loadgen rand-read /dev/vda 32 10 ;;
net)
	ip link set eth0 up
	ip addr add 10.79.0.2/24 dev eth0
	loadgen tcp-send 10.79.0.1 "$port" 32
	loadgen tcp-recv $((port + 1)) ;;
*)
	echo "guest-loads: bench.load= blk or net, not '$load'"
	exit 1 ;;
esac
