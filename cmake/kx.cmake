# Helpers shared by every CMakeLists.txt in the tree.

# The environment of every test. KX_SOCKET replaces the user's (or the default
# /run/kx/kxd.sock) with a path in a folder that never exists, so a tool a test
# runs without naming its own kxd can't reach a real one.
function(kx_test_env name)
  set_tests_properties(${name} PROPERTIES ENVIRONMENT
    "KX_SOURCE_DIR=${PROJECT_SOURCE_DIR};KX_BUILD_DIR=${CMAKE_BINARY_DIR};KX_SHARED_DIR=${KX_SHARED_DIR};KX_SOCKET=${CMAKE_BINARY_DIR}/tests/no-kxd-here/kxd.sock;ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endfunction()

# kx_test(NAME src...) — a cmocka test executable registered with CTest.
# Tests link libkx statically and export its KPI so dlopen'ed test drivers resolve Dk*.
function(kx_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE kx PkgConfig::CMOCKA)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  set_target_properties(${name} PROPERTIES ENABLE_EXPORTS ON
                        RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  kx_test_env(${name})
endfunction()

# kx_sh_test(NAME SCRIPT args...) — a shell-script test, run by sh with the same environment.
function(kx_sh_test name script)
  add_test(NAME ${name} COMMAND sh ${script} ${ARGN})
  kx_test_env(${name})
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

# kx_add_kext(): the driver SDK's helper, shared with out-of-tree projects (installed).
include(${CMAKE_CURRENT_LIST_DIR}/kx_kext.cmake)
