#include "record_format.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "xxhash.h"

namespace lp = limiterd::persistence;

namespace {

struct Written {
  std::uint8_t type;
  std::string payload;
  std::uint64_t offset;
};

struct ReadResult {
  std::vector<Written> records;
  lp::ReadEnd end;
  std::uint64_t end_offset;
  std::string message;
};

ReadResult ReadAll(std::string_view buffer) {
  lp::RecordReader reader(buffer);
  ReadResult result;
  lp::Record record;
  while (reader.Next(&record)) {
    result.records.push_back({record.type, std::string(record.payload), record.offset});
  }
  REQUIRE(reader.end() != lp::ReadEnd::kNotYet);
  REQUIRE_FALSE(reader.Next(&record));  // stays ended
  result.end = reader.end();
  result.end_offset = reader.end_offset();
  result.message = reader.message();
  return result;
}

std::string Build(std::vector<Written>& records) {
  std::string file;
  for (auto& r : records) {
    r.offset = file.size();
    REQUIRE(lp::AppendRecord(file, r.type, r.payload));
  }
  return file;
}

std::string RandomBytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// A small file of varied records: empty, header-sized, all-zero payload, a
// payload that looks like a length. Its last byte is not zero, so no
// zero-tail rule can apply to damage in it.
std::vector<Written> SmallRecords() {
  return {
      {1, "", 0},
      {2, "x", 0},
      {255, std::string(13, 'h'), 0},
      {0, std::string(40, '\0'), 0},
      {3, std::string("\x05\x00\x00\x00", 4), 0},
      {7, std::string(200, 'p'), 0},
      {9, "", 0},
      {4, "tail!", 0},
  };
}

void CheckPrefix(const ReadResult& got, const std::vector<Written>& want, std::size_t count) {
  REQUIRE(got.records.size() == count);
  for (std::size_t i = 0; i < count; ++i) {
    CHECK(got.records[i].type == want[i].type);
    CHECK(got.records[i].payload == want[i].payload);
    CHECK(got.records[i].offset == want[i].offset);
  }
}

}  // namespace

TEST_CASE("fixed integers are little-endian", "[record]") {
  std::string out;
  lp::PutFixed32(out, 0x04030201u);
  lp::PutFixed64(out, 0x0c0b0a0908070605ull);
  CHECK(out == std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"));
  CHECK(lp::DecodeFixed32(out.data()) == 0x04030201u);
  CHECK(lp::DecodeFixed64(out.data() + 4) == 0x0c0b0a0908070605ull);
  std::string high;
  lp::PutFixed32(high, 0xfffffffeu);
  lp::PutFixed64(high, 0xfffffffffffffffdull);
  CHECK(lp::DecodeFixed32(high.data()) == 0xfffffffeu);
  CHECK(lp::DecodeFixed64(high.data() + 4) == 0xfffffffffffffffdull);
}

TEST_CASE("varints round trip with the LEB128 sizes", "[record]") {
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::vector<std::pair<std::uint64_t, std::size_t>> cases = {
      {0, 1}, {1, 1}, {127, 1}, {128, 2}, {300, 2}, {16383, 2}, {16384, 3},
      {0xffffffffull, 5}, {1ull << 63, 10}, {max, 10}};
  std::string all;
  for (auto [value, size] : cases) {
    std::string one;
    lp::PutVarint64(one, value);
    CHECK(one.size() == size);
    all += one;
  }
  CHECK(std::string_view(all).substr(0, 3) == std::string_view("\x00\x01\x7f", 3));
  std::string_view in = all;
  for (auto [value, size] : cases) {
    std::uint64_t got = 0;
    REQUIRE(lp::GetVarint64(&in, &got));
    CHECK(got == value);
  }
  CHECK(in.empty());

  std::mt19937_64 rng(42);
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    std::string s;
    lp::PutVarint64(s, v);
    std::string_view view = s;
    std::uint64_t got = 0;
    REQUIRE(lp::GetVarint64(&view, &got));
    CHECK(got == v);
    CHECK(view.empty());
  }
}

TEST_CASE("bad varints are refused and leave the input alone", "[record]") {
  std::uint64_t got = 7;
  std::string_view empty;
  CHECK_FALSE(lp::GetVarint64(&empty, &got));
  std::string cut;
  lp::PutVarint64(cut, 1ull << 40);
  cut.pop_back();  // ends inside the varint
  std::string_view in = cut;
  CHECK_FALSE(lp::GetVarint64(&in, &got));
  CHECK(in.size() == cut.size());
  const std::string overflow = std::string(9, '\xff') + '\x02';  // bit 64
  in = overflow;
  CHECK_FALSE(lp::GetVarint64(&in, &got));
  const std::string too_long = std::string(10, '\x80') + '\x00';
  in = too_long;
  CHECK_FALSE(lp::GetVarint64(&in, &got));
  CHECK(got == 7);
}

TEST_CASE("record header layout", "[record]") {
  std::string out = "prefix";
  REQUIRE(lp::AppendRecord(out, 7, "abc"));
  REQUIRE(out.size() == 6 + lp::kRecordHeaderSize + 3);
  const std::string_view rec = std::string_view(out).substr(6);
  CHECK(rec.substr(0, 4) == std::string_view("\x03\x00\x00\x00", 4));
  CHECK(rec[4] == '\x07');
  CHECK(lp::DecodeFixed64(rec.data() + 5) == XXH3_64bits("\x07" "abc", 4));
  CHECK(lp::RecordChecksum(7, "abc") == XXH3_64bits("\x07" "abc", 4));
  CHECK(rec.substr(13) == "abc");
}

TEST_CASE("record checksum: XXH3 of the type byte and the payload, at every size",
          "[record]") {
  // Small payloads are hashed in one call over a stack copy, larger ones
  // streamed: both must be the hash of type + payload, across the switch.
  std::mt19937_64 rng(3);
  for (std::size_t size = 0; size <= 1100; ++size) {
    const std::string payload = RandomBytes(rng, size);
    const auto type = static_cast<std::uint8_t>(size % 256);
    const std::string whole = std::string(1, static_cast<char>(type)) + payload;
    INFO("size " << size);
    REQUIRE(lp::RecordChecksum(type, payload) == XXH3_64bits(whole.data(), whole.size()));
  }
}

TEST_CASE("records round trip: sizes 0..large, every type", "[record]") {
  std::mt19937_64 rng(1);
  const std::vector<std::size_t> sizes = {0,   1,    2,    12,    13,      14,
                                          255, 256,  511,  512,   4096,    65535,
                                          65536, 100000, 1 << 20, 3 << 20};
  std::vector<Written> records;
  for (int type = 0; type < 256; ++type) {
    const std::size_t size = type < 200 ? rng() % 300 : sizes[type % sizes.size()];
    records.push_back({static_cast<std::uint8_t>(type), RandomBytes(rng, size), 0});
  }
  for (std::size_t size : sizes) {
    records.push_back({static_cast<std::uint8_t>(size), RandomBytes(rng, size), 0});
  }
  const std::string file = Build(records);
  const ReadResult got = ReadAll(file);
  CHECK(got.end == lp::ReadEnd::kClean);
  CHECK(got.end_offset == file.size());
  CHECK(got.message.empty());
  CheckPrefix(got, records, records.size());
}

TEST_CASE("an empty buffer is a clean end", "[record]") {
  const ReadResult got = ReadAll("");
  CHECK(got.end == lp::ReadEnd::kClean);
  CHECK(got.end_offset == 0);
  CHECK(got.records.empty());
}

TEST_CASE("payload size limit", "[record]") {
  std::string out = "keep";
  CHECK_FALSE(lp::AppendRecord(out, 1, std::string(lp::kMaxRecordPayload + 1, 'a')));
  CHECK(out == "keep");
  out.clear();
  const std::string max(lp::kMaxRecordPayload, 'm');
  REQUIRE(lp::AppendRecord(out, 2, max));
  const ReadResult got = ReadAll(out);
  CHECK(got.end == lp::ReadEnd::kClean);
  REQUIRE(got.records.size() == 1);
  CHECK(got.records[0].payload == max);
}

TEST_CASE("truncation at every byte offset is a torn tail, never corruption", "[record]") {
  // (Or padding, where what is left of the torn record is zeros only: the
  // same records are dropped either way.)
  std::vector<Written> records = SmallRecords();
  const std::string file = Build(records);
  for (std::size_t cut = 0; cut <= file.size(); ++cut) {
    INFO("cut at " << cut);
    std::size_t complete = 0;
    while (complete < records.size() &&
           records[complete].offset + lp::kRecordHeaderSize + records[complete].payload.size() <= cut) {
      ++complete;
    }
    const ReadResult got = ReadAll(std::string_view(file).substr(0, cut));
    INFO(lp::ReadEndName(got.end) << ": " << got.message);
    CheckPrefix(got, records, complete);
    const bool at_boundary = complete == records.size() || records[complete].offset == cut;
    if (at_boundary) {
      CHECK(got.end == lp::ReadEnd::kClean);
      CHECK(got.end_offset == cut);
    } else {
      const std::string_view left = std::string_view(file).substr(records[complete].offset,
                                                                  cut - records[complete].offset);
      const bool zeros_only = left.find_first_not_of('\0') == std::string_view::npos;
      CHECK(got.end == (zeros_only ? lp::ReadEnd::kPadding : lp::ReadEnd::kTornTail));
      CHECK(got.end_offset == records[complete].offset);
    }
  }
}

TEST_CASE("damage at every byte offset is caught at the damaged record", "[record]") {
  std::vector<Written> records = SmallRecords();
  const std::string file = Build(records);
  REQUIRE(file.back() != '\0');
  const std::vector<unsigned char> masks = {0xff, 0x01, 0x80, 0x10};
  for (std::size_t at = 0; at < file.size(); ++at) {
    std::size_t k = 0;
    while (k + 1 < records.size() && records[k + 1].offset <= at) ++k;
    const bool last = k + 1 == records.size();
    for (unsigned char mask : masks) {
      std::string damaged = file;
      damaged[at] = static_cast<char>(static_cast<unsigned char>(damaged[at]) ^ mask);
      INFO("byte " << at << " ^ " << int(mask) << " in record " << k);
      const ReadResult got = ReadAll(damaged);
      INFO(lp::ReadEndName(got.end) << ": " << got.message);
      CheckPrefix(got, records, k);
      CHECK(got.end_offset == records[k].offset);
      // The one damage a reader cannot tell from a crash: the last record's
      // length grown past the end of the file looks exactly like a torn write.
      const std::uint32_t new_length = lp::DecodeFixed32(damaged.data() + records[k].offset);
      const bool grown_past_end = last && at < records[k].offset + 4 &&
                                  new_length <= lp::kMaxRecordPayload &&
                                  new_length > records[k].payload.size();
      CHECK(got.end == (grown_past_end ? lp::ReadEnd::kTornTail : lp::ReadEnd::kCorruption));
    }
  }
}

TEST_CASE("garbage lengths are corruption at once", "[record]") {
  std::vector<Written> records = SmallRecords();
  const std::string good = Build(records);

  SECTION("length far above the limit, even with the bytes to back it missing") {
    std::string file = good;
    lp::PutFixed32(file, 0xffffffffu);
    file += std::string(20, 'g');
    const ReadResult got = ReadAll(file);
    CHECK(got.end == lp::ReadEnd::kCorruption);
    CHECK(got.end_offset == good.size());
    CHECK(got.message.find("impossible record length 4294967295") != std::string::npos);
    CheckPrefix(got, records, records.size());
  }
  SECTION("one byte above the limit") {
    std::string file;
    lp::PutFixed32(file, lp::kMaxRecordPayload + 1);
    file += std::string(9, '\0');
    const ReadResult got = ReadAll(file);
    CHECK(got.end == lp::ReadEnd::kCorruption);
    CHECK(got.end_offset == 0);
  }
  SECTION("a plausible length with a wrong checksum, mid-file") {
    std::string file = good;
    lp::PutFixed32(file, 5);
    file += std::string(8 + 1 + 5, 'g');
    const std::size_t bad = file.size() - lp::kRecordHeaderSize - 5;
    file += good;
    const ReadResult got = ReadAll(file);
    CHECK(got.end == lp::ReadEnd::kCorruption);
    CHECK(got.end_offset == bad);
    CHECK(got.message.find("checksum mismatch") != std::string::npos);
  }
  SECTION("a length running past the end with valid records after it") {
    std::string file = good;
    lp::PutFixed32(file, 1000000);
    file += std::string(9, 'g');
    const std::size_t bad = good.size();
    file += good;
    const ReadResult got = ReadAll(file);
    CHECK(got.end == lp::ReadEnd::kCorruption);
    CHECK(got.end_offset == bad);
    CHECK(got.message.find("valid record follows at offset " + std::to_string(bad + 13)) !=
          std::string::npos);
  }
  SECTION("random garbage never yields a record") {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 200; ++i) {
      const std::string junk = RandomBytes(rng, 1 + rng() % 2000);
      const ReadResult got = ReadAll(junk);
      CHECK(got.records.empty());
      CHECK(got.end != lp::ReadEnd::kClean);
      CHECK(got.end_offset == 0);
    }
  }
}

TEST_CASE("zeros after the last record are padding, in it a torn tail, elsewhere corruption",
          "[record]") {
  std::vector<Written> records = SmallRecords();
  const std::string good = Build(records);
  REQUIRE(good.size() % 512 > 40);  // the sections below rely on where 512 falls

  SECTION("whole sectors of zeros after the last record: padding") {
    const ReadResult got = ReadAll(good + std::string(4096, '\0'));
    CHECK(got.end == lp::ReadEnd::kPadding);
    CHECK(got.end_offset == good.size());
    CheckPrefix(got, records, records.size());
  }
  SECTION("fewer zeros than a header: padding") {
    const ReadResult got = ReadAll(good + std::string(5, '\0'));
    CHECK(got.end == lp::ReadEnd::kPadding);
    CHECK(got.end_offset == good.size());
  }
  SECTION("padding, then a byte that is not zero: corruption") {
    std::string file = good + std::string(4096, '\0');
    file[good.size() + 3000] = 'x';
    const ReadResult got = ReadAll(file);
    CHECK(got.end == lp::ReadEnd::kCorruption);
    CHECK(got.end_offset == good.size());
    CheckPrefix(got, records, records.size());
  }
  SECTION("a record cut short by a crash inside padding: torn") {
    std::string file = good;
    REQUIRE(lp::AppendRecord(file, 5, std::string(1000, 'z')));
    const std::size_t start = good.size();
    // Its last 10 bytes never written, and no sector boundary among them:
    // what explains the mismatch is the padding the zeros run on into.
    REQUIRE(file.size() % 512 >= 10);
    file.resize(file.size() - 10);
    file.append(4096 + 10, '\0');
    const ReadResult got = ReadAll(file);
    CHECK(got.end == lp::ReadEnd::kTornTail);
    CHECK(got.end_offset == start);
    CheckPrefix(got, records, records.size());
  }
  SECTION("a record whose data from a sector boundary on never reached the disk") {
    std::string file = good;
    REQUIRE(lp::AppendRecord(file, 5, std::string(1000, 'z')));
    const std::size_t start = good.size();
    const std::size_t sector = (start / 512 + 1) * 512;
    REQUIRE(sector > start + lp::kRecordHeaderSize);
    for (std::size_t i = sector; i < file.size(); ++i) file[i] = '\0';
    const ReadResult got = ReadAll(file);
    CHECK(got.end == lp::ReadEnd::kTornTail);
    CHECK(got.end_offset == start);
    CheckPrefix(got, records, records.size());
  }
  SECTION("a few zeros at the end, no sector boundary among them: corruption") {
    std::string file = good;
    REQUIRE(good.size() % 512 > 4);
    for (std::size_t i = file.size() - 4; i < file.size(); ++i) file[i] = '\0';
    const ReadResult got = ReadAll(file);
    CHECK(got.end == lp::ReadEnd::kCorruption);
    CHECK(got.end_offset == records.back().offset);
  }
  SECTION("a zeroed record in the middle: corruption") {
    std::string file = good;
    const std::size_t start = records[5].offset;
    for (std::size_t i = start; i < start + lp::kRecordHeaderSize + 200; ++i) file[i] = '\0';
    const ReadResult got = ReadAll(file);
    CHECK(got.end == lp::ReadEnd::kCorruption);
    CHECK(got.end_offset == start);
    CheckPrefix(got, records, 5);
  }
}
