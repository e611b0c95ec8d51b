# End-to-end tests: pytest drives the real `skiff` binary. Each tests/e2e/test_*.py is one ctest
# (label `e2e`), killed after SKIFF_E2E_TEST_TIMEOUT seconds so that a hang fails fast and names its
# file (the slowest file takes about a minute in the ASan build).
set(SKIFF_E2E_TEST_TIMEOUT 300 CACHE STRING "Seconds one e2e test file may run")
set(SKIFF_PYTHON ${PROJECT_SOURCE_DIR}/.venv/bin/python)
file(GLOB e2e_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/e2e/test_*.py)
foreach(test_file IN LISTS e2e_tests)
  get_filename_component(test_name ${test_file} NAME_WE)
  add_test(NAME e2e_${test_name}
           COMMAND ${SKIFF_PYTHON} -m pytest -q -x ${test_file}
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/tests/e2e)
  set_tests_properties(e2e_${test_name} PROPERTIES
    ENVIRONMENT "SKIFF_BINARY=$<TARGET_FILE:skiff>;SKIFF_WIDGETS_BINARY=$<TARGET_FILE:skiff-with-widgets>;SKIFF_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    TIMEOUT ${SKIFF_E2E_TEST_TIMEOUT} LABELS e2e)
endforeach()
