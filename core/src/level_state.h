// Copyright limiterd authors.
// The usage state of one level (a key's counter) and the arithmetic of the
// three kinds. No locking here: callers hold the shard lock.
//
//  quota   usage in the current period; rolls over lazily: a state charged
//          in an earlier period reads as 0.
//  window  a ring of sub-windows of slot_ms; usage charged in slot s counts
//          until (s + 1) * slot_ms + W, so never less than an exact sliding
//          window and at most one slot longer.
//  bucket  GCRA in exact integer arithmetic: time is scaled by the rate, so a
//          unit costs rate_per_ms scaled units and nothing is rounded until a
//          reply. tat is the theoretical arrival time (debt ends at tat).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <variant>

#include "definition.h"

namespace limiterd::internal {

// A quota period: [start_ms, end_ms), the index-th from the anchor.
struct QuotaPeriod {
  int64_t index = 0;
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // kNever for PERIOD none
};

// The period's bounds are not kept: they follow from the spec and the index
// (QuotaPeriodOf), and 16 bytes less make every counter 32 bytes, not 48.
struct QuotaState {
  int64_t index = 0;  // the period `consumed` belongs to
  int64_t consumed = 0;
};

struct WindowState {
  int64_t newest_slot = 0;
  std::unique_ptr<int64_t[]> ring;  // spec.slots entries; null: never charged
};

// An __int128 kept 8-byte aligned: a plain one would make every LevelState
// (and so every entry) 16-byte aligned, 8 bytes of padding each.
class PackedInt128 {
 public:
  PackedInt128(__int128 v = 0) { std::memcpy(words_, &v, sizeof v); }  // NOLINT: implicit
  operator __int128() const {  // NOLINT: implicit
    __int128 v;
    std::memcpy(&v, words_, sizeof v);
    return v;
  }

 private:
  uint64_t words_[2];
};

struct BucketState {
  PackedInt128 tat;  // ms * rate
};

using LevelState = std::variant<QuotaState, WindowState, BucketState>;

inline constexpr int64_t kNever = INT64_MAX;

LevelState FreshState(const Spec& spec, int64_t now_ms);
LevelState CopyState(const Spec& spec, const LevelState& state);  // deep


// A read-only view of a level at one instant. `state` null: fresh. A
// quota's state is copied (16 bytes: a packed counter, Entry::ViewAt, has
// no LevelState to point to), a window's or a bucket's pointed to.
class LevelView {
 public:
  LevelView(const Spec& spec, const LevelState* state, int64_t now_ms);
  LevelView(const Spec& spec, const QuotaState& quota, int64_t now_ms);  // a quota's state

  const Spec& spec() const { return spec_; }
  bool expired() const { return now_ >= ExpiresAt(); }
  // valid_until, or the end of a NORENEW quota's first period; kNever.
  int64_t ExpiresAt() const { return spec_.expires_at_ms; }
  int64_t Consumed() const;  // usage now (bucket: tokens in use)
  // hard - consumed, at least 0. Meaningful when spec().def.hard is set.
  int64_t Remaining() const;
  bool Fits(int64_t amount) const;  // ignores expiry and cancellation
  // ms until Fits(amount) with no other change; -1 never; 0 if it fits now.
  int64_t RetryAfter(int64_t amount) const;
  // ms until this level frees all of its usage, counting `extra` as just
  // charged; -1 never (lifetime quota).
  int64_t ResetAfter(int64_t extra) const;
  int64_t PeriodStart() const;
  bool Fresh() const { return Consumed() == 0; }
  // Points the view at another state of the same level at the same instant
  // (after a charge): the quota period depends on the clock only.
  void set_state(const LevelState* state);
  // FreshState(spec(), now), reusing the quota period the view computed.
  LevelState NewState() const;
  // A quota's state as the view reads it ({the period now, 0} when fresh).
  const QuotaState& quota() const { return quota_; }
  // A deep copy of the state the view reads (NewState() when fresh).
  LevelState CopyState() const;
  int64_t now() const { return now_; }
  int64_t QuotaIndex() const { return period_.index; }  // quota: the period now is in

 private:
  int64_t WindowOldestSlot() const;  // first slot still counted now
  __int128 BucketDebt() const;       // scaled units of usage not yet refilled
  int64_t WindowOrBucketConsumed() const;  // Consumed() of a charged window or bucket
  bool BucketFits(int64_t amount) const;   // Fits() of a bucket with a hard limit

  const Spec& spec_;
  const LevelState* state_;  // a window's or a bucket's; null: fresh, or a quota
  int64_t now_;
  QuotaPeriod period_;  // quota: the period now is in
  QuotaState quota_;    // quota: its state
};

// The quota period `now_ms` is in, and the index-th period. The calendar
// work of monthly periods is kept per thread for the last few anchors met
// (a period is a function of the anchor and the time only), so most calls
// do none.
QuotaPeriod QuotaPeriodAt(const Spec& spec, int64_t now_ms);
QuotaPeriod QuotaPeriodOf(const Spec& spec, int64_t index);
int64_t QuotaPeriodStart(const Spec& spec, int64_t index);

// Mutations. `state` must belong to `spec` (same epoch). Charge refuses,
// changing nothing, when the result would not fit in int64.
[[nodiscard]] bool CanCharge(const Spec& spec, const LevelState& state, int64_t now_ms,
                             int64_t amount);
[[nodiscard]] bool CanCharge(const LevelView& view, int64_t amount);  // null state: fresh
[[nodiscard]] bool CanChargeBucket(const LevelView& view, int64_t amount);  // of a bucket level
void Charge(const Spec& spec, LevelState& state, int64_t now_ms, int64_t amount);
// The same, at the view's instant, reusing its quota period.
void Charge(const LevelView& view, LevelState& state, int64_t amount);
void Refund(const Spec& spec, LevelState& state, int64_t now_ms, int64_t amount);

// Inline, with the quota's arithmetic here and the window's and bucket's
// out of line: CONSUME asks these of every level it checks, and most
// levels are quotas.
inline int64_t LevelView::Consumed() const {
  // A clock that went back reads the later period's usage: never less.
  if (spec_.def.kind == Kind::kQuota) return quota_.index >= period_.index ? quota_.consumed : 0;
  return state_ == nullptr ? 0 : WindowOrBucketConsumed();
}

inline void LevelView::set_state(const LevelState* state) {
  if (spec_.def.kind != Kind::kQuota) {
    state_ = state;
  } else {
    // get_if: a quota level's state is a QuotaState (same epoch, same kind);
    // std::get would check it again and carry a throw.
    quota_ = state != nullptr ? *std::get_if<QuotaState>(state) : QuotaState{period_.index, 0};
  }
}

inline int64_t LevelView::Remaining() const {
  if (!spec_.def.hard) return 0;
  int64_t consumed = Consumed();
  return consumed >= *spec_.def.hard ? 0 : *spec_.def.hard - consumed;
}

inline bool LevelView::Fits(int64_t amount) const {
  if (amount == 0 || !spec_.def.hard) return true;
  if (spec_.def.kind == Kind::kBucket) return BucketFits(amount);
  int64_t consumed = Consumed();
  return consumed <= *spec_.def.hard && amount <= *spec_.def.hard - consumed;
}

inline bool CanCharge(const LevelView& view, int64_t amount) {
  if (view.spec().def.kind == Kind::kBucket) return CanChargeBucket(view, amount);
  int64_t sum;
  return !__builtin_add_overflow(view.Consumed(), amount, &sum);
}

// Moves a window's newest sub-window up to `slot` (never down), zeroing
// the ring slots it reuses; allocates a ring of `slots` if it has none.
void AdvanceWindow(WindowState& w, int64_t slots, int64_t slot);
int64_t& WindowSlotValue(WindowState& w, int64_t slots, int64_t slot);

}  // namespace limiterd::internal
