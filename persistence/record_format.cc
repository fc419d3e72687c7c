#include "record_format.h"

#include <cstring>
#include <optional>
#include <string>
#include <utility>

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack, no allocation
#include "xxhash.h"

namespace limiterd::persistence {
namespace {

// Sector size below which a device never writes part of a sector; unwritten
// data after a crash is zero in whole sectors of at least this size.
constexpr std::size_t kSectorSize = 512;

std::optional<std::size_t> FindValidRecord(std::string_view buf, std::size_t from) {
  for (std::size_t p = from; p + kRecordHeaderSize <= buf.size(); ++p) {
    const std::uint32_t len = DecodeFixed32(buf.data() + p);
    if (len > kMaxRecordPayload || len > buf.size() - p - kRecordHeaderSize) continue;
    const auto type = static_cast<std::uint8_t>(buf[p + 4]);
    const std::uint64_t stored = DecodeFixed64(buf.data() + p + 5);
    if (stored == RecordChecksum(type, buf.substr(p + kRecordHeaderSize, len))) return p;
  }
  return std::nullopt;
}

}  // namespace

void PutFixed32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void PutFixed64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint32_t DecodeFixed32(const char* in) {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

std::uint64_t DecodeFixed64(const char* in) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(in[i]);
  return value;
}

void PutVarint64(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

bool GetVarint64(std::string_view* in, std::uint64_t* value) {
  std::uint64_t result = 0;
  for (std::size_t i = 0; i < 10 && i < in->size(); ++i) {
    const auto byte = static_cast<unsigned char>((*in)[i]);
    // The 10th byte holds bit 63 only; anything more overflows 64 bits.
    if (i == 9 && byte > 1) return false;
    result |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      *value = result;
      in->remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

std::uint64_t RecordChecksum(std::uint8_t type, std::string_view payload) {
  // XXH3 gives the same value for the same bytes in one call or streamed.
  // A small record (every CONSUME's) is hashed in one call over a copy on
  // the stack: setting up the streaming state costs more than hashing its
  // hundred-odd bytes.
  constexpr size_t kOneCall = 512;
  if (payload.size() < kOneCall) {
    char bytes[kOneCall];
    bytes[0] = static_cast<char>(type);
    std::memcpy(bytes + 1, payload.data(), payload.size());
    return XXH3_64bits(bytes, payload.size() + 1);
  }
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, &type, 1);
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
}

void EncodeRecordHeader(std::uint8_t type, std::string_view payload,
                        char (&out)[kRecordHeaderSize]) {
  const auto length = static_cast<std::uint32_t>(payload.size());
  const std::uint64_t checksum = RecordChecksum(type, payload);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  out[4] = static_cast<char>(type);
  for (int i = 0; i < 8; ++i) out[5 + i] = static_cast<char>((checksum >> (8 * i)) & 0xff);
}

bool AppendRecord(std::string& out, std::uint8_t type, std::string_view payload) {
  if (payload.size() > kMaxRecordPayload) return false;
  out.reserve(out.size() + kRecordHeaderSize + payload.size());
  PutFixed32(out, static_cast<std::uint32_t>(payload.size()));
  out.push_back(static_cast<char>(type));
  PutFixed64(out, RecordChecksum(type, payload));
  out.append(payload);
  return true;
}

const char* ReadEndName(ReadEnd end) {
  switch (end) {
    case ReadEnd::kNotYet: return "not yet";
    case ReadEnd::kClean: return "clean end";
    case ReadEnd::kTornTail: return "torn tail";
    case ReadEnd::kCorruption: return "corruption";
    case ReadEnd::kPadding: return "padding";
  }
  return "?";
}

bool RecordReader::Stop(ReadEnd end, std::string message) {
  end_ = end;
  end_offset_ = pos_;
  message_ = std::move(message);
  return false;
}

bool RecordReader::ZeroTailExplains(std::size_t record_start, std::size_t record_end) const {
  std::size_t zeros_from = buffer_.size();
  while (zeros_from > record_start && buffer_[zeros_from - 1] == '\0') --zeros_from;
  if (zeros_from == record_start) return true;  // the whole record is zeros
  if (zeros_from >= record_end) return false;   // the zeros start after it
  // They run on past it (padding, zero-filled ahead): a write cut short.
  if (buffer_.size() > record_end) return true;
  const std::size_t sector = (zeros_from + kSectorSize - 1) / kSectorSize * kSectorSize;
  return sector < record_end;
}

bool RecordReader::OnlyZerosFrom(std::size_t start) const {
  const char* p = buffer_.data() + start;
  const std::size_t n = buffer_.size() - start;
  // The first byte zero, and every byte equal to the one before it.
  return n > 0 && p[0] == '\0' && std::memcmp(p, p + 1, n - 1) == 0;
}

bool RecordReader::Next(Record* record) {
  if (end_ != ReadEnd::kNotYet) return false;
  const std::size_t remaining = buffer_.size() - pos_;
  if (remaining == 0) return Stop(ReadEnd::kClean, "");
  if (OnlyZerosFrom(pos_)) {
    return Stop(ReadEnd::kPadding, std::to_string(remaining) + " zero bytes after the last record");
  }
  if (remaining < kRecordHeaderSize) {
    return Stop(ReadEnd::kTornTail, "file ends inside a record header (" +
                                        std::to_string(remaining) + " of " +
                                        std::to_string(kRecordHeaderSize) + " bytes)");
  }
  const char* header = buffer_.data() + pos_;
  const std::uint32_t length = DecodeFixed32(header);
  const auto type = static_cast<std::uint8_t>(header[4]);
  const std::uint64_t stored = DecodeFixed64(header + 5);
  if (length > kMaxRecordPayload) {
    return Stop(ReadEnd::kCorruption, "impossible record length " + std::to_string(length) +
                                          " (limit " + std::to_string(kMaxRecordPayload) + ")");
  }
  const std::size_t record_end = pos_ + kRecordHeaderSize + length;
  if (record_end > buffer_.size()) {
    if (auto valid = FindValidRecord(buffer_, pos_ + 1)) {
      return Stop(ReadEnd::kCorruption,
                  "record length " + std::to_string(length) +
                      " runs past the end of the file, but a valid record follows at offset " +
                      std::to_string(*valid));
    }
    return Stop(ReadEnd::kTornTail, "file ends inside a record (" + std::to_string(remaining) +
                                        " of " + std::to_string(kRecordHeaderSize + length) +
                                        " bytes)");
  }
  const std::string_view payload = buffer_.substr(pos_ + kRecordHeaderSize, length);
  if (stored != RecordChecksum(type, payload)) {
    if (ZeroTailExplains(pos_, record_end)) {
      return Stop(ReadEnd::kTornTail, "zero-filled tail (data not written before a crash)");
    }
    return Stop(ReadEnd::kCorruption, "checksum mismatch (type " + std::to_string(type) +
                                          ", length " + std::to_string(length) + ")");
  }
  record->offset = pos_;
  record->type = type;
  record->payload = payload;
  pos_ = record_end;
  return true;
}

}  // namespace limiterd::persistence
