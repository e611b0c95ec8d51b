# The one place warning and sanitizer flags are set.
set(SKIFF_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC 12 at -O2 and above reports std::string concatenations as overlapping memcpy
  # (-Wrestrict false positive, GCC bug 105329), in our code and in the standard headers alike.
  list(APPEND SKIFF_WARNINGS -Wno-restrict)
endif()

function(skiff_target_options target)
  target_compile_options(${target} PRIVATE ${SKIFF_WARNINGS})
  if(SKIFF_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined
                           -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
