# Adds every direct child directory of the current source dir that has a
# CMakeLists.txt. Submodules (protocols/smtp, store/log...) then own their
# build file, and adding one touches no shared file.
# RINGMAIL_SKIP_DIRS (a list of folder names) leaves some out: a developer
# building one module while another is half-written elsewhere in the tree.
set(RINGMAIL_SKIP_DIRS "" CACHE STRING "Child folder names to leave out of the build")
# The glob is of the children's CMakeLists.txt with CONFIGURE_DEPENDS: a
# build dir configured before a folder got its CMakeLists.txt picks the
# folder up at its next build (bench/spam's targets were missing from older
# build dirs that way).
function(ringmail_add_child_directories)
  file(GLOB _lists CONFIGURE_DEPENDS RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
       ${CMAKE_CURRENT_SOURCE_DIR}/*/CMakeLists.txt)
  list(SORT _lists)
  foreach(_list IN LISTS _lists)
    get_filename_component(_child ${_list} DIRECTORY)
    if(NOT _child IN_LIST RINGMAIL_SKIP_DIRS)
      add_subdirectory(${_child})
    endif()
  endforeach()
endfunction()

# ringmail_unit_test(NAME SOURCES a.cpp b.cpp LIBS lib1 lib2 [LABELS l])
# One GoogleTest executable, registered with ctest per test case.
function(ringmail_unit_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  # Escaped: the properties travel through a list, and LABELS has two values.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "unit\\;${ARG_LABELS}")
endfunction()

set(RINGMAIL_FUZZ_SECONDS 20 CACHE STRING "How long each fuzz target runs in a RINGMAIL_FUZZ build's ctest")

# ringmail_fuzz_target(NAME SOURCES a.cpp LIBS lib): a libFuzzer binary when
# RINGMAIL_FUZZ is on; otherwise a plain executable that replays the corpus
# files given on its command line, so the harness always compiles and the
# seed corpus runs as a ctest regression test.
function(ringmail_fuzz_target name)
  cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY RINGMAIL_FUZZ_TARGETS ${name})
  if(RINGMAIL_FUZZ)
    add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE ${ARG_LIBS})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${name} ${ARG_SOURCES} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
    target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  endif()
  if(ARG_CORPUS)
    if(RINGMAIL_FUZZ)
      add_test(NAME ${name}_corpus COMMAND ${name} -runs=0 ${ARG_CORPUS})
      # A bounded fuzzing run, in a scratch copy of the corpus so new inputs
      # do not land in the source tree.
      file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/${name}_work)
      add_test(NAME ${name}_fuzz
               COMMAND ${name} -max_total_time=${RINGMAIL_FUZZ_SECONDS} -rss_limit_mb=2048
                       ${CMAKE_CURRENT_BINARY_DIR}/${name}_work ${ARG_CORPUS})
      set_tests_properties(${name}_fuzz PROPERTIES LABELS "fuzz" TIMEOUT 600)
    else()
      add_test(NAME ${name}_corpus COMMAND ${name} ${ARG_CORPUS})
    endif()
    set_tests_properties(${name}_corpus PROPERTIES LABELS "fuzz")
  endif()
endfunction()

# ringmail_prefer_static(PkgConfig::X ...): a pkg-config target links the
# library's static archive (libX.a beside libX.so, from the same -dev
# package) instead of the shared one. Every shared library costs each
# process start its mapping and its symbol binding: `ringmail spam score`,
# run once per batch of files, started ~0.1 ms faster without liburing,
# libcares, libargon2 and libz as shared objects. Off with
# -DRINGMAIL_STATIC_DEPS=OFF.
option(RINGMAIL_STATIC_DEPS "Link liburing, libcares, libargon2 and libz statically where their .a exists" ON)
function(ringmail_prefer_static)
  if(NOT RINGMAIL_STATIC_DEPS)
    return()
  endif()
  foreach(_target IN LISTS ARGN)
    get_target_property(_libs ${_target} INTERFACE_LINK_LIBRARIES)
    set(_out)
    foreach(_lib IN LISTS _libs)
      if(_lib MATCHES "^(.*)\\.so$")
        set(_archive "${CMAKE_MATCH_1}.a")
        if(EXISTS "${_archive}")
          set(_lib "${_archive}")
        endif()
      endif()
      list(APPEND _out "${_lib}")
    endforeach()
    set_target_properties(${_target} PROPERTIES INTERFACE_LINK_LIBRARIES "${_out}")
  endforeach()
endfunction()

# zlib (no pkg-config target here): its archive, or -lz.
function(ringmail_zlib out_var)
  set(_z z)
  if(RINGMAIL_STATIC_DEPS)
    find_file(RINGMAIL_ZLIB_ARCHIVE libz.a PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/lib NO_DEFAULT_PATH)
    if(RINGMAIL_ZLIB_ARCHIVE)
      set(_z ${RINGMAIL_ZLIB_ARCHIVE})
    endif()
  endif()
  set(${out_var} ${_z} PARENT_SCOPE)
endfunction()
