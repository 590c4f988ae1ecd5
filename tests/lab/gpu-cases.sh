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
