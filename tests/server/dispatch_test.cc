// Copyright limiterd authors.
// Dispatch: unknown commands, arity errors for every command, NOAUTH.
#include <cctype>

#include "server_test_util.h"

using namespace st;  // NOLINT

TEST_CASE("unknown command: Redis's text", "[dispatch]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"foo", "a", "b"}) ==
        Err("ERR unknown command 'foo', with args beginning with: 'a' 'b' "));
  CHECK((*c)({"GET", "x"}) == Err("ERR unknown command 'GET', with args beginning with: 'x' "));
  CHECK((*c)({"nothing"}) == Err("ERR unknown command 'nothing', with args beginning with: "));
}

TEST_CASE("arity errors for every command and subcommand", "[dispatch]") {
  Fixture f;
  auto c = f.NewClient();
  for (const CommandSpec& cmd : CommandTable::Get().commands()) {
    std::vector<const CommandSpec*> targets;
    if (cmd.container()) {
      for (const CommandSpec& sub : cmd.subcommands) targets.push_back(&sub);
    } else {
      targets.push_back(&cmd);
    }
    for (const CommandSpec* t : targets) {
      INFO(t->full_name);
      std::vector<std::string> words;
      words.emplace_back(cmd.name);
      if (t->parent) words.emplace_back(t->name);
      // One argument too few (exact and minimum arity alike), if possible.
      size_t need = static_cast<size_t>(t->arity > 0 ? t->arity : -t->arity);
      if (need > words.size()) {
        while (words.size() < need - 1) words.emplace_back("x");
        std::vector<std::string_view> args(words.begin(), words.end());
        CHECK(c->Run(args) == Err(fmt::format("ERR wrong number of arguments for '{}' command",
                                              t->full_name)));
      }
      // One too many, for exact arities.
      if (t->arity > 0) {
        words.resize(std::max<size_t>(words.size(), 1));
        while (words.size() < static_cast<size_t>(t->arity) + 1) words.emplace_back("x");
        std::vector<std::string_view> args(words.begin(), words.end());
        CHECK(c->Run(args) == Err(fmt::format("ERR wrong number of arguments for '{}' command",
                                              t->full_name)));
      }
    }
  }
  CHECK(!c->session().close_after_reply);
}

TEST_CASE("names are case-insensitive", "[dispatch]") {
  Fixture f;
  auto c = f.NewClient();
  CHECK((*c)({"PiNg"}) == "+PONG\r\n");
  CHECK((*c)({"Client", "Id"}).rfind(":", 0) == 0);
  CHECK((*c)({"LIMIT.set", "k", "hard", "1", "period", "DAILY", "unit", "tokens"}) == kOk);
}

TEST_CASE("no-auth commands work before AUTH; others NOAUTH", "[dispatch]") {
  Fixture f(Overrides{{"requirepass", "pw"}});
  auto c = f.NewClient();
  for (const CommandSpec& cmd : CommandTable::Get().commands()) {
    if (cmd.container() || cmd.arity != 1 || cmd.name == "quit" || cmd.name == "reset") continue;
    INFO(cmd.name);
    std::string r = c->Run({cmd.name});
    if (cmd.flags & kNoAuth) {
      CHECK(r != Err("NOAUTH Authentication required."));
    } else {
      CHECK(r == Err("NOAUTH Authentication required."));
    }
  }
}

TEST_CASE("unknown command: long arguments are cut as Redis cuts them", "[dispatch]") {
  Fixture f;
  auto c = f.NewClient();
  std::string a(100, 'a'), b(100, 'b');
  CHECK((*c)({"nope", a, b, "c"}) ==
        Err("ERR unknown command 'nope', with args beginning with: '" + a + "' '" +
            std::string(25, 'b') + "' "));
}

// Find remembers the last name it found (per thread): a repeat, a near
// miss right after it, and names taking turns must all still be right.
TEST_CASE("command lookup: repeats and alternations answer as first lookups", "[dispatch]") {
  const CommandTable& table = CommandTable::Get();
  const CommandSpec* consume = table.Find("credits.consume");
  const CommandSpec* ping = table.Find("PING");
  REQUIRE(consume != nullptr);
  REQUIRE(ping != nullptr);
  REQUIRE(consume != ping);
  for (int i = 0; i < 3; ++i) {
    CHECK(table.Find("credits.consume") == consume);
    CHECK(table.Find("credits.consume") == consume);
    CHECK(table.Find("credits.consumf") == nullptr);  // same size, one byte off
    CHECK(table.Find("CREDITS.CONSUME") == consume);
    CHECK(table.Find("credits.consume") == consume);
    CHECK(table.Find("ping") == ping);
    CHECK(table.Find("pin") == nullptr);
    CHECK(table.Find("pinG") == ping);
    CHECK(table.Find("pinx") == nullptr);
  }
  for (int round = 0; round < 2; ++round) {
    for (const CommandSpec& cmd : table.commands()) {
      INFO(cmd.name);
      CHECK(table.Find(cmd.name) == &cmd);
      CHECK(table.Find(cmd.name) == &cmd);
    }
  }
}

TEST_CASE("command lookup: every name in any case, nothing else", "[dispatch]") {
  const CommandTable& table = CommandTable::Get();
  for (const CommandSpec& cmd : table.commands()) {
    INFO(cmd.name);
    std::string upper(cmd.name), mixed(cmd.name);
    for (size_t i = 0; i < upper.size(); ++i) {
      upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
      if (i % 2 == 0) mixed[i] = upper[i];
    }
    CHECK(table.Find(cmd.name) == &cmd);
    CHECK(table.Find(upper) == &cmd);
    CHECK(table.Find(mixed) == &cmd);
    // Near misses: a byte more, a byte less, one byte changed.
    CHECK(table.Find(std::string(cmd.name) + "x") == nullptr);
    CHECK(table.Find(cmd.name.substr(0, cmd.name.size() - 1)) != &cmd);
    std::string changed(cmd.name);
    changed.back() = changed.back() == 'q' ? 'z' : 'q';
    CHECK(table.Find(changed) != &cmd);
    // Each letter alone in upper case; with its high bit set (upper or
    // lower case) it is another byte, not the letter.
    for (size_t i = 0; i < cmd.name.size(); ++i) {
      const char c = cmd.name[i];
      if (c < 'a' || c > 'z') continue;
      std::string one(cmd.name);
      one[i] = static_cast<char>(c - 32);
      CHECK(table.Find(one) == &cmd);
      one[i] = static_cast<char>((c - 32) | 0x80);
      CHECK(table.Find(one) == nullptr);
      one[i] = static_cast<char>(c | 0x80);
      CHECK(table.Find(one) == nullptr);
    }
    for (const CommandSpec& sub : cmd.subcommands) {
      CHECK(table.FindFullName(upper + "|" + std::string(sub.name)) == &sub);
    }
  }
  CHECK(table.Find("") == nullptr);
  CHECK(table.Find("credits.consume ") == nullptr);
  CHECK(table.Find(std::string(100, 'a')) == nullptr);
  CHECK(table.Find(std::string("pin\0g", 5)) == nullptr);
  // Bytes that ASCII case folding must leave alone.
  CHECK(table.Find("P\xC9NG") == nullptr);
  CHECK(table.Find("PING") == table.FindFullName("ping"));
}
