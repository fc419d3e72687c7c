#include "aof_manifest.h"

#include <charconv>
#include <cctype>

namespace limiterd::persistence {
namespace {

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

bool ParseSeq(std::string_view text, std::int64_t* seq) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *seq);
  return ec == std::errc() && end == text.data() + text.size() && *seq > 0;
}

}  // namespace

bool ValidAofFileName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || std::isspace(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

Result<Manifest> ParseManifest(std::string_view text, const std::string& path) {
  Manifest manifest;
  int line_number = 0;
  while (!text.empty()) {
    std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_number;
    auto fail = [&](const std::string& what) {
      return InvalidArgument(path + " line " + std::to_string(line_number) + ": " + what);
    };
    std::vector<std::string_view> words = Words(line);
    if (words.empty() || words[0].front() == '#') continue;
    if (words.size() % 2 != 0) return fail("expected 'key value' pairs");
    std::string_view name, type, seq_text;
    for (std::size_t i = 0; i < words.size(); i += 2) {
      if (words[i] == "file") name = words[i + 1];
      if (words[i] == "type") type = words[i + 1];
      if (words[i] == "seq") seq_text = words[i + 1];
    }
    if (name.empty() || type.empty() || seq_text.empty()) {
      return fail("a file line needs file, seq and type");
    }
    if (!ValidAofFileName(name)) return fail("bad file name '" + std::string(name) + "'");
    AofFile file{std::string(name), 0};
    if (!ParseSeq(seq_text, &file.seq)) return fail("bad seq '" + std::string(seq_text) + "'");
    if (type == "b") {
      if (manifest.base) return fail("a second base file");
      manifest.base = std::move(file);
    } else if (type == "i") {
      if (file.seq <= manifest.last_incr_seq()) return fail("incr files out of order");
      manifest.incrs.push_back(std::move(file));
    } else if (type != "h") {
      return fail("unknown file type '" + std::string(type) + "'");
    }
  }
  return manifest;
}

std::string SerializeManifest(const Manifest& manifest) {
  std::string out;
  auto line = [&](const AofFile& file, char type) {
    out += "file " + file.name + " seq " + std::to_string(file.seq) + " type " + type + "\n";
  };
  if (manifest.base) line(*manifest.base, 'b');
  for (const AofFile& incr : manifest.incrs) line(incr, 'i');
  return out;
}

std::string BaseFileName(std::string_view appendfilename, std::int64_t seq) {
  return std::string(appendfilename) + "." + std::to_string(seq) + ".base.snap";
}

std::string IncrFileName(std::string_view appendfilename, std::int64_t seq) {
  return std::string(appendfilename) + "." + std::to_string(seq) + ".incr.aof";
}

std::string ManifestFileName(std::string_view appendfilename) {
  return std::string(appendfilename) + ".manifest";
}

}  // namespace limiterd::persistence
