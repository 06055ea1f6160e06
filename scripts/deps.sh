#!/bin/sh
# Installs the Debian packages kx needs to build and test, only when missing.
# Safe to run again: it checks with dpkg first and calls apt-get only if needed.
set -eu

packages="build-essential cmake pkg-config clang llvm libclang-rt-dev clang-tidy clang-format cppcheck
          libplist-dev libelf-dev zlib1g-dev libssl-dev libjansson-dev libcmocka-dev libfuse3-dev fuse3 libudev-dev libevdev-dev
          libsystemd-dev libseccomp-dev liblua5.4-dev pciutils"

missing=""
for p in $packages; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: not root; run as root or install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || true
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
