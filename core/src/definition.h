// Copyright limiterd authors.
// Spec: a validated, resolved LimitDefinition as the engine keeps it, shared
// immutably (copy on write) between the key that owns it and the counters
// that follow it.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "limiterd/limit.h"
#include "limiterd/result.h"

namespace limiterd::internal {

struct Spec {
  LimitDefinition def;  // resolved: anchor_ms set, bucket burst and hard set
  bool cancelled = false;
  // A counter's state belongs to the epoch it was charged under; a spec
  // with another epoch sees it as fresh. Numbered per key: kept across
  // changes that keep usage (hard, soft, ...), the next number when usage
  // starts afresh.
  uint64_t epoch = 0;

  // Derived once, used on every consume.
  int64_t period_len_ms = 0;  // quota daily / weekly / duration; else 0
  int64_t slot_ms = 0;        // window: sub-window length
  int64_t slots = 0;          // window: ring size
  // When the limit expires: valid_until, or for a NORENEW quota with a
  // period the end of its first period, whichever comes first; INT64_MAX
  // (kNever) for neither.
  int64_t expires_at_ms = INT64_MAX;

  bool enforced() const { return !cancelled && def.hard.has_value(); }
};

using SpecPtr = std::shared_ptr<const Spec>;

// Checks a definition given to Engine::Set (SPEC section 3 errors).
[[nodiscard]] Result<bool> ValidateDefinition(const LimitDefinition& def);

// Resolves defaults: anchor (kept from `previous` when the period is the
// same, else the period's default at `now_ms`), bucket burst and hard.
LimitDefinition ResolveDefinition(const LimitDefinition& def, const Spec* previous,
                                  int64_t now_ms);

// True when a counter charged under `a` keeps its usage under `b`: same kind,
// period, anchor, window and rate (hard, soft, unit, burst, validity may
// differ).
bool SameUsageBasis(const LimitDefinition& a, const LimitDefinition& b);

// Builds the shared spec, deriving the cached fields.
SpecPtr MakeSpec(LimitDefinition resolved, bool cancelled, uint64_t epoch);

}  // namespace limiterd::internal
