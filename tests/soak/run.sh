#!/bin/sh
# Builds and runs the soak tests against a real kxd (see README.md).
# Usage: tests/soak/run.sh [BUILD_DIR]   (default: build, as `make` leaves it)
set -e
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
cmake --build "$build" --target soak_faults kxd kx-host kx-cli
export KX_SOURCE_DIR="$src" KX_BUILD_DIR="$build" KX_SHARED_DIR="$src/../shared"
export KX_SOCKET="$build/tests/no-kxd-here/kxd.sock"
# A small quarantine: kxd's RSS then shows what it keeps, not what ASan holds back.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:quarantine_size_mb=16 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
exec "$build/tests/soak_faults"
