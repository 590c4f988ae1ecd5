# arkvm exec's cases, sourced by cases.sh (its helpers: pass, fail, info,
# $tmp, $ARKVM, $KERNEL). The guest: Debian's cloud kernel (the lab's) with
# --modules (/lab/exec-modules: the modules exec needs, copied by lab.sh
# with their modules.order) and a busybox root directory made here.
# Every run gets its own TMPDIR, which must be empty after.
EXEC_MODULES=${EXEC_MODULES:-$(dirname "$0")/exec-modules}
EXEC_TIMEOUT=${EXEC_TIMEOUT:-120}

if [ ! -f "$EXEC_MODULES/modules.order" ]; then
	fail exec-setup "no modules for exec in $EXEC_MODULES"
else

xroot=$tmp/exec-root
mkdir -p "$xroot/bin" "$xroot/proc" "$xroot/sys" "$xroot/dev" "$xroot/tmp" "$xroot/work"
cp /bin/busybox "$xroot/bin/busybox"
busybox --install -s "$xroot/bin" 2>/dev/null ||
	for a in sh cat echo printf sha256sum sleep true false ls; do
		ln -s busybox "$xroot/bin/$a"
	done
ln -sf busybox "$xroot/bin/sh"
xtmp=$tmp/exec-tmp
mkdir -p "$xtmp"

# xrun NAME [exec args...] -- COMMAND...: arkvm exec with the lab's kernel,
# modules and root; stdout, stderr and the status in $tmp/NAME.{out,err,rc}.
xrun() {
	name=$1; shift
	t0=$(date +%s)
	TMPDIR=$xtmp timeout "$EXEC_TIMEOUT" "$ARKVM" exec --kernel "$KERNEL" \
		--modules "$EXEC_MODULES" --rootfs "$xroot" "$@" \
		> "$tmp/$name.out" 2> "$tmp/$name.err"
	rc=$?
	echo $rc > "$tmp/$name.rc"
	info "$name: exit $rc after $(( $(date +%s) - t0 )) s"
}

xshow() {
	echo "--- $1 stdout"; head -c 2000 "$tmp/$1.out"
	echo "--- $1 stderr"; tail -c 3000 "$tmp/$1.err"
}

xleft() {
	if [ -n "$(ls -A "$xtmp")" ]; then
		fail "exec-$1-cleanup" "left in TMPDIR: $(ls -A "$xtmp" | tr '\n' ' ')"
		rm -rf "${xtmp:?}"/*
	fi
}

# --- the command's own status ---------------------------------------------------
xrun exec-status -- sh -c 'exit 7' < /dev/null
if [ "$rc" -eq 7 ]; then pass exec-status; else fail exec-status "exit $rc, not 7"; xshow exec-status; fi
xleft status

# --- stdout and stderr stay apart -------------------------------------------------
xrun exec-streams -- sh -c 'echo to-out; echo to-err >&2; echo more-out' < /dev/null
if [ "$rc" -eq 0 ] && [ "$(cat "$tmp/exec-streams.out")" = "$(printf 'to-out\nmore-out')" ] &&
    [ "$(cat "$tmp/exec-streams.err")" = "to-err" ]; then
	pass exec-streams
else
	fail exec-streams "exit $rc, or the streams mixed"; xshow exec-streams
fi
xleft streams

# --- stdin and its EOF --------------------------------------------------------------
want=$(printf data | sha256sum | cut -c1-64)
printf data > "$tmp/exec-data"
xrun exec-stdin -- sha256sum < "$tmp/exec-data"
if [ "$rc" -eq 0 ] && [ "$(cut -c1-64 "$tmp/exec-stdin.out")" = "$want" ]; then
	pass exec-stdin
else
	fail exec-stdin "exit $rc, sum '$(cut -c1-64 "$tmp/exec-stdin.out")' not $want"; xshow exec-stdin
fi
xleft stdin

# --- a workspace share: read and written, the host sees the result ----------------------
ws=$tmp/exec-ws
mkdir -p "$ws"
echo "from-host" > "$ws/in.txt"
xrun exec-workspace --share "$ws:/work" --workdir /work -- \
	sh -c 'cat in.txt > out.txt; echo from-guest >> out.txt' < /dev/null
if [ "$rc" -eq 0 ] && [ "$(cat "$ws/out.txt" 2>/dev/null)" = "$(printf 'from-host\nfrom-guest')" ]; then
	pass exec-workspace
else
	fail exec-workspace "exit $rc, out.txt: $(cat "$ws/out.txt" 2>&1 | head -c 200)"; xshow exec-workspace
fi
xleft workspace

# --- --timeout: 124, and the VM is stopped well before the command ends -------------
t0=$(date +%s)
xrun exec-timeout --timeout 5 -- sleep 100 < /dev/null
took=$(( $(date +%s) - t0 ))
if [ "$rc" -eq 124 ] && [ "$took" -lt 90 ]; then
	pass exec-timeout
else
	fail exec-timeout "exit $rc after $took s"; xshow exec-timeout
fi
xleft timeout

# --- SIGTERM to arkvm reaches the command: 143 ------------------------------------------
(
	TMPDIR=$xtmp "$ARKVM" exec --kernel "$KERNEL" --modules "$EXEC_MODULES" --rootfs "$xroot" \
		-- sh -c 'echo started; exec sleep 100' < /dev/null > "$tmp/exec-sigterm.out" \
		2> "$tmp/exec-sigterm.err" &
	pid=$!
	i=0
	while [ $i -lt "$EXEC_TIMEOUT" ] && ! grep -q started "$tmp/exec-sigterm.out"; do
		sleep 1; i=$((i + 1))
	done
	kill -TERM $pid
	wait $pid
	echo $? > "$tmp/exec-sigterm.rc"
)
rc=$(cat "$tmp/exec-sigterm.rc")
if [ "$rc" -eq 143 ]; then pass exec-sigterm; else fail exec-sigterm "exit $rc, not 143"; xshow exec-sigterm; fi
xleft sigterm

# --- 127 and 125 ------------------------------------------------------------------------------
xrun exec-not-found -- /no/such/command < /dev/null
if [ "$rc" -eq 127 ]; then pass exec-not-found; else fail exec-not-found "exit $rc, not 127"; xshow exec-not-found; fi
xleft not-found

TMPDIR=$xtmp "$ARKVM" exec --no-such-option -- true < /dev/null > "$tmp/exec-bad.out" 2> "$tmp/exec-bad.err"
rc=$?
if [ "$rc" -eq 125 ] && [ "$(wc -l < "$tmp/exec-bad.err")" -eq 1 ] && [ ! -s "$tmp/exec-bad.out" ]; then
	pass exec-bad-option
else
	fail exec-bad-option "exit $rc: $(head -c 300 "$tmp/exec-bad.err")"
fi
xleft bad-option


# --- --warm: the first run caches the VM as its agent waits; later runs restore it ---------
# A restored guest's kernel log is the cached boot's, to the microsecond
# of its "Run /init" line (so a restore is told from a boot); it gets this
# run's shares, the current wall clock and random numbers of its own.
# (Not boot_id: the kernel makes it at its first read, after the restore.)
wcache=$tmp/exec-warm-cache
ws2=$tmp/exec-ws2
mkdir -p "$ws2"
echo "second-share" > "$ws2/in.txt"
wcmd='dmesg | grep -m1 "Run /init"; head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"; echo; date +%s; cat /work/in.txt; exit 3'
xrun exec-warm-1 --warm "$wcache" --share "$ws:/work" -- sh -c "$wcmd" < /dev/null
rc1=$rc
entries=$(ls -A "$wcache" 2>/dev/null | tr '\n' ' ')
sleep 2
before=$(date +%s)
xrun exec-warm-2 --warm "$wcache" --share "$ws2:/work" -- sh -c "$wcmd" < /dev/null
rc2=$rc
# Two restores of one entry at once.
xrun exec-warm-3 --warm "$wcache" --share "$ws2:/work" -- sh -c "$wcmd" < /dev/null &
xrun exec-warm-4 --warm "$wcache" --share "$ws2:/work" -- sh -c "$wcmd" < /dev/null
wait
line() { sed -n "$2p" "$tmp/$1.out"; }
if [ "$rc1" -ne 3 ] || [ "$(line exec-warm-1 4)" != from-host ]; then
	fail exec-warm-first-run "exit $rc1, not 3, or its share unread"; xshow exec-warm-1
elif ! echo "$entries" | grep -Eq '^[0-9a-f]{16} $'; then
	fail exec-warm-first-run "the cache holds '$entries', not one entry"; xshow exec-warm-1
else
	pass exec-warm-first-run
fi
if [ "$rc2" -ne 3 ] || [ -z "$(line exec-warm-2 1)" ] ||
    [ "$(line exec-warm-2 1)" != "$(line exec-warm-1 1)" ]; then
	fail exec-warm-restores "exit $rc2, or its boot '$(line exec-warm-2 1)' is not the cached one's '$(line exec-warm-1 1)'"
	xshow exec-warm-2
elif [ "$(line exec-warm-2 4)" != second-share ]; then
	fail exec-warm-restores "the restored guest read '$(line exec-warm-2 4)' from its share"; xshow exec-warm-2
elif [ "$(line exec-warm-2 3 | tr -cd 0-9)0" -lt "${before}0" ]; then
	fail exec-warm-restores "the restored guest's clock says $(line exec-warm-2 3), before $before"
else
	pass exec-warm-restores
fi
if [ "$(cat "$tmp/exec-warm-3.rc")" != 3 ] || [ "$(cat "$tmp/exec-warm-4.rc")" != 3 ] ||
    [ "$(line exec-warm-3 1)" != "$(line exec-warm-1 1)" ] ||
    [ "$(line exec-warm-4 1)" != "$(line exec-warm-1 1)" ]; then
	fail exec-warm-concurrent "exits $(cat "$tmp/exec-warm-3.rc") $(cat "$tmp/exec-warm-4.rc"), or not restored"
	xshow exec-warm-3; xshow exec-warm-4
elif [ -z "$(line exec-warm-3 2)" ] || [ "$(line exec-warm-3 2)" = "$(line exec-warm-4 2)" ] ||
    [ "$(line exec-warm-2 2)" = "$(line exec-warm-3 2)" ]; then
	fail exec-warm-concurrent "clones drew the same random bytes: $(line exec-warm-2 2) $(line exec-warm-3 2) $(line exec-warm-4 2)"
else
	pass exec-warm-concurrent
fi
xleft warm
if [ "$(ls -A "$wcache" | tr '\n' ' ')" != "$entries" ]; then
	fail exec-warm-cache-clean "the cache holds $(ls -A "$wcache" | tr '\n' ' ')"
fi
# A broken entry (cut short): one warning, a fresh boot, the entry made again.
wentry=$wcache/$(ls -A "$wcache" | head -n 1)
head -c 1000 "$wentry/vm.snap" > "$tmp/cut.snap" && cat "$tmp/cut.snap" > "$wentry/vm.snap"
xrun exec-warm-broken --warm "$wcache" --share "$ws2:/work" -- sh -c "$wcmd" < /dev/null
if [ "$rc" -ne 3 ] || ! grep -q "could not be restored; booting afresh" "$tmp/exec-warm-broken.err"; then
	fail exec-warm-broken-entry "exit $rc, or no warning"; xshow exec-warm-broken
elif [ "$(line exec-warm-broken 1)" = "$(line exec-warm-1 1)" ]; then
	fail exec-warm-broken-entry "it says it restored the broken entry"
elif [ "$(wc -c < "$wentry/vm.snap" 2> /dev/null || echo 0)" -le 1000 ]; then
	fail exec-warm-broken-entry "the entry was not made again"
else
	pass exec-warm-broken-entry
fi
xleft warm-broken


# --- --image: a qcow2 root, ephemeral; with --warm, each restore gets a fresh overlay ----------
ximg=$(dirname "$0")/exec-root.qcow2
if [ ! -f "$ximg" ]; then
	fail exec-image "no $ximg (lab.sh makes it with mke2fs and qemu-img)"
else
	isum=$(sha256sum "$ximg" | cut -c1-64)
	icmd='dmesg | grep -m1 "Run /init"; cat /etc/marker; cat /etc/left 2> /dev/null; echo left > /etc/left; cat /etc/left'
	for n in 1 2; do
		TMPDIR=$xtmp timeout "$EXEC_TIMEOUT" "$ARKVM" exec --kernel "$KERNEL" \
			--modules "$EXEC_MODULES" --image "$ximg" --warm "$tmp/exec-image-cache" \
			-- sh -c "$icmd" < /dev/null > "$tmp/exec-image-$n.out" 2> "$tmp/exec-image-$n.err"
		echo $? > "$tmp/exec-image-$n.rc"
	done
	# Each run: the image's marker, no file from the run before, its own write.
	want=$(printf 'exec-image-root\nleft')
	if [ "$(cat "$tmp/exec-image-1.rc")" != 0 ] || [ "$(sed -n 2,3p "$tmp/exec-image-1.out")" != "$want" ]; then
		fail exec-image "exit $(cat "$tmp/exec-image-1.rc")"; xshow exec-image-1
	elif [ "$(sha256sum "$ximg" | cut -c1-64)" != "$isum" ]; then
		fail exec-image "the image changed"
	else
		pass exec-image
	fi
	if [ "$(cat "$tmp/exec-image-2.rc")" != 0 ] || [ "$(sed -n 2,3p "$tmp/exec-image-2.out")" != "$want" ]; then
		fail exec-image-warm "exit $(cat "$tmp/exec-image-2.rc"), or the overlay was not fresh"; xshow exec-image-2
	elif [ -z "$(line exec-image-2 1)" ] || [ "$(line exec-image-2 1)" != "$(line exec-image-1 1)" ]; then
		fail exec-image-warm "not restored: '$(line exec-image-2 1)' vs '$(line exec-image-1 1)'"; xshow exec-image-2
	else
		pass exec-image-warm
	fi
	xleft image
fi

# --- --net user: an address, a route and DNS from RUN, no DHCP client in the root ---------
# busybox httpd on level 1's loopback only: the guest reaches it at the
# gateway passt gives it (level 1's own default gateway, on its dummy
# interface). Bounded by timeout: Debian 12's static busybox wget crashes on -T.
xgw=$(ip route 2> /dev/null | awk '$1 == "default" { print $3; exit }')
xport=47083
mkdir -p "$tmp/exec-www"
echo "exec-net-user $(date +%s) $$" > "$tmp/exec-www/file"
if ! command -v passt > /dev/null || [ -z "$xgw" ]; then
	fail exec-net-user "level 1 has no passt, or no default gateway ('$xgw')"
else
	busybox httpd -f -p "127.0.0.1:$xport" -h "$tmp/exec-www" &
	xhttpd=$!
	xrun exec-net-user --net user -- \
		sh -c "timeout 120 wget -q -O - http://$xgw:$xport/file" < /dev/null
	# And restored (--warm): passt is started anew for the restored NIC.
	xrun exec-net-warm-1 --net user --warm "$tmp/exec-net-cache" -- \
		sh -c "timeout 120 wget -q -O - http://$xgw:$xport/file" < /dev/null
	xrun exec-net-warm-2 --net user --warm "$tmp/exec-net-cache" -- \
		sh -c "timeout 120 wget -q -O - http://$xgw:$xport/file" < /dev/null
	kill $xhttpd 2> /dev/null; wait $xhttpd 2> /dev/null
	for n in exec-net-user exec-net-warm-1 exec-net-warm-2; do
		if [ "$(cat "$tmp/$n.rc")" -eq 0 ] && [ "$(cat "$tmp/$n.out")" = "$(cat "$tmp/exec-www/file")" ]; then
			pass $n
		else
			fail $n "exit $(cat "$tmp/$n.rc"), got '$(head -c 200 "$tmp/$n.out")' from http://$xgw:$xport/file"
			xshow $n
		fi
	done
	if grep -q "warm" "$tmp/exec-net-warm-1.err" "$tmp/exec-net-warm-2.err"; then
		fail exec-net-warm-cached "$(grep -h warm "$tmp/exec-net-warm-1.err" "$tmp/exec-net-warm-2.err" | head -c 300)"
	fi
fi
xleft net-user


# --- the project's microVM kernel (make guest-kernel), without --modules -------------------
# Only where the runner put it in /lab (LAB_FILES=.../Image-micro): make test
# does not build kernels.
xmicro=$(dirname "$0")/Image-micro
if [ -f "$xmicro" ]; then
	TMPDIR=$xtmp timeout "$EXEC_TIMEOUT" "$ARKVM" exec --kernel "$xmicro" --rootfs "$xroot" \
		--warm "$tmp/exec-micro-cache" -- sh -c 'echo micro; exit 5' < /dev/null \
		> "$tmp/exec-micro.out" 2> "$tmp/exec-micro.err"
	rc=$?
	TMPDIR=$xtmp timeout "$EXEC_TIMEOUT" "$ARKVM" exec --kernel "$xmicro" --rootfs "$xroot" \
		--warm "$tmp/exec-micro-cache" -- sh -c 'echo micro; exit 5' < /dev/null \
		> "$tmp/exec-micro2.out" 2> "$tmp/exec-micro2.err"
	rc2=$?
	if [ "$rc" -eq 5 ] && [ "$rc2" -eq 5 ] && [ "$(cat "$tmp/exec-micro.out")" = micro ] &&
	    [ "$(cat "$tmp/exec-micro2.out")" = micro ]; then
		pass exec-micro-kernel
	else
		fail exec-micro-kernel "exits $rc $rc2, not 5"; xshow exec-micro; xshow exec-micro2
	fi
	xleft micro
else
	info "exec: no $xmicro (make guest-kernel, then LAB_FILES): the microVM kernel case is skipped"
fi

fi
