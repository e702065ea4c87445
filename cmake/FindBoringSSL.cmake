# Finds Debian's Android build of BoringSSL (package android-libboringssl-dev).
#
# Its headers live in /usr/include/android/openssl and its libraries in
# /usr/lib/x86_64-linux-gnu/android. The system OpenSSL headers sit in
# /usr/include/openssl and would shadow BoringSSL's if /usr/include/android
# were not searched first, so the imported targets put the android directory
# BEFORE everything else, and link by full path with an RPATH so the loader
# never picks the system libssl.so.3 / libcrypto.so.3 (their symbols clash).
#
# Provides: BoringSSL::ssl, BoringSSL::crypto, BoringSSL_LIBRARY_DIR.

set(_bssl_arch_dir "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android")
find_path(BoringSSL_INCLUDE_DIR openssl/base.h
  PATHS /usr/include/android NO_DEFAULT_PATH)
find_library(BoringSSL_SSL_LIBRARY NAMES ssl
  PATHS ${_bssl_arch_dir} /usr/lib/x86_64-linux-gnu/android NO_DEFAULT_PATH)
find_library(BoringSSL_CRYPTO_LIBRARY NAMES crypto
  PATHS ${_bssl_arch_dir} /usr/lib/x86_64-linux-gnu/android NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(BoringSSL
  REQUIRED_VARS BoringSSL_INCLUDE_DIR BoringSSL_SSL_LIBRARY BoringSSL_CRYPTO_LIBRARY)

if(BoringSSL_FOUND AND NOT TARGET BoringSSL::crypto)
  get_filename_component(BoringSSL_LIBRARY_DIR ${BoringSSL_CRYPTO_LIBRARY} DIRECTORY)
  add_library(BoringSSL::crypto SHARED IMPORTED)
  set_target_properties(BoringSSL::crypto PROPERTIES
    IMPORTED_LOCATION ${BoringSSL_CRYPTO_LIBRARY}
    IMPORTED_NO_SONAME FALSE
    INTERFACE_INCLUDE_DIRECTORIES ${BoringSSL_INCLUDE_DIR})
  add_library(BoringSSL::ssl SHARED IMPORTED)
  set_target_properties(BoringSSL::ssl PROPERTIES
    IMPORTED_LOCATION ${BoringSSL_SSL_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${BoringSSL_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES BoringSSL::crypto)
  # The android directory is not in the loader's search path. Every
  # library of the project is static, so the build tree's binaries need no
  # other RUNPATH and are linked with the installed one: CMake pads a build
  # tree RUNPATH it means to rewrite at install with a trailing ':'
  # ("android:"), an empty entry, which the loader reads as the current
  # directory. Every shared library was then first looked for in the
  # caller's working directory (~10 failed openat calls per library at
  # every start, and a libz.so.1 lying there would have been loaded).
  list(APPEND CMAKE_INSTALL_RPATH ${BoringSSL_LIBRARY_DIR})
  set(CMAKE_BUILD_WITH_INSTALL_RPATH ON)
endif()
mark_as_advanced(BoringSSL_INCLUDE_DIR BoringSSL_SSL_LIBRARY BoringSSL_CRYPTO_LIBRARY)
