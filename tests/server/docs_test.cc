// Copyright limiterd authors.
// docs/commands.md is generated from the command table; the committed file
// must be what the table generates (`limiterd --commands-markdown`).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "command_table.h"

TEST_CASE("docs/commands.md matches the command table", "[docs]") {
  auto path = std::filesystem::path(__FILE__).parent_path() / "../../docs/commands.md";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  INFO("regenerate with: limiterd --commands-markdown > docs/commands.md");
  CHECK(text.str() == limiterd::server::CommandsMarkdown());
}

TEST_CASE("syntax lines", "[docs]") {
  using limiterd::server::CommandSyntax;
  using limiterd::server::CommandTable;
  const auto& t = CommandTable::Get();
  CHECK(CommandSyntax(*t.Find("limit.del")) == "LIMIT.DEL key [key ...]");
  CHECK(CommandSyntax(*t.Find("credits.consume")) == "CREDITS.CONSUME key amount [FORCE] [DRYRUN]");
  CHECK(CommandSyntax(*t.Find("limit.set")) ==
        "LIMIT.SET key [HARD hard | UNLIMITED] [SOFT soft] [UNIT unit] [PERIOD period | WINDOW "
        "window | RATE count PER duration [BURST burst]] [ANCHOR anchor] [NORENEW] "
        "[VALIDUNTIL valid-until] [NX | XX] [GT]");
  CHECK(CommandSyntax(*t.FindFullName("client|setname")) == "CLIENT SETNAME connection-name");
}
