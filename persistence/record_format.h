// Framed records: the unit of every limiterd file on disk (AOF, snapshot).
//
// A record is a 13-byte header followed by the payload:
//
//   offset 0   u32 little-endian  payload length (at most kMaxRecordPayload)
//   offset 4   u8                 record type (meaning is the caller's)
//   offset 5   u64 little-endian  XXH3-64 of (type byte, payload bytes)
//   offset 13  payload
//
// Records are laid end to end with no padding and no file magic; a file is
// valid when it parses as records to its last byte. The length is not under
// the checksum, but a wrong length makes the checksum cover other bytes, so it
// fails the check (or, past the end of the file, see RecordReader).
//
// Thread safety: everything here is a pure function of its arguments or
// owned by one thread (RecordReader); no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace limiterd::persistence {

inline constexpr std::size_t kRecordHeaderSize = 4 + 1 + 8;
// Larger lengths are corruption at once, never an attempt to read 4 GiB.
inline constexpr std::uint32_t kMaxRecordPayload = 64u << 20;

// --- Little-endian fixed integers and LEB128 varints, for payload encoders.
void PutFixed32(std::string& out, std::uint32_t value);
void PutFixed64(std::string& out, std::uint64_t value);
// `in` must hold at least 4 (8) bytes.
[[nodiscard]] std::uint32_t DecodeFixed32(const char* in);
[[nodiscard]] std::uint64_t DecodeFixed64(const char* in);
void PutVarint64(std::string& out, std::uint64_t value);
// Reads one varint from the front of *in and advances it. False (and *in
// unchanged) when the input ends inside it, or it is longer than 10 bytes or
// overflows 64 bits.
[[nodiscard]] bool GetVarint64(std::string_view* in, std::uint64_t* value);

// XXH3-64 of the type byte followed by the payload.
[[nodiscard]] std::uint64_t RecordChecksum(std::uint8_t type, std::string_view payload);

// The 13-byte header of a record of `type` holding `payload` (at most
// kMaxRecordPayload bytes), for writers that frame outside their lock.
void EncodeRecordHeader(std::uint8_t type, std::string_view payload,
                        char (&out)[kRecordHeaderSize]);

// Appends one framed record to `out`. False, with `out` unchanged, when the
// payload is longer than kMaxRecordPayload (it could never be read back).
[[nodiscard]] bool AppendRecord(std::string& out, std::uint8_t type, std::string_view payload);

struct Record {
  std::uint64_t offset = 0;   // of the header, from the start of the buffer
  std::uint8_t type = 0;
  std::string_view payload;   // points into the reader's buffer
};

// How a read ended; exactly one of these once Next() has returned false.
enum class ReadEnd {
  kNotYet,      // Next() has not returned false yet
  kClean,       // the buffer ends exactly after a valid record (or is empty)
  kTornTail,    // the last record is incomplete: a crash mid-write.
                // end_offset() is where to truncate; everything before is good.
  kCorruption,  // bytes that cannot have come from a crash mid-append:
                // end_offset() is the offset of the bad record, message() why.
  kPadding,     // the records end at a record boundary, followed by zero
                // bytes only, to the end of the buffer: space an AOF writer
                // zero-filled ahead of its writes (aof_log.h).
                // end_offset() is where the records end.
};

[[nodiscard]] const char* ReadEndName(ReadEnd end);

// Reads the records of a whole file held in memory, front to back, and stops
// at the first one that is not valid. No skipping past bad records: limiterd
// refuses to start on corruption rather than replay around a hole, so there is
// no LevelDB-style Reporter callback; the end state carries the report.
//
// Torn tail versus corruption (what a crash can and cannot do to an
// append-only file):
//  * The buffer ends inside a record (header or payload): torn tail. An append
//    interrupted by a crash leaves a short file.
//  * ...unless a complete valid record is found after that record's start: then
//    its length field was damaged mid-file, and truncating would throw away
//    good records, so it is corruption. (A payload that itself contains a
//    framed record could make a real torn tail look corrupt; that errs on the
//    side of stopping, never of losing data.)
//  * A length above kMaxRecordPayload: corruption, wherever it is.
//  * A checksum mismatch on a record whose bytes are all present: corruption,
//    even on the last record. A torn write leaves a short file, not wrong bytes.
//  * Zeros from a record boundary to the end of the buffer are padding
//    (kPadding), not a record: an AOF file is zero-filled ahead of its
//    writes, so that its fdatasyncs need not change its size.
//  * Exception, zero-filled tail: some filesystems (ext4 delalloc, XFS) can
//    persist a file's new size before its data, so after a crash the tail
//    reads as zeros. A bad record is torn, not corrupt, when the run of zero
//    bytes that ends the buffer starts inside it (so the zeros explain the
//    mismatch) and either covers the whole record or includes a 512-byte
//    aligned offset (unwritten data is zero in whole sectors), or runs on
//    past its end (a write into padding, cut short at any byte). The price: a
//    damaged last record that happens to end in such zeros is dropped with a
//    warning instead of stopping start-up; nothing after it is lost.
class RecordReader {
 public:
  explicit RecordReader(std::string_view buffer) : buffer_(buffer) {}

  // Fills *record with the next valid record and returns true, or returns
  // false once the records end; end() then says how.
  [[nodiscard]] bool Next(Record* record);

  [[nodiscard]] ReadEnd end() const { return end_; }
  // kClean: the buffer size. kTornTail: where to truncate. kCorruption: the
  // offset of the bad record.
  [[nodiscard]] std::uint64_t end_offset() const { return end_offset_; }
  // Empty for kClean; a one-line explanation otherwise.
  [[nodiscard]] const std::string& message() const { return message_; }
  // Bytes consumed by the valid records read so far.
  [[nodiscard]] std::uint64_t valid_bytes() const { return pos_; }

 private:
  bool Stop(ReadEnd end, std::string message);
  bool ZeroTailExplains(std::size_t record_start, std::size_t record_end) const;
  bool OnlyZerosFrom(std::size_t start) const;
  bool ValidRecordAfter(std::size_t start) const;

  std::string_view buffer_;
  std::size_t pos_ = 0;
  ReadEnd end_ = ReadEnd::kNotYet;
  std::uint64_t end_offset_ = 0;
  std::string message_;
};

}  // namespace limiterd::persistence
