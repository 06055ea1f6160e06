#!/bin/sh
# Every diagnostic src/kext can emit is provoked and asserted by some kext test: each
# KX_D_* code named in src/kext/*.c must appear in tests/kext/test_kext_*.c. $1 = source dir.
set -u
src=$1
missing=""
for code in $(grep -ho 'KX_D_[A-Z0-9_]*' "$src"/src/kext/*.c | grep -v '^KX_D_N_CODES$' | sort -u); do
    grep -q "$code\\b" "$src"/tests/kext/test_kext_*.c || missing="$missing $code"
done
[ -z "$missing" ] || { echo "FAIL: no test provokes:$missing" >&2; exit 1; }
echo ok
