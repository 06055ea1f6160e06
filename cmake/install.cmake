# install.cmake — what `make install` (cmake --install, PREFIX and DESTDIR) puts where: the
# tools, kxd and kx-host (beside kxd, where kxd looks for it), the Apple tool names as links to
# kx, the public headers, the sample kexts, the driver SDK (a CMake package with kx_add_kext()
# and a pkg-config file) so drivers build out of tree, libkxclient.so for programs
# (kx-client.pc, the CMake target kx::client), the man pages, bash completion and the systemd
# unit.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS kx-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS kxd kx-host RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
foreach(alias ${KX_TOOL_ALIASES})
  install(CODE "file(CREATE_LINK kx \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/${alias}\" SYMBOLIC)")
endforeach()
install(DIRECTORY include/kx DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS kxclient_shared EXPORT kxTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${KX_EXTENSIONS_DIR}/ DESTINATION ${CMAKE_INSTALL_LIBDIR}/kx/extensions
        USE_SOURCE_PERMISSIONS)

# The SDK. Drivers link nothing: Dk* resolve against the kxd or kx-host that loads them.
set(KX_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kx)
configure_package_config_file(cmake/kxConfig.cmake.in ${CMAKE_BINARY_DIR}/sdk/kxConfig.cmake
                              INSTALL_DESTINATION ${KX_CMAKE_DIR}
                              PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/sdk/kxConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(EXPORT kxTargets NAMESPACE kx:: DESTINATION ${KX_CMAKE_DIR})
install(FILES ${CMAKE_BINARY_DIR}/sdk/kxConfig.cmake ${CMAKE_BINARY_DIR}/sdk/kxConfigVersion.cmake
              cmake/KxKext.cmake
        DESTINATION ${KX_CMAKE_DIR})
# The .pc file finds its prefix from where it lies, so `cmake --install --prefix` may move it.
file(RELATIVE_PATH KX_PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
foreach(pc kx-kmdf kx-client)
  configure_file(cmake/${pc}.pc.in ${CMAKE_BINARY_DIR}/sdk/${pc}.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/sdk/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

install(FILES man/kx.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES man/kxd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# Bash completion: one script for kx, the Apple names and kxd, each name a link to it (the
# bash-completion package loads completions/<command> on first use).
set(KX_BASH_COMPLETION_DIR ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
    CACHE STRING "Where make install puts the bash completion (relative: under the prefix)")
install(FILES contrib/bash-completion/kx DESTINATION ${KX_BASH_COMPLETION_DIR})
if(IS_ABSOLUTE "${KX_BASH_COMPLETION_DIR}")
  set(kx_completion_dir "\$ENV{DESTDIR}${KX_BASH_COMPLETION_DIR}")
else()
  set(kx_completion_dir "\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${KX_BASH_COMPLETION_DIR}")
endif()
foreach(name ${KX_TOOL_ALIASES} kxd)
  install(CODE "file(CREATE_LINK kx \"${kx_completion_dir}/${name}\" SYMBOLIC)")
endforeach()

# contrib/kxd.service names /usr/local's paths; the installed unit names the install prefix's
# (evaluated when installing, so `cmake --install --prefix` and DESTDIR are honoured).
set(KX_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING "Where make install puts kxd.service")
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  file(READ \"${PROJECT_SOURCE_DIR}/contrib/kxd.service\" unit)
  string(REPLACE /usr/local/sbin/kxd \"\${prefix}/${CMAKE_INSTALL_SBINDIR}/kxd\" unit \"\${unit}\")
  string(REPLACE /usr/local/lib/kx/extensions \"\${prefix}/${CMAKE_INSTALL_LIBDIR}/kx/extensions\"
         unit \"\${unit}\")
  file(WRITE \"\$ENV{DESTDIR}\${prefix}/${KX_SYSTEMD_UNIT_DIR}/kxd.service\" \"\${unit}\")
  message(STATUS \"Installing: \$ENV{DESTDIR}\${prefix}/${KX_SYSTEMD_UNIT_DIR}/kxd.service\")")
