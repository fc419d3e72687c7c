// Copyright limiterd authors.
// Redis glob patterns (KEYS, SCAN MATCH, CONFIG GET, COMMAND LIST PATTERN):
// the same language and results as Redis's stringmatchlen(): `*`, `?`,
// `[abc]`, `[^a-z]`, `\x` escapes. Binary-safe.
#pragma once

#include <string_view>

namespace limiterd::server {

[[nodiscard]] bool GlobMatch(std::string_view pattern, std::string_view text,
                             bool nocase = false);

}  // namespace limiterd::server
