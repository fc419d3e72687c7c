// Copyright limiterd authors.
// Engine::Atomic / AtomicAll (MULTI/EXEC: "all queued commands atomic
// together"): calls inside a section are not interleaved with other threads'
// calls on the same keys; a key outside the section is refused.
#include <array>
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_12;  // 2024-02-29 12:00 UTC

#if defined(__SANITIZE_THREAD__)
constexpr int kOps = 3'000;
#else
constexpr int kOps = 10'000;
#endif

struct Fx {
  explicit Fx(size_t shards = 1024)
      : engine(EngineOptions{.separator = "/", .clock = &clock, .shards = shards}) {}
  AdjustableClock clock{T};
  Engine engine;
};
}  // namespace

TEST_CASE("Atomic: calls on the section's keys run inside it; other keys are refused",
          "[atomic]") {
  Fx f(1 << 16);  // many shards: the keys outside share none with the section
  SetOk(f.engine, "a", Quota(10));
  SetOk(f.engine, "b", Quota(10));
  const char* outside[] = {"outside:1", "outside:2", "outside:3"};
  for (const char* k : outside) SetOk(f.engine, k, Quota(10));
  {
    std::string_view keys[] = {"a", "b"};
    AtomicSection section = f.engine.Atomic(keys);
    CHECK(Take(f.engine, "a", 3).allowed);
    CHECK(Take(f.engine, "b", 4).allowed);
    CHECK(Used(f.engine, "a") == 3);
    CHECK(RefundOk(f.engine, "b", 1) == 3);
    int refused = 0;
    for (const char* k : outside) {
      auto r = f.engine.Consume(k, 1);
      if (!r.ok() && r.error().code == ErrorCode::kNotInSection) ++refused;
    }
    CHECK(refused == 3);
  }
  // After the section: every key is usable again, nothing was charged outside.
  for (const char* k : outside) {
    INFO(k);
    CHECK(Used(f.engine, k) == 0);
    CHECK(Take(f.engine, k, 1).allowed);
  }
  {
    AtomicSection all = f.engine.AtomicAll();
    CHECK(Take(f.engine, "outside:1", 1).allowed);
    CHECK(Take(f.engine, "a", 1).allowed);
  }
  CHECK(Used(f.engine, "a") == 4);
  CHECK(Used(f.engine, "outside:1") == 2);
}

TEST_CASE("Atomic sections hammered together with plain Consume", "[atomic][concurrency]") {
  Fx f;
  // A hierarchy; every level unlimited, so nothing is ever denied and the
  // totals are exact.
  SetOk(f.engine, "org", Quota(std::nullopt));
  const std::vector<std::string> users = {"org/u0", "org/u1", "org/u2", "org/u3"};
  for (const auto& u : users) SetOk(f.engine, u, Quota(std::nullopt));

  std::atomic<int> errors{0};
  std::mutex log_mu;
  std::vector<std::string> log;
  auto fail = [&](std::string what) {
    errors.fetch_add(1);
    std::lock_guard<std::mutex> lock(log_mu);
    if (log.size() < 20) log.push_back(std::move(what));
  };
  std::atomic<int64_t> total{0};
  std::array<std::atomic<int64_t>, 4> per_user{};

  auto used = [&](const std::string& k) -> int64_t {
    auto r = f.engine.Usage(k);
    if (!r.ok() || !r->has_value()) {
      fail("Usage " + k + ": " + ErrorOf(r));
      return -1;
    }
    return (**r).consumed;
  };

  // Plain consumers and refunders.
  auto plain = [&](int t) {
    std::mt19937_64 rng(t);
    for (int i = 0; i < kOps; ++i) {
      int u = static_cast<int>(rng() % 4);
      auto r = f.engine.Consume(users[u], 2);
      if (!r.ok() || !r->allowed) {
        fail("plain consume: " + ErrorOf(r));
        continue;
      }
      per_user[u].fetch_add(2);
      total.fetch_add(2);
      if (rng() % 2 == 0) {
        auto rf = f.engine.Refund(users[u], 1);
        if (!rf.ok()) fail("plain refund: " + ErrorOf(rf));
        per_user[u].fetch_sub(1);
        total.fetch_sub(1);
      }
    }
  };
  // Sections over two users and the org: reads inside see only their own
  // changes.
  auto sectioned = [&](int t) {
    std::mt19937_64 rng(100 + t);
    for (int i = 0; i < kOps / 4; ++i) {
      int a = static_cast<int>(rng() % 4);
      int b = (a + 1 + static_cast<int>(rng() % 3)) % 4;
      std::string_view keys[] = {"org", users[a], users[b]};
      AtomicSection section = f.engine.Atomic(keys);
      const int64_t org0 = used("org"), a0 = used(users[a]), b0 = used(users[b]);
      auto ra = f.engine.Consume(users[a], 3);
      auto rb = f.engine.Consume(users[b], 5);
      if (!ra.ok() || !rb.ok() || !ra->allowed || !rb->allowed) {
        fail("section consume: " + ErrorOf(ra) + " / " + ErrorOf(rb));
        continue;
      }
      std::this_thread::yield();
      if (used("org") != org0 + 8) fail("org changed inside a section");
      if (used(users[a]) != a0 + 3) fail("user a changed inside a section");
      if (used(users[b]) != b0 + 5) fail("user b changed inside a section");
      auto rf = f.engine.Refund(users[b], 5);
      if (!rf.ok() || *rf != b0) fail("section refund: " + ErrorOf(rf));
      per_user[a].fetch_add(3);
      total.fetch_add(3);
    }
  };
  // A section over everything: a consistent snapshot.
  auto everything = [&] {
    for (int i = 0; i < kOps / 20; ++i) {
      AtomicSection all = f.engine.AtomicAll();
      int64_t sum = 0;
      for (const auto& u : users) sum += used(u);
      std::this_thread::yield();
      const int64_t org = used("org");
      if (org != sum) fail("org " + std::to_string(org) + " != sum " + std::to_string(sum));
    }
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(plain, t);
  for (int t = 0; t < 3; ++t) threads.emplace_back(sectioned, t);
  threads.emplace_back(everything);
  for (auto& th : threads) th.join();

  std::string text;
  for (const auto& s : log) text += s + "\n";
  INFO(text);
  CHECK(errors.load() == 0);
  CHECK(Used(f.engine, "org") == total.load());
  for (int u = 0; u < 4; ++u) {
    INFO(users[u]);
    CHECK(Used(f.engine, users[u]) == per_user[u].load());
  }
}
