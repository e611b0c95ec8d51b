# Fails the build when a file under src/ uses a standard mutex, lock or condition variable instead
# of core/thread_annotations.h's Mutex, MutexLock and CondVar: only annotated locks are checked by
# the -Wthread-safety build (SKIFF_THREAD_SAFETY), so a plain one would hide its guarded state
# from the analysis. Run at every build by the skiff_annotated_locks target (CMakeLists.txt):
#   cmake -DSOURCE_DIR=<source dir> -P cmake/annotated_locks.cmake
file(GLOB_RECURSE sources ${SOURCE_DIR}/src/*.h ${SOURCE_DIR}/src/*.cc)
set(pattern
    "std::(mutex|timed_mutex|recursive_mutex|recursive_timed_mutex|shared_mutex|shared_timed_mutex|condition_variable|condition_variable_any|lock_guard|unique_lock|scoped_lock|shared_lock)[^a-z_]")
set(found "")
foreach(source IN LISTS sources)
  if(source MATCHES "/src/core/thread_annotations\\.h$")
    continue()
  endif()
  file(STRINGS ${source} lines REGEX "${pattern}")
  foreach(line IN LISTS lines)
    file(RELATIVE_PATH relative ${SOURCE_DIR} ${source})
    string(STRIP "${line}" line)
    string(APPEND found "\n  ${relative}: ${line}")
  endforeach()
endforeach()
if(found)
  message(FATAL_ERROR "use Mutex, MutexLock and CondVar from core/thread_annotations.h, with "
                      "GUARDED_BY on what they guard, instead of:${found}")
endif()
