#!/bin/sh
# contrib/bash-completion/kx, sourced in bash as bash-completion would: verbs from `kx help`,
# each verb's and each Apple name's options from its --help, kxd's options and their values,
# kexts (*.kext folders, no files), cache subcommands, and, from a private kxd, device names
# (`kx ls`) and loaded bundle identifiers (kextstat) at the --socket the line names or
# $KX_SOCKET. $1 kx, $2 kxd, $3 the extensions folder. Skips (77) without bash.
set -u
kx=$1 kxd=$2 ext=$3
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/log" ] && sed 's/^/  kxd: /' "$tmp/log" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
command -v bash >/dev/null || skip "no bash"
src=${KX_SOURCE_DIR:?}
bin=$(cd "$(dirname "$kx")" && pwd)
# The sanitizer build under a loaded machine can take seconds per --help: the
# test checks what completes, not how fast.
export KX_COMPLETION_TIMEOUT=60

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kx-completion-XXXXXX") || fail "mktemp"
kxd_pid=
cleanup() {
    [ -n "$kxd_pid" ] && kill -KILL "$kxd_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# candidates WORD...: the sorted candidates, one a line, for the line WORD... (the last word is the
# one being completed; '' for a new word), as bash's programmable completion calls the function
# `complete -p` names for the command. Anything the script prints on stderr fails the test.
candidates() {
    PATH="$bin:$PATH" bash --norc --noprofile -c '
        source "$0" || exit 3
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        spec=$(complete -p "${1##*/}") || exit 4
        fn=${spec#*-F }; fn=${fn%% *}
        "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort' \
        "$src/contrib/bash-completion/kx" "$@" 2>"$tmp/err" || fail "completing [$*] exits $?"
    [ -s "$tmp/err" ] && fail "completing [$*] printed: $(cat "$tmp/err")"
    return 0
}
lines() { printf '%s\n' "$@"; }
expect() { # expect WANT-LINES WORD...
    want=$1
    shift
    got=$(candidates "$@")
    [ "$got" = "$want" ] || fail "completing [$*]: got [$got], want [$want]"
}
has() { # has CANDIDATE WORD...: CANDIDATE is among the candidates
    c=$1
    shift
    candidates "$@" | grep -qxF -- "$c" || fail "completing [$*]: no $c in [$(candidates "$@")]"
}
lacks() {
    c=$1
    shift
    candidates "$@" | grep -qxF -- "$c" && fail "completing [$*] offers $c"
    return 0
}

bash -n "$src/contrib/bash-completion/kx" || fail "the script has syntax errors"

# kx's verbs: exactly those `kx help` lists.
verbs=$("$kx" help | awk '/^verbs:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' | sort)
[ -n "$verbs" ] || fail "kx help lists no verbs"
expect "$verbs" kx ''
expect "$(lines load log)" kx lo
expect "$(lines --help --version)" kx --
expect "$(lines cat catalog)" "$bin/kx" cat # a path to kx, as from the build tree

# A verb's options, from its --help.
expect "$(lines --server --socket)" kx stat --s
expect "$(lines --out-len)" kx ioctl --o
has --follow kx log -
has --version kx log -
# The Apple names: their own flags.
for o in -r -p -b -c --socket; do has "$o" kextunload -; done
for o in -n -t -e -x -d -r --system; do has "$o" kextutil -; done
for o in -m -u -system-caches -z; do has "$o" kextcache -; done
for o in -report -invalid -lib; do has "$o" kextfind -; done
# ioreg's "-alrtx" is a bundle of flags listed one by one, not an option.
has -a ioreg -
lacks -alrtx ioreg -

# kxd: options from its --help, and their values.
expect "$(lines --host-mode --host-poll-us --host-sandbox --host-transport --host-user)" kxd --ho
has --version kxd --v
has -V kxd -
expect "$(lines inproc process)" kxd --host-mode ''
expect "$(lines safe single-user)" kxd --boot s
expect "$(lines linux)" kx match --platform li
# --opt=VALUE, which bash splits at the = (COMP_WORDBREAKS) into --opt, =, VALUE.
expect "$(lines inproc process)" kxd --host-mode =
expect "$(lines process)" kxd --host-mode = p
expect "$(lines none seccomp)" kxd --host-sandbox ''
expect "$(lines ring socket)" kxd --host-transport ''

# Subcommands and fixed values.
expect "$(lines build list verify)" kx cache ''
expect "$(lines add peek poke remove)" kx device ''
expect "$(lines KMD)" kx new --type K
has macos-10.3.9 kx check --system macos-10.3.
has list kextutil --system l

# Kexts: *.kext folders (and folders to descend into), not files.
mkdir "$tmp/work" "$tmp/work/A.kext" "$tmp/work/B.kext" "$tmp/work/sub"
: >"$tmp/work/notes.txt"
cd "$tmp/work" || fail "cd"
expect "$(lines A.kext B.kext sub)" kx load ''
expect "$(lines A.kext B.kext sub)" kextload -d ''
expect "$(lines A.kext)" kextutil -n A
lacks notes.txt kx check ''
# Positional words after options that take values are still kexts.
expect "$(lines B.kext)" kextload -r sub B
expect "$(lines B.kext)" kx load --socket = /nowhere B
# A verb's data operand is no device: `kx write DEV <TAB>` offers nothing.
expect "" kx write /dev/null ''
cd / || fail "cd /"

# A private kxd: device names and loaded identifiers, from the socket on the line or $KX_SOCKET.
"$kxd" --foreground --no-auth --no-cache --platform none --extensions "$ext" \
    --socket "$tmp/sock" >"$tmp/log" 2>&1 &
kxd_pid=$!
i=0
until "$kx" ls --socket "$tmp/sock" 2>/dev/null | grep -q '^/dev/zero '; do
    i=$((i + 1))
    [ $i -lt 1200 ] || fail "kxd never listed /dev/zero"
    kill -0 "$kxd_pid" 2>/dev/null || fail "kxd exited"
    sleep 0.05
done
has /dev/zero kx cat --socket "$tmp/sock" ''
expect "$(lines /dev/ram0 /dev/ringlog)" kx cat --socket "$tmp/sock" /dev/r
expect "$(lines /dev/zero)" kx ioctl --socket = "$tmp/sock" /dev/z
# A device's name, quoted for the shell (\Device\Zero0 typed as \\Device\\Zero0).
has '\\Device\\Zero0' kx cat --socket "$tmp/sock" '\\D'
# $KX_SOCKET when the line names none; nothing (and no error) where no kxd answers.
KX_SOCKET=$tmp/sock expect "$(lines /dev/pipe0)" kx write /dev/p
expect "" kx cat /dev/
expect "$(lines org.kx.driver.Null)" kextunload --socket "$tmp/sock" -b org.kx.driver.N
expect "$(lines org.kx.library.RingBuffer)" kextstat --socket "$tmp/sock" -b org.kx.l

kill -TERM "$kxd_pid"
wait "$kxd_pid" || fail "kxd exited $? after SIGTERM"
kxd_pid=
echo ok
