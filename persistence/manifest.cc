// Copyright limiterd authors.
#include "manifest.h"

#include <sstream>

namespace limiterd::persistence {

std::string BaseName(const std::string& appendfilename, uint64_t seq) {
  return appendfilename + "." + std::to_string(seq) + ".base.snap";
}

std::string IncrName(const std::string& appendfilename, uint64_t seq) {
  return appendfilename + "." + std::to_string(seq) + ".incr.aof";
}

std::string Manifest::Format() const {
  std::string out;
  auto line = [&](const File& f) {
    out += "file " + f.name + " seq " + std::to_string(f.seq) + " type " + (f.base ? "b" : "i") +
           "\n";
  };
  if (base) line(*base);
  for (const File& f : incrs) line(f);
  return out;
}

uint64_t Manifest::LastSeq() const {
  uint64_t seq = base ? base->seq : 0;
  for (const File& f : incrs) seq = std::max(seq, f.seq);
  return seq;
}

std::optional<Manifest> Manifest::Parse(std::string_view text, std::string* error) {
  Manifest m;
  std::istringstream in{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string file_kw, name, seq_kw, type_kw, type;
    uint64_t seq = 0;
    if (!(words >> file_kw >> name >> seq_kw >> seq >> type_kw >> type) || file_kw != "file" ||
        seq_kw != "seq" || type_kw != "type" || (type != "b" && type != "i") ||
        name.find('/') != std::string::npos) {
      *error = "malformed manifest line " + std::to_string(number) + ": '" + line + "'";
      return std::nullopt;
    }
    File f{name, seq, type == "b"};
    if (f.base) {
      if (m.base || !m.incrs.empty()) {
        *error = "manifest line " + std::to_string(number) + ": a base must be first and alone";
        return std::nullopt;
      }
      m.base = f;
    } else {
      m.incrs.push_back(f);
    }
  }
  return m;
}

}  // namespace limiterd::persistence
