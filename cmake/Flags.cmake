# Compile flags for the project's own targets (not for third-party headers).
# Every project target links limiterd_flags; warnings are errors.
add_library(limiterd_flags INTERFACE)
target_compile_options(limiterd_flags INTERFACE
  -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wimplicit-fallthrough
  $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
# GCC 12 at -O2/-O3 reports -Wrestrict inside libstdc++'s own std::string
# code for ordinary `"a" + std::string(b)` (GCC bug 105329, fixed in 13):
# a false positive, so off for GCC 12 only. Every other warning stays an error.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(limiterd_flags INTERFACE -Wno-restrict)
endif()

if(LIMITERD_SANITIZE STREQUAL "address")
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
elseif(LIMITERD_SANITIZE STREQUAL "thread")
  set(_san -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT LIMITERD_SANITIZE STREQUAL "")
  message(FATAL_ERROR "LIMITERD_SANITIZE must be '', 'address' or 'thread'")
endif()
if(_san)
  add_compile_options(${_san})
  add_link_options(${_san})
endif()

# jemalloc for executables. Sanitizers bring their own allocator, so
# sanitizer builds keep it out.
function(limiterd_link_allocator target)
  if(LIMITERD_SANITIZE STREQUAL "")
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()
