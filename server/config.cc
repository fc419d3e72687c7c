// Copyright limiterd authors.
#include "config.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "errors.h"
#include "glob.h"

namespace limiterd::server {
namespace {

using T = DirectiveType;

// Every directive. Order = conf/limiterd.conf order = CONFIG GET order.
// Of the persistence directives, CONFIG SET changes the policies
// (appendfsync, save, stop-writes-on-bgsave-error, auto-aof-rewrite-*:
// ApplyDurabilityConfig hands them over); the files and appendonly are read
// once, when the daemon opens them.
constexpr DirectiveInfo kDirectives[] = {
    {"bind", T::kList, "127.0.0.1", false},
    {"port", T::kInt, "6390", false, 1, 65535},
    {"threads", T::kInt, "0", false, 0, 1024},
    {"io-spin-us", T::kInt, "50", true, 0, 1000},
    {"requirepass", T::kString, "", true},
    {"maxclients", T::kInt, "10000", true, 1, 1000000},
    {"timeout", T::kInt, "0", true, 0, INT_MAX},
    {"dir", T::kString, "./", false},
    {"appendonly", T::kBool, "no", false},
    {"appendfsync", T::kEnum, "everysec", true, 0, 0, "always, everysec, no"},
    {"appendfilename", T::kString, "appendonly.aof", false},
    {"appenddirname", T::kString, "appendonlydir", false},
    {"dbfilename", T::kString, "dump.snap", false},
    {"save", T::kSave, "3600 1 300 100 60 10000", true},
    {"stop-writes-on-bgsave-error", T::kBool, "yes", true},
    {"auto-aof-rewrite-percentage", T::kInt, "100", true, 0, INT_MAX},
    {"auto-aof-rewrite-min-size", T::kMemory, "67108864", true, 0, INT64_MAX},
    {"aof-load-truncated", T::kBool, "yes", false},
    {"aof-zero-fill", T::kBool, "yes", true},
    {"aof-inline-fsync-max-us", T::kInt, "1000", true, 0, 1000000},
    {"hierarchy-separator", T::kString, "/", false},
    {"enable-debug-command", T::kBool, "no", false},
    {"debug-clock", T::kInt, "0", false, 0, INT64_MAX},
    {"loglevel", T::kEnum, "notice", true, 0, 0, "debug, verbose, notice, warning"},
    {"logfile", T::kString, "", false},
    {"proto-max-bulk-len", T::kMemory, "1048576", true, 1024, INT64_MAX},
    {"client-query-buffer-limit", T::kMemory, "1073741824", true, 1024 * 1024, INT64_MAX},
};

constexpr size_t kCount = std::size(kDirectives);

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int IndexOf(std::string_view name) {
  std::string lower = Lower(name);
  for (size_t i = 0; i < kCount; ++i) {
    if (kDirectives[i].name == lower) return static_cast<int>(i);
  }
  return -1;
}

bool ParseInt(std::string_view s, int64_t* v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Files the daemon creates in `dir`: names, never paths (as Redis).
bool IsFileName(std::string_view directive) {
  return directive == "appendfilename" || directive == "appenddirname" ||
         directive == "dbfilename";
}

// Validates `value` for directive `d`; on success stores the canonical form
// in *out. Returns "" or Redis's reason text.
std::string Normalize(const DirectiveInfo& d, std::string_view value, std::string* out) {
  switch (d.type) {
    case T::kBool: {
      std::string v = Lower(value);
      if (v != "yes" && v != "no") return std::string(err::kConfigBool);
      *out = v;
      return {};
    }
    case T::kInt: {
      int64_t v;
      if (!ParseInt(value, &v)) return std::string(err::kConfigInteger);
      if (v < d.min || v > d.max) {
        return err::ConfigRange(d.min, d.max);
      }
      *out = std::to_string(v);
      return {};
    }
    case T::kMemory: {
      uint64_t v;
      if (!ParseMemory(value, &v)) return std::string(err::kConfigMemory);
      if (v < static_cast<uint64_t>(d.min) || v > static_cast<uint64_t>(d.max)) {
        return err::ConfigRange(d.min, d.max);
      }
      *out = std::to_string(v);
      return {};
    }
    case T::kEnum: {
      std::string v = Lower(value);
      std::string_view rest = d.choices;
      while (!rest.empty()) {
        size_t comma = rest.find(", ");
        std::string_view choice = rest.substr(0, comma);
        if (choice == v) {
          *out = v;
          return {};
        }
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 2);
      }
      return err::ConfigChoices(d.choices);
    }
    case T::kSave: {
      std::istringstream in{std::string(value)};
      std::vector<std::string> parts;
      for (std::string p; in >> p;) parts.push_back(p);
      if (parts.size() % 2 != 0) return std::string(err::kConfigSave);
      std::string canon;
      for (const std::string& p : parts) {
        int64_t v;
        if (!ParseInt(p, &v) || v < 0) return std::string(err::kConfigSave);
        if (!canon.empty()) canon += ' ';
        canon += std::to_string(v);
      }
      *out = canon;
      return {};
    }
    case T::kList:
    case T::kString:
      if (value.find_first_of("\r\n") != std::string_view::npos && d.name != "requirepass") {
        return std::string(err::kConfigNewline);
      }
      if (IsFileName(d.name) && (value.empty() || value.find('/') != std::string_view::npos ||
                                 value == "." || value == "..")) {
        return err::ConfigNotAFileName(d.name);
      }
      *out = std::string(value);
      return {};
  }
  return "unknown directive type";
}

// Quotes a value for the config file when sdssplitargs would need it.
std::string Quote(std::string_view v) {
  bool plain = !v.empty();
  for (char c : v) {
    if (!std::isgraph(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '\\') {
      plain = false;
    }
  }
  if (plain) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (std::isprint(static_cast<unsigned char>(c))) {
          out += c;
        } else {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        }
    }
  }
  return out + "\"";
}

std::string FormatLine(const DirectiveInfo& d, const std::string& value) {
  if (d.type == T::kSave || d.type == T::kList) {
    return fmt::format("{} {}", d.name, value.empty() ? "\"\"" : value);
  }
  return fmt::format("{} {}", d.name, Quote(value));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::span<const DirectiveInfo> Config::Directives() { return kDirectives; }

bool SplitConfigLine(std::string_view line, std::vector<std::string>* out) {
  out->clear();
  size_t i = 0, n = line.size();
  for (;;) {
    while (i < n && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i >= n) return true;
    std::string cur;
    bool in_dq = false, in_sq = false;
    for (;;) {
      if (in_dq) {
        if (i >= n) return false;
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          cur += static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3]));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < n) {
          ++i;
          switch (line[i]) {
            case 'n': cur += '\n'; break;
            case 'r': cur += '\r'; break;
            case 't': cur += '\t'; break;
            case 'b': cur += '\b'; break;
            case 'a': cur += '\a'; break;
            default: cur += line[i];
          }
        } else if (line[i] == '"') {
          // The closing quote must be followed by a space or the end.
          if (i + 1 < n && !std::isspace(static_cast<unsigned char>(line[i + 1]))) return false;
          in_dq = false;
          ++i;
          break;
        } else {
          cur += line[i];
        }
      } else if (in_sq) {
        if (i >= n) return false;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          cur += '\'';
        } else if (line[i] == '\'') {
          if (i + 1 < n && !std::isspace(static_cast<unsigned char>(line[i + 1]))) return false;
          in_sq = false;
          ++i;
          break;
        } else {
          cur += line[i];
        }
      } else {
        if (i >= n || std::isspace(static_cast<unsigned char>(line[i]))) break;
        if (line[i] == '"') {
          in_dq = true;
        } else if (line[i] == '\'') {
          in_sq = true;
        } else {
          cur += line[i];
        }
      }
      ++i;
    }
    out->push_back(std::move(cur));
  }
}

bool ParseMemory(std::string_view text, uint64_t* bytes) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return false;
  uint64_t n;
  auto [p, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc()) return false;
  std::string unit = Lower(text.substr(digits));
  uint64_t mul;
  if (unit.empty() || unit == "b") mul = 1;
  else if (unit == "k") mul = 1000;
  else if (unit == "kb") mul = 1024;
  else if (unit == "m") mul = 1000 * 1000;
  else if (unit == "mb") mul = 1024 * 1024;
  else if (unit == "g") mul = 1000ULL * 1000 * 1000;
  else if (unit == "gb") mul = 1024ULL * 1024 * 1024;
  else return false;
  if (n > UINT64_MAX / mul) return false;
  *bytes = n * mul;
  return true;
}

Config::Config() {
  for (const DirectiveInfo& d : kDirectives) values_.emplace_back(d.default_value);
  RefreshHotLocked();
}

Config::Config(const Config& other) {
  std::shared_lock lock(other.mu_);
  values_ = other.values_;
  config_file_ = other.config_file_;
  RefreshHotLocked();
}

void Config::RefreshHotLocked() {
  auto u64 = [&](std::string_view name) {
    return std::stoull(values_[static_cast<size_t>(IndexOf(name))]);
  };
  maxclients_.store(u64("maxclients"), std::memory_order_relaxed);
  timeout_.store(static_cast<int64_t>(u64("timeout")), std::memory_order_relaxed);
  proto_max_bulk_len_.store(u64("proto-max-bulk-len"), std::memory_order_relaxed);
  query_buffer_limit_.store(u64("client-query-buffer-limit"), std::memory_order_relaxed);
  io_spin_us_.store(static_cast<int64_t>(u64("io-spin-us")), std::memory_order_relaxed);
  password_required_.store(!values_[static_cast<size_t>(IndexOf("requirepass"))].empty(),
                           std::memory_order_relaxed);
  LogLevel level;
  if (ParseLogLevel(values_[static_cast<size_t>(IndexOf("loglevel"))], &level)) {
    Log::SetLevel(level);
  }
  generation_.fetch_add(1, std::memory_order_release);
}

std::string Config::SetLocked(size_t index, std::string_view value, bool startup) {
  const DirectiveInfo& d = kDirectives[index];
  if (!startup && !d.runtime) return std::string(err::kConfigImmutable);
  std::string canon;
  std::string reason = Normalize(d, value, &canon);
  if (!reason.empty()) return reason;
  values_[index] = std::move(canon);
  return {};
}

std::string Config::Apply(std::string_view name, std::span<const std::string> values) {
  int index = IndexOf(name);
  if (index < 0) return std::string(err::kConfigBadDirective);
  const DirectiveInfo& d = kDirectives[index];
  std::string joined;
  if (d.type == T::kSave || d.type == T::kList) {
    if (values.empty()) return std::string(err::kConfigBadDirective);
    for (const std::string& v : values) {
      if (!joined.empty() && !v.empty()) joined += ' ';
      joined += v;
    }
  } else {
    if (values.size() != 1) return std::string(err::kConfigBadDirective);
    joined = values[0];
  }
  std::unique_lock lock(mu_);
  std::string reason;
  if (d.type == T::kSave && joined.empty()) save_seen_ = true;
  if (d.type == T::kSave && !joined.empty()) {
    // Every `save` line adds save points; the first one replaces the default.
    std::string previous = save_seen_ ? values_[static_cast<size_t>(index)] : "";
    save_seen_ = true;
    reason = SetLocked(static_cast<size_t>(index),
                       previous.empty() ? joined : previous + " " + joined, true);
  } else {
    reason = SetLocked(static_cast<size_t>(index), joined, true);
  }
  if (reason.empty()) RefreshHotLocked();
  return reason;
}

std::string Config::LoadFile(const std::string& path) {
  std::ifstream file_in;
  std::istream* in = &std::cin;
  if (path != "-") {
    file_in.open(path);
    if (!file_in) {
      return fmt::format("Fatal error, can't open config file '{}': {}", path,
                         std::strerror(errno));
    }
    in = &file_in;
    std::error_code ec;
    auto absolute = std::filesystem::absolute(path, ec);
    config_file_ = ec ? path : absolute.string();
  }
  std::string line;
  std::vector<std::string> words;
  for (int number = 1; std::getline(*in, line); ++number) {
    std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    std::string reason;
    if (!SplitConfigLine(trimmed, &words)) {
      reason = err::kConfigQuotes;
    } else {
      reason = Apply(words[0], std::span(words).subspan(1));
    }
    if (!reason.empty()) {
      return fmt::format(
          "\n*** FATAL CONFIG FILE ERROR (limiterd {}) ***\nReading the configuration file, at "
          "line {}\n>>> '{}'\n{}",
          kVersion, number, trimmed, reason);
    }
  }
  return {};
}

std::string Config::LoadFromArgs(std::span<const std::string> args) {
  size_t i = 0;
  if (i < args.size() && (args[i] == "-" || args[i].rfind("--", 0) != 0)) {
    std::string e = LoadFile(args[i]);
    if (!e.empty()) return e;
    ++i;
  }
  while (i < args.size()) {
    if (args[i].rfind("--", 0) != 0 || args[i].size() == 2) {
      return fmt::format(
          "\n*** FATAL CONFIG FILE ERROR (limiterd {}) ***\nReading the command line, at '{}'\n"
          "expected a --directive",
          kVersion, args[i]);
    }
    std::string name = args[i].substr(2);
    std::vector<std::string> values;
    for (++i; i < args.size() && args[i].rfind("--", 0) != 0; ++i) values.push_back(args[i]);
    std::string reason = Apply(name, values);
    if (!reason.empty()) {
      std::string shown = "--" + name;
      for (const std::string& v : values) {
        shown += ' ';  // appends: GCC 12 -O3 misreads " " + x (-Wrestrict)
        shown += Quote(v);
      }
      return fmt::format(
          "\n*** FATAL CONFIG FILE ERROR (limiterd {}) ***\nReading the command line\n>>> '{}'\n{}",
          kVersion, shown, reason);
    }
  }
  return {};
}

std::vector<std::pair<std::string, std::string>> Config::Get(
    std::span<const std::string_view> patterns) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::shared_lock lock(mu_);
  for (size_t i = 0; i < kCount; ++i) {
    for (std::string_view p : patterns) {
      if (GlobMatch(p, kDirectives[i].name, /*nocase=*/true)) {
        out.emplace_back(std::string(kDirectives[i].name), values_[i]);
        break;
      }
    }
  }
  return out;
}

std::string Config::Set(std::span<const std::string_view> pairs) {
  // Redis 7: the arity check gives fewer than one pair its error; an odd
  // count is a syntax error.
  if (pairs.empty() || pairs.size() % 2 != 0) return std::string(err::kSyntax);
  std::vector<int> seen;
  for (size_t i = 0; i < pairs.size(); i += 2) {
    int index = IndexOf(pairs[i]);
    if (index < 0) return err::ConfigSetUnknown(pairs[i]);
    if (std::find(seen.begin(), seen.end(), index) != seen.end()) {
      return err::ConfigSetFailed(pairs[i], err::kConfigDuplicate);
    }
    seen.push_back(index);
  }
  std::unique_lock lock(mu_);
  std::vector<std::string> saved = values_;
  for (size_t i = 0; i < pairs.size(); i += 2) {
    std::string reason = SetLocked(static_cast<size_t>(seen[i / 2]), pairs[i + 1], false);
    if (!reason.empty()) {
      values_ = std::move(saved);
      return err::ConfigSetFailed(pairs[i], reason);
    }
  }
  RefreshHotLocked();
  return {};
}

std::string Config::Rewrite() const {
  if (config_file_.empty()) return std::string(err::kNoConfigFile);
  std::vector<std::string> lines;
  {
    std::ifstream in(config_file_);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::vector<std::string> values;
  {
    std::shared_lock lock(mu_);
    values = values_;
  }
  std::vector<bool> written(kCount, false);
  std::string out;
  std::vector<std::string> words;
  bool generated_marker = false;
  for (const std::string& line : lines) {
    std::string trimmed = Trim(line);
    if (trimmed == "# Generated by CONFIG REWRITE") generated_marker = true;
    int index = -1;
    if (!trimmed.empty() && trimmed[0] != '#' && SplitConfigLine(trimmed, &words) &&
        !words.empty()) {
      index = IndexOf(words[0]);
    }
    if (index < 0) {
      out += line + "\n";
      continue;
    }
    if (!written[static_cast<size_t>(index)]) {
      out += FormatLine(kDirectives[index], values[static_cast<size_t>(index)]) + "\n";
      written[static_cast<size_t>(index)] = true;
    }
  }
  for (size_t i = 0; i < kCount; ++i) {
    if (written[i] || values[i] == kDirectives[i].default_value) continue;
    if (!generated_marker) {
      out += "# Generated by CONFIG REWRITE\n";
      generated_marker = true;
    }
    out += FormatLine(kDirectives[i], values[i]) + "\n";
  }
  std::string tmp = config_file_ + ".tmp-rewrite";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fmt::format("{}{}", err::kRewriteFailed, std::strerror(errno));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string e = fmt::format("{}{}", err::kRewriteFailed, std::strerror(errno));
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), config_file_.c_str()) != 0) {
    std::string e = fmt::format("{}{}", err::kRewriteFailed, std::strerror(errno));
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

std::string Config::GetValue(std::string_view name) const {
  int index = IndexOf(name);
  if (index < 0) return {};
  std::shared_lock lock(mu_);
  return values_[static_cast<size_t>(index)];
}

bool Config::CheckPassword(std::string_view password) const {
  std::string expected = GetValue("requirepass");
  // Constant time in the length of the expected password.
  unsigned diff = expected.size() != password.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i]) ^
            static_cast<unsigned char>(i < password.size() ? password[i] : 0);
  }
  return diff == 0;
}

std::vector<std::string> Config::bind() const {
  std::istringstream in(GetValue("bind"));
  std::vector<std::string> out;
  for (std::string a; in >> a;) out.push_back(a);
  return out;
}

int Config::port() const { return std::stoi(GetValue("port")); }

unsigned UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return static_cast<unsigned>(CPU_COUNT(&set));
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

int DefaultThreads(unsigned cores) { return cores > 1 ? static_cast<int>(cores) - 1 : 1; }

int Config::threads() const {
  int n = std::stoi(GetValue("threads"));
  if (n > 0) return n;
  return DefaultThreads(UsableCores());
}

LogLevel Config::loglevel() const {
  LogLevel level = LogLevel::kNotice;
  (void)ParseLogLevel(GetValue("loglevel"), &level);
  return level;
}

}  // namespace limiterd::server
