#include "durable_file.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "persistence_test_util.h"
#include "record_format.h"

namespace fs = std::filesystem;
namespace lp = limiterd::persistence;

namespace {

using pt::TempDir;

std::string Read(const std::string& path) {
  std::string out;
  const lp::Status s = lp::ReadWholeFile(path, &out);
  REQUIRE(s.ok());
  return out;
}

void WritePlain(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  REQUIRE(fs::file_size(path) == bytes.size());
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("WriteFileAtomically creates and replaces, leaving no temp file", "[durable]") {
  TempDir dir;
  const std::string path = dir / "snapshot.rdb";
  REQUIRE(lp::WriteFileAtomically(path, "first").ok());
  CHECK(Read(path) == "first");
  const std::string big(3 << 20, 'b');
  REQUIRE(lp::WriteFileAtomically(path, big).ok());
  CHECK(Read(path) == big);
  REQUIRE(lp::WriteFileAtomically(path, "").ok());
  CHECK(Read(path).empty());
  CHECK(dir.Names() == std::vector<std::string>{"snapshot.rdb"});
}

TEST_CASE("WriteFileAtomically works with a bare file name", "[durable]") {
  TempDir dir;
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir / "");
  const lp::Status s = lp::WriteFileAtomically("bare.aof", "x");
  fs::current_path(old_cwd);
  REQUIRE(s.ok());
  CHECK(Read(dir / "bare.aof") == "x");
}

TEST_CASE("WriteFileAtomically reports failures and keeps the old file", "[durable]") {
  TempDir dir;
  const std::string tmp_suffix = ".tmp." + std::to_string(::getpid());

  SECTION("the parent is a regular file (works as root, unlike chmod)") {
    WritePlain(dir / "plain", "not a dir");
    const std::string path = dir / "plain/child";
    const lp::Status s = lp::WriteFileAtomically(path, "data");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error_number() == ENOTDIR);
    CHECK(Contains(s.message(), path + tmp_suffix));
    CHECK(Contains(s.message(), "Not a directory"));
    CHECK(Read(dir / "plain") == "not a dir");
  }
  SECTION("the temp file cannot be created: old file intact") {
    const std::string path = dir / "state.rdb";
    WritePlain(path, "old contents");
    fs::create_directory(path + tmp_suffix);  // squats on the temp name
    const lp::Status s = lp::WriteFileAtomically(path, "new contents");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error_number() == EISDIR);
    CHECK(Contains(s.message(), "create"));
    CHECK(Read(path) == "old contents");
    CHECK(fs::is_directory(path + tmp_suffix));  // not ours to delete
  }
  SECTION("the rename fails: temp file removed") {
    const std::string path = dir / "occupied";
    fs::create_directory(path);
    WritePlain(path + "/inside", "keep");
    const lp::Status s = lp::WriteFileAtomically(path, "new contents");
    REQUIRE_FALSE(s.ok());
    CHECK(Contains(s.message(), "rename"));
    CHECK(Read(path + "/inside") == "keep");
    CHECK(dir.Names() == std::vector<std::string>{"occupied"});
  }
}

TEST_CASE("AppendAndSync appends everything, synced or not", "[durable]") {
  TempDir dir;
  const std::string path = dir / "log.aof";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    std::string chunk;
    REQUIRE(lp::AppendRecord(chunk, static_cast<std::uint8_t>(i), std::string(i * 37, 'a' + i % 26)));
    REQUIRE(lp::AppendAndSync(fd, chunk, i % 2 == 0, path).ok());
    expected += chunk;
  }
  const std::string large(8 << 20, 'L');
  REQUIRE(lp::AppendAndSync(fd, large, true, path).ok());
  expected += large;
  REQUIRE(lp::AppendAndSync(fd, "", true, path).ok());
  ::close(fd);
  CHECK(Read(path) == expected);
}

TEST_CASE("AppendAndSync reports errors", "[durable]") {
  SECTION("bad descriptor") {
    const lp::Status s = lp::AppendAndSync(-1, "x", false, "the-aof");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error_number() == EBADF);
    CHECK(Contains(s.message(), "write the-aof"));
  }
  SECTION("fdatasync failure is not swallowed") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    CHECK(lp::AppendAndSync(fds[1], "x", false, "pipe").ok());
    const lp::Status s = lp::AppendAndSync(fds[1], "y", true, "pipe");
    ::close(fds[0]);
    ::close(fds[1]);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error_number() == EINVAL);
    CHECK(Contains(s.message(), "fdatasync pipe"));
  }
  SECTION("a short write then a failing one (file size limit)") {
    TempDir dir;
    const std::string path = dir / "limited.aof";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = 1000;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    const lp::Status s = lp::AppendAndSync(fd, std::string(5000, 'q'), false, path);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    std::signal(SIGXFSZ, old_handler);
    ::close(fd);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error_number() == EFBIG);
    // The first write() was short (1000 of 5000); the retry got EFBIG.
    CHECK(Read(path) == std::string(1000, 'q'));
  }
}

TEST_CASE("TruncateFile cuts a file and reports a missing one", "[durable]") {
  TempDir dir;
  const std::string path = dir / "cut.aof";
  WritePlain(path, "0123456789");
  REQUIRE(lp::TruncateFile(path, 4).ok());
  CHECK(Read(path) == "0123");
  REQUIRE(lp::TruncateFile(path, 0).ok());
  CHECK(Read(path).empty());
  const lp::Status s = lp::TruncateFile(dir / "missing", 0);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error_number() == ENOENT);
  CHECK(Contains(s.message(), dir / "missing"));
}

TEST_CASE("RemoveGradually cuts a file to nothing, then unlinks it", "[durable]") {
  TempDir dir;
  const std::string path = dir / "appendonly.aof.1.incr.aof";
  const std::string big((9 << 20) + 123, 'x');  // three cuts, the last a short one
  WritePlain(path, big);
  // A second name for the same inode shows what became of its blocks: a
  // plain unlink would leave them all to it.
  const std::string other = dir / "other-name";
  REQUIRE(::link(path.c_str(), other.c_str()) == 0);
  REQUIRE(lp::RemoveGradually(path).ok());
  CHECK_FALSE(fs::exists(path));
  CHECK(fs::file_size(other) == 0);

  // Gone already (or never there): nothing to do, no error.
  CHECK(lp::RemoveGradually(path).ok());
  CHECK(lp::RemoveGradually(dir / "no-such-dir/file").ok());
  // A small file, and an empty one.
  WritePlain(path, "abc");
  CHECK(lp::RemoveGradually(path).ok());
  CHECK_FALSE(fs::exists(path));
  WritePlain(path, "");
  CHECK(lp::RemoveGradually(path).ok());
  CHECK_FALSE(fs::exists(path));

  // Cannot be cut (opened read-only by everyone, as root too: a
  // directory's name), or not a file: refused by unlink, with its name in
  // the message; kept.
  const std::string subdir = dir / "subdir";
  fs::create_directory(subdir);
  const lp::Status s = lp::RemoveGradually(subdir);
  CHECK_FALSE(s.ok());
  CHECK(Contains(s.message(), "unlink " + subdir));
  CHECK(fs::is_directory(subdir));
}

TEST_CASE("ReadWholeFile reports a missing file", "[durable]") {
  TempDir dir;
  std::string out = "unchanged";
  const lp::Status s = lp::ReadWholeFile(dir / "nope", &out);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error_number() == ENOENT);
}

TEST_CASE("a torn AOF is found, truncated, and then reads clean", "[durable][record]") {
  TempDir dir;
  const std::string path = dir / "appendonly.aof";
  std::string bytes;
  for (int i = 0; i < 10; ++i) REQUIRE(lp::AppendRecord(bytes, 1, "charge " + std::to_string(i)));
  const std::size_t good = bytes.size();
  std::string last;
  REQUIRE(lp::AppendRecord(last, 1, "charge 10"));
  bytes += last.substr(0, last.size() - 3);  // the crash
  REQUIRE(lp::WriteFileAtomically(path, bytes).ok());

  std::string loaded = Read(path);
  lp::RecordReader reader(loaded);
  lp::Record record;
  int count = 0;
  while (reader.Next(&record)) ++count;
  CHECK(count == 10);
  REQUIRE(reader.end() == lp::ReadEnd::kTornTail);
  REQUIRE(reader.end_offset() == good);
  REQUIRE(lp::TruncateFile(path, reader.end_offset()).ok());

  loaded = Read(path);
  lp::RecordReader again(loaded);
  count = 0;
  while (again.Next(&record)) ++count;
  CHECK(count == 10);
  CHECK(again.end() == lp::ReadEnd::kClean);
  CHECK(again.end_offset() == good);
}
