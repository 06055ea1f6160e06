#!/bin/sh
# kx match, ioreg and ioclasscount on a fake sysfs tree (--sysfs DIR), the --platform
# linux|none synonyms and the usage errors. $1 the kx binary, $2 sysfs_make, $3
# match_json_check.
set -u
umask 022
kx=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
make_tree=$2
check=$3
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kx-cli-linux-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT INT TERM
ln -s "$kx" "$tmp/ioreg"
ln -s "$kx" "$tmp/ioclasscount"
tree=$("$make_tree" "$tmp") || fail "sysfs_make"

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
    '<key>IOPCIMatch</key><string>0x15B78086 0x15B88086</string>'
kext AppleACPIEC com.example.ec \
    '<key>IOProviderClass</key><string>IOACPIPlatformDevice</string>' \
    '<key>IONameMatch</key><string>PNP0C09</string>'
kext BrcmPatchRAM3 com.no-one.BrcmPatchRAM3 \
    '<key>IOProviderClass</key><string>IOUSBHostDevice</string>' \
    '<key>idVendor</key><integer>2652</integer>' \
    '<key>idProduct</key><integer>8680</integer>'

# ---- kx match --sysfs --json ------------------------------------------------------------------
"$kx" match --json --no-auth --sysfs "$tree" --extensions "$tmp/ext" >"$tmp/match.json" \
    2>"$tmp/match.err" || fail "kx match exit status: $(cat "$tmp/match.err")"
[ -s "$tmp/match.err" ] && fail "kx match left devices out: $(cat "$tmp/match.err")"
"$check" <"$tmp/match.json" >"$tmp/decisions" || fail "kx match --json shape"
pci='IOService:/kx/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI'
grep -q "^$pci/GIGE@1F,6	IntelMausi	chosen$" "$tmp/decisions" || fail "IntelMausi on GIGE"
grep -q "^$pci/LPCB@1F/EC0	AppleACPIEC	chosen$" "$tmp/decisions" || fail "the EC by _HID"
grep -q "^$pci/pci8086,a12f@14/BCM20702A0@14100000	BrcmPatchRAM3	chosen$" "$tmp/decisions" \
    || fail "BrcmPatchRAM3 on the Bluetooth device"
grep -q "^$pci/pci8086,a170@1F,3	IntelMausi	rejected:IOPCIMatch$" "$tmp/decisions" \
    || fail "IntelMausi rejected on the HDA"
# --linux with --sysfs: --sysfs names the tree
"$kx" match --no-auth --linux --sysfs "$tree" --extensions "$tmp/ext" >/dev/null 2>&1 \
    || fail "--linux --sysfs DIR"

# ---- ioreg --sysfs -l -------------------------------------------------------------------------
"$tmp/ioreg" --sysfs "$tree" -l -w 0 >"$tmp/ioreg.txt" || fail "ioreg exit status"
grep -q '^    +-o AppleACPIPlatformExpert  <class AppleACPIPlatformExpert, ' "$tmp/ioreg.txt" \
    || fail "ioreg: the platform expert"
grep -q '+-o GIGE@1F,6  <class IOPCIDevice, id 0x' "$tmp/ioreg.txt" || fail "ioreg: GIGE line"
grep -q '"IOName" = "ethernet"' "$tmp/ioreg.txt" || fail "ioreg: IOName"
grep -q '"vendor-id" = <86800000>' "$tmp/ioreg.txt" || fail "ioreg: vendor-id bytes"
grep -q '"compatible" = <"pci1458,e000","pci8086,15b8","pciclass,020000","GIGE">' \
    "$tmp/ioreg.txt" || fail "ioreg: compatible"
grep -q '"KXSysfsPath" = "/devices/pci0000:00/0000:00:1f.6"' "$tmp/ioreg.txt" \
    || fail "ioreg: KXSysfsPath"
grep -q '"idVendor" = 2652' "$tmp/ioreg.txt" || fail "ioreg: idVendor"
"$tmp/ioreg" --sysfs "$tree" -p IODeviceTree -w 0 | grep -q '+-o PXSX@0  <class IOPCIDevice' \
    || fail "ioreg -p IODeviceTree"
"$tmp/ioreg" --sysfs "$tree" -a >"$tmp/machine.plist" || fail "ioreg -a"
"$tmp/ioclasscount" --platform "$tmp/machine.plist" IOPCIDevice | grep -q '^IOPCIDevice = 6$' \
    || fail "ioreg -a of a Linux tree is a platform file"

# ---- ioclasscount, --platform linux|none ----------------------------------------------------
"$tmp/ioclasscount" --sysfs "$tree" >"$tmp/counts" || fail "ioclasscount exit status"
grep -q '^IOPCIDevice = 6$' "$tmp/counts" || fail "ioclasscount: IOPCIDevice"
grep -q '^IOACPIPlatformDevice = 5$' "$tmp/counts" || fail "ioclasscount: IOACPIPlatformDevice"
grep -q '^IOUSBHostInterface = 2$' "$tmp/counts" || fail "ioclasscount: IOUSBHostInterface"
"$tmp/ioclasscount" --platform none >"$tmp/none" || fail "--platform none"
[ "$(wc -l <"$tmp/none")" -eq 3 ] || fail "--platform none: Root, the expert, IOResources"
if [ -d /sys/devices ]; then
    "$tmp/ioclasscount" --platform linux IOPlatformExpertDevice >/dev/null \
        || fail "--platform linux"
fi

# ---- errors -----------------------------------------------------------------------------------
"$tmp/ioreg" --platform "$tmp/machine.plist" --sysfs "$tree" >/dev/null 2>&1
[ $? -eq 2 ] || fail "a file and a tree: usage error"
"$tmp/ioreg" --sysfs "$tmp/nowhere" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "a missing tree exits 1"
grep -q 'not a sysfs tree' "$tmp/err" || fail "the error says what is wrong"
rm "$tree/devices/pci0000:00/0000:00:1f.3/vendor"
"$tmp/ioclasscount" --sysfs "$tree" IOPCIDevice >"$tmp/counts" 2>"$tmp/err" \
    || fail "a damaged tree still publishes"
grep -q '^IOPCIDevice = 5$' "$tmp/counts" || fail "the damaged function is left out"
grep -q 'left out: /devices/pci0000:00/0000:00:1f.3: vendor: missing' "$tmp/err" \
    || fail "and named on stderr"
echo "ok"
