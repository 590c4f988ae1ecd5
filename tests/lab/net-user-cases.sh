# Sourced by tests/lab/cases.sh (its helpers: boot, bad, pass, fail, show,
# why, $tmp): user-mode networking through passt, which needs no tap and no
# privileges. Level 1 carries Debian's arm64 passt and its C library, a
# default route on a dummy interface, and its root on a tmpfs
# (tests/lab/level1-init says why); on an arm64 host, make deps installs it.
#
# arkvm --net user starts passt itself (passt -f --fd N, found on PATH), and
# --net passt=SOCKET connects to one already running. What the guest sees:
#   - an address, netmask and route from passt's DHCP server (busybox udhcpc
#     with the default guest's hook, configs/guest/udhcpc-script): passt
#     hands out the host's own address and gateway;
#   - the host's loopback services at that gateway address;
#   - with ,tcp=HOSTPORT:GUESTPORT, connections to the host's HOSTPORT.

netu_host_port=47081      # a server on the host's loopback, for the guest
netu_fwd_port=47022       # --net user,tcp=47022:8080, a server in the guest

# The host's default gateway: what passt gives the guest as its router.
netu_gw=$(ip route 2> /dev/null | awk '$1 == "default" { print $3; exit }')

# netu_feed WHAT: the guest's commands (after a first line PORT=...).
# DHCP first, then what WHAT asks for. Every answer is a NETU- line.
cat > "$tmp/netu-dhcp.in" <<'GUEST'
ip link set eth0 up
udhcpc -i eth0 -n -q -t 10 -T 3; echo "NETU-DHCP-RC=$?"
echo "NETU-ADDR=$(ip addr show dev eth0 | sed -n 's/.*inet \([0-9.]*\/[0-9]*\).*/\1/p' | head -n 1)"
gw=$(ip route | awk '$1 == "default" { print $3; exit }'); echo "NETU-GW=$gw"
echo "NETU-MTU=$(cat /sys/class/net/eth0/mtu)"
echo "NETU-CARRIER=$(cat /sys/class/net/eth0/carrier)"
GUEST
# The guest fetches a file from the host's loopback through the gateway.
# (Bounded by timeout: Debian 12's static busybox wget crashes on -T.)
cat > "$tmp/netu-fetch.in" <<'GUEST'
timeout 120 wget -q -O /got "http://$gw:$PORT/blob"; echo "NETU-FETCH-RC=$?"
echo "NETU-FETCH-SHA=$(sha256sum /got | cut -d' ' -f1)"
GUEST
# The guest serves a random file on port 8080 (httpd listens before it
# goes to the background).
cat > "$tmp/netu-serve.in" <<'GUEST'
mkdir -p /www && head -c 2097152 /dev/urandom > /www/blob
echo "NETU-SERVED-SHA=$(sha256sum /www/blob | cut -d' ' -f1)"
httpd -p 8080 -h /www; echo "NETU-SERVING-RC=$?"
GUEST

# netu_field NAME FIELD: what the guest printed as NETU-FIELD=, at the start
# of a line (the console also echoes the commands that print them).
netu_field() { sed -n "s/^NETU-$2=//p" "$tmp/$1.log" | head -n 1; }

# netu_wait NAME PATTERN SECONDS: waits until guest NAME's console shows
# PATTERN (anchored, for the same reason), or its arkvm has exited (boot
# leaves NAME.rc then).
netu_wait() {
	n=0
	until grep -q "$2" "$tmp/$1.out" 2> /dev/null || [ -f "$tmp/$1.rc" ] || [ $n -ge "$3" ]; do
		sleep 1; n=$((n + 1))
	done
	grep -q "$2" "$tmp/$1.out" 2> /dev/null
}

# netu_check_dhcp NAME: the guest took the lease passt offered: an address
# and, as its router, the host's own default gateway.
netu_check_dhcp() {
	if [ "$(netu_field "$1" DHCP-RC)" = 0 ] && [ -n "$(netu_field "$1" ADDR)" ] &&
	    [ -n "$netu_gw" ] && [ "$(netu_field "$1" GW)" = "$netu_gw" ]; then
		pass "$1-dhcp-lease ($(netu_field "$1" ADDR) via $netu_gw, mtu $(netu_field "$1" MTU))"
	else
		fail "$1-dhcp-lease" "udhcpc rc '$(netu_field "$1" DHCP-RC)', address '$(netu_field "$1" ADDR)', router '$(netu_field "$1" GW)', expected the host's gateway '$netu_gw' ($(why "$(cat "$tmp/$1.rc")"))"
		show "$1"
	fi
}

# netu_fetch_case NAME [arkvm --net option]: a server on the host's
# loopback only (busybox httpd on 127.0.0.1) serves 2 MiB of random bytes;
# the guest fetches them through passt's gateway and prints their sha256.
netu_fetch_case() {
	name=$1; shift
	mkdir -p "$tmp/www"
	head -c 2097152 /dev/urandom > "$tmp/www/blob"
	want=$(sha256sum "$tmp/www/blob" | cut -d' ' -f1)
	httpd -f -p "127.0.0.1:$netu_host_port" -h "$tmp/www" &
	httpd_pid=$!
	{ echo "PORT=$netu_host_port"; cat "$tmp/netu-dhcp.in" "$tmp/netu-fetch.in"; echo 'poweroff -f'; } \
		> "$tmp/$name.feed"
	boot "$name" --memory 256M --cmdline "quiet arkvm.test=shell" "$@" < "$tmp/$name.feed"
	kill $httpd_pid 2> /dev/null; wait $httpd_pid 2> /dev/null
	netu_check_dhcp "$name"
	if [ $rc -eq 0 ] && [ "$(netu_field "$name" FETCH-RC)" = 0 ] &&
	    [ "$(netu_field "$name" FETCH-SHA)" = "$want" ]; then
		pass "$name-reaches-host-loopback"
	else
		fail "$name-reaches-host-loopback" "wget rc '$(netu_field "$name" FETCH-RC)', sha '$(netu_field "$name" FETCH-SHA)' vs '$want' ($(why $rc))"
		show "$name"
	fi
	rm -rf "$tmp/www"
}

# netu_passt_of TOKEN: the pid of the passt whose parent is the arkvm with
# TOKEN on its command line (ours, not another user's).
netu_passt_of() {
	for st in /proc/[0-9]*/stat; do
		read -r pid comm state ppid rest < "$st" 2> /dev/null || continue
		[ "$comm" = "(passt)" ] || continue
		tr '\0' ' ' < "/proc/$ppid/cmdline" 2> /dev/null | grep -q -- "$1" && echo "$pid"
	done
}

# --- passt itself ------------------------------------------------------------

# passt runs here at all: it starts as root, drops to nobody in a user
# namespace, pivots into an empty tmpfs, and listens on its socket and on
# a forwarded port. (Each of those fails on a host that lacks what
# level1-init provides.) -1: it would quit after one client.
netu_sock=/tmp/arkvm-lab-passt.$$.sock
if command -v passt > /dev/null; then
	rm -f "$netu_sock"
	passt -f -1 -s "$netu_sock" -t 47099 > "$tmp/passt-smoke.err" 2>&1 &
	passt_pid=$!
	port_hex=$(printf '%04X' 47099)
	n=0
	until { [ -S "$netu_sock" ] && grep -q ":$port_hex 00000000:0000 0A" /proc/net/tcp; } ||
	    [ $n -ge 60 ] || ! kill -0 $passt_pid 2> /dev/null; do
		sleep 1; n=$((n + 1))
	done
	if [ -S "$netu_sock" ] && grep -q ":$port_hex 00000000:0000 0A" /proc/net/tcp &&
	    kill -0 $passt_pid 2> /dev/null; then
		pass net-user-passt-runs-here
	else
		fail net-user-passt-runs-here "no socket or no listener on 47099 after $n s: $(grep -v syslog "$tmp/passt-smoke.err" | tail -n 5 | tr '\n' '|')"
	fi
	kill $passt_pid 2> /dev/null; wait $passt_pid 2> /dev/null
	rm -f "$netu_sock"
else
	fail net-user-passt-runs-here "no passt on PATH ($PATH): make deps installs it, the lab lays it into level 1"
fi

# --- arkvm --net user ----------------------------------------------------------

saved_timeout=$BOOT_TIMEOUT BOOT_TIMEOUT=180

# The guest's DHCP and a fetch from a server on the host's loopback.
netu_fetch_case net-user --net user

# ,tcp=HOSTPORT:GUESTPORT: the host fetches what a server in the guest
# serves, from its own loopback, once the guest says the server listens.
# The feed waits for that, fetches, and only then lets the guest power off.
name=net-user-tcp-forward
rm -f "$tmp/fwd.got" "$tmp/$name.out" "$tmp/$name.rc"
{
	cat "$tmp/netu-dhcp.in" "$tmp/netu-serve.in"
	if netu_wait "$name" ^NETU-SERVING-RC= 150; then
		for try in 1 2 3 4 5 6 7 8 9 10; do
			timeout 60 wget -q -O "$tmp/fwd.got" "http://127.0.0.1:$netu_fwd_port/blob" 2> /dev/null &&
				break
			rm -f "$tmp/fwd.got"; sleep 3
		done
		echo "echo NETU-HOST-TRIES=$try"
	fi
	echo 'poweroff -f'
} | boot "$name" --memory 256M --cmdline "quiet arkvm.test=shell" \
	--net "user,tcp=$netu_fwd_port:8080"
rc=$(cat "$tmp/$name.rc")
netu_check_dhcp "$name"
got=$(sha256sum "$tmp/fwd.got" 2> /dev/null | cut -d' ' -f1)
if [ $rc -eq 0 ] && [ "$(netu_field "$name" SERVING-RC)" = 0 ] && [ -n "$got" ] &&
    [ "$got" = "$(netu_field "$name" SERVED-SHA)" ]; then
	pass "$name-reaches-guest-server"
else
	fail "$name-reaches-guest-server" "httpd rc '$(netu_field "$name" SERVING-RC)', host got sha '$got' after $(netu_field "$name" HOST-TRIES) tries, guest served '$(netu_field "$name" SERVED-SHA)' ($(why $rc))"
	show "$name"
fi

# passt dies (SIGKILL) under a running guest: the link goes down (virtio-net
# STATUS), arkvm warns and keeps running, and the guest powers off as usual.
name=net-user-passt-dies
token=lab.token=netu-dies-$$
rm -f "$tmp/$name.out" "$tmp/$name.rc"
{
	cat "$tmp/netu-dhcp.in"
	if netu_wait "$name" ^NETU-CARRIER= 150; then
		victim=$(netu_passt_of "$token")
		[ -n "$victim" ] && kill -KILL $victim
		echo "echo NETU-KILLED=${victim:-none}"
	fi
	printf '%s\n' 'for i in $(seq 60); do [ "$(cat /sys/class/net/eth0/carrier)" = 0 ] && break; sleep 1; done' \
		'echo "NETU-CARRIER-AFTER=$(cat /sys/class/net/eth0/carrier)"' 'poweroff -f'
} | boot "$name" --memory 256M --cmdline "quiet arkvm.test=shell $token" --net user
rc=$(cat "$tmp/$name.rc")
if [ $rc -eq 0 ] && [ "$(netu_field "$name" CARRIER)" = 1 ] &&
    [ "$(netu_field "$name" KILLED)" != none ] && [ -n "$(netu_field "$name" KILLED)" ] &&
    [ "$(netu_field "$name" CARRIER-AFTER)" = 0 ] && grep -qi 'passt' "$tmp/$name.err"; then
	pass "$name-link-goes-down"
else
	fail "$name-link-goes-down" "carrier before '$(netu_field "$name" CARRIER)', passt killed '$(netu_field "$name" KILLED)', carrier after '$(netu_field "$name" CARRIER-AFTER)', stderr: $(head -c 200 "$tmp/$name.err" | tr '\n' '|') ($(why $rc))"
	show "$name"
fi

# --net passt=SOCKET: a passt that level 1 started itself (-1: it quits when
# arkvm lets go). It runs as nobody, so its socket goes in /tmp itself.
if command -v passt > /dev/null; then
	rm -f "$netu_sock"
	passt -f -1 -s "$netu_sock" > "$tmp/passt-own.err" 2>&1 &
	passt_pid=$!
	n=0
	until [ -S "$netu_sock" ] || [ $n -ge 60 ]; do sleep 1; n=$((n + 1)); done
	netu_fetch_case net-passt-socket --net "passt=$netu_sock"
	kill $passt_pid 2> /dev/null; wait $passt_pid 2> /dev/null
	rm -f "$netu_sock"
fi

BOOT_TIMEOUT=$saved_timeout

# No passt on PATH: one line that says so, and exit 1.
mkdir -p "$tmp/no-passt-bin"
printf '#!/bin/sh\nPATH=%s exec %s "$@"\n' "$tmp/no-passt-bin" "$ARKVM" > "$tmp/arkvm-no-passt"
chmod +x "$tmp/arkvm-no-passt"
saved_arkvm=$ARKVM ARKVM=$tmp/arkvm-no-passt
bad net-user-without-passt run --kernel "$KERNEL" --net user
ARKVM=$saved_arkvm
grep -q 'passt' "$tmp/bad.err" && pass net-user-without-passt-names-passt ||
	fail net-user-without-passt-names-passt "stderr: $(cat "$tmp/bad.err")"
