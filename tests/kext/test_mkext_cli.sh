#!/bin/sh
# `kx cache list|verify` (and the kextcache alias): output, --json and exit codes
# on archives written by mkext_fixture.
set -u
kx=$1 fixture=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
"$fixture" "$dir" || fail "mkext_fixture"
kextcache="$dir/kextcache"
ln -s "$(command -v "$kx" || echo "$kx")" "$kextcache" || fail "symlink"

out=$("$kx" cache list "$dir/good.mkext") || fail "list good: exit $?"
echo "$out" | grep -q "mkext2 (version 0x02002001), 3 kexts, x86_64" || fail "list header: $out"
echo "$out" | grep -q "^com.example.text  *1.0.0  *4000  ok  */Library/Extensions/Text.kext" ||
    fail "list row: $out"
echo "$out" | grep -q "^com.example.codeless  *3.0  *-  ok" || fail "codeless row: $out"

out=$("$kx" cache list --json "$dir/good.mkext") || fail "list --json: exit $?"
echo "$out" | grep -q '"format": "mkext2"' || fail "json format: $out"
echo "$out" | grep -q '"BuilderVersion": "kx-mkext 1"' || fail "json cache_info: $out"
echo "$out" | grep -q '"executable_sha256_checked": true' || fail "json sha: $out"

[ "$("$kx" cache verify "$dir/good.mkext")" = "$dir/good.mkext: ok (mkext2, 3 kexts)" ] ||
    fail "verify good"
[ "$("$kextcache" verify "$dir/v1.mkext")" = "$dir/v1.mkext: ok (mkext1, 3 kexts)" ] ||
    fail "kextcache verify v1"

err=$("$kx" cache verify "$dir/bad-entry.mkext" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] || fail "verify bad entry exits $rc"
echo "$err" | grep -q "1 of 3 kexts failed verification; first: /Library/Extensions/Noise.kext: executable SHA-256 mismatch" ||
    fail "verify bad entry message: $err"
out=$("$kx" cache verify --json "$dir/bad-entry.mkext"); rc=$?
[ $rc -eq 1 ] || fail "verify --json bad entry exits $rc"
echo "$out" | grep -q '"ok": false' || fail "json not ok: $out"
echo "$out" | grep -q '"first_bad": "/Library/Extensions/Noise.kext: ' || fail "json first_bad: $out"
"$kx" cache list "$dir/bad-entry.mkext" | grep -q "^com.example.noise .* bad " ||
    fail "list shows the bad entry"

err=$("$kx" cache verify "$dir/bad-checksum.mkext" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "bad checksum exits $rc"
echo "$err" | grep -q "Mkext archive has bad checksum." || fail "checksum message: $err"

"$kx" cache verify "$dir/foreign.mkext" >/dev/null 2>&1; rc=$?
[ $rc -eq 1 ] || fail "foreign verify exits $rc"
"$kx" cache list "$dir/foreign.mkext" | grep -q "arm64" || fail "list foreign archive"

"$kx" cache verify "$dir/missing.mkext" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "missing file exits $rc"
"$kx" cache verify >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "usage exits $rc"
"$kx" cache frobnicate x >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "unknown subcommand exits $rc"
"$kx" cache build >/dev/null 2>&1; rc=$?  # implemented by tests/boot/test_boot_cli.sh
[ $rc -eq 2 ] || fail "build without arguments exits $rc"
echo ok
