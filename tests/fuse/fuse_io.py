#!/usr/bin/env python3
"""Programs' view of kx's FUSE mount (tests/fuse/test_fuse_mount.sh): the
RAM disk through open/os.pwrite/os.pread and its geometry through
fcntl.ioctl, the pipe's readiness through select.poll and its state through
an ioctl. argv[1] is the mount point. Prints one line per check; exits 1 on
the first that fails."""
import fcntl
import os
import select
import struct
import sys

mnt = sys.argv[1]


def check(what, cond):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        sys.exit(1)


def ior(dev_type, nr, size):
    """Linux's _IOR: the number kx derives from a control code that gives
    `size` bytes of output (docs/fuse.md)."""
    return (2 << 30) | (size << 16) | (dev_type << 8) | nr


# The RAM disk: 512-byte sectors at byte offsets, and IOCTL_RAMDISK_GET_GEOMETRY
# (device type FILE_DEVICE_DISK 7, function 0, 24 bytes out).
fd = os.open(mnt + "/ram0", os.O_RDWR)
sector = bytes(range(256)) * 2
check("pwrite takes a sector at 8192", os.pwrite(fd, sector, 8192) == 512)
check("pread reads it back", os.pread(fd, 512, 8192) == sector)
check("pread elsewhere reads zeros", os.pread(fd, 512, 0) == bytes(512))
check("pread at the end of the disk is end of file", os.pread(fd, 512, 1 << 20) == b"")
try:
    os.pread(fd, 100, 0)
    check("a partial sector is refused", False)
except OSError as e:
    check("a partial sector is refused with EINVAL", e.errno == 22)
geo = bytearray(24)
check("ioctl GET_GEOMETRY answers 0", fcntl.ioctl(fd, ior(7, 0, 24), geo, True) == 0)
count, size, _, total = struct.unpack("=QIIQ", geo)
check("the geometry is 2048 sectors of 512 bytes", (count, size, total) == (2048, 512, 1 << 20))
try:
    fcntl.ioctl(fd, ior(7, 1, 24), bytearray(24), True)
    check("an undeclared ioctl is refused", False)
except OSError as e:
    check("an undeclared ioctl is ENOTTY", e.errno == 25)
os.close(fd)

# The pipe: not readable while empty, readable once a write arrives, then
# drained; IOCTL_PIPE_GET_INFO (FILE_DEVICE_NAMED_PIPE 0x11, function 0x800).
rd = os.open(mnt + "/pipe0", os.O_RDONLY | os.O_NONBLOCK)
wr = os.open(mnt + "/pipe0", os.O_WRONLY)
p = select.poll()
p.register(rd, select.POLLIN)
check("an empty pipe is not readable", p.poll(0) == [])
try:
    os.read(rd, 10)
    check("a non-blocking read of an empty pipe fails", False)
except BlockingIOError:
    check("a non-blocking read of an empty pipe is EAGAIN", True)
pid = os.fork()
if pid == 0:  # the writer wakes the parent's poll, which waits without a limit
    os.write(wr, b"ping")
    os._exit(0)
events = p.poll()
check("poll wakes when a write arrives", events == [(rd, select.POLLIN)])
os.waitpid(pid, 0)
check("the read gets the bytes", os.read(rd, 100) == b"ping")
check("a drained pipe is not readable", p.poll(0) == [])
info = bytearray(24)
fcntl.ioctl(rd, ior(0x11, 0, 24), info, True)
used, capacity, pending, opens = struct.unpack("=QQII", info)
check("ioctl GET_INFO: empty, 4096 bytes, two opens", (used, capacity, opens) == (0, 4096, 2))
os.close(wr)
os.close(rd)
