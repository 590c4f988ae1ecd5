#!/bin/sh
# make test-gpu: the guest cases that need --gpu virgl, run by tests/lab/lab.sh
# like cases.sh (same arguments), with a dynamically linked arkvm built
# against virglrenderer and, in the emulated host, Debian's arm64 Mesa
# (tests/lab/gpu-setup.sh). Slow: virglrenderer renders with llvmpipe, on a
# CPU that is itself emulated.
set -u
ARKVM=$1 KERNEL=$2 INITRD=$3
GPU_KERNEL=${GPU_KERNEL:-$(dirname "$KERNEL")/Image-generic}
GPU_INITRD=${GPU_INITRD:-$(dirname "$INITRD")/guest-gpu.cpio.gz}
tmp=${TMPDIR:-/tmp}/arkvm-gpu.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# In level 1 the libraries are unpacked, not installed: no ld.so.cache.
export LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu

pass() { echo "PASS: lab/$1"; }
fail() { echo "FAIL: lab/$1: $2"; }

if [ ! -f "$GPU_KERNEL" ] || [ ! -f "$GPU_INITRD" ]; then
	fail gpu-virgl "no generic kernel or GPU guest ($GPU_KERNEL, $GPU_INITRD)"
	exit 0
fi

# The guest's virtio_gpu says which features it found: +virgl is 3D.
t0=$(date +%s)
timeout 900 "$ARKVM" run --kernel "$GPU_KERNEL" --initrd "$GPU_INITRD" --memory 512M \
	--gpu virgl --screenshot "$tmp/virgl.png" --stats \
	--cmdline "quiet arkvm.test=gpu logo.nologo" < /dev/null > "$tmp/virgl.out" 2> "$tmp/virgl.err"
rc=$?
tr -d '\r' < "$tmp/virgl.out" > "$tmp/virgl.log"
echo "lab: gpu-virgl: exit $rc after $(( $(date +%s) - t0 )) s"
features=$(sed -n 's/^ARKVM-GPU-FEATURES: //p' "$tmp/virgl.log")
if [ $rc -eq 0 ] && echo "$features" | grep -q '+virgl'; then
	pass "gpu-virgl-guest-reports-3d ($features)"
	echo "PNG-BASE64-BEGIN"
	base64 "$tmp/virgl.png"
	echo "PNG-BASE64-END"
else
	fail gpu-virgl-guest-reports-3d "exit $rc, features '$features'"
	echo "---- stderr:"; cat "$tmp/virgl.err"
	echo "---- console (last 30 lines):"; tail -n 30 "$tmp/virgl.log"
fi
grep 'stats: virtio-gpu:' "$tmp/virgl.err" | sed 's/^/lab: /'

# A GL program in the guest (make test-gpu GL=0 leaves it out). kmscube spins
# a cube with the guest's Mesa, whose virgl driver sends it to virglrenderer
# as command streams. Once the guest says it shows frames, SIGUSR1 takes a
# screenshot (a cube in the middle of its grey background, measured by
# png-box, built for arm64), and SIGTERM ends it. console=ttyS0 keeps kernel messages off the framebuffer console:
# under double emulation its redraws starve the guest's rendering.
GL_INITRD=$(dirname "$INITRD")/guest-gl.cpio
if [ -f "$GL_INITRD" ]; then
	t0=$(date +%s)
	"$ARKVM" run --kernel "$GPU_KERNEL" --initrd "$GL_INITRD" --memory 1536M \
		--gpu virgl --screenshot "$tmp/gl.png" --stats \
		--cmdline "quiet console=ttyS0 arkvm.test=gl logo.nologo" < /dev/null \
		> "$tmp/gl.out" 2> "$tmp/gl.err" &
	pid=$!
	for i in $(seq 900); do
		grep -q '^ARKVM-GL-RUNNING' "$tmp/gl.out" 2> /dev/null && break
		kill -0 $pid 2> /dev/null || break
		sleep 1
	done
	kill -USR1 $pid 2> /dev/null
	for i in $(seq 60); do
		grep -q 'screenshot: .* written' "$tmp/gl.err" && break
		sleep 1
	done
	kill -TERM $pid 2> /dev/null
	wait $pid
	rc=$?
	tr -d '\r' < "$tmp/gl.out" > "$tmp/gl.log"
	echo "lab: gpu-gl: exit $rc after $(( $(date +%s) - t0 )) s"
	grep 'stats: virtio-gpu:' "$tmp/gl.err" | sed 's/^/lab: /'
	renderer=$(sed -n 's/^ARKVM-GL-RENDERER: *//p' "$tmp/gl.log" | head -n 1)
	submits=$(sed -n 's/.*flushes, \([0-9]*\) submits.*/\1/p' "$tmp/gl.err")
	box=$("${PNG_BOX:-$(dirname "$0")/png-box}" "$tmp/gl.png" 2>&1)
	echo "lab: gpu-gl: renderer $renderer, ${submits:-0} submits, $(grep '^Rendered' "$tmp/gl.log" | tail -n 1), screenshot $box"
	set -- $(echo "$box" | sed -n 's/^\([0-9]*\)x\([0-9]*\) lit=\([0-9]*\) box=\([0-9]*\),\([0-9]*\),\([0-9]*\),\([0-9]*\)$/\1 \2 \3 \4 \5 \6 \7/p')
	# SIGTERM ends arkvm with 143; the cube sits in the middle, away from the edges.
	if [ $rc -eq 143 ] && grep -q '^ARKVM-GL-RUNNING' "$tmp/gl.log" &&
	    echo "$renderer" | grep -q virgl && [ "${submits:-0}" -gt 0 ] &&
	    [ $# -eq 7 ] && [ "$3" -ge 5000 ] && [ "$4" -gt 100 ] && [ "$6" -lt 924 ] &&
	    [ "$5" -gt 50 ] && [ "$7" -lt 718 ]; then
		pass "gpu-gl-kmscube-renders-through-virgl ($renderer; $box)"
		echo "GL-PNG-BASE64-BEGIN"
		base64 "$tmp/gl.png"
		echo "GL-PNG-BASE64-END"
	else
		fail gpu-gl-kmscube-renders-through-virgl "exit $rc, renderer '$renderer', ${submits:-0} submits, screenshot '$box'"
		echo "---- stderr:"; tail -n 20 "$tmp/gl.err"
		echo "---- console (last 30 lines):"; grep -v -e rcu: -e watchdog: "$tmp/gl.log" | tail -n 30
	fi
else
	echo "lab: no GL guest ($GL_INITRD): kmscube not run (make test-gpu GL=0)"
fi
