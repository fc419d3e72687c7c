// Copyright limiterd authors.
// limiterd embedded in-process: an organization with a monthly credit
// budget shared by its projects, a default per-user allowance with one
// override, and a per-user API rate limit. Prints what each call answers.
#include <cstdio>

#include "limiterd/engine.h"

namespace {

void Show(const char* what, const limiterd::Result<limiterd::ConsumeReply>& r) {
  if (!r) {
    std::printf("%-44s error: %s\n", what, r.error().message.c_str());
    return;
  }
  std::printf("%-44s allowed=%d remaining=%lld limit=%lld retry_after=%lldms level=%.*s\n", what,
              r->allowed ? 1 : 0, static_cast<long long>(r->remaining.value_or(-1)),
              static_cast<long long>(r->limit.value_or(-1)),
              static_cast<long long>(r->retry_after_ms), static_cast<int>(r->level.size()),
              r->level.data());
}

}  // namespace

int main() {
  limiterd::AdjustableClock clock(1714521600000);  // 2024-05-01 00:00 UTC
  limiterd::Engine engine({.clock = &clock});

  limiterd::LimitDefinition org;  // 1000 credits a month for the whole org
  org.hard = 1000;
  org.soft = 800;
  org.unit = "credits";
  org.period = {limiterd::PeriodType::kMonthly};
  limiterd::LimitDefinition per_user = org;  // every user: 100 a month
  per_user.hard = 100;
  per_user.soft.reset();
  limiterd::LimitDefinition vip = per_user;  // one user: 1000 (the org cap still binds)
  vip.hard = 1000;
  limiterd::LimitDefinition rate;  // and at most 5 requests per second
  rate.kind = limiterd::Kind::kBucket;
  rate.rate = 5;
  rate.rate_per_ms = 1000;
  for (auto [key, def] : {std::pair{"org:acme", &org}, {"org:acme/*", &per_user},
                          {"org:acme/user:vip", &vip}, {"rate:user:1", &rate}}) {
    if (auto set = engine.Set(key, *def); !set) {
      std::printf("LIMIT.SET %s: %s\n", key, set.error().message.c_str());
      return 1;
    }
  }

  Show("consume org:acme/user:1 60", engine.Consume("org:acme/user:1", 60));
  Show("consume org:acme/user:1 60 (over its 100)", engine.Consume("org:acme/user:1", 60));
  Show("consume org:acme/user:vip 450", engine.Consume("org:acme/user:vip", 450));
  Show("consume org:acme/user:vip 495 (org cap)", engine.Consume("org:acme/user:vip", 495));
  clock.Set(1717200000000);  // 2024-06-01: a new billing period
  Show("June: consume org:acme/user:1 60", engine.Consume("org:acme/user:1", 60));
  for (int i = 0; i < 6; ++i) Show("rate:user:1 1", engine.Consume("rate:user:1", 1));
  return 0;
}
