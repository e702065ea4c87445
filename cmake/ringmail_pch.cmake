# RINGMAIL_PRECOMPILE_STD: precompile the C++ standard headers that most
# files include, once per target, and include them in every C++ file of the
# build. Parsing them (C++20, GCC 12) costs ~1.5-2 CPU seconds per file,
# about a third of a clean Release build of ringmail + ringmail-load; a
# target's precompiled copy costs that once. For one-off builds (bench/compare
# on a fresh machine). Off by default: an incremental developer build gains
# little, and with it on a file that forgets an #include still compiles.
option(RINGMAIL_PRECOMPILE_STD "Precompile common C++ standard headers per target (one-off builds)" OFF)

set(RINGMAIL_STD_PCH_HEADERS
  <algorithm> <array> <atomic> <cerrno> <charconv> <chrono> <coroutine> <cstddef> <cstdint> <cstdio>
  <cstring> <deque> <functional> <limits> <map> <memory> <optional> <span> <string> <string_view>
  <system_error> <unordered_map> <utility> <variant> <vector>)

# Every library and executable defined under the source tree (not imported
# ones, not interface libraries): called once, after every add_subdirectory.
# Targets with no compile definitions or options of their own (beyond the
# directory-wide warning flags) share one
# precompiled copy (made by ringmail_std_pch, an empty library); the others
# (ringmail_appliance's toml++ defines) make their own, as GCC only takes a
# precompiled header made under the same macros.
function(ringmail_precompile_std_headers)
  if(NOT RINGMAIL_PRECOMPILE_STD)
    return()
  endif()
  set(_pch "")
  foreach(_h IN LISTS RINGMAIL_STD_PCH_HEADERS)
    list(APPEND _pch "$<$<COMPILE_LANGUAGE:CXX>:${_h}>")
  endforeach()
  set(_host_source ${CMAKE_BINARY_DIR}/ringmail_std_pch.cpp)
  if(NOT EXISTS ${_host_source})
    file(WRITE ${_host_source} "// Host of the shared precompiled standard headers (RINGMAIL_PRECOMPILE_STD).\n")
  endif()
  add_library(ringmail_std_pch STATIC ${_host_source})
  target_precompile_headers(ringmail_std_pch PRIVATE ${_pch})
  get_target_property(_host_opts ringmail_std_pch COMPILE_OPTIONS)
  set(_dirs ${CMAKE_SOURCE_DIR})
  while(_dirs)
    list(POP_FRONT _dirs _dir)
    get_property(_sub DIRECTORY ${_dir} PROPERTY SUBDIRECTORIES)
    list(APPEND _dirs ${_sub})
    get_property(_targets DIRECTORY ${_dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(_t IN LISTS _targets)
      get_target_property(_type ${_t} TYPE)
      if(_t STREQUAL "ringmail_std_pch" OR NOT _type MATCHES "^(STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY|EXECUTABLE)$")
        continue()
      endif()
      get_target_property(_defs ${_t} COMPILE_DEFINITIONS)
      get_target_property(_opts ${_t} COMPILE_OPTIONS)
      if(_defs OR NOT "${_opts}" STREQUAL "${_host_opts}")
        target_precompile_headers(${_t} PRIVATE ${_pch})
      else()
        target_precompile_headers(${_t} REUSE_FROM ringmail_std_pch)
      endif()
    endforeach()
  endwhile()
endfunction()
