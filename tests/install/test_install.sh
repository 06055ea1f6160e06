#!/bin/sh
# test_install.sh — `make install`'s rules, staged with DESTDIR under a temporary prefix: the
# tool and its Apple-named links, kxd, headers, man pages, the systemd unit naming the prefix's
# paths; then a driver built outside kx's tree with only the installed SDK (find_package(kx),
# kx_add_kext) is a kext `kx check` finds loadable.
set -eu
build=${KX_BUILD_DIR:?}
src=${KX_SOURCE_DIR:?}
tmp=$(mktemp -d /tmp/kx-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_install: $*" >&2; exit 1; }

prefix=/opt/kx-test
DESTDIR="$tmp/stage" cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install failed"; }
root="$tmp/stage$prefix"
for f in bin/kx sbin/kxd include/kx/kmdf.h include/kx/status.h lib/cmake/kx/kxConfig.cmake \
         lib/cmake/kx/kx_kext.cmake share/man/man1/kx.1 share/man/man8/kxd.8 \
         lib/systemd/system/kxd.service; do
    [ -e "$root/$f" ] || fail "$f not installed"
done
for alias in kextload kextunload kextstat kextutil; do
    [ "$(readlink "$root/bin/$alias")" = kx ] || fail "bin/$alias is not a link to kx"
done
[ -d "$root/lib/kx/extensions" ] || fail "no extensions folder"
grep -q "^Type=notify$" "$root/lib/systemd/system/kxd.service" || fail "unit is not Type=notify"
grep -q "^ExecStart=$prefix/sbin/kxd --foreground --extensions $prefix/lib/kx/extensions$" \
    "$root/lib/systemd/system/kxd.service" || fail "unit's ExecStart doesn't name $prefix"

# A driver out of tree: the Null sample's source under another name and version.
mkdir -p "$tmp/hello"
cp "$src/drivers/Null/null.c" "$src/drivers/Null/Info.plist.in" "$tmp/hello/"
cat >"$tmp/hello/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(hello LANGUAGES C)
find_package(kx 0.1 REQUIRED)
kx_add_kext(NAME Hello IDENTIFIER org.example.Hello VERSION 2.1.0 PLIST Info.plist.in
            SOURCES null.c)
CMAKE
cmake -S "$tmp/hello" -B "$tmp/hello/build" -DCMAKE_PREFIX_PATH="$root" >"$tmp/cfg.log" 2>&1 ||
    { cat "$tmp/cfg.log"; fail "the out-of-tree project doesn't configure"; }
cmake --build "$tmp/hello/build" >"$tmp/build.log" 2>&1 ||
    { cat "$tmp/build.log"; fail "the out-of-tree driver doesn't build"; }
kext="$tmp/hello/build/extensions/Hello.kext"
[ -f "$kext/Contents/Linux/Hello" ] || fail "no executable in $kext"
grep -q "<string>2.1.0</string>" "$kext/Contents/Info.plist" || fail "CFBundleVersion isn't 2.1.0"
"$root/bin/kx" check --no-auth "$kext" >"$tmp/check.log" 2>&1 ||
    { cat "$tmp/check.log"; fail "kx check: the out-of-tree kext isn't loadable"; }
echo "test_install: ok"
