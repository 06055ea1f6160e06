# KxKext.cmake — kx_add_kext(), the driver SDK's build function. It is included by the kx
# tree (cmake/kx.cmake) and installed with kx's CMake package (find_package(kx)), so an
# out-of-tree driver builds exactly as the bundled samples do. It reads two variables:
# KX_SDK_INCLUDE_DIR (where kx/kmdf.h is; set by whoever includes this file) and
# KX_EXTENSIONS_DIR (where bundles go; ${CMAKE_BINARY_DIR}/extensions when unset).

# kx_add_kext(NAME <Name> IDENTIFIER <bundle id> VERSION <x.y.z> PLIST <Info.plist.in>
#             SOURCES <c files...> [LIBRARIES <library kext names...>] [LIBRARY])
# Builds ${KX_EXTENSIONS_DIR}/<Name>.kext: Contents/Info.plist, configured from PLIST
# (@KEXT_NAME@, @KEXT_IDENTIFIER@, @KEXT_VERSION@, @KEXT_EXECUTABLE@), and the ELF shared object
# Contents/Linux/<Name> (CFBundleExecutable = NAME). VERSION is the one source of truth: it
# becomes CFBundleVersion and the C define KX_KEXT_VERSION that KX_DRIVER_INFO() records, so the
# two can never disagree. KX_KEXT_IDENTIFIER is defined too.
# Linking scheme: a LIBRARY kext's SONAME is its bundle identifier (org.kx.library.RingBuffer);
# kexts naming it in LIBRARIES (and in OSBundleLibraries) link against it and so carry DT_NEEDED
# on that soname. A loader dlopens libraries first with RTLD_NOW | RTLD_LOCAL; glibc then binds
# a dependent's DT_NEEDED to the already-loaded library by soname, so each kext sees only the
# libraries it declares. No RPATH is recorded, so a library that was not loaded first is an
# error, not a silent search. Dk* symbols stay undefined and resolve against the executable
# that loads the kext (ENABLE_EXPORTS; KX_API functions have default visibility).
function(kx_add_kext)
  cmake_parse_arguments(K "LIBRARY" "NAME;IDENTIFIER;VERSION;PLIST" "SOURCES;LIBRARIES" ${ARGN})
  foreach(req NAME IDENTIFIER VERSION PLIST SOURCES)
    if(NOT K_${req})
      message(FATAL_ERROR "kx_add_kext: ${req} is required")
    endif()
  endforeach()
  if(NOT KX_EXTENSIONS_DIR)
    set(KX_EXTENSIONS_DIR ${CMAKE_BINARY_DIR}/extensions)
  endif()
  set(target kext_${K_NAME})
  set(bundle ${KX_EXTENSIONS_DIR}/${K_NAME}.kext)
  add_library(${target} SHARED ${K_SOURCES})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${K_NAME} PREFIX "" SUFFIX "" NO_SONAME ON SKIP_BUILD_RPATH ON
    LIBRARY_OUTPUT_DIRECTORY ${bundle}/Contents/Linux)
  target_include_directories(${target} PRIVATE ${KX_SDK_INCLUDE_DIR}
                                       PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_definitions(${target} PRIVATE KX_KEXT_VERSION="${K_VERSION}"
                                               KX_KEXT_IDENTIFIER="${K_IDENTIFIER}")
  if(K_LIBRARY)
    target_link_options(${target} PRIVATE -Wl,-soname,${K_IDENTIFIER})
  endif()
  foreach(lib ${K_LIBRARIES})
    target_link_libraries(${target} PRIVATE kext_${lib})
  endforeach()
  set(KEXT_NAME ${K_NAME})
  set(KEXT_IDENTIFIER ${K_IDENTIFIER})
  set(KEXT_VERSION ${K_VERSION})
  set(KEXT_EXECUTABLE ${K_NAME})
  configure_file(${K_PLIST} ${bundle}/Contents/Info.plist @ONLY)
endfunction()

# kx_add_lua_kext(NAME n IDENTIFIER id VERSION v PLIST Info.plist.in SCRIPT x.sys.lua)
# A Lua driver's bundle: the script (with @KEXT_VERSION@ replaced, so its
# g_tDriverInfo.sVersion can't drift from CFBundleVersion) is the executable.
function(kx_add_lua_kext)
  cmake_parse_arguments(K "" "NAME;IDENTIFIER;VERSION;PLIST;SCRIPT" "" ${ARGN})
  foreach(req NAME IDENTIFIER VERSION PLIST SCRIPT)
    if(NOT K_${req})
      message(FATAL_ERROR "kx_add_lua_kext: ${req} is required")
    endif()
  endforeach()
  if(NOT KX_EXTENSIONS_DIR)
    set(KX_EXTENSIONS_DIR ${CMAKE_BINARY_DIR}/extensions)
  endif()
  set(bundle ${KX_EXTENSIONS_DIR}/${K_NAME}.kext)
  get_filename_component(script ${K_SCRIPT} NAME)
  set(KEXT_NAME ${K_NAME})
  set(KEXT_IDENTIFIER ${K_IDENTIFIER})
  set(KEXT_VERSION ${K_VERSION})
  set(KEXT_EXECUTABLE ${script})
  configure_file(${K_SCRIPT} ${bundle}/Contents/Linux/${script} @ONLY)
  configure_file(${K_PLIST} ${bundle}/Contents/Info.plist @ONLY)
endfunction()
