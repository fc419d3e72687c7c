// Copyright limiterd authors.
// Helpers of the persistence tests: a temporary directory, Durability
// options on it, an engine populated with every kind of state, and a dump
// of an engine's whole observable state (LIMIT.SCAN, LIMIT.GET, USAGE.GET
// of every key) to compare two engines by.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "durability.h"
#include "durable_file.h"
#include "limiterd/clock.h"
#include "limiterd/engine.h"

namespace pt {

using namespace limiterd;               // NOLINT: test helpers
using namespace limiterd::persistence;  // NOLINT
namespace fs = std::filesystem;

inline constexpr int64_t kT0 = 1709208000000;  // 2024-02-29 12:00 UTC

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "limiterd-persist-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string aof_dir() const { return path_ + "/appendonlydir"; }
  [[nodiscard]] std::string manifest() const { return aof_dir() + "/appendonly.aof.manifest"; }
  [[nodiscard]] std::string incr(int seq) const {
    return aof_dir() + "/appendonly.aof." + std::to_string(seq) + ".incr.aof";
  }
  [[nodiscard]] std::string base(int seq) const {
    return aof_dir() + "/appendonly.aof." + std::to_string(seq) + ".base.snap";
  }
  [[nodiscard]] std::string snapshot() const { return path_ + "/dump.snap"; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  // The names of the directory's entries (no order).
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

 private:
  std::string path_;
};

inline DurabilityOptions Options(const std::string& dir, bool aof,
                                 FsyncPolicy policy = FsyncPolicy::kEverySec) {
  DurabilityOptions o;
  o.dir = dir;
  o.appendonly = aof;
  o.appendfsync = policy;
  o.auto_aof_rewrite_percentage = 0;
  o.wall_ms = [] { return kT0; };
  return o;
}

inline LimitDefinition Quota(int64_t hard, PeriodType period = PeriodType::kMonthly) {
  LimitDefinition d;
  d.hard = hard;
  d.period.type = period;
  return d;
}
inline LimitDefinition Window(int64_t hard, int64_t ms) {
  LimitDefinition d;
  d.kind = Kind::kWindow;
  d.hard = hard;
  d.window_ms = ms;
  return d;
}
inline LimitDefinition Bucket(int64_t rate, int64_t per) {
  LimitDefinition d;
  d.kind = Kind::kBucket;
  d.rate = rate;
  d.rate_per_ms = per;
  return d;
}

inline void Delete(Engine& e, std::string_view key) {
  REQUIRE(e.Delete(std::span<const std::string_view>(&key, 1)).ok());
}

// Limits of every kind, defaults with materialized counters, a cancelled
// limit, a deleted one, usage on all of them.
inline void Populate(Engine& e, int users) {
  REQUIRE(*e.Set("org:a", Quota(1'000'000)));
  REQUIRE(*e.Set("org:a/*", Window(1'000, 60'000)));
  REQUIRE(*e.Set("rate:x", Bucket(100, 1000)));
  REQUIRE(*e.Set("daily:y", Quota(50, PeriodType::kDaily)));
  REQUIRE(*e.Set("gone", Quota(5)));
  REQUIRE(*e.Set("*", Quota(7)));
  for (int u = 0; u < users; ++u) {
    REQUIRE(e.Consume("org:a/u:" + std::to_string(u), 1 + u % 3)->allowed);
  }
  REQUIRE(e.Consume("rate:x", 7)->allowed);
  REQUIRE(e.Consume("daily:y", 9)->allowed);
  REQUIRE(e.Consume("top-level-default", 2)->allowed);
  REQUIRE(*e.Refund("daily:y", 4) == 5);
  REQUIRE(*e.Cancel("org:a"));
  Delete(e, "gone");
}

inline std::string Opt(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : std::string("nil");
}

// Everything a client can see of every key, one line per key, sorted.
inline std::string Dump(const Engine& e) {
  std::vector<std::string> keys;
  uint64_t cursor = 0;
  for (int pages = 0; pages < 1'000'000; ++pages) {
    ScanPage page = e.Scan(cursor, 1000);
    keys.insert(keys.end(), page.keys.begin(), page.keys.end());
    cursor = page.next_cursor;
    if (cursor == 0) break;
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::string out;
  for (const std::string& k : keys) {
    out += k;
    if (auto info = e.Get(k); info.ok() && *info) {
      const LimitInfo& i = **info;
      const LimitDefinition& d = i.definition;
      out += " def{kind=" + std::string(KindName(d.kind)) + " hard=" + Opt(d.hard) +
             " soft=" + Opt(d.soft) + " unit=" + d.unit + " period=" + PeriodName(d.period) +
             " anchor=" + Opt(d.anchor_ms) + " renew=" + std::to_string(d.renewable) +
             " until=" + Opt(d.valid_until_ms) + " window=" + std::to_string(d.window_ms) +
             " rate=" + std::to_string(d.rate) + "/" + std::to_string(d.rate_per_ms) +
             " burst=" + Opt(d.burst) + " cancelled=" + std::to_string(i.cancelled) +
             " source=" + i.source + "}";
    }
    if (k.find('*') == std::string::npos) {
      if (auto u = e.Usage(k); u.ok() && *u) {
        const UsageReport& r = **u;
        out += " usage{status=" + std::string(StatusName(r.status)) + " limit=" + Opt(r.limit) +
               " consumed=" + std::to_string(r.consumed) + " remaining=" + Opt(r.remaining) +
               " soft=" + std::to_string(r.soft_reached) + " period=" + r.period +
               " start=" + std::to_string(r.period_start_ms) + " resets=" + Opt(r.resets_at_ms) +
               " source=" + r.source + "}";
      }
    }
    out += "\n";
  }
  return out;
}

inline std::string ReadFile(const std::string& path) {
  std::string out;
  REQUIRE(ReadWholeFile(path, &out).ok());
  return out;
}

// Overwrites `path` (not atomically: tests damage files on purpose).
inline void WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(),
                                                                 static_cast<long>(bytes.size()));
  REQUIRE(fs::file_size(path) == bytes.size());
}

// A copy of `from`'s files (the AOF directory included) into `to`.
inline void CopyDir(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace pt
