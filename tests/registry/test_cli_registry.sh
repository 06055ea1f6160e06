#!/bin/sh
# kx match --json, kx catalog, ioreg and ioclasscount through the CLI, and the ioreg -a
# round trip: what ioreg archives is a platform file that reads back into the same tree.
# $1 the kx binary, $2 the described machine (fixtures/corpus-platform.plist), $3
# match_json_check.
set -u
umask 022
kx=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
platform=$2
check=$3
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kx-cli-registry-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT INT TERM
ln -s "$kx" "$tmp/ioreg"
ln -s "$kx" "$tmp/ioclasscount"

# kext NAME ID PERSONALITY-KEYS... (Info.plist only: the executable is missing on purpose)
kext() {
    b=$tmp/ext/$1.kext/Contents
    mkdir -p "$b"
    name=$1 id=$2
    shift 2
    {
        printf '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>\n'
        printf '<key>CFBundlePackageType</key><string>KEXT</string>\n'
        printf '<key>CFBundleIdentifier</key><string>%s</string>\n' "$id"
        printf '<key>CFBundleVersion</key><string>1.0</string>\n'
        printf '<key>CFBundleExecutable</key><string>%s</string>\n' "$name"
        printf '<key>IOKitPersonalities</key><dict><key>%s</key><dict>\n' "$name"
        printf '<key>IOClass</key><string>%s</string>\n' "$name"
        printf '%s\n' "$@"
        printf '</dict></dict></dict></plist>\n'
    } >"$b/Info.plist"
}

kext IntelMausi as.acidanthera.mieze.IntelMausi \
    '<key>IOProviderClass</key><string>IOPCIDevice</string>' \
    '<key>IOPCIMatch</key><string>0x15B78086 0x15B88086</string>' \
    '<key>IOProbeScore</key><integer>1000</integer>'
kext Lilu as.vit9696.Lilu \
    '<key>IOProviderClass</key><string>IOResources</string>' \
    '<key>IOResourceMatch</key><string>IOBSD</string>' \
    '<key>IOMatchCategory</key><string>Lilu</string>'
kext Odd com.example.odd \
    '<key>IOProviderClass</key><string>IOPCIDevice</string>' \
    '<key>IOFirmwareMatch</key><string>v2</string>'

# ---- kx match --json: exact shape, decisions, loadability -------------------------------------
"$kx" match --json --no-auth --platform "$platform" --extensions "$tmp/ext" >"$tmp/match.json" \
    || fail "kx match exit status"
"$check" <"$tmp/match.json" >"$tmp/decisions" || fail "kx match --json shape"
gige='IOService:/iMac19,1/AppleACPIPlatformExpert/PCI0@0/GIGE@1f,6'
grep -q "^$gige	IntelMausi	chosen$" "$tmp/decisions" || fail "IntelMausi chosen for the I219"
grep -q "^$gige	Odd	rejected:IOFirmwareMatch$" "$tmp/decisions" || fail "unknown key named"
grep -q "^IOService:/iMac19,1/IOResources	Lilu	rejected:IOResourceMatch$" "$tmp/decisions" \
    || fail "Lilu waits for IOBSD"
grep -q '"reason": ".*executable' "$tmp/match.json" || fail "not loadable: the missing executable"

"$kx" match --no-auth --platform "$platform" --extensions "$tmp/ext" >"$tmp/match.txt" \
    || fail "kx match text exit status"
grep -q 'IntelMausi.*score 1000, IODefaultMatchCategory, chosen' "$tmp/match.txt" \
    || fail "text: IntelMausi chosen"
grep -q 'IOResourceMatch: waiting for resource IOBSD' "$tmp/match.txt" || fail "text: waiting"

"$kx" match --no-auth --platform "$tmp/nonexistent.plist" --extensions "$tmp/ext" 2>"$tmp/err"
[ $? -eq 1 ] || fail "a missing platform file exits 1"
grep -q 'nonexistent.plist' "$tmp/err" || fail "the error names the file"
"$kx" match --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "usage error exits 2"

# ---- kx catalog -------------------------------------------------------------------------------
"$kx" catalog --json --no-auth --extensions "$tmp/ext" >"$tmp/catalog.json" || fail "catalog"
grep -q '"IOFirmwareMatch"' "$tmp/catalog.json" || fail "catalog lists keys"
"$kx" catalog --no-auth --extensions "$tmp/ext" | grep -q '^3 personalities$' \
    || fail "catalog count"

# ---- ioreg: Apple's line format and flags ----------------------------------------------------
"$tmp/ioreg" -w 0 --platform "$platform" >"$tmp/tree" || fail "ioreg exit status"
head -1 "$tmp/tree" | grep -q '^+-o Root  <class IORegistryEntry, id 0x100000100, retain [0-9]*>$' \
    || fail "Root line: $(head -1 "$tmp/tree")"
grep -q '^        +-o GIGE@1f,6  <class IOPCIDevice, id 0x[0-9a-f]*, registered, !matched, active, busy 0 (0 ms), retain [0-9]*>$' \
    "$tmp/tree" || fail "a PCI function's line"
grep -q '^        | +-o ARPT@0  <class IOPCIDevice' "$tmp/tree" || fail "sibling bars"
"$tmp/ioreg" -l -w 0 --platform "$platform" | grep -q '^        |     "vendor-id" = <86800000>$' \
    || fail "-l: data in hex"
"$tmp/ioreg" -l -x -w 0 --platform "$platform" | grep -q '"idVendor" = 0xa5c$' || fail "-x"
"$tmp/ioreg" -r -c IOUSBHostDevice -w 0 --platform "$platform" >"$tmp/usb"
[ "$(grep -c '+-o' "$tmp/usb")" -eq 1 ] && grep -q '"idProduct" = 8680' "$tmp/usb" \
    || fail "-r -c: the USB device and its properties"
"$tmp/ioreg" -r -t -n BAT0 -w 0 --platform "$platform" | head -1 | grep -q '^+-o Root' \
    || fail "-t shows the path from Root"
[ "$("$tmp/ioreg" -d 2 -w 0 --platform "$platform" | wc -l)" -eq 2 ] || fail "-d 2"
"$tmp/ioreg" -w 40 --platform "$platform" | awk 'length > 40 { exit 1 }' || fail "-w clips"
"$tmp/ioreg" -p IODeviceTree -w 0 --platform "$platform" | grep -q IOResources \
    && fail "IOResources is not in the device tree"

# ---- the ioreg -a round trip --------------------------------------------------------------------
"$tmp/ioreg" -a --platform "$platform" >"$tmp/a.plist" || fail "ioreg -a"
"$tmp/ioreg" -a --platform "$tmp/a.plist" >"$tmp/b.plist" || fail "ioreg -a of ioreg -a"
cmp -s "$tmp/a.plist" "$tmp/b.plist" || fail "ioreg -a doesn't round-trip"
"$kx" match --json --no-auth --platform "$tmp/a.plist" --extensions "$tmp/ext" \
    | "$check" >"$tmp/decisions2" || fail "kx match on ioreg -a output"
cmp -s "$tmp/decisions" "$tmp/decisions2" || fail "the archived machine matches the same"

# ---- ioclasscount ------------------------------------------------------------------------------
[ "$("$tmp/ioclasscount" --platform "$platform" IOPCIDevice IOUSBHostDevice NoSuchClass)" = \
  "$(printf 'IOPCIDevice = 11\nIOUSBHostDevice = 1\nNoSuchClass = 0')" ] || fail "ioclasscount"
"$tmp/ioclasscount" --platform "$platform" | grep -q '^IOACPIPlatformDevice = 5$' \
    || fail "ioclasscount lists every class"

# ---- without a platform: the running kxd's (none listens at CTest's KX_SOCKET) ---------------
"$tmp/ioreg" 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "can't reach kxd" "$tmp/err" || fail "ioreg without --platform"
echo ok
