# The one place warning and sanitizer flags are set.
set(SKIFF_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)

function(skiff_target_options target)
  target_compile_options(${target} PRIVATE ${SKIFF_WARNINGS})
  if(SKIFF_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined
                           -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
