# The one place warning and sanitizer flags are set.
set(SKIFF_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC 12 at -O2 and above reports std::string concatenations as overlapping memcpy
  # (-Wrestrict false positive, GCC bug 105329), in our code and in the standard headers alike.
  list(APPEND SKIFF_WARNINGS -Wno-restrict)
endif()

set(SKIFF_CLANG_ONLY_OPTIONS)  # names of the ON options below that need clang
foreach(option SKIFF_THREAD_SAFETY SKIFF_FUZZ)
  if(${option})
    list(APPEND SKIFF_CLANG_ONLY_OPTIONS ${option})
  endif()
endforeach()
if(SKIFF_CLANG_ONLY_OPTIONS AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "${SKIFF_CLANG_ONLY_OPTIONS} need clang: configure with "
                      "-DCMAKE_CXX_COMPILER=clang++-14 (a fresh build directory)")
endif()
if(SKIFF_TSAN AND (SKIFF_SANITIZE OR SKIFF_FUZZ))
  message(FATAL_ERROR "SKIFF_TSAN cannot be combined with SKIFF_SANITIZE or SKIFF_FUZZ "
                      "(ThreadSanitizer and AddressSanitizer exclude each other)")
endif()

if(SKIFF_THREAD_SAFETY)
  # Lock annotations (core/thread_annotations.h) are checked; a violation fails the build.
  list(APPEND SKIFF_WARNINGS -Wthread-safety)
endif()

set(SKIFF_SANITIZER_COMPILE_OPTIONS)
set(SKIFF_SANITIZER_LINK_OPTIONS)
if(SKIFF_SANITIZE OR SKIFF_FUZZ)
  list(APPEND SKIFF_SANITIZER_COMPILE_OPTIONS -fsanitize=address,undefined
       -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  list(APPEND SKIFF_SANITIZER_LINK_OPTIONS -fsanitize=address,undefined)
endif()
if(SKIFF_FUZZ)
  # Coverage for libFuzzer in every library; the fuzz targets link libFuzzer itself
  # (cmake/fuzz.cmake).
  list(APPEND SKIFF_SANITIZER_COMPILE_OPTIONS -fsanitize=fuzzer-no-link)
endif()
if(SKIFF_TSAN)
  list(APPEND SKIFF_SANITIZER_COMPILE_OPTIONS -fsanitize=thread -fno-omit-frame-pointer)
  list(APPEND SKIFF_SANITIZER_LINK_OPTIONS -fsanitize=thread)
endif()

function(skiff_target_options target)
  target_compile_options(${target} PRIVATE ${SKIFF_WARNINGS} ${SKIFF_SANITIZER_COMPILE_OPTIONS})
  target_link_options(${target} PRIVATE ${SKIFF_SANITIZER_LINK_OPTIONS})
endfunction()
