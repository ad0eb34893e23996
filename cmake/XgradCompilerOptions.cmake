set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

# Warnings for our own targets only (xtensor's headers are included as SYSTEM).
add_library(xgrad_warnings INTERFACE)
target_compile_options(xgrad_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter)

if(XGRAD_SANITIZE)
  message(STATUS "xgrad: building with -fsanitize=${XGRAD_SANITIZE}")
  add_compile_options(-fsanitize=${XGRAD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${XGRAD_SANITIZE})
endif()

# Every target of this build, tests included, sees the same XGRAD_SIMD_CLONES expansion.
if(NOT XGRAD_SIMD_CLONES)
  message(STATUS "xgrad: SIMD clones off (XGRAD_NO_SIMD_CLONES)")
  add_compile_definitions(XGRAD_NO_SIMD_CLONES)
endif()

# Math functions never report through errno here: without this GCC cannot vectorise loops
# that call sqrt (Adam's update, norms), since each call might have to set errno.
add_compile_options(-fno-math-errno)
