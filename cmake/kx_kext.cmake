# kx_kext.cmake — kx_add_kext(), which builds a kext bundle: used by kx's own tree (through
# cmake/kx.cmake) and by drivers built elsewhere against an installed kx (find_package(kx), whose
# kxConfig.cmake includes this file). It needs only KX_INCLUDE_DIR, kx's public headers: the
# folder next to this file's in the source tree, set by kxConfig.cmake once installed.
# KX_EXTENSIONS_DIR, where bundles go, defaults to <build>/extensions.
if(NOT KX_INCLUDE_DIR)
  get_filename_component(KX_INCLUDE_DIR ${CMAKE_CURRENT_LIST_DIR}/../include ABSOLUTE)
endif()

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
  set(target kext_${K_NAME})
  if(NOT KX_EXTENSIONS_DIR)
    set(KX_EXTENSIONS_DIR ${CMAKE_BINARY_DIR}/extensions)
  endif()
  set(bundle ${KX_EXTENSIONS_DIR}/${K_NAME}.kext)
  add_library(${target} SHARED ${K_SOURCES})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${K_NAME} PREFIX "" SUFFIX "" NO_SONAME ON SKIP_BUILD_RPATH ON
    LIBRARY_OUTPUT_DIRECTORY ${bundle}/Contents/Linux)
  target_include_directories(${target} PRIVATE ${KX_INCLUDE_DIR}
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
