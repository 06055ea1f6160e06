/* lifecycle.h — how test_kxd_lifecycle tells the Lifecycle kext what to do:
 * a control file named after kxd's pid (the host's parent), holding one line
 * "ROUTINE ACTION": ROUTINE DriverEntry, AddDevice or DriverUnload, ACTION
 * crash, abort, exit or hang. No file: the driver behaves. */
#ifndef KX_TESTS_LIFECYCLE_H
#define KX_TESTS_LIFECYCLE_H

#define LIFECYCLE_CONTROL_FMT "/tmp/kx-lifecycle-%d"

#endif
