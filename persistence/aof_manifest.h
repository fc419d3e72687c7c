// The AOF's manifest: which files make the AOF, in Redis 7's text format,
// one line per file, base first, then incr files in the order they apply:
//
//   file appendonly.aof.2.base.snap seq 2 type b
//   file appendonly.aof.5.incr.aof seq 5 type i
//
// Names are relative to the manifest's directory. It is replaced whole and
// atomically (WriteFileAtomically), so a crash leaves the old list or the
// new one; files it does not list are leftovers that start-up ignores.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "limiterd/result.h"

namespace limiterd::persistence {

struct AofFile {
  std::string name;
  std::int64_t seq = 0;
};

struct Manifest {
  std::optional<AofFile> base;
  std::vector<AofFile> incrs;  // ascending seq

  [[nodiscard]] std::int64_t last_incr_seq() const { return incrs.empty() ? 0 : incrs.back().seq; }
  [[nodiscard]] std::int64_t base_seq() const { return base ? base->seq : 0; }
};

// `path` is for messages. Errors name the line: unknown type, a name with
// '/', no seq, two bases, incr seqs not ascending. Lines of other types
// (Redis's history 'h') and unknown keys are ignored, as Redis does.
Result<Manifest> ParseManifest(std::string_view text, const std::string& path);
std::string SerializeManifest(const Manifest& manifest);

// "<appendfilename>.<seq>.base.snap", "<appendfilename>.<seq>.incr.aof",
// "<appendfilename>.manifest".
std::string BaseFileName(std::string_view appendfilename, std::int64_t seq);
std::string IncrFileName(std::string_view appendfilename, std::int64_t seq);
std::string ManifestFileName(std::string_view appendfilename);

// A name that can stand in a manifest line: not empty, no whitespace, no
// '/', not "." or "..".
[[nodiscard]] bool ValidAofFileName(std::string_view name);

}  // namespace limiterd::persistence
