# libFuzzer targets (SKIFF_FUZZ=ON, clang): every src/MODULE/**/NAME_fuzz.cc is a program NAME_fuzz
# linked with skiff_MODULE, instrumented with ASan + UBSan + coverage like the libraries it
# fuzzes (cmake/warnings.cmake), and a ctest `fuzz_NAME` (label `fuzz`) that runs it for
# SKIFF_FUZZ_SECONDS from its committed seed corpus. Next to the source, in fuzz_corpus/:
#   NAME/        seed inputs (required; a few small real files)
#   NAME.dict    optional libFuzzer dictionary
#   NAME.args    optional extra libFuzzer flags, one a line (e.g. -max_len=4096), with a comment
#                saying why
# What the run discovers goes to <build>/fuzz/NAME/corpus (kept between runs in that build
# directory); a crash leaves its input as <build>/fuzz/NAME/crash-* and fails the test. To
# reproduce: `build/fuzz/NAME_fuzz build/fuzz/NAME/crash-...`; to fuzz longer:
# `build/fuzz/NAME_fuzz -max_total_time=600 build/fuzz/NAME/corpus src/.../fuzz_corpus/NAME`.
set(SKIFF_FUZZ_SECONDS 20 CACHE STRING "How long each fuzz_* ctest fuzzes")
# A fixed seed: from the same corpus (a fresh build directory has only the committed seeds) a run
# tries the same inputs in the same order, so what a longer run found clean stays clean, and a
# crash repeats.
set(SKIFF_FUZZ_SEED 1 CACHE STRING "libFuzzer -seed of the fuzz_* ctests")

file(GLOB_RECURSE fuzz_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/*_fuzz.cc)
add_custom_target(skiff_fuzzers)
foreach(source IN LISTS fuzz_sources)
  get_filename_component(target ${source} NAME_WE)          # resource_fuzz
  string(REGEX REPLACE "_fuzz$" "" name ${target})          # resource
  get_filename_component(dir ${source} DIRECTORY)
  file(RELATIVE_PATH relative ${PROJECT_SOURCE_DIR}/src ${source})
  string(REGEX REPLACE "/.*" "" module ${relative})         # core
  set(seeds ${dir}/fuzz_corpus/${name})
  if(NOT IS_DIRECTORY ${seeds})
    message(FATAL_ERROR "${source}: its seed corpus ${seeds}/ is missing")
  endif()

  add_executable(${target} ${source})
  target_link_libraries(${target} PRIVATE skiff_${module})
  skiff_target_options(${target})
  target_compile_options(${target} PRIVATE -fsanitize=fuzzer)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  add_dependencies(skiff_fuzzers ${target})

  set(work ${PROJECT_BINARY_DIR}/fuzz/${name})
  file(MAKE_DIRECTORY ${work}/corpus)
  set(flags -max_total_time=${SKIFF_FUZZ_SECONDS} -seed=${SKIFF_FUZZ_SEED} -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=${work}/)
  if(EXISTS ${dir}/fuzz_corpus/${name}.dict)
    list(APPEND flags -dict=${dir}/fuzz_corpus/${name}.dict)
  endif()
  if(EXISTS ${dir}/fuzz_corpus/${name}.args)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                 ${dir}/fuzz_corpus/${name}.args)
    file(STRINGS ${dir}/fuzz_corpus/${name}.args extra REGEX "^-")
    list(APPEND flags ${extra})
  endif()
  add_test(NAME fuzz_${name} COMMAND ${target} ${flags} ${work}/corpus ${seeds})
  math(EXPR limit "${SKIFF_FUZZ_SECONDS} * 3 + 60")
  set_tests_properties(fuzz_${name} PROPERTIES LABELS fuzz TIMEOUT ${limit}
    ENVIRONMENT "ASAN_OPTIONS=abort_on_error=1:detect_leaks=1;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endforeach()
