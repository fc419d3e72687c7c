// Copyright limiterd authors.
// The daemon's log: Redis's line format ("pid:M 22 Nov 2024 21:13:33.123 * text",
// level marks . - * #) to stdout or the `logfile`. Thread-safe; a line is
// written with one fwrite under a mutex, which is fine because nothing on the
// command path logs at the default level.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <string>
#include <string_view>

namespace limiterd::server {

enum class LogLevel { kDebug = 0, kVerbose = 1, kNotice = 2, kWarning = 3 };

// "debug" "verbose" "notice" "warning" -> level; false if unknown.
[[nodiscard]] bool ParseLogLevel(std::string_view name, LogLevel* level);

class Log {
 public:
  // Opens `path` for appending ("" = stdout). False (with errno set) if it
  // cannot be opened; the log keeps its previous target.
  [[nodiscard]] static bool SetFile(const std::string& path);
  static void SetLevel(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  static LogLevel level() { return level_.load(std::memory_order_relaxed); }
  static bool Enabled(LogLevel level) { return level >= Log::level(); }

  static void Write(LogLevel level, std::string_view text);

 private:
  static std::atomic<LogLevel> level_;
};

template <class... A>
void LogAt(LogLevel level, fmt::format_string<A...> f, A&&... a) {
  if (Log::Enabled(level)) Log::Write(level, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void LogDebug(fmt::format_string<A...> f, A&&... a) { LogAt(LogLevel::kDebug, f, std::forward<A>(a)...); }
template <class... A>
void LogVerbose(fmt::format_string<A...> f, A&&... a) { LogAt(LogLevel::kVerbose, f, std::forward<A>(a)...); }
template <class... A>
void LogNotice(fmt::format_string<A...> f, A&&... a) { LogAt(LogLevel::kNotice, f, std::forward<A>(a)...); }
template <class... A>
void LogWarning(fmt::format_string<A...> f, A&&... a) { LogAt(LogLevel::kWarning, f, std::forward<A>(a)...); }

}  // namespace limiterd::server
