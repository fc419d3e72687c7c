// Copyright limiterd authors.
// ReplyWriter: the exact bytes of every method in RESP2 and RESP3, as
// redis-server 7.2 writes them.
#include "resp/reply_writer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace limiterd::resp {
namespace {

using namespace std::string_literals;

// Concatenates without `"literal" + std::string`, which trips GCC 12's
// -Wrestrict false positive (GCC bug 105329) at -O3.
std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out.append(part);
  return out;
}

std::string Write(int protocol, const std::function<void(ReplyWriter&)>& write) {
  std::string out;
  ReplyWriter writer(&out, protocol);
  write(writer);
  return out;
}

struct Case {
  const char* name;
  std::function<void(ReplyWriter&)> write;
  std::string resp2;
  std::string resp3;
};

TEST_CASE("Every reply type, byte for byte in RESP2 and RESP3", "[resp][writer]") {
  const std::vector<Case> cases = {
      {"simple", [](ReplyWriter& w) { w.Simple("OK"); }, "+OK\r\n", "+OK\r\n"},
      {"empty simple", [](ReplyWriter& w) { w.Simple(""); }, "+\r\n", "+\r\n"},
      {"error", [](ReplyWriter& w) { w.Error("ERR syntax error"); }, "-ERR syntax error\r\n",
       "-ERR syntax error\r\n"},
      {"error with CR and LF",
       [](ReplyWriter& w) { w.Error("ERR a\r\nb\rc\nd"); }, "-ERR a  b c d\r\n",
       "-ERR a  b c d\r\n"},
      {"error, other code", [](ReplyWriter& w) { w.Error("NOLIMIT no limit applies to 'k'"); },
       "-NOLIMIT no limit applies to 'k'\r\n", "-NOLIMIT no limit applies to 'k'\r\n"},
      {"integer 0", [](ReplyWriter& w) { w.Integer(0); }, ":0\r\n", ":0\r\n"},
      {"integer -1", [](ReplyWriter& w) { w.Integer(-1); }, ":-1\r\n", ":-1\r\n"},
      {"integer 1000", [](ReplyWriter& w) { w.Integer(1000); }, ":1000\r\n", ":1000\r\n"},
      {"integer max", [](ReplyWriter& w) { w.Integer(INT64_MAX); }, ":9223372036854775807\r\n",
       ":9223372036854775807\r\n"},
      {"integer min", [](ReplyWriter& w) { w.Integer(INT64_MIN); }, ":-9223372036854775808\r\n",
       ":-9223372036854775808\r\n"},
      {"bulk", [](ReplyWriter& w) { w.Bulk("hello"); }, "$5\r\nhello\r\n", "$5\r\nhello\r\n"},
      {"empty bulk", [](ReplyWriter& w) { w.Bulk(""); }, "$0\r\n\r\n", "$0\r\n\r\n"},
      {"binary bulk", [](ReplyWriter& w) { w.Bulk("a\0\r\nb"s); }, "$5\r\na\0\r\nb\r\n"s,
       "$5\r\na\0\r\nb\r\n"s},
      {"null", [](ReplyWriter& w) { w.Null(); }, "$-1\r\n", "_\r\n"},
      {"null array", [](ReplyWriter& w) { w.NullArray(); }, "*-1\r\n", "_\r\n"},
      {"array", [](ReplyWriter& w) { w.Array(3); }, "*3\r\n", "*3\r\n"},
      {"empty array", [](ReplyWriter& w) { w.Array(0); }, "*0\r\n", "*0\r\n"},
      {"map", [](ReplyWriter& w) { w.Map(3); }, "*6\r\n", "%3\r\n"},
      {"empty map", [](ReplyWriter& w) { w.Map(0); }, "*0\r\n", "%0\r\n"},
      {"set", [](ReplyWriter& w) { w.Set(2); }, "*2\r\n", "~2\r\n"},
      {"push", [](ReplyWriter& w) { w.Push(3); }, "*3\r\n", ">3\r\n"},
      {"true", [](ReplyWriter& w) { w.Bool(true); }, ":1\r\n", "#t\r\n"},
      {"false", [](ReplyWriter& w) { w.Bool(false); }, ":0\r\n", "#f\r\n"},
      {"double", [](ReplyWriter& w) { w.Double(1.5); }, "$3\r\n1.5\r\n", ",1.5\r\n"},
      {"inf", [](ReplyWriter& w) { w.Double(std::numeric_limits<double>::infinity()); },
       "$3\r\ninf\r\n", ",inf\r\n"},
      {"-inf", [](ReplyWriter& w) { w.Double(-std::numeric_limits<double>::infinity()); },
       "$4\r\n-inf\r\n", ",-inf\r\n"},
      {"nan", [](ReplyWriter& w) { w.Double(std::nan("")); }, "$3\r\nnan\r\n", ",nan\r\n"},
      {"verbatim", [](ReplyWriter& w) { w.Verbatim("Some string"); },
       "$11\r\nSome string\r\n", "=15\r\ntxt:Some string\r\n"},
      {"verbatim markdown", [](ReplyWriter& w) { w.Verbatim("# Hi", "mkd"); },
       "$4\r\n# Hi\r\n", "=8\r\nmkd:# Hi\r\n"},
      {"verbatim short format", [](ReplyWriter& w) { w.Verbatim("hi", "md"); }, "$2\r\nhi\r\n",
       "=6\r\nmd :hi\r\n"},
      {"verbatim long format", [](ReplyWriter& w) { w.Verbatim("hi", "markdown"); },
       "$2\r\nhi\r\n", "=6\r\nmar:hi\r\n"},
      {"verbatim empty", [](ReplyWriter& w) { w.Verbatim(""); }, "$0\r\n\r\n", "=4\r\ntxt:\r\n"},
      {"raw", [](ReplyWriter& w) { w.Raw("+QUEUED\r\n"); }, "+QUEUED\r\n", "+QUEUED\r\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    REQUIRE(Write(2, c.write) == c.resp2);
    REQUIRE(Write(3, c.write) == c.resp3);
  }
}

struct DoubleCase {
  double value;
  std::string text;
};

TEST_CASE("Doubles are formatted as Redis's d2string", "[resp][writer]") {
  const std::vector<DoubleCase> cases = {
      {0.0, "0"},
      {-0.0, "-0"},
      {1.5, "1.5"},
      {-1.5, "-1.5"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {3.0, "3"},
      {-42.0, "-42"},
      {123.456, "123.456"},
      {12345678.9, "12345678.9"},
      {1.0 / 3.0, "0.3333333333333333"},
      {123.45678901234, "123.45678901234"},
      {0.001234, "0.001234"},
      {3e-5, "0.00003"},
      {1e-6, "0.000001"},
      {1e-7, "1e-7"},
      {1.5e-7, "1.5e-7"},
      {1.5e-300, "1.5e-300"},
      {5e-324, "5e-324"},
      {1.2345670e16, "12345670000000000"},
      {4611686018427387904.0, "4611686018427387904"},  // 2^62: still an integer
      {-4611686018427387904.0, "-4611686018427387904"},
      {9223372036854775808.0, "9223372036854776000"},  // 2^63: shortest digits, plain
      {1.2345678901234568e20, "123456789012345680000"},
      {1.234567890123e19, "12345678901230000000"},  // plain while exponent < digits + 7
      {1.23456789012e19, "1.23456789012e+19"},
      {1234.5678901, "1234.5678901"},  // 7+ decimals: plain while exponent < 4
      {12345.6789012, "1.23456789012e+4"},
      {1e19, "1e+19"},
      {1.5e19, "1.5e+19"},
      {-1.5e19, "-1.5e+19"},
      {1e21, "1e+21"},
      {1e300, "1e+300"},
      {1e100, "1e+100"},
      {std::numeric_limits<double>::max(), "1.7976931348623157e+308"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value, c.text);
    REQUIRE(Write(3, [&](ReplyWriter& w) { w.Double(c.value); }) == Cat({",", c.text, "\r\n"}));
    REQUIRE(Write(2, [&](ReplyWriter& w) { w.Double(c.value); }) ==
            Cat({"$", std::to_string(c.text.size()), "\r\n", c.text, "\r\n"}));
  }
}

TEST_CASE("Bulk headers count every byte", "[resp][writer]") {
  for (size_t size : {9, 10, 99, 100, 65536}) {
    CAPTURE(size);
    const std::string payload(size, 'z');
    REQUIRE(Write(2, [&](ReplyWriter& w) { w.Bulk(payload); }) ==
            Cat({"$", std::to_string(size), "\r\n", payload, "\r\n"}));
  }
  REQUIRE(Write(3, [](ReplyWriter& w) { w.Array(1234567890123); }) == "*1234567890123\r\n");
}

TEST_CASE("Replies accumulate after what the buffer holds", "[resp][writer]") {
  std::string out = "+PONG\r\n";
  ReplyWriter writer(&out);
  writer.Integer(7);
  writer.Null();
  writer.set_protocol(3);
  REQUIRE(writer.protocol() == 3);
  writer.Null();
  writer.Bool(true);
  REQUIRE(out == "+PONG\r\n:7\r\n$-1\r\n_\r\n#t\r\n");
}

TEST_CASE("A CREDITS.CONSUME reply in both protocols", "[resp][writer]") {
  auto write = [](ReplyWriter& w) {
    w.Array(6);
    w.Integer(1);
    w.Integer(958);
    w.Integer(1000);
    w.Integer(0);
    w.Integer(86400000);
    w.Bulk("org:acme/project:web/user:42");
    w.Array(6);  // a level with no hard limit: nil remaining and limit
    w.Integer(1);
    w.Null();
    w.Null();
    w.Integer(0);
    w.Integer(-1);
    w.Bulk("org:acme");
  };
  const std::string common =
      "*6\r\n:1\r\n:958\r\n:1000\r\n:0\r\n:86400000\r\n$28\r\norg:acme/project:web/user:42\r\n"
      "*6\r\n:1\r\n";
  REQUIRE(Write(2, write) == common + "$-1\r\n$-1\r\n:0\r\n:-1\r\n$8\r\norg:acme\r\n");
  REQUIRE(Write(3, write) == common + "_\r\n_\r\n:0\r\n:-1\r\n$8\r\norg:acme\r\n");
}

// Parts must write exactly what the plain methods write, in order, after
// what the buffer holds, whether or not its stack buffer fills up.
TEST_CASE("Parts: the same bytes as the plain methods, at any size", "[resp][writer]") {
  struct Part {
    int kind;  // 0 array, 1 integer, 2 null, 3 bulk
    int64_t n;
    std::string s;
  };
  std::vector<std::vector<Part>> replies = {
      {{0, 6, ""}, {1, 1, ""}, {2, 0, ""}, {1, 1000000000000000, ""}, {1, 0, ""},
       {1, 86400000, ""}, {3, 0, "org:acme/project:web/user:42"}},
      {{3, 0, ""}, {3, 0, std::string(232, 'x')}, {3, 0, std::string(233, 'y')}},
      {{3, 0, std::string(5000, 'z')}, {1, -7, ""}},
  };
  std::vector<Part> many;  // 40 parts of up to 23 bytes: fills 256 bytes thrice
  for (int i = 0; i < 40; ++i) {
    many.push_back(i % 3 == 2 ? Part{2, 0, ""} : Part{1, std::numeric_limits<int64_t>::min() + i, ""});
  }
  replies.push_back(many);
  for (int protocol : {2, 3}) {
    for (size_t r = 0; r < replies.size(); ++r) {
      CAPTURE(protocol, r);
      std::string plain = "+PONG\r\n";
      std::string staged = plain;
      ReplyWriter plain_writer(&plain, protocol);
      ReplyWriter staged_writer(&staged, protocol);
      {
        ReplyWriter::Parts parts(staged_writer);
        for (const Part& p : replies[r]) {
          switch (p.kind) {
            case 0: plain_writer.Array(static_cast<size_t>(p.n)); parts.Array(static_cast<size_t>(p.n)); break;
            case 1: plain_writer.Integer(p.n); parts.Integer(p.n); break;
            case 2: plain_writer.Null(); parts.Null(); break;
            default: plain_writer.Bulk(p.s); parts.Bulk(p.s); break;
          }
        }
      }
      REQUIRE(staged == plain);
    }
  }
}

TEST_CASE("A map in RESP2 is a flat field/value array", "[resp][writer]") {
  auto write = [](ReplyWriter& w) {
    w.Map(2);
    w.Bulk("kind");
    w.Bulk("quota");
    w.Bulk("limit");
    w.Null();
  };
  REQUIRE(Write(2, write) == "*4\r\n$4\r\nkind\r\n$5\r\nquota\r\n$5\r\nlimit\r\n$-1\r\n");
  REQUIRE(Write(3, write) == "%2\r\n$4\r\nkind\r\n$5\r\nquota\r\n$5\r\nlimit\r\n_\r\n");
}

}  // namespace
}  // namespace limiterd::resp
