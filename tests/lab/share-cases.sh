#!/bin/sh
# make test-share: ordinary developer tools on a directory booted as the
# guest's root over virtio-fs (tests/lab/share-tree.sh made it: Debian's
# git, make and tcc). In the guest: git init and commit, git clone of that
# local repository (hard links, renames, fsync), then make of a small C
# project with tcc, and the program it built runs. Not part of make test:
# the tree is a few hundred MiB and the tools are slow under emulation.
#
#   share-cases.sh ARKVM KERNEL INITRD MARKER
set -u
ARKVM=$1 KERNEL=$2 INITRD=$3
pass() { echo "PASS: lab/$1"; }
fail() { echo "FAIL: lab/$1: $2"; }
tmp=${TMPDIR:-/tmp}/arkvm-share.$$
mkdir -p "$tmp"
root=/share-root
[ -d "$root/usr/bin" ] || { fail share-tools "no $root: run tests/lab/share-tree.sh"; exit 0; }
rm -rf "$root/work/proj" "$root/work/clone"

cat > "$tmp/tools.in" <<'GUEST'
export PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/root
mkdir -p /work/proj && cd /work/proj
printf '#include <stdio.h>\nint answer(void);\nint main(void) { printf("TOOLS-RAN=%%d\\n", answer()); return 0; }\n' > main.c
printf 'int answer(void) { return 42; }\n' > answer.c
printf 'hello: main.o answer.o\n\t$(CC) -o $@ main.o answer.o\n%%.o: %%.c\n\t$(CC) -c -o $@ $<\n' > Makefile
git init -q . && git add . && git -c user.name=lab -c user.email=lab@arkvm commit -qm first &&
	echo "TOOLS-COMMIT=$(git rev-parse HEAD)"
cd /work && git clone -q proj clone && cd clone && echo "TOOLS-CLONED=$(git rev-parse HEAD) $(ls | tr '\n' ' ')"
make CC=tcc > /tmp/make.log 2>&1; echo "TOOLS-MAKE=$?"; tail -n 3 /tmp/make.log
./hello
make CC=tcc 2>&1 | grep -q 'up to date' && echo TOOLS-UP-TO-DATE
sync; echo TOOLS-DONE
poweroff -f
GUEST
"$ARKVM" run --kernel "$KERNEL" --initrd "$INITRD" --memory 512M --share "$root,tag=root" \
	--cmdline "quiet arkvm.test=shell rootfstype=virtiofs root=root rw" \
	< "$tmp/tools.in" > "$tmp/tools.out" 2> "$tmp/tools.err"
rc=$?
tr -d '\r' < "$tmp/tools.out" > "$tmp/tools.log"
field() { sed -n "s/^TOOLS-$1=//p" "$tmp/tools.log" | head -n 1; }
why=
commit=$(field COMMIT)
[ -n "$commit" ] || why="no commit"
case "$(field CLONED)" in "$commit Makefile answer.c main.c ") ;; *) why="$why; clone: '$(field CLONED)'" ;; esac
[ "$(field MAKE)" = 0 ] || why="$why; make exited '$(field MAKE)'"
[ "$(field RAN)" = 42 ] || why="$why; the program printed '$(field RAN)'"
grep -q '^TOOLS-UP-TO-DATE' "$tmp/tools.log" || why="$why; a second make rebuilt (timestamps)"
[ -x "$root/work/clone/hello" ] && [ -f "$root/work/clone/.git/HEAD" ] || why="$why; not on the host"
if [ -z "$why" ] && [ $rc -eq 0 ]; then
	pass share-root-git-clone-and-make
else
	fail share-root-git-clone-and-make "exit $rc${why:+;}$why"
	tail -n 15 "$tmp/tools.log" "$tmp/tools.err"
fi
rm -rf "$tmp"
