#!/bin/sh
# The README's "write a driver" path, out of tree: install kx into a temporary prefix,
# `kx new`, build the project with only the installed SDK (find_package(kx)), boot a
# private kxd from that prefix on the new bundle, and use the device it creates, from the
# tools and from a program built against the installed libkxclient.so (kx::client).
# $1 the build tree.
set -u
umask 022
build=$(cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/kxd.log" ] && cat "$tmp/kxd.log" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kx-sdk-XXXXXX") || fail "mktemp"
# kx-host processes run as nobody: the bundles must be readable to others.
chmod 755 "$tmp"
kxd_pid=
cleanup() {
    [ -n "$kxd_pid" ] && kill "$kxd_pid" 2>/dev/null && wait "$kxd_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || fail "install: $(cat "$tmp/install.log")"
for f in bin/kx bin/kextload sbin/kxd include/kx/kmdf.h include/kx/client.h \
         lib/cmake/kx/kxConfig.cmake lib/cmake/kx/KxKext.cmake lib/pkgconfig/kx-kmdf.pc \
         lib/pkgconfig/kx-client.pc lib/libkxclient.so.0; do
    [ -e "$prefix/$f" ] || fail "install left out $f"
done
kx=$prefix/bin/kx

cd "$tmp" || fail "cd"
"$kx" new Greeter >/dev/null || fail "kx new"
"$kx" new Greeter 2>"$tmp/err" && fail "kx new overwrote an existing project"
grep -q "already exists" "$tmp/err" || fail "second kx new: $(cat "$tmp/err")"
"$kx" new 9lives 2>/dev/null && fail "kx new took a name starting with a digit"

# Nothing of the source tree is visible: only the prefix.
cmake -S Greeter -B Greeter/build -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/cmake.log" 2>&1 ||
    fail "configure: $(cat "$tmp/cmake.log")"
cmake --build Greeter/build >"$tmp/build.log" 2>&1 || fail "build: $(cat "$tmp/build.log")"
bundle=$tmp/Greeter/build/extensions/Greeter.kext
[ -f "$bundle/Contents/Linux/Greeter" ] || fail "no executable in $bundle"
"$kx" check --no-auth "$bundle" >"$tmp/check.log" 2>&1 || fail "kx check: $(cat "$tmp/check.log")"

# A program of the user's, against the installed client library. A sanitized build's
# library takes the sanitizer runtime from the program, so the program is built with it.
mkdir -p "$tmp/prog"
cat >"$tmp/prog/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(greet C)
find_package(kx REQUIRED)
add_executable(greet greet.c)
target_link_libraries(greet PRIVATE kx::client)
CM
cat >"$tmp/prog/greet.c" <<'C'
#include <kx/client.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    kx_client *c;
    uint32_t h;
    char buf[64];
    size_t got = 0;
    kx_status st = kx_client_connect(argv[1], &c);
    if (st != STATUS_SUCCESS || argc < 2)
        return 2;
    st = kx_client_open(c, "/dev/greeter", KX_ACCESS_READ, &h);
    if (st == STATUS_SUCCESS)
        st = kx_client_read(c, h, 0, buf, sizeof buf - 1, 0, &got);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "greet: %s\n", kx_status_name(st));
        return 1;
    }
    fwrite(buf, 1, got, stdout);
    kx_client_close(c, h);
    kx_client_disconnect(c);
    return 0;
}
C
san=
nm -D "$prefix/lib/libkxclient.so.0" | grep -q __asan_ && san="-DCMAKE_C_COMPILER=clang -DCMAKE_C_FLAGS=-fsanitize=address,undefined"
# shellcheck disable=SC2086
cmake -S "$tmp/prog" -B "$tmp/prog/build" -DCMAKE_PREFIX_PATH="$prefix" $san >"$tmp/prog.log" 2>&1 &&
    cmake --build "$tmp/prog/build" >>"$tmp/prog.log" 2>&1 || fail "program: $(cat "$tmp/prog.log")"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --libs kx-client | grep -q -- -lkxclient ||
    fail "kx-client.pc"

sock=$tmp/kxd.sock
"$prefix/sbin/kxd" --foreground --no-auth --platform none --socket "$sock" \
    --extensions "$tmp/Greeter/build/extensions" >"$tmp/kxd.log" 2>&1 &
kxd_pid=$!
i=0
until "$kx" stat --socket "$sock" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 600 ] && fail "kxd did not start"
    kill -0 "$kxd_pid" 2>/dev/null || fail "kxd exited"
    sleep 0.1
done
"$kx" stat --socket "$sock" | grep -q com.example.driver.Greeter || fail "Greeter not loaded at boot"
out=$("$kx" cat --socket "$sock" /dev/greeter) || fail "kx cat /dev/greeter"
[ "$out" = "Hello from Greeter" ] || fail "read '$out'"
out=$("$tmp/prog/build/greet" "$sock") || fail "the program against libkxclient.so"
[ "$out" = "Hello from Greeter" ] || fail "program read '$out'"
"$kx" write --socket "$sock" /dev/greeter hello >/dev/null || fail "kx write"
# IOCTL_GREETER_GET_WRITTEN = CTL_CODE(FILE_DEVICE_UNKNOWN 0x22, 0x800, BUFFERED, READ)
hex=$("$kx" ioctl --socket "$sock" --out-len 8 /dev/greeter 0x226000) || fail "kx ioctl"
echo "$hex" | grep -qi '^05 *00' || fail "written count: $hex"
kill "$kxd_pid" && wait "$kxd_pid"
rc=$?
kxd_pid=
[ $rc -eq 0 ] || fail "kxd exited $rc on SIGTERM"
echo "ok: installed, created, built out of tree, loaded and used"
