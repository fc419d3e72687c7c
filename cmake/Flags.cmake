# Compile flags for the project's own targets (not for third-party headers).
# Every project target links limiterd_flags; warnings are errors.
add_library(limiterd_flags INTERFACE)
target_compile_options(limiterd_flags INTERFACE
  -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wformat=2 -Wimplicit-fallthrough)

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
