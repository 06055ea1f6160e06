#!/bin/sh
# `kx vers` prints canonical forms, reads stdin, compares, and exits as documented.
set -u
kx=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$kx" vers 1.0.0 1..2 10000 "1.0 b1") || fail "exit status"
[ "$out" = "$(printf '1.0\n1.0.2\ninvalid\n1.0')" ] || fail "arguments: got [$out]"

out=$(printf '1.0fc1\n\tx\n2.0.0a1 trailing words\n' | "$kx" vers) || fail "stdin exit status"
[ "$out" = "$(printf '1.0f1\ninvalid\n2.0a1')" ] || fail "stdin: got [$out]"

[ "$("$kx" vers --compare 1.9 1.10)" = "<" ] || fail "1.9 < 1.10"
[ "$("$kx" vers --compare 1.0f1 1.0fc1)" = "=" ] || fail "f1 = fc1"
[ "$("$kx" vers --compare 2.0 1.9999.9999)" = ">" ] || fail "2.0 > 1.9999.9999"
"$kx" vers --compare 1.0 bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "invalid compare exits 2"
"$kx" vers --compare 1.0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "usage error exits 2"
echo ok
