// Copyright limiterd authors.
// What one group commit's fdatasync costs, by how the AOF file is grown:
// appended (the size changes with every write, so each fdatasync also
// commits it to the filesystem's journal), written into space zero-filled
// ahead (what persistence/aof_log.h does with appendfsync always), or into
// fallocate'd space (unwritten extents: converting them is a journal
// commit too). Each iteration writes `bytes` and fdatasyncs.
//   build/release/bench/fsync_bench --benchmark_min_time=2
// The file lives in $BENCH_TMPDIR, else $TMPDIR, else /tmp: a real disk,
// not tmpfs, or every fsync costs nothing.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace {

enum class Growth { kAppend, kZeroFilled, kFallocated };

std::string TempPath() {
  const char* dir = std::getenv("BENCH_TMPDIR");
  if (dir == nullptr) dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/limiterd-fsync-bench." +
         std::to_string(::getpid());
}

void BM_Fdatasync(benchmark::State& state, Growth growth) {
  const auto bytes = static_cast<std::size_t>(state.range(0));
  const std::string path = TempPath();
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    state.SkipWithError("cannot create the file");
    return;
  }
  // Room for this many writes before starting over at offset 0.
  const off_t span = static_cast<off_t>(bytes) * 20000;
  if (growth == Growth::kZeroFilled) {
    const std::string zeros(1 << 20, '\0');
    for (off_t at = 0; at < span; at += static_cast<off_t>(zeros.size())) {
      if (::pwrite(fd, zeros.data(), zeros.size(), at) < 0) state.SkipWithError("zero-fill");
    }
  } else if (growth == Growth::kFallocated) {
    if (::fallocate(fd, 0, 0, span) != 0) state.SkipWithError("fallocate");
  }
  ::fsync(fd);
  const std::string record(bytes, 'r');
  off_t at = 0;
  for (auto _ : state) {
    if (at + static_cast<off_t>(bytes) > span) {
      // Appending: start over on an empty file, as a new one would.
      state.PauseTiming();
      if (growth == Growth::kAppend && ::ftruncate(fd, 0) == 0) ::fsync(fd);
      at = 0;
      state.ResumeTiming();
    }
    if (::pwrite(fd, record.data(), bytes, at) != static_cast<ssize_t>(bytes) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("write or fdatasync failed");
      break;
    }
    at += static_cast<off_t>(bytes);
  }
  ::close(fd);
  ::unlink(path.c_str());
}

BENCHMARK_CAPTURE(BM_Fdatasync, append, Growth::kAppend)->Arg(600)->Arg(2048)->Arg(16 << 10)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fdatasync, zero_filled, Growth::kZeroFilled)
    ->Arg(600)->Arg(2048)->Arg(16 << 10)->UseRealTime();
BENCHMARK_CAPTURE(BM_Fdatasync, fallocated, Growth::kFallocated)
    ->Arg(600)->Arg(2048)->Arg(16 << 10)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
