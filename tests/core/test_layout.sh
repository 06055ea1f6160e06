#!/bin/sh
# The process line shows in the code (issue 12): src/io (the I/O manager) and src/host (what a
# driver sees, in kxd or in a kx-host process) meet only in the headers that carry their
# messages — io/host.h, io/irp_rec.h (the record the in-process transport hands over),
# io/queue.h (the dispatch queue) and io/host_proto.h (a host process's records). Neither side
# includes the other's internals.
set -u
src=${KX_SOURCE_DIR:?}
bad=0
# Every "io/..." header a host file includes must be one of the meeting points.
for f in "$src"/src/host/*.c "$src"/src/host/*.h; do
    grep -o '#include "io/[^"]*"' "$f" | sed 's/#include "io\///; s/"$//' | while read -r h; do
        case $h in
        host.h | irp_rec.h | queue.h | host_proto.h) ;;
        *) echo "FAIL: ${f#"$src"/} includes io/$h, the manager's own" >&2; echo x ;;
        esac
    done
done | grep -q x && bad=1
# The manager includes nothing of the host side.
if grep -n '#include "\(host/\|\.\./host/\)\|#include "kmdf_int.h"' "$src"/src/io/*.c "$src"/src/io/*.h >&2; then
    echo "FAIL: src/io includes the host side's headers (above)" >&2
    bad=1
fi
# The meeting points themselves stay free of the manager's internals.
if grep -n '#include "io_int.h"' "$src"/src/io/host.h "$src"/src/io/irp_rec.h "$src"/src/io/queue.h \
    "$src"/src/io/host_proto.h >&2; then
    echo "FAIL: a header both sides include pulls in io_int.h (above)" >&2
    bad=1
fi
[ "$bad" = 0 ] && echo "ok: src/io and src/host meet only in host.h, irp_rec.h, queue.h, host_proto.h"
exit "$bad"
