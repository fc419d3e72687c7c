// Copyright limiterd authors.
#include "change_codec.h"

#include <algorithm>
#include <cstring>
#include <variant>

#include "str_concat.h"

namespace limiterd::internal {
namespace {

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// How many bytes `a` and `b` start with in common.
size_t SharedPrefix(std::string_view a, std::string_view b) {
  const size_t limit = std::min(a.size(), b.size());
  // The levels of a path are views of the one key the caller gave: each
  // a prefix of the next, no byte to compare.
  if (a.data() == b.data()) return limit;
  size_t i = 0;
  for (; i + 8 <= limit; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) break;
  }
  while (i < limit && a[i] == b[i]) ++i;
  return i;
}

// Writes what Reader reads. It stages bytes in a buffer on the stack and
// appends them to `out` when the buffer fills and when it goes out of
// scope: a CONSUME with an AOF encodes three records of about eight fields
// each, and appending field by field (a capacity check and a memcpy call
// each time) was 7% of the io thread at -P 16 with appendfsync everysec.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  ~Writer() { Flush(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void Byte(uint8_t b) {
    Room(1);
    *p_++ = static_cast<char>(b);
  }
  void Varint(uint64_t v) {
    Room(kMaxVarint);
    while (v >= 0x80) {
      *p_++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<char>(v);
  }
  void Signed(int64_t v) { Varint(ZigZag(v)); }
  // A length, then the bytes.
  void Bytes(std::string_view s) {
    Varint(s.size());
    if (s.size() > kStage / 2) {  // a long key: straight to `out`
      Flush();
      out_.append(s);
      return;
    }
    Room(s.size());
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  // A record's head: its tag, key and spec epoch; the key as what it
  // shares with `previous` (the key of the record before) and the rest
  // when that saves bytes (a shared length costs one or two).
  void Head(ChangeTag tag, std::string_view key, uint64_t epoch, std::string_view previous) {
    const size_t shared = SharedPrefix(key, previous);
    if (shared >= kMinShared) {
      Byte(static_cast<uint8_t>(tag) | kSharedKey);
      Varint(shared);
      Bytes(key.substr(shared));
    } else {
      Byte(static_cast<uint8_t>(tag));
      Bytes(key);
    }
    Varint(epoch);
  }

 private:
  static constexpr size_t kStage = 256;
  static constexpr size_t kMinShared = 4;
  static constexpr size_t kMaxVarint = 10;
  void Room(size_t n) {
    if (static_cast<size_t>(stage_ + kStage - p_) < n) Flush();
  }
  void Flush() {
    out_.append(stage_, static_cast<size_t>(p_ - stage_));
    p_ = stage_;
  }

  std::string& out_;
  char stage_[kStage];
  char* p_ = stage_;
};

enum DefinitionFlags : uint8_t {
  kHasHard = 1,
  kHasSoft = 2,
  kHasAnchor = 4,
  kHasValidUntil = 8,
  kHasBurst = 16,
  kRenewable = 32,
};

void PutDefinition(Writer& out, const LimitDefinition& d) {
  out.Byte(static_cast<uint8_t>(d.kind));
  uint8_t flags = (d.hard ? kHasHard : 0) | (d.soft ? kHasSoft : 0) |
                  (d.anchor_ms ? kHasAnchor : 0) | (d.valid_until_ms ? kHasValidUntil : 0) |
                  (d.burst ? kHasBurst : 0) | (d.renewable ? kRenewable : 0);
  out.Byte(flags);
  if (d.hard) out.Signed(*d.hard);
  if (d.soft) out.Signed(*d.soft);
  out.Bytes(d.unit);
  out.Byte(static_cast<uint8_t>(d.period.type));
  out.Signed(d.period.duration_ms);
  if (d.anchor_ms) out.Signed(*d.anchor_ms);
  if (d.valid_until_ms) out.Signed(*d.valid_until_ms);
  out.Signed(d.window_ms);
  out.Signed(d.rate);
  out.Signed(d.rate_per_ms);
  if (d.burst) out.Signed(*d.burst);
}

// Reads what Writer wrote; every read is bounds-checked and the
// first failure sticks (ok() false) with the offset it happened at.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return pos_ >= bytes_.size(); }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t pos() const { return pos_; }

  void Fail(std::string_view what) {
    if (error_.empty()) error_ = Concat({what, " at byte ", std::to_string(pos_)});
  }
  uint8_t Byte() {
    if (!ok() || pos_ >= bytes_.size()) {
      Fail("truncated change record");
      return 0;
    }
    return static_cast<uint8_t>(bytes_[pos_++]);
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = Byte();
      if (!ok()) return 0;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    Fail("varint too long");
    return 0;
  }
  int64_t Signed() { return UnZigZag(Varint()); }
  std::string_view Bytes() {
    uint64_t n = Varint();
    if (!ok()) return {};
    if (n > bytes_.size() - pos_) {
      Fail("length past the end of the record");
      return {};
    }
    std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
  std::string error_;
};

void ReadDefinition(Reader& in, LimitDefinition& d) {
  uint8_t kind = in.Byte();
  if (kind > static_cast<uint8_t>(Kind::kBucket)) return in.Fail("unknown limit kind");
  d.kind = static_cast<Kind>(kind);
  uint8_t flags = in.Byte();
  if (flags >= 64) return in.Fail("unknown definition flags");
  if (flags & kHasHard) d.hard = in.Signed();
  if (flags & kHasSoft) d.soft = in.Signed();
  d.unit = std::string(in.Bytes());
  uint8_t period = in.Byte();
  if (period > static_cast<uint8_t>(PeriodType::kDuration)) return in.Fail("unknown period type");
  d.period.type = static_cast<PeriodType>(period);
  d.period.duration_ms = in.Signed();
  if (flags & kHasAnchor) d.anchor_ms = in.Signed();
  if (flags & kHasValidUntil) d.valid_until_ms = in.Signed();
  d.window_ms = in.Signed();
  d.rate = in.Signed();
  d.rate_per_ms = in.Signed();
  if (flags & kHasBurst) d.burst = in.Signed();
  d.renewable = (flags & kRenewable) != 0;
  if (!in.ok()) return;
  // As the engine keeps them: valid, and resolved (anchor, burst, hard).
  if (auto valid = ValidateDefinition(d); !valid) {
    return in.Fail(Concat({"invalid definition (", valid.error().message, ")"}));
  }
  if (!(ResolveDefinition(d, nullptr, 0) == d)) return in.Fail("unresolved definition");
}

}  // namespace

void EncodeDefinition(std::string& out, const LimitDefinition& definition) {
  Writer w(out);
  PutDefinition(w, definition);
}

void EncodeDefine(std::string& out, std::string_view key, const Spec& spec) {
  Writer w(out);
  w.Head(ChangeTag::kDefine, key, spec.epoch, {});
  w.Byte(spec.cancelled ? 1 : 0);
  PutDefinition(w, spec.def);
}

void EncodeErase(std::string& out, std::string_view key) {
  Writer w(out);
  w.Byte(static_cast<uint8_t>(ChangeTag::kErase));
  w.Bytes(key);
}

void EncodeClear(std::string& out) { out.push_back(static_cast<char>(ChangeTag::kClear)); }

void EncodeState(std::string& out, std::string_view key, const Spec& spec,
                 const LevelState& state, std::string_view previous) {
  Writer w(out);
  if (const auto* q = std::get_if<QuotaState>(&state)) {
    QuotaPeriod period = QuotaPeriodOf(spec, q->index);
    w.Head(ChangeTag::kQuota, key, spec.epoch, previous);
    w.Signed(period.index);
    w.Signed(period.start_ms);
    w.Signed(period.end_ms);
    w.Signed(q->consumed);
  } else if (const auto* window = std::get_if<WindowState>(&state)) {
    w.Head(ChangeTag::kWindowRing, key, spec.epoch, previous);
    w.Varint(static_cast<uint64_t>(spec.slots));
    w.Signed(window->newest_slot);
    int64_t n = window->ring ? spec.slots : 0;
    w.Varint(static_cast<uint64_t>(n));
    for (int64_t i = 0; i < n; ++i) w.Signed(window->ring[static_cast<size_t>(i)]);
  } else {
    const auto& b = std::get<BucketState>(state);
    w.Head(ChangeTag::kBucket, key, spec.epoch, previous);
    w.Signed(static_cast<int64_t>(b.tat >> 64));
    w.Varint(static_cast<uint64_t>(b.tat));
  }
}

void EncodeCharge(std::string& out, std::string_view key, const Spec& spec,
                  const LevelState& state, std::string_view previous) {
  const auto* window = std::get_if<WindowState>(&state);
  if (window == nullptr || !window->ring) return EncodeState(out, key, spec, state, previous);
  Writer w(out);
  w.Head(ChangeTag::kWindowSlot, key, spec.epoch, previous);
  w.Varint(static_cast<uint64_t>(spec.slots));
  w.Signed(window->newest_slot);
  int64_t index = window->newest_slot % spec.slots;
  if (index < 0) index += spec.slots;
  w.Signed(window->ring[static_cast<size_t>(index)]);
}

std::optional<DecodedChanges> DecodeChanges(std::string_view bytes, std::string* error) {
  DecodedChanges decoded;
  std::vector<Change>& changes = decoded.changes;
  Reader in(bytes);
  std::string_view previous;  // the key of the record before
  while (in.ok() && !in.done()) {
    Change c;
    uint8_t tag = in.Byte();
    const bool shared_key = (tag & kSharedKey) != 0;
    tag &= static_cast<uint8_t>(~kSharedKey);
    if (tag < static_cast<uint8_t>(ChangeTag::kDefine) ||
        tag > static_cast<uint8_t>(ChangeTag::kClear)) {
      in.Fail("unknown change tag");
      break;
    }
    c.tag = static_cast<ChangeTag>(tag);
    if (shared_key) {
      if (c.tag == ChangeTag::kClear || c.tag == ChangeTag::kErase) {
        in.Fail("a shared key on a record without an epoch");
        break;
      }
      const uint64_t shared = in.Varint();
      const std::string_view rest = in.Bytes();
      if (!in.ok()) break;
      if (shared > previous.size()) {
        in.Fail("a key shares more than the key before it has");
        break;
      }
      auto& block = decoded.keys.emplace_back(new char[shared + rest.size()]);
      std::memcpy(block.get(), previous.data(), shared);
      if (!rest.empty()) std::memcpy(block.get() + shared, rest.data(), rest.size());
      c.key = std::string_view(block.get(), shared + rest.size());
    } else if (c.tag != ChangeTag::kClear) {
      c.key = in.Bytes();
    }
    previous = c.key;  // none after a kClear
    if (c.tag != ChangeTag::kClear && c.tag != ChangeTag::kErase) c.epoch = in.Varint();
    switch (c.tag) {
      case ChangeTag::kDefine: {
        uint8_t cancelled = in.Byte();
        if (cancelled > 1) in.Fail("bad cancelled flag");
        c.cancelled = cancelled == 1;
        ReadDefinition(in, c.definition);
        if (c.epoch == 0) in.Fail("definition without an epoch");
        break;
      }
      case ChangeTag::kQuota:
        c.quota.index = in.Signed();
        c.quota_period_start_ms = in.Signed();
        c.quota_period_end_ms = in.Signed();
        c.quota.consumed = in.Signed();
        if (c.quota.consumed < 0 || c.quota_period_start_ms > c.quota_period_end_ms) {
          in.Fail("bad quota state");
        }
        break;
      case ChangeTag::kWindowSlot:
      case ChangeTag::kWindowRing: {
        c.slots = static_cast<int64_t>(in.Varint());
        c.newest_slot = in.Signed();
        if (c.slots < 1 || c.slots > kMaxWindowSlots) in.Fail("bad window size");
        uint64_t n = c.tag == ChangeTag::kWindowSlot ? 1 : in.Varint();
        if (n != 0 && n != 1 && n != static_cast<uint64_t>(c.slots)) in.Fail("bad ring length");
        if (c.tag == ChangeTag::kWindowRing && n == 1 && c.slots != 1) in.Fail("bad ring length");
        for (uint64_t i = 0; in.ok() && i < n; ++i) {
          c.values.push_back(in.Signed());
          if (c.values.back() < 0) in.Fail("negative window usage");
        }
        break;
      }
      case ChangeTag::kBucket: {
        int64_t high = in.Signed();
        uint64_t low = in.Varint();
        c.tat = static_cast<__int128>(static_cast<unsigned __int128>(high) << 64 | low);
        break;
      }
      case ChangeTag::kErase:
      case ChangeTag::kClear: break;
    }
    if (in.ok() && c.tag != ChangeTag::kClear && c.tag != ChangeTag::kErase && c.epoch == 0) {
      in.Fail("state without an epoch");
    }
    if (in.ok()) changes.push_back(std::move(c));
  }
  if (!in.ok()) {
    if (error != nullptr) *error = in.error();
    return std::nullopt;
  }
  return decoded;
}

}  // namespace limiterd::internal
