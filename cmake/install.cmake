# install.cmake — what `make install` (cmake --install) puts where: the tools and kxd, the
# Apple tool names as links to kx, the public headers, the sample kexts, and the driver SDK
# (a CMake package with kx_add_kext() and a pkg-config file) so drivers build out of tree, and
# libkxclient.so for programs (kx-client.pc, the CMake target kx::client).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS kx-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS kxd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
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
