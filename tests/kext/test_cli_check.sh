#!/bin/sh
# `kx check` and `kextutil`: exit codes, Apple's report lines, options. $1 is the kx binary.
set -u
umask 022
kx=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kx-cli-check-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT INT TERM
ln -s "$kx" "$tmp/kextutil"
# kextutil without -n asks kxd to load: here no kxd ever listens, whatever the caller's
# environment or a kxd on the default socket.
KX_SOCKET=$tmp/no-kxd.sock
export KX_SOCKET

# kext DIR NAME ID VERSION COMPAT [LIB LIBVERSION]...
kext() {
    dir=$1 name=$2 id=$3 version=$4 compat=$5
    shift 5
    mkdir -p "$dir/$name.kext/Contents"
    {
        printf '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>\n'
        printf '<key>CFBundlePackageType</key><string>KEXT</string>\n'
        printf '<key>CFBundleIdentifier</key><string>%s</string>\n' "$id"
        printf '<key>CFBundleVersion</key><string>%s</string>\n' "$version"
        [ -n "$compat" ] && printf '<key>OSBundleCompatibleVersion</key><string>%s</string>\n' "$compat"
        printf '<key>OSBundleAllowUserLoad</key><true/>\n'
        if [ $# -gt 0 ]; then
            printf '<key>OSBundleLibraries</key><dict>\n'
            while [ $# -gt 1 ]; do
                printf '<key>%s</key><string>%s</string>\n' "$1" "$2"
                shift 2
            done
            printf '</dict>\n'
        fi
        printf '</dict></plist>\n'
    } >"$dir/$name.kext/Contents/Info.plist"
}

ext=$tmp/ext
kext "$ext" Lib com.example.Lib 1.5 1.0
kext "$tmp" Good com.example.Good 1.0 "" com.example.Lib 1.2 org.kx.kpi.kmdf 1.0
kext "$tmp" Bad com.example.Bad 1.0 "" com.example.Lib 2.0
kext "$tmp" Old com.example.Old 1.0 "" com.apple.kernel.bsd 6.0 com.apple.kernel.mach 6.0

# A loadable kext: load order, then Apple's success line; exit 0.
out=$("$kx" check --no-auth --extensions "$ext" "$tmp/Good.kext") || fail "Good: exit $?"
echo "$out" | grep -q "^$tmp/Good.kext appears to be loadable (including linkage for on-disk libraries)\.\$" ||
    fail "Good: no success line: $out"
# Metadata only (--no-exec): the loader's checks can't run, and the line says so.
out=$("$kx" check --no-auth --no-exec --extensions "$ext" "$tmp/Good.kext") || fail "Good --no-exec"
echo "$out" | grep -q "appears to be loadable (not including linkage for on-disk libraries)\.\$" ||
    fail "Good --no-exec: $out"
echo "$out" | grep -q "com.example.Lib 1.5 ($ext/Lib.kext)" || fail "Good: load order: $out"
[ "$(echo "$out" | grep -n 'com.example.Lib 1.5' | cut -d: -f1)" -lt \
  "$(echo "$out" | grep -n 'com.example.Good 1.0' | cut -d: -f1)" ] || fail "Good: order: $out"

# Not loadable: the diagnostics with the version window; exit 1.
out=$("$kx" check --no-auth --extensions "$ext" "$tmp/Bad.kext")
[ $? -eq 1 ] || fail "Bad: exit status"
echo "$out" | grep -q "Dependency Resolution Failures:" || fail "Bad: no category: $out"
echo "$out" | grep -q "requested 2.0 not in \[compatible 1.0, current 1.5\]" || fail "Bad: window: $out"
echo "$out" | grep -q "is not loadable" || fail "Bad: no verdict: $out"

# A Mach-O executable: valid metadata, but the loader would refuse it, so kx check does (KX1015).
kext "$tmp" Mac com.example.Mac 1.0 "" org.kx.kpi.kmdf 1.0
sed -i '0,/<dict>$/s||<dict><key>CFBundleExecutable</key><string>Mac</string>|' "$tmp/Mac.kext/Contents/Info.plist"
mkdir -p "$tmp/Mac.kext/Contents/MacOS"
printf '\317\372\355\376\007\000\000\001' >"$tmp/Mac.kext/Contents/MacOS/Mac"
out=$("$kx" check --no-auth "$tmp/Mac.kext")
[ $? -eq 1 ] || fail "Mac: exit status: $out"
echo "$out" | grep -q "KX1015" || fail "Mac: no KX1015: $out"
echo "$out" | grep -q "is not loadable - (libkern/kext) kext not loadable" || fail "Mac: verdict: $out"
"$kx" check --no-auth --json "$tmp/Mac.kext" | grep -q '"status": "STATUS_KEXT_NOT_LOADABLE"' ||
    fail "Mac: --json status"
"$kx" check --no-auth --no-exec "$tmp/Mac.kext" >/dev/null || fail "Mac --no-exec: metadata is fine"
# kextlibs can't read a Mach-O's symbols, and says so (exit 1), in --json too.
err=$("$kx" libs --no-auth "$tmp/Mac.kext" 2>&1)
[ $? -eq 1 ] || fail "libs Mac: exit status: $err"
echo "$err" | grep -q "Mach-O (macOS) executable, not an ELF object for this machine" ||
    fail "libs Mac: $err"
"$kx" libs --no-auth --json "$tmp/Mac.kext" 2>/dev/null | grep -q '"error": "its executable' ||
    fail "libs Mac --json"

# kextfind basics: sources, -b (-s, -i), -lib, -report, --json.
ln -s "$kx" "$tmp/kextfind"
out=$("$tmp/kextfind" --no-auth "$tmp" "$ext" -lib) || fail "kextfind -lib: exit $?"
[ "$out" = "$ext/Lib.kext" ] || fail "kextfind -lib: $out"
out=$("$tmp/kextfind" --no-auth "$tmp" -b COM.EXAMPLE.GOOD -i) || fail "kextfind -b -i"
[ "$out" = "$tmp/Good.kext" ] || fail "kextfind -b -i: $out"
out=$("$tmp/kextfind" --no-auth "$tmp" -b example.Ol -s -report -b -version) ||
    fail "kextfind -report"
[ "$out" = "$(printf 'CFBundleIdentifier\tCFBundleVersion\ncom.example.Old\t1.0')" ] ||
    fail "kextfind -report: $out"
out=$("$tmp/kextfind" --no-auth "$ext" -report -no-header -b -lib) || fail "-no-header"
[ "$out" = "$(printf 'com.example.Lib\tyes')" ] || fail "kextfind -no-header: $out"
"$tmp/kextfind" --no-auth --json "$tmp" -b com.example.Mac | grep -q '"id": "com.example.Mac"' ||
    fail "kextfind --json"
[ -z "$("$tmp/kextfind" --no-auth "$tmp" -b com.example.None)" ] || fail "kextfind: no match"
"$tmp/kextfind" --no-auth "$tmp" -bogus 2>/dev/null; [ $? -eq 2 ] || fail "kextfind -bogus"
"$tmp/kextfind" --no-auth "$tmp/nowhere" 2>/dev/null; [ $? -eq 2 ] || fail "kextfind nowhere"

# One bad KEXT among good ones still exits 1; verbose lists the candidates.
"$kx" check -v --no-auth --extensions "$ext" "$tmp/Good.kext" "$tmp/Bad.kext" >"$tmp/v.txt"
[ $? -eq 1 ] || fail "Good+Bad: exit status"
grep -q "Dependencies of $tmp/Bad.kext:" "$tmp/v.txt" || fail "verbose: no dependency list"

# System profiles: the same kext loads on 10.3.9 and not on a 64-bit kernel.
"$kx" check --no-auth --system macos-10.3.9 "$tmp/Old.kext" >/dev/null || fail "Old on 10.3.9"
"$kx" check --no-auth --system modern "$tmp/Old.kext" >"$tmp/o.txt"
[ $? -eq 1 ] || fail "Old on modern: exit status"
grep -q "64-bit kexts must use com.apple.kpi" "$tmp/o.txt" || fail "Old on modern: message"
"$kx" check --system list | grep -q "^macos-10.3.9 " || fail "--system list"
"$kx" check --system list | grep -q "^macos-15.4 " || fail "--system list: modern"

# Safe boot: no OSBundleRequired, so not loadable in safe boot.
"$kx" check --no-auth --safe-boot --extensions "$ext" "$tmp/Good.kext" >"$tmp/s.txt"
[ $? -eq 1 ] || fail "safe boot: exit status"
grep -q "Boot Level Restrictions:" "$tmp/s.txt" || fail "safe boot: category"

# Authentication: group-writable files fail unless --no-auth (when we are root:root the
# files of this test are owned correctly; elsewhere ownership fails too — either way, 1).
chmod g+w "$tmp/Good.kext/Contents/Info.plist"
"$kx" check --extensions "$ext" "$tmp/Good.kext" >"$tmp/a.txt"
[ $? -eq 1 ] || fail "auth: exit status"
grep -q "Authentication Failures:" "$tmp/a.txt" || fail "auth: category"
chmod g-w "$tmp/Good.kext/Contents/Info.plist"

# Usage and I/O errors: 2.
"$kx" check >/dev/null 2>&1; [ $? -eq 2 ] || fail "no KEXT: exit status"
"$kx" check --bogus x >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad option: exit status"
"$kx" check --no-auth "$tmp/Missing.kext" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing KEXT"
"$kx" check --system macos-9 "$tmp/Good.kext" >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad system"
"$kx" check --extensions "$tmp/nowhere" "$tmp/Good.kext" >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad folder"

# kextutil: -n checks; -q is quiet; -b finds a kext by identifier in -r folders. kextutil
# always authenticates, so the loadable cases need files owned by root (CI runs as root).
[ "$(id -u)" -eq 0 ] || { echo "ok (kextutil cases need root)"; exit 0; }
out=$("$tmp/kextutil" -n -r "$ext" "$tmp/Good.kext" 2>&1 | tail -1)
case "$out" in *"appears to be loadable"*) ;; *) fail "kextutil -n: $out" ;; esac
out=$("$tmp/kextutil" -n -q -r "$ext" "$tmp/Good.kext" 2>&1) || fail "kextutil -n -q: exit"
[ -z "$out" ] || fail "kextutil -q printed: $out"
"$tmp/kextutil" -n -q -r "$ext" "$tmp/Bad.kext"; [ $? -eq 1 ] || fail "kextutil -n Bad"
"$tmp/kextutil" -n -q -r "$ext" -b com.example.Lib || fail "kextutil -b"
"$tmp/kextutil" -n -q -b com.example.Nothing; [ $? -eq 2 ] || fail "kextutil -b unknown"
"$tmp/kextutil" -n -x -q -r "$ext" "$tmp/Good.kext"; [ $? -eq 1 ] || fail "kextutil -x"
"$tmp/kextutil" -n -q -d "$ext/Lib.kext" "$tmp/Good.kext" || fail "kextutil -d"
err=$("$tmp/kextutil" -q -r "$ext" "$tmp/Good.kext" 2>&1)
[ $? -eq 1 ] || fail "kextutil without -n: exit status"
echo "$err" | grep -q "can't reach kxd at $KX_SOCKET" || fail "kextutil without -n: message: $err"
"$tmp/kextutil" -z >/dev/null 2>&1; [ $? -eq 2 ] || fail "kextutil bad flag"
echo ok
