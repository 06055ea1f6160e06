# install.cmake — what `make install` (cmake --install, PREFIX and DESTDIR) puts where:
# the kx tool and its Apple-named links, kxd, the public headers, the driver SDK's CMake package
# (find_package(kx) gives kx_add_kext()), the man pages and the systemd unit, configured for the
# prefix. The extensions folder the unit boots is created empty: kexts are installed by their owners.
include(GNUInstallDirs)

install(TARGETS kx-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS kxd RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
get_directory_property(KX_TOOL_ALIASES DIRECTORY ${PROJECT_SOURCE_DIR}/tools
                       DEFINITION KX_TOOL_ALIASES)
foreach(alias ${KX_TOOL_ALIASES})
  install(CODE "execute_process(COMMAND ${CMAKE_COMMAND} -E create_symlink kx
                \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/${alias}\")")
endforeach()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/kx DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(KX_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kx)
# kxConfig.cmake finds the prefix from its own place, so DESTDIR staging and relocation work.
file(RELATIVE_PATH KX_CMAKE_RELATIVE_PREFIX /${KX_CMAKE_INSTALL_DIR} /)
configure_file(${PROJECT_SOURCE_DIR}/cmake/kxConfig.cmake.in ${CMAKE_BINARY_DIR}/kxConfig.cmake @ONLY)
include(CMakePackageConfigHelpers)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/kxConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/kxConfig.cmake ${CMAKE_BINARY_DIR}/kxConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/kx_kext.cmake
        DESTINATION ${KX_CMAKE_INSTALL_DIR})

install(FILES ${PROJECT_SOURCE_DIR}/man/kx.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/man/kxd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

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
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_LIBDIR}/kx/extensions)
