// Copyright limiterd authors.
#include "level_state.h"

#include <algorithm>

#include "calendar.h"

namespace limiterd::internal {
namespace {

size_t RingIndex(int64_t slot, int64_t slots) {
  int64_t i = slot % slots;
  return static_cast<size_t>(i < 0 ? i + slots : i);
}

int64_t CeilDiv(__int128 a, __int128 b) {  // a >= 0, b > 0; result fits
  return static_cast<int64_t>((a + b - 1) / b);
}

int64_t WindowCurrentSlot(const Spec& spec, int64_t now_ms) {
  return FloorDiv(now_ms, spec.slot_ms);
}

// When usage charged in `slot` stops counting.
int64_t WindowSlotFreeAt(const Spec& spec, int64_t slot) {
  return (slot + 1) * spec.slot_ms + spec.def.window_ms;
}

}  // namespace

namespace {

// A thread's monthly periods, one per anchor slot: consumes of keys under
// one plan (one anchor) find their period here.
struct MonthlySlot {
  int64_t anchor_ms = 0;
  QuotaPeriod period{0, 0, 0};  // empty (start == end): matches nothing
};
constexpr size_t kMonthlySlots = 64;
thread_local MonthlySlot t_monthly[kMonthlySlots];

MonthlySlot& MonthlySlotOf(int64_t anchor_ms) {
  uint64_t h = static_cast<uint64_t>(anchor_ms) * 0x9E3779B97F4A7C15ull;
  return t_monthly[h >> 58];  // the top 6 bits: 64 slots
}

QuotaPeriod MonthlyPeriod(int64_t anchor_ms, int64_t index) {
  return QuotaPeriod{index, MonthlyPeriodStart(anchor_ms, index),
                     MonthlyPeriodStart(anchor_ms, index + 1)};
}

// The calendar work when the slot holds another period: out of line, so
// the hit path of QuotaPeriodAt (every CONSUME, at every level) stays a
// few instructions with no registers to save.
[[gnu::noinline]] QuotaPeriod FillMonthlySlot(MonthlySlot& slot, int64_t anchor_ms,
                                              int64_t now_ms) {
  QuotaPeriod period = MonthlyPeriod(anchor_ms, MonthlyPeriodIndex(anchor_ms, now_ms));
  slot = MonthlySlot{anchor_ms, period};
  return period;
}

}  // namespace

QuotaPeriod QuotaPeriodAt(const Spec& spec, int64_t now_ms) {
  const LimitDefinition& d = spec.def;
  switch (d.period.type) {
    case PeriodType::kNone: return QuotaPeriod{0, *d.anchor_ms, kNever};
    case PeriodType::kMonthly: {
      MonthlySlot& slot = MonthlySlotOf(*d.anchor_ms);
      if (slot.anchor_ms == *d.anchor_ms && slot.period.start_ms <= now_ms &&
          now_ms < slot.period.end_ms) {
        return slot.period;
      }
      return FillMonthlySlot(slot, *d.anchor_ms, now_ms);
    }
    default: {
      int64_t index = FloorDiv(now_ms - *d.anchor_ms, spec.period_len_ms);
      int64_t start = *d.anchor_ms + index * spec.period_len_ms;
      return QuotaPeriod{index, start, start + spec.period_len_ms};
    }
  }
}

QuotaPeriod QuotaPeriodOf(const Spec& spec, int64_t index) {
  const LimitDefinition& d = spec.def;
  switch (d.period.type) {
    case PeriodType::kNone: return QuotaPeriod{0, *d.anchor_ms, kNever};
    case PeriodType::kMonthly: {
      const MonthlySlot& slot = MonthlySlotOf(*d.anchor_ms);
      if (slot.anchor_ms == *d.anchor_ms && slot.period.index == index &&
          slot.period.start_ms < slot.period.end_ms) {
        return slot.period;
      }
      return MonthlyPeriod(*d.anchor_ms, index);
    }
    default: {
      int64_t start = *d.anchor_ms + index * spec.period_len_ms;
      return QuotaPeriod{index, start, start + spec.period_len_ms};
    }
  }
}

int64_t QuotaPeriodStart(const Spec& spec, int64_t index) {
  const LimitDefinition& d = spec.def;
  switch (d.period.type) {
    case PeriodType::kNone: return *d.anchor_ms;
    case PeriodType::kMonthly: return MonthlyPeriodStart(*d.anchor_ms, index);
    default: return *d.anchor_ms + index * spec.period_len_ms;
  }
}

LevelState FreshState(const Spec& spec, int64_t now_ms) {
  switch (spec.def.kind) {
    case Kind::kQuota: return QuotaState{QuotaPeriodAt(spec, now_ms).index, 0};
    case Kind::kWindow: return WindowState{WindowCurrentSlot(spec, now_ms), nullptr};
    case Kind::kBucket: return BucketState{static_cast<__int128>(now_ms) * spec.def.rate};
  }
  return QuotaState{};
}

LevelState CopyState(const Spec& spec, const LevelState& state) {
  if (const auto* w = std::get_if<WindowState>(&state)) {
    WindowState copy{w->newest_slot, nullptr};
    if (w->ring) {
      copy.ring = std::make_unique<int64_t[]>(static_cast<size_t>(spec.slots));
      std::copy(w->ring.get(), w->ring.get() + spec.slots, copy.ring.get());
    }
    return copy;
  }
  if (const auto* q = std::get_if<QuotaState>(&state)) return *q;
  return std::get<BucketState>(state);
}

LevelView::LevelView(const Spec& spec, const LevelState* state, int64_t now_ms)
    : spec_(spec), state_(nullptr), now_(now_ms) {
  if (spec.def.kind == Kind::kQuota) period_ = QuotaPeriodAt(spec, now_ms);
  set_state(state);
}

LevelView::LevelView(const Spec& spec, const QuotaState& quota, int64_t now_ms)
    : spec_(spec), state_(nullptr), now_(now_ms), period_(QuotaPeriodAt(spec, now_ms)),
      quota_(quota) {}

LevelState LevelView::CopyState() const {
  if (spec_.def.kind == Kind::kQuota) return quota_;
  return state_ != nullptr ? internal::CopyState(spec_, *state_) : FreshState(spec_, now_);
}

LevelState LevelView::NewState() const {
  if (spec_.def.kind == Kind::kQuota) return QuotaState{period_.index, 0};
  return FreshState(spec_, now_);
}

int64_t LevelView::WindowOldestSlot() const {
  const auto& w = std::get<WindowState>(*state_);
  return std::max(FloorDiv(now_ - spec_.def.window_ms, spec_.slot_ms),
                  w.newest_slot - spec_.slots + 1);
}

__int128 LevelView::BucketDebt() const {
  if (state_ == nullptr) return 0;
  __int128 debt = std::get<BucketState>(*state_).tat - static_cast<__int128>(now_) * spec_.def.rate;
  return debt > 0 ? debt : 0;
}

int64_t LevelView::WindowOrBucketConsumed() const {
  if (spec_.def.kind == Kind::kBucket) return CeilDiv(BucketDebt(), spec_.def.rate_per_ms);
  const auto& w = std::get<WindowState>(*state_);
  if (!w.ring) return 0;
  int64_t sum = 0;  // cannot overflow: Charge keeps every slot sum in range
  for (int64_t s = WindowOldestSlot(); s <= w.newest_slot; ++s) {
    sum += w.ring[RingIndex(s, spec_.slots)];
  }
  return sum;
}

bool LevelView::BucketFits(int64_t amount) const {
  const LimitDefinition& d = spec_.def;
  __int128 need = BucketDebt() + static_cast<__int128>(amount) * d.rate_per_ms;
  return need <= static_cast<__int128>(*d.burst) * d.rate_per_ms;
}

int64_t LevelView::RetryAfter(int64_t amount) const {
  if (Fits(amount)) return 0;
  const LimitDefinition& d = spec_.def;
  if (amount > *d.hard) return -1;
  switch (d.kind) {
    case Kind::kQuota:
      return period_.end_ms == kNever ? -1 : period_.end_ms - now_;
    case Kind::kWindow: {
      const auto& w = std::get<WindowState>(*state_);
      int64_t left = Consumed();
      for (int64_t s = WindowOldestSlot(); s <= w.newest_slot; ++s) {
        left -= w.ring[RingIndex(s, spec_.slots)];
        if (left + amount <= *d.hard) return WindowSlotFreeAt(spec_, s) - now_;
      }
      return -1;  // unreachable: with nothing left, amount <= hard fits
    }
    case Kind::kBucket: {
      __int128 excess = BucketDebt() + static_cast<__int128>(amount) * d.rate_per_ms -
                        static_cast<__int128>(*d.burst) * d.rate_per_ms;
      return CeilDiv(excess, d.rate);
    }
  }
  return -1;
}

int64_t LevelView::ResetAfter(int64_t extra) const {
  const LimitDefinition& d = spec_.def;
  switch (d.kind) {
    case Kind::kQuota:
      return period_.end_ms == kNever ? -1 : period_.end_ms - now_;
    case Kind::kWindow: {
      int64_t current = WindowCurrentSlot(spec_, now_);
      if (extra > 0) {
        int64_t newest = state_ ? std::max(current, std::get<WindowState>(*state_).newest_slot)
                                : current;
        return WindowSlotFreeAt(spec_, newest) - now_;
      }
      if (state_ == nullptr || !std::get<WindowState>(*state_).ring) return 0;
      const auto& w = std::get<WindowState>(*state_);
      for (int64_t s = w.newest_slot; s >= WindowOldestSlot(); --s) {
        if (w.ring[RingIndex(s, spec_.slots)] != 0) return WindowSlotFreeAt(spec_, s) - now_;
      }
      return 0;
    }
    case Kind::kBucket:
      return CeilDiv(BucketDebt() + static_cast<__int128>(extra) * d.rate_per_ms, d.rate);
  }
  return -1;
}

int64_t LevelView::PeriodStart() const {
  switch (spec_.def.kind) {
    case Kind::kQuota: return period_.start_ms;
    case Kind::kWindow: return now_ - spec_.def.window_ms;
    case Kind::kBucket: return now_;
  }
  return now_;
}

bool CanCharge(const Spec& spec, const LevelState& state, int64_t now_ms, int64_t amount) {
  return CanCharge(LevelView(spec, &state, now_ms), amount);
}

bool CanChargeBucket(const LevelView& view, int64_t amount) {
  // Both the units in use and the time to refill them must fit: the
  // latter is a reply field and is added to now in USAGE.GET.
  const Spec& spec = view.spec();
  __int128 debt = static_cast<__int128>(view.Consumed()) * spec.def.rate_per_ms +
                  static_cast<__int128>(amount) * spec.def.rate_per_ms;
  return debt / spec.def.rate_per_ms <= INT64_MAX && debt / spec.def.rate <= kMaxTimeMs;
}

namespace {

void ChargeQuota(QuotaState& q, int64_t now_index, int64_t amount) {
  if (q.index < now_index) q = QuotaState{now_index, 0};
  q.consumed += amount;
}

}  // namespace

void Charge(const LevelView& view, LevelState& state, int64_t amount) {
  if (view.spec().def.kind == Kind::kQuota) {
    ChargeQuota(std::get<QuotaState>(state), view.QuotaIndex(), amount);
  } else {
    Charge(view.spec(), state, view.now(), amount);
  }
}

void Charge(const Spec& spec, LevelState& state, int64_t now_ms, int64_t amount) {
  switch (spec.def.kind) {
    case Kind::kQuota:
      ChargeQuota(std::get<QuotaState>(state), QuotaPeriodAt(spec, now_ms).index, amount);
      return;
    case Kind::kWindow: {
      auto& w = std::get<WindowState>(state);
      // A clock that went back charges the newest slot: held longer, never
      // shorter.
      AdvanceWindow(w, spec.slots, WindowCurrentSlot(spec, now_ms));
      WindowSlotValue(w, spec.slots, w.newest_slot) += amount;
      return;
    }
    case Kind::kBucket: {
      auto& b = std::get<BucketState>(state);
      __int128 now_scaled = static_cast<__int128>(now_ms) * spec.def.rate;
      b.tat = std::max<__int128>(b.tat, now_scaled) + static_cast<__int128>(amount) * spec.def.rate_per_ms;
      return;
    }
  }
}

void AdvanceWindow(WindowState& w, int64_t slots, int64_t slot) {
  if (!w.ring) {
    w.ring = std::make_unique<int64_t[]>(static_cast<size_t>(slots));
    w.newest_slot = slot;
    return;
  }
  // Clear the slots the ring reuses between the newest and `slot`.
  for (int64_t s = w.newest_slot + 1; s <= slot && s <= w.newest_slot + slots; ++s) {
    w.ring[RingIndex(s, slots)] = 0;
  }
  w.newest_slot = std::max(w.newest_slot, slot);
}

int64_t& WindowSlotValue(WindowState& w, int64_t slots, int64_t slot) {
  return w.ring[RingIndex(slot, slots)];
}

void Refund(const Spec& spec, LevelState& state, int64_t now_ms, int64_t amount) {
  switch (spec.def.kind) {
    case Kind::kQuota: {
      auto& q = std::get<QuotaState>(state);
      if (q.index >= QuotaPeriodAt(spec, now_ms).index) {
        q.consumed = q.consumed > amount ? q.consumed - amount : 0;
      }
      return;
    }
    case Kind::kWindow: {
      auto& w = std::get<WindowState>(state);
      if (!w.ring) return;
      int64_t oldest = std::max(FloorDiv(now_ms - spec.def.window_ms, spec.slot_ms),
                                w.newest_slot - spec.slots + 1);
      // Newest usage first: a refund usually undoes the latest charge.
      for (int64_t s = w.newest_slot; s >= oldest && amount > 0; --s) {
        int64_t& slot = w.ring[RingIndex(s, spec.slots)];
        int64_t give = std::min(slot, amount);
        slot -= give;
        amount -= give;
      }
      return;
    }
    case Kind::kBucket: {
      auto& b = std::get<BucketState>(state);
      __int128 now_scaled = static_cast<__int128>(now_ms) * spec.def.rate;
      __int128 debt = b.tat > now_scaled ? b.tat - now_scaled : 0;
      __int128 back = static_cast<__int128>(amount) * spec.def.rate_per_ms;
      b.tat = now_scaled + (debt > back ? debt - back : 0);
      return;
    }
  }
}

}  // namespace limiterd::internal
