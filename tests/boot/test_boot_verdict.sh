#!/bin/sh
# One source of truth for Mach-O kexts: `kx boot --plan`, `kxd --check` and `kx check` agree
# that a kext whose executable this machine can't run doesn't load (KX1015), and that the
# others do. $1 is the kx binary, $2 kxd, $3 the fixture driver (an ELF with a driver-info record).
set -u
umask 022
kx=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
kxd=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
driver=$3
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kx-boot-verdict-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT INT TERM

# kext NAME ID DIR (Linux or MacOS) FILE
kext() {
    b=$tmp/ext/$1.kext/Contents
    mkdir -p "$b/$3"
    cp "$4" "$b/$3/$1"
    {
        printf '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>\n'
        printf '<key>CFBundlePackageType</key><string>KEXT</string>\n'
        printf '<key>CFBundleIdentifier</key><string>%s</string>\n' "$2"
        printf '<key>CFBundleVersion</key><string>1.0</string>\n'
        printf '<key>CFBundleExecutable</key><string>%s</string>\n' "$1"
        printf '<key>OSBundleRequired</key><string>Root</string>\n'
        printf '<key>OSBundleLibraries</key><dict><key>org.kx.kpi.kmdf</key><string>1.0</string>\n'
        printf '</dict></dict></plist>\n'
    } >"$b/Info.plist"
}
printf '\317\372\355\376\007\000\000\001' >"$tmp/macho"
kext Good com.t.good Linux "$driver"
kext Mac com.t.mac MacOS "$tmp/macho"

# The plan: Good in phase 1; Mac left out with the loader's reason.
plan=$("$kx" boot --plan --no-auth --no-cache --extensions "$tmp/ext") || fail "plan: exit $?"
json=$("$kx" boot --plan --json --no-auth --no-cache --extensions "$tmp/ext") || fail "plan --json"
echo "$plan" | grep -A1 "com.t.mac" | grep -q "not loadable: KX1015" || fail "plan: Mac's reason: $plan"
section() { echo "$json" | sed -n "/^  \"$1\": \[/,/^  \]/p"; }
section load | grep -q '"id": "com.t.good"' || fail "plan --json: Good not loaded: $json"
section load | grep -q '"id": "com.t.mac"' && fail "plan --json: Mac loaded: $json"
section skipped | grep -q '"reason": "not loadable: KX1015' || fail "plan --json: Mac: $json"

# kxd --check: the same boot, dry; the configuration is fine, and it doesn't try Mac.
out=$("$kxd" --check --no-auth --no-cache --platform none --socket "$tmp/kxd.sock" \
      --extensions "$tmp/ext" 2>&1) || fail "kxd --check: exit $?: $out"
echo "$out" | grep -q "configuration OK" || fail "kxd --check: $out"
echo "$out" | grep -q "com.t.mac.*failed\|Mac.kext.*failed" && fail "kxd --check tried Mac: $out"

# Kexts without a driver-info record load at the default priority: each says "(default)", and
# what that means is said once.
for n in Plain1 Plain2; do
    mkdir -p "$tmp/ext/$n.kext/Contents"
    sed -e "s/com.t.good/com.t.$n/" -e '/CFBundleExecutable/d' \
        "$tmp/ext/Good.kext/Contents/Info.plist" >"$tmp/ext/$n.kext/Contents/Info.plist"
done
plan=$("$kx" boot --plan --no-auth --no-cache --extensions "$tmp/ext") || fail "plan: exit $?"
[ "$(echo "$plan" | grep -c 'priority 500 (default)$')" -eq 2 ] || fail "plan: (default): $plan"
[ "$(echo "$plan" | grep -c 'without a driver-info record')" -eq 1 ] || fail "plan: once: $plan"

# kx check: the same verdicts, one kext at a time.
"$kx" check --no-auth "$tmp/ext/Good.kext" >/dev/null || fail "check Good"
out=$("$kx" check --no-auth "$tmp/ext/Mac.kext")
[ $? -eq 1 ] || fail "check Mac: exit status: $out"
echo "$out" | grep -q "KX1015" || fail "check Mac: $out"
echo ok
