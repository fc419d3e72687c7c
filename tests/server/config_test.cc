// Copyright limiterd authors.
// Configuration: the file and command-line forms redis-server takes, errors,
// CONFIG REWRITE, and conf/limiterd.conf naming every directive.
#include <sched.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "durability_setup.h"

using namespace limiterd::server;  // NOLINT

namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path TempFile(std::string_view name, std::string_view text) {
  auto p = std::filesystem::temp_directory_path() /
           (std::string("limiterd-test-") + std::to_string(::getpid()) + "-" + std::string(name));
  std::ofstream(p) << text;
  return p;
}

}  // namespace

TEST_CASE("split config lines like sdssplitargs", "[config]") {
  std::vector<std::string> w;
  REQUIRE(SplitConfigLine("port 6390", &w));
  CHECK(w == std::vector<std::string>{"port", "6390"});
  REQUIRE(SplitConfigLine("  requirepass \"a b\\x41\\n\"  ", &w));
  CHECK(w == std::vector<std::string>{"requirepass", "a bA\n"});
  REQUIRE(SplitConfigLine("hierarchy-separator \"\"", &w));
  CHECK(w == std::vector<std::string>{"hierarchy-separator", ""});
  REQUIRE(SplitConfigLine("logfile 'it''", &w) == false);
  REQUIRE(SplitConfigLine("x \"unterminated", &w) == false);
}

TEST_CASE("memory values", "[config]") {
  uint64_t v;
  REQUIRE(ParseMemory("1mb", &v));
  CHECK(v == 1048576);
  REQUIRE(ParseMemory("1m", &v));
  CHECK(v == 1000000);
  REQUIRE(ParseMemory("2GB", &v));
  CHECK(v == 2147483648ULL);
  REQUIRE(ParseMemory("512", &v));
  CHECK(v == 512);
  CHECK(!ParseMemory("1x", &v));
  CHECK(!ParseMemory("mb", &v));
}

TEST_CASE("defaults", "[config]") {
  Config c;
  CHECK(c.port() == 6390);
  CHECK(c.bind() == std::vector<std::string>{"127.0.0.1"});
  CHECK(c.separator() == "/");
  CHECK(c.proto_max_bulk_len() == 1024 * 1024);
  CHECK(!c.debug_command_enabled());
  CHECK(!c.password_required());
  CHECK(c.threads() == DefaultThreads(UsableCores()));
  CHECK(c.io_spin_us() == 50);
}

TEST_CASE("io-spin-us: 0 to 1000, changed at run time", "[config]") {
  Config c;
  std::vector<std::string_view> off{"io-spin-us", "0"};
  CHECK(c.Set(off).empty());
  CHECK(c.io_spin_us() == 0);
  std::vector<std::string_view> most{"io-spin-us", "1000"};
  CHECK(c.Set(most).empty());
  CHECK(c.io_spin_us() == 1000);
  std::vector<std::string_view> over{"io-spin-us", "1001"};
  CHECK(c.Set(over).find("(possibly related to argument 'io-spin-us')") != std::string::npos);
  CHECK(c.io_spin_us() == 1000);
}

TEST_CASE("threads 0: a core is left spare, and the affinity mask counts", "[config]") {
  CHECK(DefaultThreads(0) == 1);
  CHECK(DefaultThreads(1) == 1);
  CHECK(DefaultThreads(2) == 1);
  CHECK(DefaultThreads(4) == 3);
  CHECK(DefaultThreads(64) == 63);
  // A thread limited to one CPU (taskset, a cpuset) sees one usable core.
  // (Catch2 asserts on the main thread only.)
  unsigned seen = 0;
  bool pinned = false;
  std::thread([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return;
    int first = 0;
    while (!CPU_ISSET(first, &set)) ++first;
    CPU_ZERO(&set);
    CPU_SET(first, &set);
    pinned = sched_setaffinity(0, sizeof set, &set) == 0;
    seen = UsableCores();
  }).join();
  REQUIRE(pinned);
  CHECK(seen == 1u);
  Config c;
  std::vector<std::string> args{"--threads", "5"};
  REQUIRE(c.LoadFromArgs(args).empty());
  CHECK(c.threads() == 5);  // an explicit count is taken as is
}

TEST_CASE("config file then --directive options", "[config]") {
  auto file = TempFile("a.conf",
                       "# comment\n\nport 7000\nrequirepass \"p w\"\nsave 60 10\nsave 300 1\n"
                       "hierarchy-separator \":\"\nenable-debug-command yes\n");
  Config c;
  std::vector<std::string> args{file.string(), "--port", "7001", "--bind", "127.0.0.1", "::1",
                                "--proto-max-bulk-len", "4mb"};
  REQUIRE(c.LoadFromArgs(args).empty());
  CHECK(c.port() == 7001);
  CHECK(c.bind() == std::vector<std::string>{"127.0.0.1", "::1"});
  CHECK(c.CheckPassword("p w"));
  CHECK(!c.CheckPassword("p"));
  CHECK(c.GetValue("save") == "60 10 300 1");
  CHECK(c.separator() == ":");
  CHECK(c.debug_command_enabled());
  CHECK(c.proto_max_bulk_len() == 4 * 1024 * 1024);
  CHECK(c.config_file() == std::filesystem::absolute(file).string());
  std::filesystem::remove(file);
}

TEST_CASE("bad configuration: a clear message", "[config]") {
  auto file = TempFile("bad.conf", "port 7000\nport abc\n");
  Config c;
  std::vector<std::string> args{file.string()};
  std::string e = c.LoadFromArgs(args);
  CHECK(e.find("FATAL CONFIG FILE ERROR") != std::string::npos);
  CHECK(e.find("at line 2") != std::string::npos);
  CHECK(e.find(">>> 'port abc'") != std::string::npos);
  CHECK(e.find("argument couldn't be parsed into an integer") != std::string::npos);
  std::filesystem::remove(file);

  Config d;
  std::vector<std::string> unknown{"--nosuch", "1"};
  CHECK(d.LoadFromArgs(unknown).find("Bad directive or wrong number of arguments") !=
        std::string::npos);
  std::vector<std::string> bool_arg{"--appendonly", "maybe"};
  CHECK(d.LoadFromArgs(bool_arg).find("argument must be 'yes' or 'no'") != std::string::npos);
  std::vector<std::string> missing{"/nonexistent/limiterd.conf"};
  CHECK(d.LoadFromArgs(missing).find("can't open config file") != std::string::npos);
  std::vector<std::string> range{"--port", "70000"};
  CHECK(d.LoadFromArgs(range).find("argument must be between 1 and 65535 inclusive") !=
        std::string::npos);
}

TEST_CASE("CONFIG REWRITE keeps comments, updates values, appends the rest", "[config]") {
  auto file = TempFile("rw.conf", "# my settings\nport 7000\ntimeout 10\n# trailing\n");
  Config c;
  std::vector<std::string> args{file.string()};
  REQUIRE(c.LoadFromArgs(args).empty());
  std::vector<std::string_view> set{"timeout", "20", "maxclients", "77"};
  REQUIRE(c.Set(set).empty());
  REQUIRE(c.Rewrite().empty());
  CHECK(Slurp(file) ==
        "# my settings\nport 7000\ntimeout 20\n# trailing\n# Generated by CONFIG REWRITE\n"
        "maxclients 77\n");
  // The rewritten file loads back to the same values.
  Config again;
  REQUIRE(again.LoadFromArgs(args).empty());
  CHECK(again.maxclients() == 77);
  CHECK(again.timeout_seconds() == 20);
  std::filesystem::remove(file);
}

TEST_CASE("conf/limiterd.conf sets every directive to its default", "[config]") {
  auto path = std::filesystem::path(__FILE__).parent_path() / "../../conf/limiterd.conf";
  std::string text = Slurp(path);
  REQUIRE(!text.empty());
  for (const DirectiveInfo& d : Config::Directives()) {
    INFO(d.name);
    CHECK(text.find("\n" + std::string(d.name) + " ") != std::string::npos);
  }
  Config c;
  std::vector<std::string> args{path.string()};
  REQUIRE(c.LoadFromArgs(args).empty());
  Config defaults;
  for (const DirectiveInfo& d : Config::Directives()) {
    INFO(d.name);
    CHECK(c.GetValue(d.name) == defaults.GetValue(d.name));
  }
}

TEST_CASE("persistence directives: defaults, file names; the files fixed at start-up",
          "[config]") {
  Config c;
  CHECK(c.GetValue("dbfilename") == "dump.snap");
  CHECK(c.GetValue("appenddirname") == "appendonlydir");
  CHECK(c.GetValue("stop-writes-on-bgsave-error") == "yes");
  std::vector<std::string> path{"--dbfilename", "sub/dump.snap"};
  CHECK(c.LoadFromArgs(path).find("dbfilename can't be a path, just a filename") !=
        std::string::npos);
  std::vector<std::string> dirname{"--appenddirname", "../x"};
  CHECK(c.LoadFromArgs(dirname).find("appenddirname can't be a path, just a dirname") !=
        std::string::npos);
  std::vector<std::string> ok{"--appendfilename", "my.aof", "--save", "60", "10",
                              "--stop-writes-on-bgsave-error", "no"};
  CHECK(c.LoadFromArgs(ok).empty());
  CHECK(c.GetValue("appendfilename") == "my.aof");
  // The policies change at run time (as in Redis)...
  std::vector<std::string_view> policies{"appendfsync", "always", "save", "900 1 300 10",
                                         "stop-writes-on-bgsave-error", "yes",
                                         "auto-aof-rewrite-percentage", "50",
                                         "auto-aof-rewrite-min-size", "1mb"};
  CHECK(c.Set(policies).empty());
  CHECK(c.GetValue("appendfsync") == "always");
  CHECK(c.GetValue("save") == "900 1 300 10");
  CHECK(c.GetValue("aof-zero-fill") == "yes");
  std::vector<std::string_view> no_zero_fill{"aof-zero-fill", "no"};
  CHECK(c.Set(no_zero_fill).empty());
  CHECK(c.GetValue("aof-zero-fill") == "no");
  CHECK(DurabilityOptionsFrom(c).aof_zero_fill == false);
  CHECK(c.GetValue("aof-inline-fsync-max-us") == "1000");
  CHECK(DurabilityOptionsFrom(c).aof_inline_fsync_max_us == 1000);
  std::vector<std::string_view> inline_off{"aof-inline-fsync-max-us", "0"};
  CHECK(c.Set(inline_off).empty());
  CHECK(DurabilityOptionsFrom(c).aof_inline_fsync_max_us == 0);
  std::vector<std::string_view> inline_bad{"aof-inline-fsync-max-us", "-1"};
  CHECK_FALSE(c.Set(inline_bad).empty());
  CHECK(c.GetValue("aof-inline-fsync-max-us") == "0");
  CHECK(c.GetValue("auto-aof-rewrite-min-size") == "1048576");
  std::vector<std::string_view> no_save{"save", ""};
  CHECK(c.Set(no_save).empty());
  CHECK(c.GetValue("save").empty());
  std::vector<std::string_view> bad_save{"save", "900"};
  CHECK(c.Set(bad_save).find("(possibly related to argument 'save')") != std::string::npos);
  CHECK(c.GetValue("save").empty());
  // ...the files and appendonly do not.
  for (std::string_view name : {"appendonly", "dir", "appendfilename", "appenddirname",
                                "dbfilename", "aof-load-truncated"}) {
    std::vector<std::string_view> set{name, "x"};
    CHECK(c.Set(set) == "ERR CONFIG SET failed (possibly related to argument '" +
                            std::string(name) + "') - can't set immutable config");
  }
}
