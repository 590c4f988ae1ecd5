# The image cases, sourced by cases.sh (its helpers: boot, pass, fail, show,
# why, bad). The images were made on the lab host by qemu-img
# (tests/lab/disk-images.sh) and wait in $IMAGES:
#   golden.raw      8 MiB of a text pattern, the golden image
#   overlay.qcow2   an empty qcow2 overlay whose backing file is
#                   $IMAGES/golden.raw, format raw
#   comp.qcow2      a compressed qcow2 image; comp.sha: its contents' sha256
# The overlay goes back to the lab host after the cases, gzipped in base64,
# where qemu-img checks it (tests/lab/lab.sh).
IMAGES=${IMAGES:-$(dirname "$0")}
sha() { sha256sum "$1" | cut -c1-64; }
dfield() { sed -n "s/^$2=//p" "$tmp/$1.log" | head -n 1; }

if [ ! -f "$IMAGES/overlay.qcow2" ]; then
	fail qcow2-images "no images in $IMAGES (tests/lab/disk-images.sh needs qemu-img)"
else

# --- a qcow2 overlay over a raw golden image ------------------------------------

# The guest writes through the overlay (a string, and 256 KiB that straddle
# clusters); a second boot reads both back, and the golden image reads
# through where the guest wrote nothing. The golden image never changes.
golden_before=$(sha "$IMAGES/golden.raw")
cat > "$tmp/ov1.in" <<'GUEST'
printf 'arkvm-overlay-write' | dd of=/dev/vda bs=512 seek=4096 conv=fsync 2>/dev/null
echo "OV-WRITE-RC=$?"
yes arkvm-overlay | dd of=/dev/vda bs=4096 seek=300 count=64 iflag=fullblock conv=fsync 2>/dev/null
echo "OV-REGION-RC=$?"
poweroff -f
GUEST
cat > "$tmp/ov2.in" <<'GUEST'
echo "OV-STR=$(dd if=/dev/vda bs=512 skip=4096 count=1 2>/dev/null | head -c 19)"
echo "OV-REGION=$(dd if=/dev/vda bs=4096 skip=300 count=64 2>/dev/null | sha256sum | cut -c1-64)"
echo "OV-BASE=$(dd if=/dev/vda bs=1M count=1 2>/dev/null | sha256sum | cut -c1-64)"
echo "OV-SIZE=$(cat /sys/block/vda/size)"
poweroff -f
GUEST
boot qcow2-overlay-1 --cmdline "quiet arkvm.test=shell" --disk "$IMAGES/overlay.qcow2" \
	< "$tmp/ov1.in"
rc1=$rc
boot qcow2-overlay-2 --cmdline "quiet arkvm.test=shell" --disk "$IMAGES/overlay.qcow2" \
	< "$tmp/ov2.in"
want_region=$(yes arkvm-overlay | head -c 262144 | sha256sum | cut -c1-64)
want_base=$(head -c 1048576 "$IMAGES/golden.raw" | sha256sum | cut -c1-64)
if [ $rc1 -ne 0 ] || [ "$(dfield qcow2-overlay-1 OV-WRITE-RC)" != 0 ] ||
    [ "$(dfield qcow2-overlay-1 OV-REGION-RC)" != 0 ]; then
	fail qcow2-overlay-write-survives-reboot "the writes failed ($(why $rc1))"
	show qcow2-overlay-1
elif [ $rc -ne 0 ] || [ "$(dfield qcow2-overlay-2 OV-STR)" != arkvm-overlay-write ] ||
    [ "$(dfield qcow2-overlay-2 OV-REGION)" != "$want_region" ]; then
	fail qcow2-overlay-write-survives-reboot "second boot read '$(dfield qcow2-overlay-2 OV-STR)' ($(why $rc))"
	show qcow2-overlay-2
else
	pass qcow2-overlay-write-survives-reboot
fi
if [ "$(dfield qcow2-overlay-2 OV-BASE)" = "$want_base" ] &&
    [ "$(dfield qcow2-overlay-2 OV-SIZE)" = 16384 ]; then
	pass qcow2-overlay-reads-golden-through
else
	fail qcow2-overlay-reads-golden-through "size $(dfield qcow2-overlay-2 OV-SIZE) sectors, first MiB differs"
fi
if [ "$(sha "$IMAGES/golden.raw")" = "$golden_before" ]; then
	pass qcow2-overlay-golden-unchanged
else
	fail qcow2-overlay-golden-unchanged "golden.raw's sha256 changed"
fi
echo "QCOW2-OVERLAY-BEGIN"
gzip -c "$IMAGES/overlay.qcow2" | base64
echo "QCOW2-OVERLAY-END"

# --- a compressed qcow2 image -----------------------------------------------------

echo 'echo "COMP-SHA=$(sha256sum /dev/vda | cut -c1-64)"; poweroff -f' > "$tmp/comp.in"
boot qcow2-compressed --cmdline "quiet arkvm.test=shell" --disk "$IMAGES/comp.qcow2,readonly" \
	< "$tmp/comp.in"
if [ $rc -eq 0 ] && [ "$(dfield qcow2-compressed COMP-SHA)" = "$(cat "$IMAGES/comp.sha")" ]; then
	pass qcow2-compressed-reads-right
else
	fail qcow2-compressed-reads-right "guest read sha $(dfield qcow2-compressed COMP-SHA) ($(why $rc))"
	show qcow2-compressed
fi

# --- ephemeral disks and the probed-raw guard ------------------------------------

# The guest writes and reads its write back (O_DIRECT: from the disk, not
# its cache) during the boot; the image is unchanged afterwards and nothing
# is left in $TMPDIR. Then, on the same image probed as raw and writable,
# the guest's attempt to write a qcow2 header into sector 0 is refused.
cp "$IMAGES/golden.raw" "$tmp/eph.raw"
mkdir -p "$tmp/ephtmp"
cat > "$tmp/eph.in" <<'GUEST'
printf 'arkvm-ephemeral-write' | dd of=/dev/vda bs=512 seek=2048 conv=fsync 2>/dev/null
echo "EPH-WRITE-RC=$?"
echo "EPH-READ=$(dd if=/dev/vda bs=512 skip=2048 count=1 iflag=direct 2>/dev/null | head -c 21)"
poweroff -f
GUEST
TMPDIR=$tmp/ephtmp boot disk-ephemeral --cmdline "quiet arkvm.test=shell" \
	--disk "$tmp/eph.raw,ephemeral" < "$tmp/eph.in"
if [ $rc -eq 0 ] && [ "$(dfield disk-ephemeral EPH-READ)" = arkvm-ephemeral-write ] &&
    [ "$(sha "$tmp/eph.raw")" = "$golden_before" ] && [ -z "$(ls -A "$tmp/ephtmp")" ]; then
	pass disk-ephemeral-writes-vanish
else
	fail disk-ephemeral-writes-vanish "read '$(dfield disk-ephemeral EPH-READ)', image $( [ "$(sha "$tmp/eph.raw")" = "$golden_before" ] && echo unchanged || echo CHANGED), tmp: $(ls "$tmp/ephtmp" | head -n 3) ($(why $rc))"
	show disk-ephemeral
fi
cat > "$tmp/guard.in" <<'GUEST'
printf 'QFI\373\000\000\000\003' | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null
echo "GUARD-RC=$?"
poweroff -f
GUEST
boot disk-probed-raw-guard --cmdline "quiet arkvm.test=shell" --disk "$tmp/eph.raw" \
	< "$tmp/guard.in"
if [ $rc -eq 0 ] && [ "$(dfield disk-probed-raw-guard GUARD-RC)" != 0 ] &&
    [ "$(head -c 5 "$tmp/eph.raw")" = arkvm ] &&
    grep -q 'refused a guest write' "$tmp/disk-probed-raw-guard.err"; then
	pass disk-probed-raw-refuses-qcow2-header
else
	fail disk-probed-raw-refuses-qcow2-header "dd rc $(dfield disk-probed-raw-guard GUARD-RC), image starts '$(head -c 5 "$tmp/eph.raw")' ($(why $rc))"
	show disk-probed-raw-guard
fi
rm -rf "$tmp/eph.raw" "$tmp/ephtmp"

# A qcow2 image arkvm must not serve, and a format that is not the file's.
printf 'QFI\373\000\000\000\007' > "$tmp/v7.qcow2"
head -c 65536 /dev/zero >> "$tmp/v7.qcow2"
bad qcow2-unknown-version run --kernel "$KERNEL" --disk "$tmp/v7.qcow2"
bad qcow2-format-of-raw-file run --kernel "$KERNEL" --disk "$IMAGES/golden.raw,format=qcow2"
rm -f "$tmp/v7.qcow2"
fi
