#!/bin/sh
# make lint: clang-tidy (with the build's compile_commands.json) and cppcheck
# over kx's own sources. Both must stay clean.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
files=$(find src tools drivers -name '*.c' | sort)
[ -f "$build/compile_commands.json" ] || { echo "lint: run make first" >&2; exit 2; }

echo "lint: clang-tidy"
# shellcheck disable=SC2086
clang-tidy -quiet -p "$build" $files

echo "lint: cppcheck"
# shellcheck disable=SC2086
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
    --inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -D__GNUC__ \
    -I include -I src $files
echo "lint: clean"
