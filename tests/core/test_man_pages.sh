#!/bin/sh
# The man pages can't drift from the tools. `coverage`: man/kx.1 has a section for every verb
# in tools/verbs.h and names every Apple alias, and mentions every long option (and every
# single-dash word option, -report, -system-caches) that `kx VERB --help` and each Apple name's
# --help print; man/kxd.8 describes, in its OPTIONS list, every long option `kxd --help`
# prints. `render`: groff (and man -l, when there) format both without a warning; skips (77)
# without groff. $1 coverage|render, $2 kx, $3 kxd.
set -u
mode=$1 kx=$2 kxd=$3
src=${KX_SOURCE_DIR:?}
bin=$(dirname "$kx")
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kx-man-XXXXXX") || fail "mktemp"
trap 'rm -rf "$tmp"' EXIT

# The pages' text with roff's \- as -, so options read as typed.
sed 's/\\-/-/g' "$src/man/kx.1" >"$tmp/kx.1"
sed 's/\\-/-/g' "$src/man/kxd.8" >"$tmp/kxd.8"

# options: the options a --help output names, one a line.
options() { grep -oE '(^|[][ |(,])--?[a-z][-a-z0-9]*' | sed -E 's/^[][ |(,]//' | sort -u; }
# mentions FILE OPTION: OPTION appears in FILE as a whole word.
mentions() { grep -qE -- "(^|[^-a-z0-9])$2([^-a-z0-9]|\$)" "$1"; }

if [ "$mode" = render ]; then
    command -v groff >/dev/null || skip "no groff to render the man pages"
    for page in kx.1 kxd.8; do
        out=$(groff -t -man -Tutf8 -ww -z "$src/man/$page" 2>&1) ||
            fail "groff fails on man/$page: $out"
        [ -z "$out" ] || fail "groff warns on man/$page: $out"
        [ -n "$(groff -t -man -Tutf8 "$src/man/$page" 2>/dev/null)" ] || fail "man/$page renders empty"
        if command -v man >/dev/null; then
            out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$src/man/$page" 2>&1 >/dev/null)
            [ -z "$out" ] || fail "man -l warns on man/$page: $out"
        fi
    done
    echo ok
    exit 0
fi
[ "$mode" = coverage ] || fail "mode: coverage or render"

# Every verb: a section of its own.
verbs=$(sed -n 's/^ *XX(\([a-z]*\), *".*/\1/p' "$src/tools/verbs.h")
[ -n "$verbs" ] || fail "no verbs read from tools/verbs.h"
for v in $verbs; do
    grep -q "^\.SS kx $v " "$tmp/kx.1" || fail "man/kx.1 has no section '.SS kx $v'"
done
# Every Apple name: in NAME, and the verb it runs.
aliases=$(sed -n 's/^ *XX(\([a-z]*\), *\([a-z]*\)).*/\1:\2/p' "$src/tools/verbs.h")
[ -n "$aliases" ] || fail "no aliases read from tools/verbs.h"
name_line=$(sed -n '/^\.SH NAME/{n;p;}' "$tmp/kx.1")
for a in $aliases; do
    alias=${a%%:*} verb=${a#*:}
    echo "$name_line" | grep -qw "$alias" || fail "man/kx.1's NAME doesn't list $alias"
    grep -qE "^$alias	kx $verb( |\$)" "$tmp/kx.1" || fail "man/kx.1's table doesn't map $alias to kx $verb"
done

# Every option a verb's or an Apple name's --help prints.
for v in $verbs; do
    "$kx" "$v" --help >"$tmp/help" 2>&1 || fail "kx $v --help exits $?"
    for o in $(options <"$tmp/help"); do
        case $o in -? | --help | --version) continue ;; esac # one-letter flags: not checked
        mentions "$tmp/kx.1" "$o" || fail "man/kx.1 doesn't mention kx $v's $o"
    done
done
for a in $aliases; do
    alias=${a%%:*}
    "$bin/$alias" --help >"$tmp/help" 2>&1 || fail "$alias --help exits $?"
    for o in $(options <"$tmp/help"); do
        case $o in -? | --help | --version) continue ;; esac
        mentions "$tmp/kx.1" "$o" || fail "man/kx.1 doesn't mention $alias's $o"
    done
done

# kxd: every long option of its --help, as the tag of an OPTIONS entry (.TP's next line).
awk '/^\.SH OPTIONS/ { on = 1; next } /^\.SH / { on = 0 } on && prev == ".TP" { print } { prev = $0 }' \
    "$tmp/kxd.8" >"$tmp/kxd-tags"
[ -s "$tmp/kxd-tags" ] || fail "man/kxd.8 has no OPTIONS entries"
"$kxd" --help >"$tmp/help" 2>&1 || fail "kxd --help exits $?"
n=0
for o in $(options <"$tmp/help" | grep '^--'); do
    n=$((n + 1))
    mentions "$tmp/kxd-tags" "$o" || fail "man/kxd.8's OPTIONS doesn't describe kxd's $o"
    # and the synopsis names it too
    sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$tmp/kxd.8" >"$tmp/kxd-synopsis"
    mentions "$tmp/kxd-synopsis" "$o" || fail "man/kxd.8's SYNOPSIS doesn't name kxd's $o"
done
[ "$n" -ge 20 ] || fail "kxd --help names only $n long options"
echo ok
