# Helpers shared by every CMakeLists.txt in the tree.

# kx_test(NAME src...) — a cmocka test executable registered with CTest.
# Tests link libkx statically and export its KPI so dlopen'ed test drivers resolve Dk*.
function(kx_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE kx PkgConfig::CMOCKA)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  set_target_properties(${name} PROPERTIES ENABLE_EXPORTS ON
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES
    ENVIRONMENT "KX_SOURCE_DIR=${PROJECT_SOURCE_DIR};KX_BUILD_DIR=${CMAKE_BINARY_DIR};KX_SHARED_DIR=${KX_SHARED_DIR};ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endfunction()

# kx_embed(VAR NAME FILE) — compile FILE's bytes into the library as
# `const unsigned char NAME[]` and `const size_t NAME_len`, so data ships inside the binary.
function(kx_embed out_var symbol file)
  set(c_file ${CMAKE_CURRENT_BINARY_DIR}/embed_${symbol}.c)
  add_custom_command(
    OUTPUT ${c_file}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${c_file} -DSYM=${symbol}
            -P ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
    DEPENDS ${file} ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
    COMMENT "Embedding ${file}")
  set(${out_var} ${${out_var}} ${c_file} PARENT_SCOPE)
endfunction()

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
  set(bundle ${KX_EXTENSIONS_DIR}/${K_NAME}.kext)
  add_library(${target} SHARED ${K_SOURCES})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${K_NAME} PREFIX "" SUFFIX "" NO_SONAME ON SKIP_BUILD_RPATH ON
    LIBRARY_OUTPUT_DIRECTORY ${bundle}/Contents/Linux)
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/include
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
