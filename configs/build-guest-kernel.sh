#!/bin/sh
# make guest-kernel: builds the microVM guest kernel from Debian's
# linux-source package: allnoconfig, then configs/microvm-arm64.config on
# top. Cross-compiled off arm64. The Image is cached in
# $ARKVM_CACHE/guest-kernel/Image (default ~/.cache/arkvm) and rebuilt only
# when the config or the source changes. Prints the Image's path last.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${ARKVM_CACHE:-$HOME/.cache/arkvm}
config=$top/configs/microvm-arm64.config
series=${KERNEL_SERIES:-6.1}
out=$cache/guest-kernel
say() { echo "guest-kernel: $*" >&2; }

case "$(uname -m)" in
aarch64) cross= ;;
*) cross=aarch64-linux-gnu- ;;
esac
packages="linux-source-$series make flex bison bc xz-utils gcc libc6-dev"
[ -n "$cross" ] && packages="$packages gcc-aarch64-linux-gnu"
# (By what they install: dpkg -s stumbles over packages of two architectures.)
have_all=true
ls /usr/src/linux-source-"$series".tar.* > /dev/null 2>&1 || have_all=false
for tool in make flex bison bc xz "${cross}gcc"; do
	command -v "$tool" > /dev/null || have_all=false
done
if ! $have_all; then
	say "installing $packages"
	apt-get update -q > /dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		$packages > /dev/null
fi

tarball=$(ls /usr/src/linux-source-"$series".tar.* | head -n 1)
version=$(dpkg-query -W -f '${Version}' linux-source-"$series")
key="$version $(cksum < "$config")"
if [ -f "$out/Image" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
	say "cached ($version)"
	echo "$out/Image"
	exit 0
fi

src=$cache/kbuild/linux-source-$series
if [ "$(cat "$cache/kbuild/version" 2>/dev/null)" != "$version" ]; then
	say "unpacking $tarball"
	rm -rf "$cache/kbuild"
	mkdir -p "$cache/kbuild"
	tar -xf "$tarball" -C "$cache/kbuild"
	echo "$version" > "$cache/kbuild/version"
fi
obj=$cache/kbuild/obj
mkdir -p "$obj"
kmake() { make -s -C "$src" O="$obj" ARCH=arm64 CROSS_COMPILE="$cross" "$@"; }
kmake allnoconfig > /dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$config" > /dev/null
kmake olddefconfig > /dev/null
# An option the kernel dropped (a missing dependency) would go unnoticed.
missing=$(sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=y$/\1/p' "$config" | while read -r opt; do
	grep -q "^$opt=y" "$obj/.config" || echo "$opt"
done)
if [ -n "$missing" ]; then
	say "not set in the final config: $(echo $missing)"
	exit 1
fi
say "building $version with $(nproc) jobs"
kmake -j"$(nproc)" Image
mkdir -p "$out"
cp "$obj/arch/arm64/boot/Image" "$out/Image"
cp "$obj/.config" "$out/config"
echo "$key" > "$out/key"
say "$(du -k "$out/Image" | cut -f1) KiB"
echo "$out/Image"
