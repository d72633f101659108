# Build helpers shared by every folder: warnings, sanitizers, library and test wrappers.

set(SLUICE_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wnon-virtual-dtor -Wimplicit-fallthrough)
# Clang's thread-safety analysis over the SLUICE_GUARDED_BY annotations (base/mutex.h), as errors:
# scripts/check-threads builds with it (CI does too).
if(SLUICE_THREAD_SAFETY)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SLUICE_THREAD_SAFETY needs clang (CXX=clang++-14)")
  endif()
  list(APPEND SLUICE_WARNINGS -Wthread-safety -Werror=thread-safety)
endif()

if(SLUICE_ASAN)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(SLUICE_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# sluice_library(NAME SOURCES ... DEPS ...): one static library per folder.
function(sluice_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${SLUICE_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# sluice_test(NAME SOURCES ... DEPS ... LABEL l): one Catch2 binary, discovered by ctest.
function(sluice_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${SLUICE_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} Catch2::Catch2WithMain)
  # The build refuses a test name ctest cannot address (check_test_names.cmake) ...
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DTEST_EXECUTABLE=$<TARGET_FILE:${name}>
            -P ${PROJECT_SOURCE_DIR}/cmake/check_test_names.cmake
    VERBATIM)
  # ... -w NoTests makes an entry that matches no test fail instead of passing, and a test that
  # cannot run where it is prints SLUICE-SKIPPED (tests/support/skip.h): ctest shows it skipped.
  catch_discover_tests(${name}
    EXTRA_ARGS -w NoTests
    PROPERTIES LABELS ${ARG_LABEL} SKIP_REGULAR_EXPRESSION "SLUICE-SKIPPED:")
endfunction()
