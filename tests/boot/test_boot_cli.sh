#!/bin/sh
# `kx cache build` and `kx boot --plan`: output, JSON, default cache path, fallback
# reasons, exit codes. $1 is the kx binary, $2 the fixture driver (an ELF with a
# driver-info record) every kext here carries.
set -u
umask 022
kx=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
driver=$2
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kx-cli-boot-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT INT TERM
ln -s "$kx" "$tmp/kextcache"

# kext NAME ID REQUIRED [COMPAT] [LIB]
kext() {
    b=$tmp/ext/$1.kext/Contents
    mkdir -p "$b/Linux"
    cp "$driver" "$b/Linux/$1"
    {
        printf '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>\n'
        printf '<key>CFBundlePackageType</key><string>KEXT</string>\n'
        printf '<key>CFBundleIdentifier</key><string>%s</string>\n' "$2"
        printf '<key>CFBundleVersion</key><string>1.0</string>\n'
        printf '<key>CFBundleExecutable</key><string>%s</string>\n' "$1"
        [ -n "$3" ] && printf '<key>OSBundleRequired</key><string>%s</string>\n' "$3"
        [ -n "${4:-}" ] && printf '<key>OSBundleCompatibleVersion</key><string>%s</string>\n' "$4"
        printf '<key>OSBundleLibraries</key><dict><key>org.kx.kpi.kmdf</key><string>1.0</string>\n'
        [ -n "${5:-}" ] && printf '<key>%s</key><string>1.0</string>\n' "$5"
        printf '</dict></dict></plist>\n'
    } >"$b/Info.plist"
}

kext Lib com.t.lib "" 1.0
kext Root com.t.root Root "" com.t.lib
kext Net com.t.net Network-Root
kext Later com.t.later ""
kext Broken com.t.broken Bogus

# Build: invalid kexts are named with Apple's words; the count; exit 0.
out=$("$kx" cache build --no-auth -o "$tmp/ext.mkext" "$tmp/ext" 2>"$tmp/err") ||
    fail "build: exit $?: $(cat "$tmp/err")"
echo "$out" | grep -q "4 kexts (0 left out by --all, 1 invalid)" || fail "build: summary: $out"
grep -q "Broken.kext is not valid; omitting from mkext: KX1006" "$tmp/err" ||
    fail "build: no omission message: $(cat "$tmp/err")"
"$kx" cache verify "$tmp/ext.mkext" | grep -q "ok (mkext2, 4 kexts, kx boot index)" ||
    fail "verify: the built cache"
"$tmp/kextcache" list "$tmp/ext.mkext" | grep -q "com.t.root" || fail "kextcache list"

# Usage: no -o, or the cache inside the folder it describes.
"$kx" cache build "$tmp/ext" 2>/dev/null
[ $? -eq 2 ] || fail "build without -o: exit status"
"$kx" cache build --no-auth -o "$tmp/ext/x.mkext" "$tmp/ext" 2>"$tmp/err"
[ $? -eq 1 ] || fail "build inside the folder: exit status"
grep -q "can't go inside the extensions folder" "$tmp/err" || fail "build inside: message"

# The plan uses <folder>.mkext by default, and says so.
out=$("$kx" boot --plan --no-auth --extensions "$tmp/ext") || fail "plan: exit $?"
echo "$out" | head -1 | grep -q "^local boot plan from the cache $tmp/ext.mkext (built with --all)" ||
    fail "plan: first line: $out"
echo "$out" | grep -q "Phase 1 (booter): 2 kexts" || fail "plan: phase 1: $out"
[ "$(echo "$out" | grep -n '^ *1\. com.t.lib' | cut -d: -f1)" -lt \
  "$(echo "$out" | grep -n '^ *2\. com.t.root' | cut -d: -f1)" ] || fail "plan: order: $out"
echo "$out" | grep -q "dependency of com.t.root" || fail "plan: rule: $out"
echo "$out" | grep -q "com.t.broken .*" || fail "plan: the omitted kext: $out"
echo "$out" | grep -q "left out of the cache when it was built" || fail "plan: omitted reason: $out"
echo "$out" | grep -q "Phase 2 (daemon): 2 kexts" || fail "plan: phase 2: $out"
echo "$out" | grep -q "KX4004" || fail "plan: OSBundleRequired warning: $out"

json=$("$kx" boot --plan --json --no-auth --boot network --extensions "$tmp/ext") || fail "json"
for key in '"mode": "network"' '"source": "cache"' '"fallback_reason": null' '"load": \[' \
           '"skipped": \[' '"id": "com.t.net"' '"reason": '; do
    echo "$json" | grep -q "$key" || fail "json: no $key: $json"
done

# Stale by Apple's rule: the plan scans, and the first line says why.
touch -d "@$(($(date +%s) + 5))" "$tmp/ext"
out=$("$kx" boot --plan --no-auth --extensions "$tmp/ext") || fail "stale plan: exit $?"
echo "$out" | head -1 | grep -q "from a folder scan; cache not used (stale-mtime): stale:" ||
    fail "stale: first line: $out"
echo "$out" | grep -q "Phase 1 (booter): 2 kexts" || fail "stale: the boot still plans: $out"
json=$("$kx" boot --plan --json --no-auth --extensions "$tmp/ext")
echo "$json" | grep -q '"source": "scan"' || fail "stale json: source"
echo "$json" | grep -q '"fallback_reason": "stale: ' || fail "stale json: reason: $json"

# Safe boot ignores caches; an explicit --cache that doesn't exist is missing.
"$kx" boot --plan --no-auth --boot safe --extensions "$tmp/ext" | head -1 |
    grep -q "cache not used (ignored): safe boot ignores caches" || fail "safe: no reason"
"$kx" boot --plan --no-auth --cache "$tmp/none.mkext" --extensions "$tmp/ext" | head -1 |
    grep -q "(missing): no cache at $tmp/none.mkext" || fail "missing: no reason"
"$kx" boot --plan --no-auth --boot single-user --extensions "$tmp/ext" | grep -q "Phase 2" &&
    fail "single-user: printed a phase 2"

# kextcache with Apple's flags: -m FILE with a filter; -u DIR rebuilds the cache kxd reads.
out=$("$tmp/kextcache" -z -l -m "$tmp/apple.mkext" "$tmp/ext" 2>/dev/null) ||
    fail "kextcache -m: exit $?"
echo "$out" | grep -q "left out by --local" || fail "kextcache -m -l: $out"
"$kx" cache verify "$tmp/apple.mkext" >/dev/null || fail "kextcache -m: verify"
rm -f "$tmp/ext.mkext"
"$tmp/kextcache" -z -u "$tmp/ext" >/dev/null 2>&1 || fail "kextcache -u: exit $?"
[ -f "$tmp/ext.mkext" ] || fail "kextcache -u: no $tmp/ext.mkext"
"$tmp/kextcache" -m 2>/dev/null
[ $? -eq 2 ] || fail "kextcache -m without FILE: exit status"
"$tmp/kextcache" -bogus 2>/dev/null
[ $? -eq 2 ] || fail "kextcache -bogus: exit status"

# Usage errors.
"$kx" boot --plan --boot sideways --extensions "$tmp/ext" 2>/dev/null
[ $? -eq 2 ] || fail "bad mode: exit status"
"$kx" boot --extensions "$tmp/ext" 2>/dev/null
[ $? -eq 2 ] || fail "no --plan: exit status"
echo "ok"
