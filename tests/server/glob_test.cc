// Copyright limiterd authors.
// GlobMatch gives Redis's stringmatchlen answers.
#include <catch2/catch.hpp>

#include "glob.h"

using limiterd::server::GlobMatch;

TEST_CASE("glob: stars, ?, classes, escapes", "[glob]") {
  CHECK(GlobMatch("*", ""));
  CHECK(GlobMatch("*", "anything"));
  CHECK(GlobMatch("org:*", "org:acme/user:1"));
  CHECK(!GlobMatch("org:*", "team:acme"));
  CHECK(GlobMatch("h?llo", "hello"));
  CHECK(!GlobMatch("h?llo", "hllo"));
  CHECK(GlobMatch("h*llo", "hllo"));
  CHECK(GlobMatch("h[ae]llo", "hallo"));
  CHECK(!GlobMatch("h[ae]llo", "hillo"));
  CHECK(GlobMatch("h[^e]llo", "hallo"));
  CHECK(!GlobMatch("h[^e]llo", "hello"));
  CHECK(GlobMatch("h[a-b]llo", "hbllo"));
  CHECK(GlobMatch("h[b-a]llo", "hallo"));  // reversed ranges work, as in Redis
  CHECK(GlobMatch("h\\*llo", "h*llo"));
  CHECK(!GlobMatch("h\\*llo", "hello"));
  CHECK(GlobMatch("*a*b*c*", "xxaxxbxxcxx"));
  CHECK(!GlobMatch("*a*b*c*", "xxaxxcxxbxx"));
  CHECK(GlobMatch("a*", "a"));
  CHECK(!GlobMatch("a", "ab"));
  CHECK(!GlobMatch("ab", "a"));
  CHECK(!GlobMatch("[", "["));
  CHECK(GlobMatch("[abc", "a"));  // an unclosed class ends the pattern
  CHECK(GlobMatch("LIMIT.*", "limit.set", true));
  CHECK(!GlobMatch("LIMIT.*", "limit.set", false));
  CHECK(GlobMatch("*/user:?", "org:a/user:7"));
  // Long inputs do not explode.
  CHECK(!GlobMatch("*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}
