#!/bin/sh
# --version and --help on kx, every verb, every Apple name and kxd: one version everywhere
# (kxd's is kx's), usage on stdout with exit 0 for --help. $1 is kx, $2 kxd; the Apple names
# are the links beside kx.
set -u
kx=$1 kxd=$2
bin=$(dirname "$kx")
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$kx" --version) || fail "kx --version exits $?"
version=${out#kx }
{ [ "$out" = "kx $version" ] && [ -n "$version" ]; } || fail "kx --version: [$out]"
echo "$version" | grep -Eq '^[0-9]+\.[0-9]+(\.[0-9]+)?' || fail "kx --version: not a version: [$out]"

# kxd: the same version, long and short.
out=$("$kxd" --version) || fail "kxd --version exits $?"
[ "$out" = "kxd (kx) $version" ] || fail "kxd --version: [$out], kx says $version"
out=$("$kxd" -V) || fail "kxd -V exits $?"
[ "$out" = "kxd (kx) $version" ] || fail "kxd -V: [$out]"
# It answers before anything else: no socket, no folders touched.
out=$("$kxd" --socket /nonexistent/kxd.sock --extensions /nonexistent --version) ||
    fail "kxd --version with other options exits $?"
[ "$out" = "kxd (kx) $version" ] || fail "kxd --version with other options: [$out]"
"$kxd" --help | grep -q -- '--version' || fail "kxd --help doesn't list --version"

# Every verb, as `kx help` lists them.
verbs=$("$kx" help | awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 }')
[ -n "$verbs" ] || fail "kx help lists no verbs"
for v in $verbs; do
    out=$("$kx" "$v" --version) || fail "kx $v --version exits $?"
    [ "$out" = "kx $v $version" ] || fail "kx $v --version: [$out]"
    out=$("$kx" "$v" --help 2>&1) || fail "kx $v --help exits $?"
    echo "$out" | grep -qi usage || fail "kx $v --help prints no usage: [$out]"
done

# Every Apple name, as a link to kx.
for a in kextload kextunload kextstat kextutil kextlibs kextcache kextfind ioreg ioclasscount; do
    [ -x "$bin/$a" ] || fail "no $bin/$a beside kx"
    out=$("$bin/$a" --version) || fail "$a --version exits $?"
    [ "$out" = "$a (kx) $version" ] || fail "$a --version: [$out]"
    out=$("$bin/$a" --help 2>&1) || fail "$a --help exits $?"
    echo "$out" | grep -qi usage || fail "$a --help prints no usage: [$out]"
done
echo ok
