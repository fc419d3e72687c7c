// Copyright limiterd authors.
#include "log.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <mutex>

namespace limiterd::server {

std::atomic<LogLevel> Log::level_{LogLevel::kNotice};

namespace {
std::mutex g_mu;
FILE* g_file = nullptr;  // GUARDED_BY(g_mu); nullptr: stdout
}  // namespace

bool ParseLogLevel(std::string_view name, LogLevel* level) {
  static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
      {"debug", LogLevel::kDebug},
      {"verbose", LogLevel::kVerbose},
      {"notice", LogLevel::kNotice},
      {"warning", LogLevel::kWarning}};
  for (const auto& [n, l] : kNames) {
    if (n == name) {
      *level = l;
      return true;
    }
  }
  return false;
}

bool Log::SetFile(const std::string& path) {
  FILE* f = nullptr;
  if (!path.empty()) {
    f = std::fopen(path.c_str(), "a");
    if (f == nullptr) return false;
  }
  std::lock_guard lock(g_mu);
  if (g_file != nullptr) std::fclose(g_file);
  g_file = f;
  return true;
}

void Log::Write(LogLevel level, std::string_view text) {
  static constexpr char kMarks[] = {'.', '-', '*', '#'};
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char when[64];
  size_t n = std::strftime(when, sizeof when, "%d %b %Y %H:%M:%S", &t);
  std::string line = fmt::format("{}:M {}.{:03d} {} {}\n", getpid(), std::string_view(when, n),
                                 static_cast<int>(tv.tv_usec / 1000),
                                 kMarks[static_cast<int>(level)], text);
  std::lock_guard lock(g_mu);
  FILE* out = g_file != nullptr ? g_file : stdout;
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace limiterd::server
