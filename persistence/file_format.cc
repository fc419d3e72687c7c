#include "file_format.h"

#include <algorithm>

namespace limiterd::persistence {
namespace {

void PutString(std::string& out, std::string_view s) {
  PutVarint64(out, s.size());
  out.append(s);
}

bool GetString(std::string_view* in, std::string* out) {
  std::uint64_t size = 0;
  if (!GetVarint64(in, &size) || size > in->size()) return false;
  out->assign(in->substr(0, size));
  in->remove_prefix(size);
  return true;
}

}  // namespace

std::string EncodeFileHeader(const FileHeader& header) {
  std::string out;
  PutString(out, header.magic);
  PutFixed32(out, header.version);
  PutFixed64(out, static_cast<std::uint64_t>(header.created_ms));
  PutString(out, header.separator);
  return out;
}

bool DecodeFileHeader(std::string_view payload, FileHeader* header, std::string* error) {
  std::string_view in = payload;
  if (!GetString(&in, &header->magic) || in.size() < 12) {
    *error = "malformed file header";
    return false;
  }
  header->version = DecodeFixed32(in.data());
  header->created_ms = static_cast<std::int64_t>(DecodeFixed64(in.data() + 4));
  in.remove_prefix(12);
  if (!GetString(&in, &header->separator) || !in.empty()) {
    *error = "malformed file header";
    return false;
  }
  return true;
}

bool PeekFileHeader(std::string_view file_bytes, FileHeader* header) {
  RecordReader reader(file_bytes);
  Record record;
  std::string error;
  return reader.Next(&record) && record.type == kFileHeader &&
         DecodeFileHeader(record.payload, header, &error);
}

std::string FramedFileHeader(std::string_view magic, std::int64_t created_ms,
                             std::string_view separator) {
  FileHeader header;
  header.magic = std::string(magic);
  header.created_ms = created_ms;
  header.separator = std::string(separator);
  std::string out;
  (void)AppendRecord(out, kFileHeader, EncodeFileHeader(header));  // a few bytes: fits
  return out;
}

std::size_t AppendGroup(std::string& out, std::uint8_t part_type, std::uint8_t last_type,
                        std::string_view payload) {
  std::size_t records = 0;
  while (payload.size() > kSplitPayload) {
    (void)AppendRecord(out, part_type, payload.substr(0, kSplitPayload));
    payload.remove_prefix(kSplitPayload);
    ++records;
  }
  (void)AppendRecord(out, last_type, payload);  // <= kSplitPayload: fits
  return records + 1;
}

GroupAssembler::Step GroupAssembler::Add(const Record& record, std::string_view* payload) {
  if (record.type != part_type_ && record.type != last_type_) return Step::kOther;
  if (!open_) {
    group_offset_ = record.offset;
    joined_.clear();
  }
  if (record.type == part_type_) {
    open_ = true;
    joined_.append(record.payload);
    return Step::kPart;
  }
  if (open_) {
    joined_.append(record.payload);
    *payload = joined_;
    open_ = false;
  } else {
    *payload = record.payload;  // the common case: no copy
  }
  return Step::kComplete;
}

std::string UnreadableVersionMessage(std::string_view kind, std::uint32_t version) {
  return std::string(kind) + " format version " + std::to_string(version) +
         " is not supported (this build reads versions " + std::to_string(kOldestFormatVersion) +
         " to " + std::to_string(kFormatVersion) + ")";
}

}  // namespace limiterd::persistence
