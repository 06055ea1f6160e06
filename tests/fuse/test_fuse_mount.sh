#!/bin/sh
# kxd --mount: kx devices as files for ordinary programs. A private kxd serves
# its own socket and mounts its /dev links in a mkdtemp folder; cat, dd and
# head read and write them, tests/fuse/fuse_io.py uses open/os.pread/
# fcntl.ioctl/select.poll, another user is refused by kx's own check, the
# caller's pid reaches kx, a blocked reader is interrupted, SIGTERM unmounts,
# and a crashed kxd's stale mount is replaced at the next start.
# $1 kxd, $2 kx, $3 the extensions folder, $4 fuse_io.py, $5 kxd's --host-mode
# (inproc or process: the same files whether drivers run in kxd or kx-host).
# Skips (77) where /dev/fuse can't be used; waits end when their condition
# holds and give up after a minute.
set -u
kxd=$1 kx=$2 ext=$3 pyio=$4 host_mode=$5
fail() { echo "FAIL: $*" >&2; [ -f "$tmp/log" ] && sed 's/^/  kxd: /' "$tmp/log" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

[ -c /dev/fuse ] || skip "no /dev/fuse"
[ "$(id -u)" -eq 0 ] || command -v fusermount3 >/dev/null || skip "not root and no fusermount3"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kx-fuse-XXXXXX") || fail "mktemp"
chmod 755 "$tmp" # other users reach the mount point; kx decides what they open
mnt=$tmp/mnt
mkdir "$mnt"
kxd_pid= others=
cleanup() {
    [ -n "$kxd_pid" ] && kill -KILL "$kxd_pid" 2>/dev/null
    for p in $others; do kill -KILL "$p" 2>/dev/null; done
    for m in "$mnt" "$tmp/mnt2"; do
        grep -q " $m " /proc/self/mountinfo && { umount -l "$m" 2>/dev/null || fusermount3 -u -z "$m"; }
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# until CMD...: runs CMD every 50 ms until it succeeds; fails after a minute.
until_true() {
    i=0
    while ! "$@" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 1200 ] || return 1
        sleep 0.05
    done
}
is_mounted() { grep -q " $mnt [^-]* - fuse.kx " /proc/self/mountinfo; }
not_mounted() { ! is_mounted; }
is_gone() { ! kill -0 "$1" 2>/dev/null; }

# As root the socket's group is nogroup, so nobody reaches kxd and meets what
# kxd decides per request (kx mount is root's only).
socket_group=
[ "$(id -u)" -eq 0 ] && socket_group="--socket-group 65534"
start_kxd() {
    # shellcheck disable=SC2086 # socket_group is zero or two words
    "$kxd" --foreground --no-auth --no-cache --platform none --extensions "$ext" $socket_group \
        --host-mode "$host_mode" --socket "$tmp/sock" --mount "$mnt" >>"$tmp/log" 2>&1 &
    kxd_pid=$!
    until_true test -e "$mnt/pipe0" || {
        grep -q "mount was refused" "$tmp/log" && skip "the kernel refused the FUSE mount"
        fail "the mount shows no pipe0"
    }
}
start_kxd

# The folder: one file per /dev link, with the device's owner, group and mode.
for f in null zero ram0 pipe0; do [ -f "$mnt/$f" ] || fail "no $mnt/$f"; done
[ "$(stat -c '%A %u %g' "$mnt/ram0")" = "-rw-rw---- 0 6" ] ||
    fail "ram0 is $(stat -c '%A %u %g' "$mnt/ram0"), not root:disk 0660"
[ "$(stat -c '%A' "$mnt/null")" = "-rw-rw-rw-" ] || fail "null is not 0666"
[ -e "$mnt/nothing" ] && fail "a name without a link exists"

# cat, head, dd, a redirect.
[ -z "$(cat "$mnt/null")" ] || fail "cat null printed something"
echo hello >"$mnt/null" || fail "a redirect into null failed"
[ "$(head -c 1048576 "$mnt/zero" | wc -c)" -eq 1048576 ] || fail "head -c 1M zero is short"
[ "$(head -c 4096 "$mnt/zero" | tr -d '\0' | wc -c)" -eq 0 ] ||
    fail "zero returned something other than zeros"
head -c 1024 /dev/urandom >"$tmp/sectors"
dd if="$tmp/sectors" of="$mnt/ram0" bs=512 seek=16 conv=notrunc 2>/dev/null ||
    fail "dd into ram0 at sector 16 failed"
dd if="$mnt/ram0" bs=512 skip=16 count=2 2>/dev/null | cmp -s - "$tmp/sectors" ||
    fail "dd back from sector 16 differs"
[ "$(dd if="$mnt/ram0" bs=512 skip=15 count=1 2>/dev/null | tr -d '\0' | wc -c)" -eq 0 ] ||
    fail "sector 15 is not zeros"

# Programs using the calls directly.
if command -v python3 >/dev/null; then
    python3 "$pyio" "$mnt" || fail "fuse_io.py"
else
    echo "note: no python3; the open/pread/ioctl/poll checks did not run"
fi

# Another user: kx's check refuses ram0 (root:disk 0660) and allows zero (0666).
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
    as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
    as_nobody cat "$mnt/ram0" >/dev/null 2>"$tmp/denied" && fail "nobody opened ram0"
    grep -q "Permission denied" "$tmp/denied" || fail "nobody's open of ram0: $(cat "$tmp/denied")"
    [ "$(as_nobody head -c 16 "$mnt/zero" | wc -c)" -eq 16 ] || fail "nobody can't read zero"
    as_nobody test -r "$mnt/ram0" && fail "access(2) lets nobody read ram0"
    as_nobody test -w "$mnt/zero" || fail "access(2) refuses nobody writing zero"

    # The caller's pid and uid reach kx: a refused unload names the holder.
    as_nobody sh -c 'exec 3<"$1" && echo $$ && exec sleep 600' sh "$mnt/zero" >"$tmp/holder" &
    hjob=$!
    others="$others $hjob"
    until_true test -s "$tmp/holder" || fail "the holder did not start"
    holder=$(cat "$tmp/holder")
    until_true sh -c "KX_SOCKET='$tmp/sock' '$kx' unload -b org.kx.driver.Zero 2>&1 |
        grep -q 'open by pid $holder (uid 65534)'" || fail "kextunload does not name pid $holder"
    kill "$holder"
    wait "$hjob"
fi

# A reader blocked on the empty pipe is interrupted by a signal.
cat "$mnt/pipe0" >/dev/null 2>&1 &
reader=$!
others="$others $reader"
until_true sh -c "KX_SOCKET='$tmp/sock' '$kx' ls | grep -q 'Pipe0 .* [1-9][0-9]* open'" ||
    fail "the reader never opened pipe0"
kill -TERM "$reader"
wait "$reader" # returns only once the FUSE read was answered

# kx mount: a second folder on the running kxd, root's only.
mkdir "$tmp/mnt2"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env KX_SOCKET="$tmp/sock" "$kx" mount "$tmp/mnt2" 2>"$tmp/refused" && fail "nobody mounted"
    grep -q "only root" "$tmp/refused" || fail "nobody's kx mount: $(cat "$tmp/refused")"
fi
KX_SOCKET=$tmp/sock "$kx" mount "$tmp/mnt2" || fail "kx mount $tmp/mnt2"
[ "$(head -c 512 "$tmp/mnt2/zero" | wc -c)" -eq 512 ] || fail "the second mount does not serve"
KX_SOCKET=$tmp/sock "$kx" mount "$tmp/mnt2" 2>"$tmp/busy" && fail "kx mount twice"
grep -q "already mounted" "$tmp/busy" || fail "kx mount twice: $(cat "$tmp/busy")"

# A second kxd can't take a live mount.
"$kxd" --foreground --no-auth --no-cache --platform none --extensions "$ext" \
    --socket "$tmp/sock2" --mount "$mnt" >"$tmp/log2" 2>&1 && fail "a second kxd mounted"
grep -q "already mounted by a running kxd" "$tmp/log2" || fail "second kxd: $(cat "$tmp/log2")"

# SIGTERM: a reader still blocked gets its answer, the mount goes, kxd exits 0.
cat "$mnt/pipe0" >/dev/null 2>&1 &
reader=$!
others="$others $reader"
until_true sh -c "KX_SOCKET='$tmp/sock' '$kx' ls | grep -q 'Pipe0 .* [1-9][0-9]* open'" ||
    fail "the second reader never opened pipe0"
kill -TERM "$kxd_pid"
wait "$kxd_pid"
rc=$?
kxd_pid=
[ $rc -eq 0 ] || fail "kxd exited $rc after SIGTERM"
wait "$reader"
not_mounted || fail "the mount is still there after SIGTERM"
grep -q " $tmp/mnt2 " /proc/self/mountinfo && fail "kx mount's folder is still mounted after SIGTERM"

# A crashed kxd leaves a stale mount; the next one replaces it.
start_kxd
kill -KILL "$kxd_pid"
wait "$kxd_pid" 2>/dev/null
kxd_pid=
stat "$mnt" >/dev/null 2>&1 && fail "the crashed kxd's mount still answers"
is_mounted || fail "the crashed kxd's mount is gone already"
start_kxd
grep -q "replaced the stale mount" "$tmp/log" || fail "the stale mount was not reported"
[ -z "$(cat "$mnt/null")" ] || fail "the new mount does not serve"
kill -TERM "$kxd_pid"
wait "$kxd_pid" || fail "kxd exited $? after SIGTERM"
kxd_pid=
not_mounted || fail "the mount is still there after the second SIGTERM"
echo "ok"
