#!/bin/sh
# test_install_layout.sh — `make install`'s rules, staged with DESTDIR under a temporary prefix:
# the tool and its Apple-named links, kxd and kx-host, headers, man pages, bash completion (kx's
# script and a link for every other name), the systemd unit naming the prefix's paths.
# (test_sdk_out_of_tree.sh uses what is installed.)
set -eu
build=${KX_BUILD_DIR:?}
src=${KX_SOURCE_DIR:?}
tmp=$(mktemp -d /tmp/kx-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test_install_layout: $*" >&2; exit 1; }

prefix=/opt/kx-test
DESTDIR="$tmp/stage" cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install failed"; }
root="$tmp/stage$prefix"
for f in bin/kx sbin/kxd sbin/kx-host include/kx/kmdf.h include/kx/status.h lib/cmake/kx/kxConfig.cmake \
         lib/cmake/kx/KxKext.cmake share/man/man1/kx.1 share/man/man8/kxd.8 \
         lib/systemd/system/kxd.service; do
    [ -e "$root/$f" ] || fail "$f not installed"
done
for alias in kextload kextunload kextstat kextutil; do
    [ "$(readlink "$root/bin/$alias")" = kx ] || fail "bin/$alias is not a link to kx"
done
# Bash completion: one script, every other name a link to it.
completions="$root/share/bash-completion/completions"
[ -f "$completions/kx" ] || fail "share/bash-completion/completions/kx not installed"
cmp -s "$completions/kx" "$src/contrib/bash-completion/kx" || fail "the installed completion differs"
for name in kextload kextunload kextstat kextutil kextlibs kextcache kextfind ioreg ioclasscount kxd; do
    [ "$(readlink "$completions/$name")" = kx ] || fail "completions/$name is not a link to kx"
done
[ -d "$root/lib/kx/extensions" ] || fail "no extensions folder"
grep -q "^Type=notify$" "$root/lib/systemd/system/kxd.service" || fail "unit is not Type=notify"
grep -q "^ExecStart=$prefix/sbin/kxd --foreground --extensions $prefix/lib/kx/extensions$" \
    "$root/lib/systemd/system/kxd.service" || fail "unit's ExecStart doesn't name $prefix"

echo "test_install_layout: ok"
