// Copyright limiterd authors.
// The AOF: replay, MULTI/EXEC as one group, groups over 1 MiB, every
// truncation point of the last record, damage anywhere, start-up from a
// snapshot, the manifest.
#include "aof_manifest.h"
#include "file_format.h"
#include "persistence_test_util.h"

using namespace pt;  // NOLINT

namespace {

// Offsets of the records of a file, in order.
std::vector<uint64_t> RecordOffsets(const std::string& bytes) {
  std::vector<uint64_t> offsets;
  RecordReader reader(bytes);
  Record record;
  while (reader.Next(&record)) offsets.push_back(record.offset);
  REQUIRE(reader.end() == ReadEnd::kClean);
  return offsets;
}

// Rewrites the header of a limiterd file to say `version`; the records
// after it stay as they are.
void SetFormatVersion(const std::string& path, uint32_t version) {
  const std::string bytes = ReadFile(path);
  RecordReader reader(bytes);
  Record first;
  REQUIRE(reader.Next(&first));
  REQUIRE(first.type == kFileHeader);
  FileHeader header;
  std::string error;
  REQUIRE(DecodeFileHeader(first.payload, &header, &error));
  header.version = version;
  std::string out;
  REQUIRE(AppendRecord(out, kFileHeader, EncodeFileHeader(header)));
  out.append(bytes, first.offset + kRecordHeaderSize + first.payload.size());
  WriteFile(path, out);
}

uint32_t FormatVersionOf(const std::string& path) {
  FileHeader header;
  REQUIRE(PeekFileHeader(ReadFile(path), &header));
  return header.version;
}

Result<LoadReport> LoadInto(Engine& e, const std::string& dir, bool load_truncated = true) {
  DurabilityOptions o = Options(dir, true);
  o.aof_load_truncated = load_truncated;
  Durability d(e, o);
  return d.Load();
}

}  // namespace

TEST_CASE("aof: every change is replayed, across restarts", "[aof]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine original(EngineOptions{"/", &clock});
  {
    Durability d(original, Options(dir.path(), true));
    auto report = d.Load();
    REQUIRE(report.ok());
    CHECK(report->source == "none");
    Populate(original, 300);
    CHECK(d.Info().aof_enabled);
    CHECK(static_cast<int64_t>(d.Info().aof_records) == d.Info().rdb_changes_since_last_save);
  }
  // The manifest Redis 7 would write: one incr, no base yet.
  CHECK(ReadFile(dir.manifest()) == "file appendonly.aof.1.incr.aof seq 1 type i\n");
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path(), true));
    auto report = d.Load();
    REQUIRE(report.ok());
    CHECK(report->source == "aof");
    CHECK(report->records > 300);
    CHECK_FALSE(report->truncated_tail);
    CHECK(Dump(e) == Dump(original));
    // Appending after a restart goes on in the same file.
    REQUIRE(e.Consume("org:a/u:1", 1)->allowed);
    REQUIRE(original.Consume("org:a/u:1", 1)->allowed);
  }
  Engine e(EngineOptions{"/", &clock});
  REQUIRE(LoadInto(e, dir.path()).ok());
  CHECK(Dump(e) == Dump(original));
  std::string out;
  CHECK(CheckAof(dir.manifest(), false, out) == 0);
  CHECK(Contains(out, "is valid"));
}

TEST_CASE("aof: a MULTI/EXEC is one group, on disk all or nothing", "[aof]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  std::string before_exec;
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path(), true));
    REQUIRE(d.Load().ok());
    REQUIRE(*e.Set("k", Quota(10)));
    REQUIRE(*e.Set("j", Quota(10)));
    before_exec = Dump(e);
    const uint64_t records = d.Info().aof_records;
    {
      std::string_view keys[] = {"k", "j"};
      AtomicSection section = e.Atomic(keys);
      d.BeginTransaction();
      REQUIRE(e.Consume("k", 1)->allowed);
      REQUIRE(e.Consume("j", 2)->allowed);
      REQUIRE(e.Consume("k", 3)->allowed);
      d.CommitTransaction();
    }
    CHECK(d.Info().aof_records == records + 1);
    CHECK(d.Info().rdb_changes_since_last_save == 5);  // every Record call counts
    // Nothing changed: nothing logged.
    d.BeginTransaction();
    d.CommitTransaction();
    CHECK(d.Info().aof_records == records + 1);
  }
  // Cut one byte off: the whole transaction goes, not a part of it.
  const std::string incr = ReadFile(dir.incr(1));
  WriteFile(dir.incr(1), std::string_view(incr).substr(0, incr.size() - 1));
  Engine e(EngineOptions{"/", &clock});
  auto report = LoadInto(e, dir.path());
  REQUIRE(report.ok());
  CHECK(report->truncated_tail);
  CHECK(Dump(e) == before_exec);
}

TEST_CASE("aof: a change set over 1 MiB is a group, replayed whole or dropped whole", "[aof]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  std::string with, without;
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path(), true));
    REQUIRE(d.Load().ok());
    REQUIRE(*e.Set("p/*", Quota(100)));
    without = Dump(e);
    // One EXEC of 15,000 consumes of long keys: one change set of well over
    // a megabyte.
    const std::string pad(100, 'x');
    {
      AtomicSection section = e.AtomicAll();
      d.BeginTransaction();
      for (int i = 0; i < 15'000; ++i) {
        REQUIRE(e.Consume("p/" + pad + std::to_string(i), 1)->allowed);
      }
      d.CommitTransaction();
    }
    with = Dump(e);
    REQUIRE(with != without);
  }
  const std::string incr = ReadFile(dir.incr(1));
  REQUIRE(incr.size() > kSplitPayload + 100'000);
  std::vector<uint64_t> offsets = RecordOffsets(incr);
  REQUIRE(offsets.size() >= 4);  // header, the LIMIT.SET, parts..., the end of the group
  RecordReader reader(std::string_view(incr).substr(offsets[offsets.size() - 2]));
  Record part;
  REQUIRE(reader.Next(&part));
  CHECK(part.type == kChangesPart);  // the group's parts precede its end
  {
    Engine e(EngineOptions{"/", &clock});
    auto report = LoadInto(e, dir.path());
    REQUIRE(report.ok());
    CHECK(report->records == 2);
    CHECK(Dump(e) == with);
  }
  // Torn inside the group (its final record missing): all of it goes.
  WriteFile(dir.incr(1), std::string_view(incr).substr(0, offsets.back() + 5));
  Engine e(EngineOptions{"/", &clock});
  auto report = LoadInto(e, dir.path());
  REQUIRE(report.ok());
  CHECK(report->truncated_tail);
  CHECK(fs::file_size(dir.incr(1)) == offsets[2]);  // cut where the group began
  CHECK(Dump(e) == without);
}

TEST_CASE("aof: every truncation point of the last record", "[aof]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  std::string without_last, with_last;
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path(), true));
    REQUIRE(d.Load().ok());
    Populate(e, 20);
    without_last = Dump(e);
    REQUIRE(e.Consume("org:a/u:0", 1)->allowed);  // two levels: one record
    with_last = Dump(e);
  }
  const std::string incr = ReadFile(dir.incr(1));
  const uint64_t last = RecordOffsets(incr).back();
  REQUIRE(incr.size() - last > 20);
  for (uint64_t cut = last; cut <= incr.size(); ++cut) {
    INFO("cut at " << cut << " of " << incr.size() << ", last record at " << last);
    TempDir copy;
    CopyDir(dir.path(), copy.path());
    WriteFile(copy.incr(1), std::string_view(incr).substr(0, cut));
    const bool torn = cut != last && cut != incr.size();
    {
      Engine e(EngineOptions{"/", &clock});
      auto report = LoadInto(e, copy.path(), /*load_truncated=*/false);
      if (torn) {
        REQUIRE_FALSE(report.ok());
        CHECK(Contains(report.error().message, copy.incr(1) + ": torn tail at offset " +
                                                   std::to_string(last)));
        CHECK(fs::file_size(copy.incr(1)) == cut);  // refused: untouched
      } else {
        REQUIRE(report.ok());
      }
    }
    Engine e(EngineOptions{"/", &clock});
    auto report = LoadInto(e, copy.path(), /*load_truncated=*/true);
    REQUIRE(report.ok());
    CHECK(report->truncated_tail == torn);
    CHECK(Dump(e) == (cut == incr.size() ? with_last : without_last));
    if (torn) {
      CHECK(Contains(report->warning, copy.incr(1)));
      CHECK(Contains(report->warning, "offset " + std::to_string(last)));
      CHECK(fs::file_size(copy.incr(1)) == last);  // cut at the last whole record
    }
  }
}

TEST_CASE("aof: damage in the middle stops start-up, naming file and offset", "[aof]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path(), true));
    REQUIRE(d.Load().ok());
    Populate(e, 50);
  }
  const std::string incr = ReadFile(dir.incr(1));
  const std::vector<uint64_t> offsets = RecordOffsets(incr);
  const size_t middle = offsets.size() / 2;
  // A byte of the middle record's payload.
  const uint64_t at = offsets[middle] + kRecordHeaderSize + 1;
  REQUIRE(at < offsets[middle + 1]);
  std::string bad = incr;
  bad[at] ^= 0x20;
  WriteFile(dir.incr(1), bad);
  for (bool load_truncated : {true, false}) {
    Engine e(EngineOptions{"/", &clock});
    auto report = LoadInto(e, dir.path(), load_truncated);
    REQUIRE_FALSE(report.ok());
    INFO(report.error().message);
    CHECK(Contains(report.error().message, dir.incr(1) + ": corruption at offset " +
                                               std::to_string(offsets[middle])));
    CHECK(fs::file_size(dir.incr(1)) == bad.size());
  }
  std::string out;
  CHECK(CheckAof(dir.manifest(), false, out) == 1);
  CHECK(Contains(out, "offset " + std::to_string(offsets[middle])));
}

TEST_CASE("aof: a torn tail in an incr file that is not the last is corruption", "[aof]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path(), true));
    REQUIRE(d.Load().ok());
    Populate(e, 10);
  }
  // A second incr after the first, as a rewrite that failed after step 1
  // leaves it.
  WriteFile(dir.incr(2), FramedFileHeader(kAofMagic, kT0, "/"));
  WriteFile(dir.manifest(),
            "file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 "
            "type i\n");
  {
    Engine e(EngineOptions{"/", &clock});
    REQUIRE(LoadInto(e, dir.path()).ok());
  }
  const std::string incr = ReadFile(dir.incr(1));
  WriteFile(dir.incr(1), std::string_view(incr).substr(0, incr.size() - 2));
  Engine e(EngineOptions{"/", &clock});
  auto report = LoadInto(e, dir.path());
  REQUIRE_FALSE(report.ok());
  CHECK(Contains(report.error().message, dir.incr(1)));
  CHECK(Contains(report.error().message, "not the last"));
}

TEST_CASE("aof: appendonly yes over a snapshot makes it the base", "[aof]") {
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine original(EngineOptions{"/", &clock});
  {
    Durability d(original, Options(dir.path(), false));
    REQUIRE(d.Load().ok());
    Populate(original, 100);
    REQUIRE(d.Save().ok());
  }
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path(), true));
    auto report = d.Load();
    REQUIRE(report.ok());
    CHECK(report->source == "snapshot");
    CHECK(Dump(e) == Dump(original));
    CHECK(ReadFile(dir.manifest()) ==
          "file appendonly.aof.1.base.snap seq 1 type b\n"
          "file appendonly.aof.1.incr.aof seq 1 type i\n");
    REQUIRE(e.Consume("org:a/u:5", 1)->allowed);
    REQUIRE(original.Consume("org:a/u:5", 1)->allowed);
  }
  fs::remove(dir.snapshot());  // the AOF alone has it all now
  Engine e(EngineOptions{"/", &clock});
  auto report = LoadInto(e, dir.path());
  REQUIRE(report.ok());
  CHECK(report->source == "aof");
  CHECK(report->keys > 100);
  CHECK(Dump(e) == Dump(original));
}

TEST_CASE("aof: version 1 files load, and what follows goes to a new version 2 incr file",
          "[aof]") {
  // Version 1 is version 2 without shared keys, which only a path of more
  // than one level writes: single-level keys make version 1 files.
  TempDir dir;
  AdjustableClock clock(kT0);
  Engine original(EngineOptions{"/", &clock});
  auto single_level = [](Engine& e, int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string key = "k" + std::to_string(i);
      REQUIRE(*e.Set(key, Quota(100)));
      REQUIRE(e.Consume(key, 1 + i % 7)->allowed);
    }
  };
  {
    Durability d(original, Options(dir.path(), false));
    REQUIRE(d.Load().ok());
    single_level(original, 0, 50);
    REQUIRE(d.Save().ok());
  }
  {
    Durability d(original, Options(dir.path(), true));
    REQUIRE(d.Load().ok());  // the snapshot becomes the base
    single_level(original, 50, 80);
  }
  SetFormatVersion(dir.base(1), 1);
  SetFormatVersion(dir.incr(1), 1);
  const std::string version1_incr = ReadFile(dir.incr(1));
  REQUIRE(*original.Set("org:a", Quota(1000)));
  REQUIRE(*original.Set("org:a/p:1", Quota(1000)));
  REQUIRE(*original.Set("org:a/p:1/u:1", Quota(1000)));
  {
    Engine e(EngineOptions{"/", &clock});
    Durability d(e, Options(dir.path(), true));
    auto report = d.Load();
    REQUIRE(report.ok());
    CHECK(report->source == "aof");
    CHECK(e.Size() == 80);
    CHECK(ReadFile(dir.manifest()) ==
          "file appendonly.aof.1.base.snap seq 1 type b\n"
          "file appendonly.aof.1.incr.aof seq 1 type i\n"
          "file appendonly.aof.2.incr.aof seq 2 type i\n");
    CHECK(FormatVersionOf(dir.incr(2)) == kFormatVersion);
    // A three-level path: its records share their keys' prefixes.
    REQUIRE(*e.Set("org:a", Quota(1000)));
    REQUIRE(*e.Set("org:a/p:1", Quota(1000)));
    REQUIRE(*e.Set("org:a/p:1/u:1", Quota(1000)));
    for (Engine* engine : {&e, &original}) {
      REQUIRE(engine->Consume("org:a/p:1/u:1", 5)->allowed);
      REQUIRE(engine->Consume("k3", 1)->allowed);
    }
    CHECK(Dump(e) == Dump(original));
  }
  CHECK(ReadFile(dir.incr(1)) == version1_incr);  // untouched, still version 1
  CHECK(FormatVersionOf(dir.incr(1)) == 1);
  CHECK(FormatVersionOf(dir.base(1)) == 1);
  Engine e(EngineOptions{"/", &clock});
  auto report = LoadInto(e, dir.path());
  REQUIRE(report.ok());
  CHECK(Dump(e) == Dump(original));
  CHECK(e.Usage("org:a/p:1")->value().consumed == 5);
  // Loaded again, the last file is of this version: no new one.
  CHECK(Contains(ReadFile(dir.manifest()), "seq 2 type i\n"));
  CHECK_FALSE(Contains(ReadFile(dir.manifest()), "seq 3"));
  std::string out;
  CHECK(CheckAof(dir.manifest(), false, out) == 0);
}

TEST_CASE("aof: an incr file of a version this build does not read stops the load", "[aof]") {
  TempDir dir;
  {
    Engine e;
    Durability d(e, Options(dir.path(), true));
    REQUIRE(d.Load().ok());
    REQUIRE(*e.Set("k", Quota(100)));
  }
  const std::string manifest = ReadFile(dir.manifest());
  for (uint32_t version : {kFormatVersion + 1, kOldestFormatVersion - 1}) {
    SetFormatVersion(dir.incr(1), version);
    const std::string incr = ReadFile(dir.incr(1));
    Engine e;
    auto report = LoadInto(e, dir.path());
    REQUIRE_FALSE(report.ok());
    CHECK(Contains(report.error().message,
                   "AOF format version " + std::to_string(version) +
                       " is not supported (this build reads versions 1 to 2)"));
    CHECK(e.Size() == 0);
    CHECK(ReadFile(dir.incr(1)) == incr);  // nothing cut, nothing appended
    CHECK(ReadFile(dir.manifest()) == manifest);
  }
}

TEST_CASE("aof: a file the manifest lists is missing", "[aof]") {
  TempDir dir;
  {
    Engine e;
    Durability d(e, Options(dir.path(), true));
    REQUIRE(d.Load().ok());
  }
  fs::remove(dir.incr(1));
  Engine e;
  auto report = LoadInto(e, dir.path());
  REQUIRE_FALSE(report.ok());
  CHECK(Contains(report.error().message, dir.incr(1)));
}

TEST_CASE("aof: manifest text", "[aof][manifest]") {
  Manifest m;
  m.base = AofFile{"a.1.base.snap", 1};
  m.incrs = {AofFile{"a.1.incr.aof", 1}, AofFile{"a.2.incr.aof", 2}};
  const std::string text = SerializeManifest(m);
  CHECK(text ==
        "file a.1.base.snap seq 1 type b\nfile a.1.incr.aof seq 1 type i\n"
        "file a.2.incr.aof seq 2 type i\n");
  auto parsed = ParseManifest(text, "m");
  REQUIRE(parsed.ok());
  CHECK(SerializeManifest(*parsed) == text);
  CHECK(parsed->last_incr_seq() == 2);
  CHECK(parsed->base_seq() == 1);
  // Redis's history lines and unknown keys are ignored; blank lines too.
  auto redis = ParseManifest("\nfile a seq 3 type h\nfile b seq 4 type i startoffset 0\n", "m");
  REQUIRE(redis.ok());
  CHECK(redis->incrs.size() == 1);
  for (const char* bad : {"file x seq 1 type q\n", "file ../x seq 1 type i\n",
                          "file a seq 1 type b\nfile b seq 1 type b\n",
                          "file a seq 2 type i\nfile b seq 1 type i\n", "file a seq x type i\n",
                          "file a seq 1\n", "file a seq 0 type i\n", "file a seq\n"}) {
    INFO(bad);
    auto r = ParseManifest(bad, "m");
    REQUIRE_FALSE(r.ok());
    CHECK(Contains(r.error().message, "m line "));
  }
}
