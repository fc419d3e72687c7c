#include "aof_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "aof_incr.h"
#include "file_format.h"
#include "mapped_file.h"
#include "snapshot_file.h"

namespace limiterd::persistence {
namespace {

std::string Join(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

Error BadFormat(const std::string& path, const std::string& what) {
  return InvalidArgument("Bad file format reading the append only file " + path + ": " + what +
                         ". Make a backup of it, then see `limiterd --check-aof " + path + "`");
}

// One incr file: applies it; cuts a torn tail when allowed (`last`).
Result<bool> LoadIncr(const std::string& path, bool last, bool load_truncated, Engine& engine,
                      AofLoad& load) {
  IncrScan scan;
  {
    MappedFile file;
    if (Status s = MappedFile::Open(path, &file); !s.ok()) {
      return InvalidArgument("Can't open the append only file " + path + " listed in the manifest: " +
                             s.message());
    }
    FileHeader header;
    if (PeekFileHeader(file.bytes(), &header) && header.separator != engine.separator()) {
      return BadFormat(path, "written with hierarchy-separator '" + header.separator +
                                 "', but this server uses '" + engine.separator() + "'");
    }
    scan = ScanIncr(file.bytes(), [&](std::string_view changes) {
      return engine.ApplyChanges(changes);
    });
  }  // unmapped before any truncation
  load.records += scan.groups;
  if (last && scan.has_header) load.last_incr_version = scan.header.version;
  switch (scan.end) {
    case IncrScan::End::kClean:
      // The log appends after the last record (OpenIncrFile: at the file's
      // size), so the last file's zero-filled space goes; it is zero-filled
      // again as needed. Earlier files keep theirs: nothing appends there.
      if (last && scan.padding > 0) {
        if (Status s = TruncateFile(path, scan.good_size); !s.ok()) {
          return InvalidArgument("Can't cut the zero-filled space at the end of " + path + ": " +
                                 s.message());
        }
      }
      return true;
    case IncrScan::End::kCorruption: return BadFormat(path, scan.Describe());
    case IncrScan::End::kTornTail: break;
  }
  if (!last) return BadFormat(path, scan.Describe() + " in a file that is not the last one");
  if (!load_truncated) {
    return InvalidArgument("Unexpected end of file reading the append only file " + path + ": " +
                           scan.Describe() +
                           ". aof-load-truncated is no: cut the torn record with `limiterd "
                           "--check-aof " + path + " --fix`, or set aof-load-truncated yes");
  }
  const std::uint64_t size = FileSizeOr0(path);
  if (Status s = TruncateFile(path, scan.good_size); !s.ok()) {
    return InvalidArgument("Can't truncate the torn tail of " + path + ": " + s.message());
  }
  load.truncated_tail = true;
  load.warning = path + ": " + scan.Describe() + "; truncated the file to " +
                 std::to_string(scan.good_size) + " bytes (" +
                 std::to_string(size - scan.good_size) + " bytes dropped)";
  return true;
}

}  // namespace

std::uint64_t FileSizeOr0(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

Result<AofLoad> LoadAofFiles(const std::string& aof_dir, const Manifest& manifest,
                             Engine& engine, bool load_truncated) {
  AofLoad load;
  if (manifest.base) {
    const std::string path = Join(aof_dir, manifest.base->name);
    auto base = LoadSnapshotFile(path, engine);
    if (!base.ok()) {
      return InvalidArgument("Bad base file of the append only file: " + base.error().message);
    }
    load.keys = base->entries;
  }
  for (std::size_t i = 0; i < manifest.incrs.size(); ++i) {
    const std::string path = Join(aof_dir, manifest.incrs[i].name);
    const bool last = i + 1 == manifest.incrs.size();
    if (auto r = LoadIncr(path, last, load_truncated, engine, load); !r.ok()) return r.error();
  }
  return load;
}

Result<NewIncr> CreateIncrFile(const std::string& aof_dir, const std::string& name,
                               std::int64_t created_ms, const std::string& separator) {
  const std::string path = Join(aof_dir, name);
  const std::string header = FramedFileHeader(kAofMagic, created_ms, separator);
  if (Status s = WriteFileAtomically(path, header); !s.ok()) return InvalidArgument(s.message());
  int fd = -1;
  if (Status s = OpenForWriting(path, &fd); !s.ok()) return InvalidArgument(s.message());
  return NewIncr{std::make_shared<LogFile>(fd, path), header.size()};
}

Result<NewIncr> OpenIncrFile(const std::string& path, std::int64_t created_ms,
                             const std::string& separator) {
  int fd = -1;
  if (Status s = OpenForWriting(path, &fd); !s.ok()) return InvalidArgument(s.message());
  auto file = std::make_shared<LogFile>(fd, path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return InvalidArgument(Status::IoError("stat", path, errno).message());
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size == 0) {
    const std::string header = FramedFileHeader(kAofMagic, created_ms, separator);
    if (Status s = AppendAndSync(fd, header, /*sync=*/true, path); !s.ok()) {
      return InvalidArgument(s.message());
    }
    size = header.size();
  }
  return NewIncr{std::move(file), size};
}

Result<bool> WriteManifest(const std::string& aof_dir, const std::string& appendfilename,
                           const Manifest& manifest) {
  const std::string path = Join(aof_dir, ManifestFileName(appendfilename));
  if (Status s = WriteFileAtomically(path, SerializeManifest(manifest)); !s.ok()) {
    return InvalidArgument(s.message());
  }
  return true;
}

Result<Manifest> ReadManifest(const std::string& path) {
  std::string text;
  if (Status s = ReadWholeFile(path, &text); !s.ok()) return InvalidArgument(s.message());
  return ParseManifest(text, path);
}

}  // namespace limiterd::persistence
