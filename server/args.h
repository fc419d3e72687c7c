// Copyright limiterd authors.
// Helpers for reading command arguments the way Redis reads them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace limiterd::server {

// Redis's string2ll: an optional '-', digits without leading zeros (except
// "0"), no spaces or '+', within int64. False otherwise.
[[nodiscard]] bool ParseInt64(std::string_view s, int64_t* out);
// An unsigned 64-bit cursor (SCAN's), digits only.
[[nodiscard]] bool ParseUint64(std::string_view s, uint64_t* out);

// ASCII case-insensitive equality; `upper` must be upper case.
[[nodiscard]] bool Is(std::string_view arg, std::string_view upper);

std::string ToUpper(std::string_view s);
std::string ToLower(std::string_view s);

}  // namespace limiterd::server
