#!/bin/sh
# make install and make uninstall into a scratch DESTDIR, with a dummy binary
# (ARKVM_BIN) so that no cross build is needed; then the man page through
# groff's warnings and the example configs through a JSON parser.
# Prints "PASS: name" or "FAIL: name" per check, as every test step does.
set -u
cd "$(dirname "$0")/.."

failed=0
check() {
	# check NAME COMMAND...: PASS when the command succeeds.
	name=$1; shift
	if "$@"; then
		echo "PASS: $name"
	else
		echo "FAIL: $name"
		failed=1
	fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
prefix=/usr/local
root=$dest$prefix
printf '#!/bin/sh\necho dummy arkvm\n' > "$tmp/arkvm"
configs=$(cd configs && ls ./*.json | sed 's|^\./||')

mk() {
	make --no-print-directory DESTDIR="$dest" PREFIX="$prefix" ARKVM_BIN="$tmp/arkvm" "$@" \
		> "$tmp/make.out" 2>&1 || { cat "$tmp/make.out"; return 1; }
}

installed() {
	[ -x "$root/bin/arkvm" ] && cmp -s "$tmp/arkvm" "$root/bin/arkvm" || return 1
	[ -f "$root/share/man/man1/arkvm.1" ] || return 1
	[ "$(stat -c %a "$root/share/man/man1/arkvm.1")" = 644 ] || return 1
	for f in $configs; do
		cmp -s "configs/$f" "$root/share/arkvm/$f" || return 1
	done
	[ -n "$configs" ]
}

link_to_arkvm() {
	[ -L "$root/bin/firecracker" ] && [ "$(readlink "$root/bin/firecracker")" = arkvm ]
}

# Nothing but the empty directories install made is left.
nothing_left() {
	[ -z "$(find "$dest" ! -type d)" ] && [ ! -e "$root/share/arkvm" ]
}

check "install: FIRECRACKER_LINK=1 succeeds" mk install FIRECRACKER_LINK=1
check "install: bin/arkvm, the man page and configs/*.json are in place" installed
check "install: bin/firecracker is a relative link to arkvm" link_to_arkvm
check "install: a second install over the first succeeds" mk install FIRECRACKER_LINK=1
check "uninstall: succeeds" mk uninstall
check "uninstall: nothing install made is left" nothing_left

# A firecracker that is not ours is neither replaced nor removed.
fails() { ! "$@" > /dev/null; }
foreign_kept() { grep -qx real "$root/bin/firecracker"; }
mkdir -p "$root/bin" && echo real > "$root/bin/firecracker"
check "install: refuses to replace a foreign bin/firecracker" fails mk install FIRECRACKER_LINK=1
check "install: the foreign bin/firecracker is unchanged" foreign_kept
check "uninstall: with a foreign bin/firecracker, succeeds" mk uninstall
check "uninstall: leaves the foreign bin/firecracker" foreign_kept
rm -f "$root/bin/firecracker"

check "install: without the binary, says so and fails" fails mk install ARKVM_BIN="$tmp/none"

# groff prints every warning (-ww) on stderr; the page must give none.
man_clean() {
	groff -man -ww -z docs/arkvm.1 > "$tmp/groff.out" 2>&1 && [ ! -s "$tmp/groff.out" ] ||
		{ cat "$tmp/groff.out"; return 1; }
	if command -v man > /dev/null; then
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l docs/arkvm.1 2>&1 > /dev/null |
			tee "$tmp/man.out"
		[ ! -s "$tmp/man.out" ]
	fi
}
check "man page: renders without warnings" man_clean

# The lead's config-file unit tests load them through arkvm's own parser;
# this only catches a broken file early, where a parser is at hand.
configs_parse() {
	for f in configs/*.json; do
		if command -v python3 > /dev/null; then
			python3 -m json.tool "$f" > /dev/null
		else
			jq . "$f" > /dev/null
		fi || { echo "$f: not JSON"; return 1; }
	done
}
if command -v python3 > /dev/null || command -v jq > /dev/null; then
	check "configs: every example is JSON" configs_parse
else
	echo "configs: no python3 or jq here; JSON not checked"
fi

exit $failed
