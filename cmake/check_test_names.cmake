# Run after a Catch2 binary is linked: refuses test names that ctest cannot address.
# catch_discover_tests turns each name into a ctest entry and passes it back to Catch2 as a test
# spec. A ';' splits the name into several CMake list items (entries that match nothing and,
# without -w NoTests, "pass"); '\', '"' and '*' change how Catch2 parses the spec; a leading
# '~', '-' or '#' turns it into an exclusion, an option or a file tag; '[' and ']' in a name
# collide with tags. Usage: cmake -DTEST_EXECUTABLE=<path> -P check_test_names.cmake
execute_process(COMMAND "${TEST_EXECUTABLE}" --list-test-names-only
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(rc LESS 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --list-test-names-only failed: ${rc}")
endif()
# Test names never contain '|', so it is a safe line separator for CMake's list handling.
string(REPLACE ";" "<SEMICOLON>" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
set(bad "")
foreach(name IN LISTS lines)
  if(name STREQUAL "")
    continue()
  endif()
  if(name MATCHES "<SEMICOLON>|[\\\\\"*]|\\[|\\]|^[-~# ]| $")
    string(REPLACE "<SEMICOLON>" ";" name "${name}")
    string(APPEND bad "\n  ${name}")
  endif()
endforeach()
if(NOT bad STREQUAL "")
  message(FATAL_ERROR "${TEST_EXECUTABLE}: these test names cannot be addressed by ctest "
                      "(no ';', '\\', '\"', '*', '[', ']'; no leading '-', '~', '#' or space):${bad}")
endif()
