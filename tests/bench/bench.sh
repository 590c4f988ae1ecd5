#!/bin/sh
# make bench: runs tests/bench/bench-cases.sh where arkvm runs (the lab, or
# this arm64 host), prints a table of figures against the targets of the
# performance issue, and appends one JSON object per figure to
# tests/bench/results.jsonl (not committed).
#
# In the lab everything runs under emulation inside emulation, so absolute
# times and rates are far from real hardware; the targets are ratios
# measured in the same run (guest against the first-level host's ceiling).
set -eu
cd "$(dirname "$0")/../.."
cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}
results=tests/bench/results.jsonl
stage=$cache/bench
mkdir -p "$stage"

rm -rf "$stage/extra" && mkdir -p "$stage/extra/bin"
cp build/arm64/loadgen "$stage/loadgen"
cp build/arm64/loadgen "$stage/extra/bin/loadgen"
cp build/arm64/apibench "$stage/apibench"
cp build/arm64/vsock-tool "$stage/vsock-tool"
cp build/arm64/vsock-tool "$stage/extra/bin/vsock-tool"
cp build/arm64/api-call "$stage/api-call"
mkdir -p "$stage/extra/bench" && cp tests/bench/guest-loads.sh "$stage/extra/bench/loads"
(cd "$stage/extra" && find . | cpio -o -H newc -R 0:0 --quiet) > "$stage/loadgen.cpio"
rm -f "$stage/Image-micro"
if micro=$(configs/build-guest-kernel.sh | tail -n 1) && [ -f "$micro" ]; then
	cp "$micro" "$stage/Image-micro"
else
	echo "bench: no minimal kernel; its rows stay empty" >&2
fi
# BENCH_KVMTOOL: a kvmtool lkvm binary (static arm64 for the lab) to set
# arkvm against.
rm -f "$stage/lkvm"
if [ -n "${BENCH_KVMTOOL:-}" ]; then
	if [ ! -f "$BENCH_KVMTOOL" ] || [ ! -x "$BENCH_KVMTOOL" ]; then
		echo "bench: BENCH_KVMTOOL '$BENCH_KVMTOOL': not an executable file" >&2
		exit 1
	fi
	cp "$BENCH_KVMTOOL" "$stage/lkvm"
fi
if [ "$(uname -m)" = aarch64 ] && [ -w /dev/kvm ]; then where=native; else where=lab; fi
# BENCH_QEMU=1: QEMU too. Here, the qemu-system-aarch64 on PATH; in the lab,
# Debian's arm64 one with its libraries, laid over level 1's root. The bench
# runs it through $stage/qemu.
rm -f "$stage/qemu"
tree=
if [ -n "${BENCH_QEMU:-}" ]; then
	if [ $where = native ]; then
		qemu=$(command -v qemu-system-aarch64) ||
			{ echo "bench: BENCH_QEMU: no qemu-system-aarch64 on PATH" >&2; exit 1; }
	else
		tests/bench/qemu-tree.sh
		tree=$cache/qemu-tree qemu=/usr/bin/qemu-system-aarch64
	fi
	# Level 1 has no ld.so.cache: the libraries are unpacked, not installed.
	printf '#!/bin/sh\n%sexec %s "$@"\n' \
		"${tree:+LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu }" "$qemu" \
		> "$stage/qemu"
	chmod +x "$stage/qemu"
fi
export LOADGEN="$stage/loadgen" LOADGEN_CPIO="$stage/loadgen.cpio" MICRO_KERNEL="$stage/Image-micro" \
	KVMTOOL="$stage/lkvm" QEMU="$stage/qemu" APIBENCH="$stage/apibench" \
	VSOCK_TOOL="$stage/vsock-tool" API_CALL="$stage/api-call"
raw=$stage/raw.txt
LAB_CASES=tests/bench/bench-cases.sh LAB_TREE=$tree \
	LAB_FILES="$(ls "$stage"/loadgen "$stage"/apibench "$stage"/vsock-tool "$stage"/api-call "$stage"/loadgen.cpio "$stage"/Image-micro "$stage"/lkvm \
		"$stage"/qemu 2> /dev/null)" \
	LAB_TIMEOUT=${LAB_TIMEOUT:-2400} tests/lab/lab.sh test | tee "$raw" | grep -v '^BENCH: ' || true

# One row per figure: name, value, unit, target, met. Boot figures are the
# median of the runs; a ratio to a ceiling is the median of the rounds'
# ratios, each guest figure set against the ceiling measured right after it
# (its "rounds" row lists them all: the spread the lab gives).
awk -v where="$where" -v when="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v out="$results" '
# mid(A, N): the median of A[1..N] (sorted in place); with an even N, the
# mean of the middle two.
function mid(a, n,    i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function median(k,    n, i, a) {
	n = cnt[k]
	if (!n) return ""
	for (i = 1; i <= n; i++) a[i] = val[k, i]
	return mid(a, n)
}
function row(name, value, unit, target, met) {
	if (value == "") { value = "-"; met = "n/a" }
	printf "%-44s %12s %-6s %-22s %s\n", name, value, unit, target, met
	printf "{\"figure\":\"%s\",\"value\":%s,\"unit\":\"%s\",\"target\":\"%s\",\"met\":\"%s\",\"where\":\"%s\",\"time\":\"%s\"}\n",
		name, value == "-" ? "null" : value, unit, target, met, where, when >> out
}
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "" : sprintf("%.1f", 100 * a / b) }
# rratio(GUEST, CEILING): the median over rounds of 100 * guest / ceiling;
# rounds[] keeps the list, for rounds_row().
function rratio(g, h,    r, n, a, list) {
	n = 0; list = ""
	for (r = 1; r <= maxround; r++)
		if (((g, r) in rv) && ((h, r) in rv) && rv[h, r] > 0) {
			a[++n] = 100 * rv[g, r] / rv[h, r]
			list = list sprintf("%s%.1f", n > 1 ? " " : "", a[n])
		}
	rounds[g] = list
	if (!n) return ""
	return sprintf("%.1f", mid(a, n))
}
function rounds_row(g) { if (rounds[g] != "") printf "%-44s %s\n", "  each round (%)", rounds[g] }
# runs(KEY): every value of KEY in the order measured; runs_row(KEY, UNIT)
# prints them as a row when there are several.
function runs(k,    i, list) {
	for (i = 1; i <= cnt[k]; i++) list = list sprintf("%s%s", i > 1 ? " " : "", val[k, i])
	return list
}
function runs_row(k, unit) { if (cnt[k] >= 2) printf "%-44s %s\n", "    each run (" unit ")", runs(k) }
# tcp_rows(SUFFIX, LABEL): both directions against loopback, and their rates.
function tcp_rows(sfx, label,    r) {
	r = rratio("guest-tcp-tx" sfx, "host-tcp-loopback")
	row("TCP guest->host / loopback" label, r, "%", ">= 50", atleast(r, 50))
	rounds_row("guest-tcp-tx" sfx)
	r = rratio("guest-tcp-rx" sfx, "host-tcp-loopback")
	row("TCP host->guest / loopback" label, r, "%", ">= 50", atleast(r, 50))
	rounds_row("guest-tcp-rx" sfx)
	row("  guest->host" label, median("guest-tcp-tx" sfx), "MB/s", "", "")
	row("  host->guest" label, median("guest-tcp-rx" sfx), "MB/s", "", "")
}
# qcow2_rows(): each qcow2 figure against the raw one of the same round; the
# goal on allocated clusters is 90% of raw (issue 23), none on fresh ones.
function qcow2_rows(    i, n, t, goal, r) {
	n = split("seq-read seq-write rand-read-qd1 rand-write-qd1 seq-write-fresh rand-write-fresh-qd1", t, " ")
	for (i = 1; i <= n; i++) {
		goal = t[i] ~ /fresh/ ? "" : ">= 90"
		r = rratio("qcow2-" t[i], "raw-" t[i])
		row("qcow2 " t[i] " / raw", r, "%", goal, goal == "" ? "" : atleast(r, 90))
		rounds_row("qcow2-" t[i])
		row("  qcow2 " t[i], median("qcow2-" t[i]), t[i] ~ /rand/ ? "IOPS" : "MB/s", "", "")
		row("  raw " t[i], median("raw-" t[i]), t[i] ~ /rand/ ? "IOPS" : "MB/s", "", "")
	}
}
function atleast(v, t) { return v == "" ? "n/a" : (v + 0 >= t ? "yes" : "NO") }
function atmost(v, t) { return v == "" ? "n/a" : (v + 0 <= t ? "yes" : "NO") }
function below(v, t) { return v == "" ? "n/a" : (v + 0 < t ? "yes" : "NO") }
function above(v, t) { return v == "" ? "n/a" : (v + 0 > t ? "yes" : "NO") }
# hw_atmost(V, T): a target set for real hardware, judged only there; the
# lab emulates the host, so its absolute times say nothing of it.
function hw_atmost(v, t) { return where == "native" ? atmost(v, t) : (v == "" ? "n/a" : "n/a (lab)") }
function minus(a, b) { return (a == "" || b == "") ? "" : sprintf("%.0f", a - b) }
# api_rows(KERNEL): the Firecracker API (tests/bench/apibench.c); every time
# counts from the fork of arkvm by apibench, or from the write of a request.
function api_rows(kn,    a, v, c) {
	a = "api-" kn "-"
	row("API: start to socket accepting", median(a "ready-accept"), "ms", "", "")
	row("API: start to its first answer (GET /)", median(a "ready-answer"), "ms", "", "")
	v = median(a "ready-cpu")
	row("API: CPU to socket ready (its metrics)", v, "ms", "<= 8 (hardware)", hw_atmost(v, 8))
	row("API: PUT round trip, p50 of 1000", median(a "put-p50"), "us", "", "")
	row("API: PUT round trip, p99 of 1000", median(a "put-p99"), "us", "", "")
	row("  bare server: round trip, p50", median(a "floor-p50"), "us", "", "")
	row("  bare server: round trip, p99", median(a "floor-p99"), "us", "", "")
	row("  PUT p50 / bare server p50", rratio(a "put-p50", a "floor-p50"), "%", "", "")
	rounds_row(a "put-p50")
	v = median(a "start-to-init")
	row("API: InstanceStart to init (" kn ")", v, "ms", "<= 125 (hardware)", hw_atmost(v, 125))
	runs_row(a "start-to-init", "ms")
	row("  same guest from the CLI: start to init", median(a "cli-to-init"), "ms", "", "")
	runs_row(a "cli-to-init", "ms")
	row("  InstanceStart to init / CLI", rratio(a "start-to-init", a "cli-to-init"), "%", "", "")
	rounds_row(a "start-to-init")
	row("API thread: stack resident (of 512 KiB)", median(a "stack"), "KiB", "", "")
	row("API: whole process before InstanceStart", median(a "before-start-rss"), "KiB", "", "")
	v = minus(median(a "overhead-api"), median(a "overhead-cli"))
	row("VMM overhead, API minus CLI (idle, smaps)", v, "KiB", "", "")
}
# snap_rows(): snapshots (tests/bench/snapbench.c), a 256 MiB guest that
# prints a COUNT line every 100 ms; "running" is its first COUNT line.
# Each restore is set against the cold boot of the same guest in the same
# round: over the API from the request, from the command line from the
# fork. Memory is read 1 s after the first COUNT line; Rss and Pss are the
# whole arkvm process, guest RAM included.
function snap_rows(    v, r) {
	v = median("snap-create")
	row("snapshot create, 256 MiB guest (paused)", v, "ms", "", "")
	runs_row("snap-create", "ms")
	row("  memory file on disk (zero pages: holes)", median("snap-mem-file"), "KiB", "", "")
	row("  snapshot file", median("snap-snap-file"), "KiB", "", "")
	v = median("snap-load-answer")
	row("restore: load request to its answer", v, "ms", "<= 3 (hardware)", hw_atmost(v, 3))
	runs_row("snap-load-answer", "ms")
	row("restore: load request to guest running", median("snap-load-to-count"), "ms", "", "")
	runs_row("snap-load-to-count", "ms")
	row("  cold: InstanceStart to guest running", median("snap-cold-to-count"), "ms", "", "")
	runs_row("snap-cold-to-count", "ms")
	r = rratio("snap-load-to-count", "snap-cold-to-count")
	row("  restore / cold boot (API)", r, "%", "<= 10", atmost(r, 10))
	rounds_row("snap-load-to-count")
	row("restore CLI: process start to running", median("snap-restore-cli-to-count"), "ms", "", "")
	row("  cold CLI: process start to running", median("snap-cold-cli-to-count"), "ms", "", "")
	r = rratio("snap-restore-cli-to-count", "snap-cold-cli-to-count")
	row("  restore / cold boot (CLI)", r, "%", "", "")
	rounds_row("snap-restore-cli-to-count")
	row("restored VM after 1 s: Rss (with RAM)", median("snap-load-rss"), "KiB", "", "")
	row("  Pss (with RAM)", median("snap-load-pss"), "KiB", "", "")
	row("  guest RAM resident", median("snap-load-ram-rss"), "KiB", "", "")
	row("  guest RAM written (private copies)", median("snap-load-ram-anon"), "KiB", "", "")
	row("cold VM after 1 s: Rss (with RAM)", median("snap-cold-rss"), "KiB", "", "")
	row("  Pss (with RAM)", median("snap-cold-pss"), "KiB", "", "")
	row("  guest RAM resident", median("snap-cold-ram-rss"), "KiB", "", "")
	row("  restored Rss / cold Rss", rratio("snap-load-rss", "snap-cold-rss"), "%", "", "")
}
# peer_rows(PEER, FIGURE, WHAT, UNIT, HOW): the peer, then arkvm, each with
# its runs; arkvm beats the peer where its figure is the lower one.
function peer_rows(p, fig, what, unit, how,    a, k, r) {
	a = median("peer-" fig "-arkvm"); k = median("peer-" fig "-" p); r = ratio(a, k)
	row(p ": " what, k, unit, "", "")
	runs_row("peer-" fig "-" p, unit)
	row("  arkvm, " how, a, unit, "", "")
	runs_row("peer-" fig "-arkvm", unit)
	row("  arkvm / " p, r, "%", "< 100", below(r, 100))
}
# peer_io_row(PEER, FIGURE, WHAT, UNIT): a load the guest ran under both
# VMMs; arkvm beats the peer where its figure is the higher one.
function peer_io_row(p, fig, what, unit,    r) {
	r = ratio(median("peer-" fig "-arkvm"), median("peer-" fig "-" p))
	row(what ": arkvm / " p, r, "%", "> 100", above(r, 100))
	if (r != "")
		printf "%-44s %s | %s\n", "    " p " | arkvm, each run (" unit ")",
			runs("peer-" fig "-" p), runs("peer-" fig "-arkvm")
}
# peer_table(PEER): every row set against PEER, if it ran.
function peer_table(p) {
	if (cnt["peer-off-" p] || cnt["peer-overhead-" p]) {
		peer_rows(p, "off", "start to guest power-off (micro)", "ms", "timed alike")
		peer_rows(p, "overhead", "VMM overhead (idle, smaps)", "KiB", "read alike")
		row(p ": Firecracker API figures (it has none)", "", "", "", "")
		row(p ": snapshot figures (not measured)", "", "", "", "")
		row(p ": TCP over passt (not measured)", "", "", "", "")
	}
	if (!cnt["peer-seq-read-" p] && !cnt["peer-tcp-tx-" p])
		return
	peer_io_row(p, "seq-read", "seq read 1 MiB", "MB/s")
	peer_io_row(p, "seq-write", "seq write 1 MiB", "MB/s")
	peer_io_row(p, "rand-read-qd1", "rand read 4 KiB qd1", "IOPS")
	peer_io_row(p, "rand-read-qd32", "rand read 4 KiB qd32", "IOPS")
	peer_io_row(p, "tcp-tx", "TCP guest->host", "MB/s")
	peer_io_row(p, "tcp-rx", "TCP host->guest", "MB/s")
	peer_io_row(p, "tcp-tx-vhost", "TCP guest->host, vhost-net", "MB/s")
	peer_io_row(p, "tcp-rx-vhost", "TCP host->guest, vhost-net", "MB/s")
}
/^BENCH: / {
	k = $2; cnt[k]++; val[k, cnt[k]] = $3
	if ($5 ~ /^round=/) { r = substr($5, 7) + 0; rv[k, r] = $3; if (r > maxround) maxround = r }
}
END {
	printf "%-44s %12s %-6s %-22s %s\n", "figure", "value", "unit", "target", "met"
	for (kern = 0; kern < 2; kern++) {
		kn = kern ? "micro" : "cloud"
		row("boot " kn ": start to first KVM_RUN", median("boot-" kn "-setup"), "ms", "", "")
		row("boot " kn ": CPU to first KVM_RUN", median("boot-" kn "-setup-cpu"), "ms", "", "")
		row("boot " kn ": first KVM_RUN to init", median("boot-" kn "-guest"), "ms", "", "")
		row("boot " kn ": total", median("boot-" kn "-total"), "ms", "", "")
		v = median("boot-" kn "-setup"); g = median("boot-" kn "-guest")
		r = ratio(v, g)
		row("boot " kn ": setup / guest boot", r, "%", kern ? "<= 2" : "", kern ? atmost(r, 2) : "")
		o = median("overhead-" kn)
		row("VMM overhead (" kn ", idle, smaps)", o == "" ? "" : sprintf("%.0f", o), "KiB", "<= 2048",
		    atmost(o, 2048))
	}
	row("exec -- true, cold (cloud kernel + modules)", median("exec-true-cold"), "ms", "", "")
	runs_row("exec-true-cold", "ms")
	r = ratio(median("exec-true-cold"), median("boot-cloud-total"))
	row("  exec cold / plain boot to init", r, "%", "", "")
	row("exec -- true, warm (--warm, restored)", median("exec-true-warm"), "ms", "", "")
	runs_row("exec-true-warm", "ms")
	row("  exec warm / cold", ratio(median("exec-true-warm"), median("exec-true-cold")), "%", "<= 25", "")
	row("exec -- true, 20 at once: wall", median("exec-many-wall"), "ms", "", "")
	row("  of them exited 0", median("exec-many-ok"), "x", "all", "")
	row("  level 1 memory they took at peak", median("exec-many-memory"), "MiB", "", "")
	api_rows(cnt["api-micro-start-to-init"] ? "micro" : "cloud")
	snap_rows()
	# The peers, measured alike (only with BENCH_KVMTOOL, BENCH_QEMU).
	peer_table("kvmtool")
	peer_table("qemu")
	r = rratio("guest-seq-read", "host-seq-read")
	row("seq read 1 MiB: guest / ceiling", r, "%", ">= 85", atleast(r, 85))
	rounds_row("guest-seq-read")
	r = rratio("guest-seq-write", "host-seq-write")
	row("seq write 1 MiB: guest / ceiling", r, "%", ">= 85", atleast(r, 85))
	rounds_row("guest-seq-write")
	r = rratio("guest-rand-read-qd32", "host-rand-read-qd32")
	row("rand read 4 KiB qd32: guest / ceiling", r, "%", ">= 70", atleast(r, 70))
	rounds_row("guest-rand-read-qd32")
	r = rratio("guest-rand-read-qd1", "host-rand-read-qd1")
	row("rand read 4 KiB qd1: guest / ceiling", r, "%", "", "")
	rounds_row("guest-rand-read-qd1")
	row("  guest seq read", median("guest-seq-read"), "MB/s", "", "")
	row("  request size at the device, seq read", median("blk-seq-read-request-kib"), "KiB", "", "")
	row("  request size at the device, seq write", median("blk-seq-write-request-kib"), "KiB", "", "")
	row("  guest seq write", median("guest-seq-write"), "MB/s", "", "")
	row("  guest rand read qd1", median("guest-rand-read-qd1"), "IOPS", "", "")
	row("  guest rand read qd32", median("guest-rand-read-qd32"), "IOPS", "", "")
	row("  ceiling seq read", median("host-seq-read"), "MB/s", "", "")
	row("  ceiling seq write", median("host-seq-write"), "MB/s", "", "")
	row("  ceiling rand read qd32", median("host-rand-read-qd32"), "IOPS", "", "")
	r = median("blk-qd32-interrupts-per-request")
	row("interrupts per request, qd32", r, "x", "well below 1 (<= 0.5)", atmost(r, 0.5))
	row("kicks per request, qd32", median("blk-qd32-kicks-per-request"), "x", "", "")
	row("exits to arkvm per request, qd32", median("blk-qd32-exits-per-request"), "x", "", "")
	row("arkvm I/O thread CPU per request, qd32", median("blk-qd32-io-cpu-per-unit"), "us", "", "")
	row("  I/O thread CPU / vCPU thread CPU", median("blk-qd32-io-cpu-share"), "%", "", "")
	tcp_rows("", "")
	row("  loopback", median("host-tcp-loopback"), "MB/s", "", "")
	tcp_rows("-vhost", ", vhost-net")
	# passt (--net user): no tap, no privileges; set against the tap.
	r = rratio("guest-tcp-tx-passt", "guest-tcp-tx")
	row("TCP guest->host over passt / over the tap", r, "%", ">= 50", atleast(r, 50))
	rounds_row("guest-tcp-tx-passt")
	r = rratio("guest-tcp-rx-passt", "guest-tcp-rx")
	row("TCP host->guest over passt / over the tap", r, "%", ">= 50", atleast(r, 50))
	rounds_row("guest-tcp-rx-passt")
	row("  guest->host, passt", median("guest-tcp-tx-passt"), "MB/s", "", "")
	row("  host->guest, passt", median("guest-tcp-rx-passt"), "MB/s", "", "")
	r = rratio("guest-vsock-tx", "guest-tcp-tx")
	row("vsock guest->host / TCP over the tap", r, "%", ">= 100", atleast(r, 100))
	rounds_row("guest-vsock-tx")
	r = rratio("guest-vsock-rx", "guest-tcp-rx")
	row("vsock host->guest / TCP over the tap", r, "%", ">= 100", atleast(r, 100))
	rounds_row("guest-vsock-rx")
	row("  vsock guest->host", median("guest-vsock-tx"), "MB/s", "", "")
	row("  vsock host->guest", median("guest-vsock-rx"), "MB/s", "", "")
	qcow2_rows()
	r = ratio(median("fs-seq-read"), median("blk-seq-read"))
	row("virtio-fs seq read / virtio-blk", r, "%", ">= 50", atleast(r, 50))
	r = ratio(median("fs-seq-write"), median("blk-seq-write"))
	row("virtio-fs seq write / virtio-blk", r, "%", ">= 50", atleast(r, 50))
	row("  virtio-fs seq read, 256 MiB", median("fs-seq-read"), "MB/s", "", "")
	row("  virtio-fs seq write, 256 MiB", median("fs-seq-write"), "MB/s", "", "")
	row("  virtio-blk (ext2) seq read", median("blk-seq-read"), "MB/s", "", "")
	row("  virtio-blk (ext2) seq write", median("blk-seq-write"), "MB/s", "", "")
	row("  the host reading the shared file", median("fs-host-seq-read"), "MB/s", "", "")
	r = ratio(median("fs-untar"), median("blk-untar"))
	row("untar 2000 files: virtio-fs / virtio-blk", r, "%", "<= 300", atmost(r, 300))
	row("  virtio-fs untar", median("fs-untar"), "ms", "", "")
	row("  virtio-blk (ext2) untar", median("blk-untar"), "ms", "", "")
	row("balloon: Rss, guest filled 128 MiB", median("balloon-api-filled"), "KiB", "", "")
	row("  after it freed them, balloon at 160 MiB", median("balloon-api-after"), "KiB", "", "")
	row("  given back (API)", minus(median("balloon-api-filled"), median("balloon-api-after")),
	    "KiB", ">= 102400", atleast(minus(median("balloon-api-filled"), median("balloon-api-after")), 102400))
	row("balloon (reporting): Rss, guest filled 128 MiB", median("balloon-reporting-filled"), "KiB", "", "")
	row("  freed, free page reporting", median("balloon-reporting-after"), "KiB", "", "")
	row("  given back (reporting)", minus(median("balloon-reporting-filled"),
	    median("balloon-reporting-after")), "KiB", "", "")
	row("exits to arkvm per packet, vhost-net", median("net-vhost-exits-per-packet"), "x", "", "")
	row("interrupts per packet, TCP both ways", median("net-interrupts-per-packet"), "x", "", "")
	row("kicks per packet, TCP both ways", median("net-kicks-per-packet"), "x", "", "")
	row("exits to arkvm per packet", median("net-exits-per-packet"), "x", "", "")
	row("arkvm I/O thread CPU per packet", median("net-io-cpu-per-unit"), "us", "", "")
	row("  I/O thread CPU / vCPU thread CPU", median("net-io-cpu-share"), "%", "", "")
	r = median("net-rx-refill-kicks-per-packet")
	row("receive refill: kicks per packet received", r, "x", "well below 1 (<= 0.1)", atmost(r, 0.1))
}' "$raw"
echo "bench: raw figures in $raw; rows appended to $results ($where)"
