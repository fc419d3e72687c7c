// Copyright limiterd authors.
// RequestParser against redis-server 7.2's request grammar: every request
// form fed split at every byte, every protocol error with its trigger, every
// limit at and one past its bound, and a buffer that moves between calls.
#include "resp/request_parser.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace limiterd::resp {
namespace {

using namespace std::string_literals;
using Args = std::vector<std::string>;

struct FeedResult {
  std::vector<Args> commands;  // a skipped request (blank line, *0) is {}
  ParseStatus last = ParseStatus::kNeedMore;
  std::string error;
  std::string leftover;  // bytes given but not consumed
};

// Moves `buf` to a new heap allocation and overwrites the old one, so a
// parser that kept a pointer into it would read '#' (or, under ASan, freed
// memory) instead of the request.
void MoveBuffer(std::string* buf) {
  std::string fresh;
  fresh.reserve(std::max<size_t>(buf->size(), 32));  // past SSO: on the heap
  fresh.assign(*buf);
  std::fill(buf->begin(), buf->end(), '#');
  buf->swap(fresh);
}

// Feeds the chunks to a fresh parser as a connection would: appends a chunk
// to the unconsumed bytes, parses until kNeedMore, drops consumed() bytes
// after each command, and moves the buffer after every Parse() call.
FeedResult Feed(const std::vector<std::string_view>& chunks, const ParserLimits& limits = {},
                bool authenticated = true) {
  RequestParser parser(limits);
  parser.set_authenticated(authenticated);
  FeedResult result;
  std::string pending;
  for (std::string_view chunk : chunks) {
    pending.append(chunk);
    MoveBuffer(&pending);
    for (;;) {
      result.last = parser.Parse(pending);
      if (result.last == ParseStatus::kError) {
        result.error = parser.error();
        result.leftover = pending;
        return result;
      }
      if (result.last == ParseStatus::kNeedMore) {
        REQUIRE(parser.consumed() == 0);
        MoveBuffer(&pending);
        break;
      }
      REQUIRE(parser.consumed() > 0);
      REQUIRE(parser.consumed() <= pending.size());
      result.commands.emplace_back(parser.args().begin(), parser.args().end());
      pending.erase(0, parser.consumed());
      MoveBuffer(&pending);
    }
  }
  result.leftover = pending;
  return result;
}

FeedResult FeedWhole(std::string_view input, const ParserLimits& limits = {},
                     bool authenticated = true) {
  return Feed({input}, limits, authenticated);
}

FeedResult FeedBytes(std::string_view input, const ParserLimits& limits = {},
                     bool authenticated = true) {
  std::vector<std::string_view> chunks;
  for (size_t i = 0; i < input.size(); ++i) chunks.push_back(input.substr(i, 1));
  return Feed(chunks, limits, authenticated);
}

// Every way of cutting `input` in two, then byte by byte. The pieces view
// `input`, so it must outlive them: no temporaries.
std::vector<std::vector<std::string_view>> AllSplits(std::string&&) = delete;
std::vector<std::vector<std::string_view>> AllSplits(const std::string& input_string) {
  std::string_view input = input_string;
  std::vector<std::vector<std::string_view>> splits;
  for (size_t i = 0; i <= input.size(); ++i) splits.push_back({input.substr(0, i), input.substr(i)});
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  splits.push_back(bytes);
  return splits;
}

// A pipeline of every request form: multibulk with binary and empty bulks,
// inline with "\r\n" and a bare "\n", quoting, blank lines, *0 and *-1.
const std::string kPipeline =
    "*3\r\n$15\r\nCREDITS.CONSUME\r\n$28\r\norg:acme/project:web/user:42\r\n$1\r\n1\r\n"
    "PING\r\n"
    "*2\r\n$4\r\nECHO\r\n$11\r\nbin\r\n\0\xff*$\r\n\r\n"s
    "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n"
    "\r\n"
    "*0\r\n"
    "*-1\r\n"
    "SET k \"a b\\x41\\n\" 'it\\'s'\n"
    "   \t  \n"
    "*1\r\n$4\r\nQUIT\r\n"
    "ECHO a\"b c\" \"\"\r\n"
    "\n"
    "*2\r\n$3\r\nGET\r\n$5\r\n*1\r\n$\r\n";

const std::vector<Args> kPipelineCommands = {
    {"CREDITS.CONSUME", "org:acme/project:web/user:42", "1"},
    {"PING"},
    {"ECHO", "bin\r\n\0\xff*$\r\n"s},
    {"SET", "", ""},
    {},
    {},
    {},
    {"SET", "k", "a bA\n", "it's"},
    {},
    {"QUIT"},
    {"ECHO", "ab c", ""},
    {},
    {"GET", "*1\r\n$"},
};

TEST_CASE("A mixed pipeline parses the same at every split", "[resp][parser]") {
  FeedResult whole = FeedWhole(kPipeline);
  REQUIRE(whole.last == ParseStatus::kNeedMore);
  REQUIRE(whole.commands == kPipelineCommands);
  REQUIRE(whole.leftover.empty());

  for (const auto& chunks : AllSplits(kPipeline)) {
    CAPTURE(chunks.size(), chunks.front().size());
    FeedResult split = Feed(chunks);
    REQUIRE(split.last == ParseStatus::kNeedMore);
    REQUIRE(split.commands == kPipelineCommands);
    REQUIRE(split.leftover.empty());
  }
}

TEST_CASE("A mixed pipeline parses the same cut in three anywhere", "[resp][parser]") {
  std::string_view in = kPipeline;
  for (size_t i = 0; i <= in.size(); ++i) {
    for (size_t j = i; j <= in.size(); ++j) {
      FeedResult r = Feed({in.substr(0, i), in.substr(i, j - i), in.substr(j)});
      if (r.commands != kPipelineCommands || !r.leftover.empty()) {
        FAIL("cut at " << i << " and " << j);
      }
    }
  }
}

TEST_CASE("An incomplete tail is kept, and completes later", "[resp][parser]") {
  const std::string tail = "*2\r\n$4\r\nECHO\r\n$3\r\nab";
  FeedResult r = FeedWhole(kPipeline + tail);
  REQUIRE(r.commands == kPipelineCommands);
  REQUIRE(r.leftover == tail);

  r = Feed({kPipeline + tail, "c\r\nPING\r\nPI"});
  std::vector<Args> expected = kPipelineCommands;
  expected.push_back({"ECHO", "abc"});
  expected.push_back({"PING"});
  REQUIRE(r.commands == expected);
  REQUIRE(r.leftover == "PI");
}

TEST_CASE("Each command reports exactly the bytes it used", "[resp][parser]") {
  RequestParser parser;
  const std::string in = "*1\r\n$4\r\nPING\r\nPING\r\n\r\n*0\r\n*-1\r\nPING\n";
  const size_t sizes[] = {14, 6, 2, 4, 5, 5};
  std::string_view rest = in;
  for (size_t size : sizes) {
    CAPTURE(size);
    REQUIRE(parser.Parse(rest) == ParseStatus::kCommand);
    REQUIRE(parser.consumed() == size);
    rest.remove_prefix(parser.consumed());
  }
  REQUIRE(rest.empty());
  REQUIRE(parser.Parse(rest) == ParseStatus::kNeedMore);
  REQUIRE(parser.consumed() == 0);
}

TEST_CASE("Blank inline lines, *0 and negative counts are empty commands", "[resp][parser]") {
  for (std::string in : {"\r\n", "\n", " \r\n", "\t \t\n", "\r\r\n", "\v\f\n", "*0\r\n", "*-1\r\n",
                         "*-5\r\n", "*-9223372036854775808\r\n"}) {
    CAPTURE(in);
    RequestParser parser;
    REQUIRE(parser.Parse(in) == ParseStatus::kCommand);
    REQUIRE(parser.args().empty());
    REQUIRE(parser.consumed() == in.size());
  }
}

TEST_CASE("Multibulk arguments view the caller's buffer", "[resp][parser]") {
  RequestParser parser;
  const std::string in = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  REQUIRE(parser.Parse(in) == ParseStatus::kCommand);
  REQUIRE(parser.args().size() == 2);
  REQUIRE(parser.args()[0].data() == in.data() + 8);
  REQUIRE(parser.args()[1].data() == in.data() + 17);
}

TEST_CASE("Plain inline arguments view the caller's buffer, unescaped ones do not",
          "[resp][parser]") {
  RequestParser parser;
  const std::string in = "GET key \"a\\tb\"\r\n";
  REQUIRE(parser.Parse(in) == ParseStatus::kCommand);
  REQUIRE(parser.args() == std::vector<std::string_view>{"GET", "key", "a\tb"});
  REQUIRE(parser.args()[0].data() == in.data());
  REQUIRE(parser.args()[1].data() == in.data() + 4);
  const char* quoted = parser.args()[2].data();
  REQUIRE((quoted < in.data() || quoted >= in.data() + in.size()));
}

TEST_CASE("Many long quoted inline arguments keep their values", "[resp][parser][inline]") {
  std::string line = "CMD";
  Args expected = {"CMD"};
  for (int i = 0; i < 20; ++i) {
    const std::string value(50 + i, static_cast<char>('a' + i));
    line += i % 2 ? " '" + value + "'" : " \"" + value + "\\t\"";
    expected.push_back(i % 2 ? value : value + "\t");
    if (i % 5 == 0) {
      line += " plain" + std::to_string(i);
      expected.push_back("plain" + std::to_string(i));
    }
  }
  const std::string in = line + "\r\nPING\r\n";
  for (const auto& chunks : AllSplits(in)) {
    FeedResult r = Feed(chunks);
    REQUIRE(r.commands == std::vector<Args>{expected, {"PING"}});
  }
}

TEST_CASE("Quoted inline arguments survive the buffer moving away", "[resp][parser]") {
  RequestParser parser;
  std::string in = "SET 'a b' \"c\\x41\" plain\r\n";
  REQUIRE(parser.Parse(in) == ParseStatus::kCommand);
  std::fill(in.begin(), in.end(), '#');
  REQUIRE(parser.args()[1] == "a b");
  REQUIRE(parser.args()[2] == "cA");
  REQUIRE(parser.args()[3] == "#####");  // plain ones do view the buffer
}

struct SplitCase {
  std::string line;
  Args args;
};

TEST_CASE("Inline lines split as sdssplitargs does", "[resp][parser][inline]") {
  const std::vector<SplitCase> cases = {
      {"SET key value", {"SET", "key", "value"}},
      {"  SET   key  ", {"SET", "key"}},
      {"PING\r", {"PING"}},  // "PING\r\r\n": the first \r ends the token
      {"a\rb", {"a", "b"}},
      {"a\tb", {"a", "b"}},
      {"a\vb", {"a\vb"}},  // \v and \f are skipped before a token, kept inside one
      {"a\fb", {"a\fb"}},
      {"\v\fa", {"a"}},
      {"\"hello world\"", {"hello world"}},
      {"\"\"", {""}},
      {"'' \"\"", {"", ""}},
      {"\"\\x41\\x4a\\x4A\\xff\\x00\"", {"AJJ\xff\0"s}},
      {"\"\\x4g\"", {"x4g"}},
      {"\"\\x\"", {"x"}},
      {"\"\\x4\"", {"x4"}},
      {"\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"", {"\n\r\t\b\a\\\"q"}},
      {"\"a'b\"", {"a'b"}},
      {"'a\"b'", {"a\"b"}},
      {"'a\\nb'", {"a\\nb"}},
      {"'it\\'s'", {"it's"}},
      {"'a\\\\b'", {"a\\\\b"}},
      {"a\"b c\"", {"ab c"}},
      {"a'b c' d", {"ab c", "d"}},
      {"\"a\"\tb", {"a", "b"}},
      {"\"a\"\vb", {"a", "b"}},
      {"\"a\" ", {"a"}},
      {"a\0b c"s, {"a\0b"s, "c"}},  // NUL is an ordinary byte (Redis would stall)
      {"\xc3\xa9t\xc3\xa9", {"\xc3\xa9t\xc3\xa9"}},
      {"ECHO \"multi\\nline\"", {"ECHO", "multi\nline"}},
  };
  for (const auto& c : cases) {
    for (const char* end : {"\r\n", "\n"}) {
      const std::string in = c.line + end;
      CAPTURE(in);
      RequestParser parser;
      REQUIRE(parser.Parse(in) == ParseStatus::kCommand);
      REQUIRE(parser.consumed() == in.size());
      REQUIRE(Args(parser.args().begin(), parser.args().end()) == c.args);
    }
  }
}

TEST_CASE("Unbalanced quotes are Redis's protocol error", "[resp][parser][inline]") {
  for (std::string line : {"\"abc", "'abc", "\"a\"b", "'a'b", "\"a\"'b'", "\"a\"\"b\"", "\"abc\\\"",
                           "\"a\\", "SET k \"v", "x \"\\x4", "'it\\'"}) {
    CAPTURE(line);
    const std::string in = line + "\r\n";
    for (const auto& chunks : AllSplits(in)) {
      FeedResult r = Feed(chunks);
      REQUIRE(r.last == ParseStatus::kError);
      REQUIRE(r.error == "Protocol error: unbalanced quotes in request");
    }
  }
}

struct ErrorCase {
  std::string input;
  std::string error;
};

TEST_CASE("Malformed requests get Redis's error text at every split", "[resp][parser][errors]") {
  const std::vector<ErrorCase> cases = {
      {"*abc\r\n", "Protocol error: invalid multibulk length"},
      {"*\r\n", "Protocol error: invalid multibulk length"},
      {"*+1\r\n", "Protocol error: invalid multibulk length"},
      {"*01\r\n", "Protocol error: invalid multibulk length"},
      {"*-0\r\n", "Protocol error: invalid multibulk length"},
      {"*-\r\n", "Protocol error: invalid multibulk length"},
      {"* 1\r\n", "Protocol error: invalid multibulk length"},
      {"*1 \r\n", "Protocol error: invalid multibulk length"},
      {"*1\0\r\n"s, "Protocol error: invalid multibulk length"},
      {"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"},
      {"*123456789012345678901\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$-0\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$+1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$01\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$1 \r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$9223372036854775808\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\nxyz\r\n", "Protocol error: expected '$', got 'x'"},
      {"*2\r\n$1\r\na\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
      {"*1\r\n*1\r\n", "Protocol error: expected '$', got '*'"},
      {"*1\r\n\r\n", "Protocol error: expected '$', got '\r'"},  // the writer blanks the CR
      {"*1\r\n\0$1\r\n"s, "Protocol error: expected '$', got '\0'"s},
      {"*3\r\n$4\r\nECHO\r\n$5\r\nhelloXY*1\r\n", "Protocol error: expected '$', got '*'"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    for (const auto& chunks : AllSplits(c.input)) {
      FeedResult r = Feed(chunks);
      REQUIRE(r.last == ParseStatus::kError);
      REQUIRE(r.error == c.error);
      REQUIRE(r.commands.empty());
    }
  }
}

TEST_CASE("Commands before an error are returned, then the error", "[resp][parser][errors]") {
  const std::string in = "PING\r\n*1\r\n$4\r\nPING\r\n*x\r\nPING\r\n";
  for (const auto& chunks : AllSplits(in)) {
    FeedResult r = Feed(chunks);
    REQUIRE(r.commands == std::vector<Args>{{"PING"}, {"PING"}});
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: invalid multibulk length");
  }
}

TEST_CASE("The parser stays failed after an error", "[resp][parser][errors]") {
  RequestParser parser;
  REQUIRE(parser.Parse("*x\r\n") == ParseStatus::kError);
  REQUIRE(parser.consumed() == 0);
  REQUIRE(parser.args().empty());
  // Even a well-formed request that a reset parser would accept.
  REQUIRE(parser.Parse("*1\r\n$4\r\nPING\r\n") == ParseStatus::kError);
  REQUIRE(parser.error() == "Protocol error: invalid multibulk length");
  REQUIRE(parser.consumed() == 0);
  REQUIRE(parser.args().empty());
  REQUIRE(parser.Parse("PING\r\n") == ParseStatus::kError);
}

TEST_CASE("Redis's leniencies are kept", "[resp][parser]") {
  SECTION("the byte after a header's \\r is not checked") {
    FeedResult r = FeedWhole("*1\rX$4\r?PING\r\n");
    REQUIRE(r.commands == std::vector<Args>{{"PING"}});
    REQUIRE(r.leftover.empty());
  }
  SECTION("the two bytes after a bulk are not checked") {
    FeedResult r = FeedWhole("*2\r\n$4\r\nECHO..$1\r\nx??PING\r\n");
    REQUIRE(r.commands == std::vector<Args>{{"ECHO", "x"}, {"PING"}});
  }
  SECTION("a header \\r needs one more byte before it counts") {
    RequestParser parser;
    REQUIRE(parser.Parse("*1\r") == ParseStatus::kNeedMore);
    REQUIRE(parser.Parse("*1\r\n$4\r") == ParseStatus::kNeedMore);
    REQUIRE(parser.Parse("*1\r\n$4\r\nPING\r") == ParseStatus::kNeedMore);
    REQUIRE(parser.Parse("*1\r\n$4\r\nPING\r\n") == ParseStatus::kCommand);
    REQUIRE(parser.args() == std::vector<std::string_view>{"PING"});
  }
  SECTION("a header is not judged before its line is complete") {
    REQUIRE(RequestParser().Parse("*1\r\nxyz") == ParseStatus::kNeedMore);
    REQUIRE(RequestParser().Parse("*abc") == ParseStatus::kNeedMore);
  }
  SECTION("a complete inline line is not limited; unauthenticated inline has no arg limit") {
    ParserLimits limits;
    limits.max_inline_len = 16;
    const std::string line = "ECHO " + std::string(40, 'x') + " a b c d e f g h i j k\r\n";
    FeedResult r = FeedWhole(line, limits, /*authenticated=*/false);
    REQUIRE(r.last == ParseStatus::kNeedMore);
    REQUIRE(r.commands.size() == 1);
    REQUIRE(r.commands[0].size() == 13);
    REQUIRE(r.commands[0][1] == std::string(40, 'x'));
  }
}

TEST_CASE("Inline requests are limited while their newline has not come",
          "[resp][parser][limits]") {
  SECTION("default 64 KB") {
    REQUIRE(FeedWhole(std::string(65536, 'a')).last == ParseStatus::kNeedMore);
    FeedResult r = FeedWhole(std::string(65537, 'a'));
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: too big inline request");
    // In pieces: the byte that goes past the bound fails it.
    r = Feed({std::string(65536, 'a'), "a"});
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: too big inline request");
    // The bound counts from the start of this request, not the buffer.
    r = FeedWhole("PING\r\n" + std::string(65536, 'a'));
    REQUIRE(r.commands == std::vector<Args>{{"PING"}});
    REQUIRE(r.last == ParseStatus::kNeedMore);
  }
  SECTION("configured") {
    ParserLimits limits;
    limits.max_inline_len = 16;
    REQUIRE(FeedWhole(std::string(16, 'a'), limits).last == ParseStatus::kNeedMore);
    FeedResult r = FeedWhole(std::string(17, 'a'), limits);
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: too big inline request");
    // The same 17 bytes with their newline in the same read are fine.
    r = FeedWhole(std::string(17, 'a') + "\n", limits);
    REQUIRE(r.commands == std::vector<Args>{{std::string(17, 'a')}});
    r = Feed({std::string(16, 'a'), "a\n"}, limits);
    REQUIRE(r.commands == std::vector<Args>{{std::string(17, 'a')}});
    r = Feed({std::string(16, 'a'), "a", "\n"}, limits);
    REQUIRE(r.error == "Protocol error: too big inline request");
  }
}

TEST_CASE("Header lines are limited while their \\r has not come", "[resp][parser][limits]") {
  SECTION("count, default bound") {
    const std::string at = "*" + std::string(65535, '1');
    REQUIRE(FeedWhole(at).last == ParseStatus::kNeedMore);
    FeedResult r = FeedWhole(at + "1");
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: too big mbulk count string");
  }
  SECTION("bulk length, default bound") {
    const std::string at = "*1\r\n$" + std::string(65535, '1');
    REQUIRE(FeedWhole(at).last == ParseStatus::kNeedMore);
    FeedResult r = FeedWhole(at + "1");
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: too big bulk count string");
  }
  SECTION("configured bound, counted from the header's first byte") {
    ParserLimits limits;
    limits.max_inline_len = 16;
    REQUIRE(FeedWhole("*" + std::string(15, '1'), limits).last == ParseStatus::kNeedMore);
    FeedResult r = FeedBytes("*" + std::string(16, '1'), limits);
    REQUIRE(r.error == "Protocol error: too big mbulk count string");

    const std::string first = "*2\r\n$3\r\nGET\r\n";
    REQUIRE(FeedWhole(first + "$" + std::string(15, '1'), limits).last == ParseStatus::kNeedMore);
    r = FeedBytes(first + "$" + std::string(16, '1'), limits);
    REQUIRE(r.error == "Protocol error: too big bulk count string");
    // Nothing but the '$' check comes first: garbage is "too big", not "expected '$'".
    r = FeedWhole(first + std::string(17, 'x'), limits);
    REQUIRE(r.error == "Protocol error: too big bulk count string");
  }
  SECTION("a \\r as the last byte waits, however long the line") {
    ParserLimits limits;
    limits.max_inline_len = 16;
    RequestParser parser(limits);
    const std::string count = "*" + std::string(20, '1') + "\r";
    REQUIRE(parser.Parse(count) == ParseStatus::kNeedMore);
    REQUIRE(parser.Parse(count + "\n") == ParseStatus::kError);
    REQUIRE(parser.error() == "Protocol error: invalid multibulk length");
  }
}

TEST_CASE("Multibulk count limit: at and one past", "[resp][parser][limits]") {
  SECTION("default 1M") {
    REQUIRE(FeedWhole("*1048576\r\n").last == ParseStatus::kNeedMore);
    FeedResult r = FeedWhole("*1048577\r\n");
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: invalid multibulk length");
  }
  SECTION("configured") {
    ParserLimits limits;
    limits.max_multibulk_len = 3;
    FeedResult r = FeedBytes("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", limits);
    REQUIRE(r.commands == std::vector<Args>{{"a", "b", "c"}});
    r = FeedWhole("*4\r\n", limits);
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: invalid multibulk length");
  }
  SECTION("never above INT_MAX, as Redis") {
    ParserLimits limits;
    limits.max_multibulk_len = SIZE_MAX;
    REQUIRE(FeedWhole("*2147483647\r\n", limits).last == ParseStatus::kNeedMore);
    FeedResult r = FeedWhole("*2147483648\r\n", limits);
    REQUIRE(r.error == "Protocol error: invalid multibulk length");
  }
}

TEST_CASE("Bulk length limit: at and one past", "[resp][parser][limits]") {
  SECTION("default 1 MB") {
    REQUIRE(FeedWhole("*1\r\n$1048576\r\n").last == ParseStatus::kNeedMore);
    FeedResult r = FeedWhole("*1\r\n$1048577\r\n");
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: invalid bulk length");
  }
  SECTION("configured") {
    ParserLimits limits;
    limits.max_bulk_len = 10;
    FeedResult r = FeedBytes("*2\r\n$10\r\n0123456789\r\n$0\r\n\r\n", limits);
    REQUIRE(r.commands == std::vector<Args>{{"0123456789", ""}});
    r = FeedWhole("*2\r\n$10\r\n0123456789\r\n$11\r\n", limits);
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: invalid bulk length");
  }
  SECTION("the largest length a bound allows does not overflow") {
    ParserLimits limits;
    limits.max_bulk_len = SIZE_MAX;
    RequestParser parser(limits);
    REQUIRE(parser.Parse("*1\r\n$9223372036854775807\r\nabc\r\n") == ParseStatus::kNeedMore);
  }
}

TEST_CASE("Unauthenticated limits: at and one past", "[resp][parser][limits]") {
  SECTION("defaults: 10 arguments, 16 KB bulks") {
    std::string args10 = "*10\r\n";
    for (int i = 0; i < 10; ++i) args10 += "$1\r\nx\r\n";
    FeedResult r = FeedWhole(args10, {}, false);
    REQUIRE(r.commands == std::vector<Args>{Args(10, "x")});
    r = FeedWhole("*11\r\n", {}, false);
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: unauthenticated multibulk length");

    const std::string bulk16k = "*1\r\n$16384\r\n" + std::string(16384, 'b') + "\r\n";
    r = FeedWhole(bulk16k, {}, false);
    REQUIRE(r.commands == std::vector<Args>{{std::string(16384, 'b')}});
    r = FeedWhole("*1\r\n$16385\r\n", {}, false);
    REQUIRE(r.last == ParseStatus::kError);
    REQUIRE(r.error == "Protocol error: unauthenticated bulk length");

    // Authenticated, the same requests pass.
    REQUIRE(FeedWhole("*11\r\n$16385\r\n").last == ParseStatus::kNeedMore);
  }
  SECTION("configured") {
    ParserLimits limits;
    limits.unauthenticated_max_args = 2;
    limits.unauthenticated_max_bulk_len = 4;
    FeedResult r = FeedBytes("*2\r\n$4\r\nAUTH\r\n$4\r\npass\r\n", limits, false);
    REQUIRE(r.commands == std::vector<Args>{{"AUTH", "pass"}});
    r = FeedWhole("*3\r\n", limits, false);
    REQUIRE(r.error == "Protocol error: unauthenticated multibulk length");
    r = FeedWhole("*2\r\n$4\r\nAUTH\r\n$5\r\n", limits, false);
    REQUIRE(r.error == "Protocol error: unauthenticated bulk length");
  }
  SECTION("the general limits are checked first") {
    FeedResult r = FeedWhole("*1048577\r\n", {}, false);
    REQUIRE(r.error == "Protocol error: invalid multibulk length");
    r = FeedWhole("*1\r\n$1048577\r\n", {}, false);
    REQUIRE(r.error == "Protocol error: invalid bulk length");
  }
  SECTION("empty and negative counts pass") {
    FeedResult r = FeedWhole("*0\r\n*-1\r\n", {}, false);
    REQUIRE(r.commands == std::vector<Args>{{}, {}});
    REQUIRE(r.last == ParseStatus::kNeedMore);
  }
  SECTION("authenticating lifts them for the next request") {
    RequestParser parser;
    parser.set_authenticated(false);
    REQUIRE(parser.Parse("*11\r\n") == ParseStatus::kError);
    RequestParser later;
    later.set_authenticated(false);
    REQUIRE(later.Parse("*1\r\n$4\r\nPING\r\n") == ParseStatus::kCommand);
    later.set_authenticated(true);
    REQUIRE(later.Parse("*11\r\n") == ParseStatus::kNeedMore);
  }
}

// A command whose bytes are all in the buffer is walked in one pass
// (ParseWholeCommand); every limit must hold there too, with the words of
// the general path, and a whole command that is not plain must fall back.
TEST_CASE("Whole commands in one buffer: limits and fallbacks", "[resp][parser][limits]") {
  ParserLimits limits;
  limits.max_bulk_len = 10;
  limits.unauthenticated_max_bulk_len = 4;
  FeedResult r = FeedWhole("*2\r\n$3\r\nGET\r\n$11\r\n01234567890\r\n", limits);
  REQUIRE(r.error == "Protocol error: invalid bulk length");
  REQUIRE(r.commands.empty());
  r = FeedWhole("*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n", limits);
  REQUIRE(r.commands == std::vector<Args>{{"GET", "0123456789"}});
  r = FeedWhole("*2\r\n$4\r\nAUTH\r\n$5\r\nsecret\r\n", limits, false);
  REQUIRE(r.error == "Protocol error: unauthenticated bulk length");
  r = FeedWhole("*2\r\n$4\r\nAUTH\r\n$4\r\npass\r\n", limits, false);
  REQUIRE(r.commands == std::vector<Args>{{"AUTH", "pass"}});
  // Not plain, yet whole: the general path answers (an error, or Redis's
  // leniency where it has one).
  r = FeedWhole("*2\r\n$3\r\nGET\r\n$01\r\nk\r\n", limits);
  REQUIRE(r.error == "Protocol error: invalid bulk length");
  r = FeedWhole("*2\r\n$3\r\nGET\r\n:1\r\nk\r\n", limits);
  REQUIRE(r.error == "Protocol error: expected '$', got ':'");
  // A bulk's two trailing bytes are not checked, as Redis does not.
  r = FeedWhole("*2\r\n$3\r\nGETxx$1\r\nkyy", limits);
  REQUIRE(r.commands == std::vector<Args>{{"GET", "k"}});
}

TEST_CASE("set_limits applies to the next check", "[resp][parser][limits]") {
  RequestParser parser;
  ParserLimits limits;
  limits.max_bulk_len = 3;
  parser.set_limits(limits);
  REQUIRE(parser.Parse("*1\r\n$4\r\n") == ParseStatus::kError);
  REQUIRE(parser.error() == "Protocol error: invalid bulk length");
}

// White-box: the parser resumes where it stopped. Bytes it has already used
// are overwritten before the next call; a parser that started over would
// read garbage.
TEST_CASE("Progress is remembered: used bytes are not read again", "[resp][parser]") {
  SECTION("headers of a half-read multibulk") {
    RequestParser parser;
    std::string in = "*2\r\n$3\r\nfoo\r\n$10\r\n01234";
    REQUIRE(parser.Parse(in) == ParseStatus::kNeedMore);
    std::string moved = in + "56789\r\n";
    std::fill_n(moved.begin(), 8, '#');           // "*2\r\n$3\r\n"
    std::fill_n(moved.begin() + 11, 7, '#');      // "\r\n$10\r\n"
    REQUIRE(parser.Parse(moved) == ParseStatus::kCommand);
    REQUIRE(parser.args() == std::vector<std::string_view>{"foo", "0123456789"});
    REQUIRE(parser.consumed() == moved.size());
  }
  SECTION("an inline line already searched for its newline") {
    RequestParser parser;
    REQUIRE(parser.Parse("GET aaaa") == ParseStatus::kNeedMore);
    // A '\n' slipped into the searched part is not found again.
    REQUIRE(parser.Parse("GET a\naa\r\n") == ParseStatus::kCommand);
    REQUIRE(parser.args() == std::vector<std::string_view>{"GET", "a", "aa"});
    REQUIRE(parser.consumed() == 10);
  }
  SECTION("a header line already searched for its \\r") {
    RequestParser parser;
    REQUIRE(parser.Parse("*1\r\n$10") == ParseStatus::kNeedMore);
    // A '\r' slipped into the searched digits is not found again: the line
    // ends at the new '\r', and its digits are "1\r0".
    REQUIRE(parser.Parse("*1\r\n$1\r0\r\n0123456789\r\n") == ParseStatus::kError);
    REQUIRE(parser.error() == "Protocol error: invalid bulk length");
    RequestParser fresh;
    REQUIRE(fresh.Parse("*1\r\n$10") == ParseStatus::kNeedMore);
    REQUIRE(fresh.Parse("*1\r\n$10\r\n0123456789\r\n") == ParseStatus::kCommand);
    REQUIRE(fresh.args() == std::vector<std::string_view>{"0123456789"});
  }
}

TEST_CASE("A large bulk arriving a byte at a time completes", "[resp][parser]") {
  // 4 MB in one-byte reads: linear work is a few million steps; re-reading
  // the request on each call would be ~10^13 and never finish.
  ParserLimits limits;
  limits.max_bulk_len = 4 << 20;
  RequestParser parser(limits);
  const std::string payload(4 << 20, 'p');
  const std::string in = "*2\r\n$3\r\nSET\r\n$" + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  std::string_view all = in;
  size_t need_more = 0;
  for (size_t n = 1; n < all.size(); ++n) {
    if (parser.Parse(all.substr(0, n)) != ParseStatus::kNeedMore) FAIL("early result at " << n);
    ++need_more;
  }
  REQUIRE(need_more == all.size() - 1);
  REQUIRE(parser.Parse(all) == ParseStatus::kCommand);
  REQUIRE(parser.args().size() == 2);
  REQUIRE(parser.args()[1].size() == payload.size());
  REQUIRE(parser.args()[1].data() == all.data() + all.size() - 2 - payload.size());
}

TEST_CASE("A long inline line arriving a byte at a time completes", "[resp][parser]") {
  RequestParser parser;
  const std::string in = "ECHO " + std::string(60000, 'x') + "\r\n";
  std::string_view all = in;
  for (size_t n = 1; n < all.size(); ++n) {
    if (parser.Parse(all.substr(0, n)) != ParseStatus::kNeedMore) FAIL("early result at " << n);
  }
  REQUIRE(parser.Parse(all) == ParseStatus::kCommand);
  REQUIRE(parser.args()[1].size() == 60000);
}

TEST_CASE("An empty buffer needs more", "[resp][parser]") {
  RequestParser parser;
  REQUIRE(parser.Parse("") == ParseStatus::kNeedMore);
  REQUIRE(parser.consumed() == 0);
  REQUIRE(parser.Parse("PING\r\n") == ParseStatus::kCommand);
  REQUIRE(parser.args() == std::vector<std::string_view>{"PING"});
}

// Headers of 1 to 18 plain digits take a one-pass fast path; longer, signed
// or malformed ones the general one. Both must answer the same at every split.
TEST_CASE("Header lengths on both sides of the fast path", "[resp][parser]") {
  ParserLimits wide;
  wide.max_bulk_len = std::numeric_limits<size_t>::max();
  wide.max_multibulk_len = std::numeric_limits<size_t>::max();
  struct Case {
    std::string input;
    ParseStatus last;
    std::string error;
  };
  const std::vector<Case> cases = {
      // Bulk lengths: 18 digits (fast), 19 digits (general), both valid:
      // the parser waits for the data.
      {"*1\r\n$999999999999999999\r\n", ParseStatus::kNeedMore, ""},
      {"*1\r\n$1000000000000000000\r\n", ParseStatus::kNeedMore, ""},
      {"*1\r\n$9223372036854775807\r\n", ParseStatus::kNeedMore, ""},
      {"*1\r\n$9223372036854775808\r\n", ParseStatus::kError, "Protocol error: invalid bulk length"},
      {"*1\r\n$0000000000000000001\r\n", ParseStatus::kError, "Protocol error: invalid bulk length"},
      {"*1\r\n$00\r\n", ParseStatus::kError, "Protocol error: invalid bulk length"},
      {"*1\r\n$1x\r\n", ParseStatus::kError, "Protocol error: invalid bulk length"},
      {"*1\r\n$-5\r\n", ParseStatus::kError, "Protocol error: invalid bulk length"},
      // Counts: anything above INT_MAX is invalid, however many digits.
      {"*2147483648\r\n", ParseStatus::kError, "Protocol error: invalid multibulk length"},
      {"*999999999999999999\r\n", ParseStatus::kError, "Protocol error: invalid multibulk length"},
      {"*1000000000000000000\r\n", ParseStatus::kError, "Protocol error: invalid multibulk length"},
      {"*2147483647\r\n", ParseStatus::kNeedMore, ""},
      {"*00\r\n", ParseStatus::kError, "Protocol error: invalid multibulk length"},
      {"*1x\r\n", ParseStatus::kError, "Protocol error: invalid multibulk length"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    for (const auto& chunks : AllSplits(c.input)) {
      FeedResult r = Feed(chunks, wide);
      REQUIRE(r.last == c.last);
      REQUIRE(r.error == c.error);
      REQUIRE(r.commands.empty());
    }
  }
  // The values themselves: "$0", a one-digit and a two-digit length.
  const std::string three = "*3\r\n$0\r\n\r\n$1\r\na\r\n$12\r\nhello world!\r\n";
  for (const auto& chunks : AllSplits(three)) {
    FeedResult r = Feed(chunks);
    REQUIRE(r.last == ParseStatus::kNeedMore);  // after the command, the empty rest
    REQUIRE(r.commands == std::vector<Args>{{"", "a", "hello world!"}});
    REQUIRE(r.leftover.empty());
  }
}


// PeekCommand looks ahead without a parser: what it reports must be what
// RequestParser would parse from the same bytes, and anything it does not
// fully understand it must decline (false), never misread.
TEST_CASE("PeekCommand: the name, the first argument and the size of a whole command",
          "[resp][peek]") {
  const std::string two = "*3\r\n$15\r\nCREDITS.CONSUME\r\n$5\r\norg:a\r\n$1\r\n1\r\n";
  const std::string next = "*1\r\n$4\r\nPING\r\n";
  const std::string buf = two + next;
  PeekedCommand c;
  REQUIRE(PeekCommand(buf, &c));
  CHECK(c.size == two.size());
  CHECK(c.name == "CREDITS.CONSUME");
  CHECK(c.first_arg == "org:a");
  RequestParser parser;  // the parser agrees on where the command ends
  REQUIRE(parser.Parse(buf) == ParseStatus::kCommand);
  CHECK(parser.consumed() == c.size);
  CHECK(parser.args()[1] == c.first_arg);

  REQUIRE(PeekCommand(std::string_view(buf).substr(c.size), &c));
  CHECK(c.size == next.size());
  CHECK(c.name == "PING");
  CHECK(c.first_arg.empty());  // no second argument

  const std::string binary = "*2\r\n$3\r\nGET\r\n$3\r\na\r\n\r\n";  // CRLF inside a bulk
  REQUIRE(PeekCommand(binary, &c));
  CHECK(c.first_arg == "a\r\n");
  CHECK(c.size == binary.size());
  const std::string empty_arg = "*2\r\n$3\r\nGET\r\n$0\r\n\r\n";
  REQUIRE(PeekCommand(empty_arg, &c));
  CHECK(c.first_arg.empty());
  CHECK(c.size == empty_arg.size());
}

TEST_CASE("PeekCommand declines what is partial or not plain", "[resp][peek]") {
  const std::string whole = "*3\r\n$15\r\nCREDITS.CONSUME\r\n$5\r\norg:a\r\n$1\r\n1\r\n";
  PeekedCommand c;
  // Every strict prefix is partial: the parser would wait for more.
  for (size_t n = 0; n < whole.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    CHECK(!PeekCommand(std::string_view(whole).substr(0, n), &c));
  }
  CHECK(PeekCommand(whole, &c));
  for (const std::string& bad : {
           "PING\r\n"s,                               // inline
           "*0\r\n"s, "*-1\r\n"s,                     // skipped by the parser
           "*01\r\n$4\r\nPING\r\n"s,                  // not a plain header
           "*1\r\n$04\r\nPING\r\n"s,
           "*1\r\n+PING\r\n"s,                        // not a bulk
           "*1\r\n$-1\r\n"s,
           "*65\r\n"s + std::string(65 * 7, 'x'),     // more than kMaxPeekArgs
           "*1\r\n$99999999999999999999\r\n"s,        // a length past 18 digits
       }) {
    INFO(bad);
    CHECK(!PeekCommand(bad, &c));
  }
  std::string many = "*64\r\n";
  for (int i = 0; i < 64; ++i) many += "$1\r\nk\r\n";
  CHECK(PeekCommand(many, &c));  // exactly kMaxPeekArgs
  CHECK(c.size == many.size());
}

}  // namespace
}  // namespace limiterd::resp
