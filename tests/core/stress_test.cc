// Copyright limiterd authors.
// SPEC 2 "Consuming": all or nothing, linearizable, "the sum of what is
// granted at any level in one period never exceeds its hard limit", whatever
// the number of threads. 8 worker threads over a 3-level hierarchy
// (org/project/user) with hard limits at every level, shared and distinct
// keys, users from an own definition or a default, while LIMIT.SET changes
// soft limits (usage kept) and idle counters are dropped.
//
// No Catch2 assertion runs off the main thread (Catch2 is not thread-safe):
// workers count and describe failures, the main thread checks them.
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "test_util.h"

using namespace lt;  // NOLINT

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr int kOpsPerThread = 10'000;
#else
constexpr int kOpsPerThread = 20'000;
#endif
constexpr int kThreads = 8;
constexpr int64_t T = k2024_02_29_12;  // 2024-02-29 12:00 UTC; the clock stays there

// One failure log shared by the threads.
class Failures {
 public:
  void Add(std::string what) {
    count_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu_);
    if (first_.size() < 20) first_.push_back(std::move(what));
  }
  int count() const { return count_.load(); }
  std::string Text() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& s : first_) out += s + "\n";
    return out;
  }

 private:
  std::atomic<int> count_{0};
  mutable std::mutex mu_;
  std::vector<std::string> first_;
};

// The tree. Every level has a hard limit; demand below each level exceeds it.
struct Tree {
  // level -> hard limit (own definitions and the default's)
  std::map<std::string, int64_t> hard;
  std::vector<std::string> shared_users;            // used by every thread
  std::vector<std::vector<std::string>> own_users;  // per thread
  std::string user_default = "org:0/project:1/*";
  int64_t user_default_hard = 20;

  Tree() {
    hard["org:0"] = 150;
    hard["org:0/project:0"] = 100;
    hard["org:0/project:1"] = 100;
    hard["org:1"] = 120;
    hard["org:1/project:0"] = 100;
    for (int i = 0; i < 4; ++i) {
      shared_users.push_back("org:0/project:0/user:s" + std::to_string(i));
      hard[shared_users.back()] = 40;
    }
    own_users.resize(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      std::string from_default = "org:0/project:1/user:t" + std::to_string(t);
      std::string own = "org:1/project:0/user:t" + std::to_string(t);
      own_users[t] = {from_default, own};
      hard[own] = 25;
    }
  }

  // Every user key, and the levels of a key's path.
  std::vector<std::string> AllUsers() const {
    std::vector<std::string> all = shared_users;
    for (const auto& v : own_users) all.insert(all.end(), v.begin(), v.end());
    return all;
  }
  static std::vector<std::string> PathOf(const std::string& key) {
    std::vector<std::string> levels;
    for (size_t i = 0; i <= key.size(); ++i) {
      if (i == key.size() || key[i] == '/') levels.push_back(key.substr(0, i));
    }
    return levels;
  }
  int64_t HardOf(const std::string& level) const {
    auto it = hard.find(level);
    return it != hard.end() ? it->second : user_default_hard;
  }
  LimitDefinition Definition(int64_t h, std::optional<int64_t> soft) const {
    return WithSoft(AnchoredQuota(h, None(), T), soft);
  }
  void Install(Engine& e) const {
    for (const auto& [key, h] : hard) SetOk(e, key, Definition(h, std::nullopt));
    SetOk(e, user_default, Definition(user_default_hard, std::nullopt));
  }
  // Levels whose limits are checked (all but the default key itself).
  std::vector<std::string> Levels() const {
    std::vector<std::string> out;
    for (const auto& [key, h] : hard) out.push_back(key);
    for (const auto& v : own_users) out.push_back(v[0]);
    return out;
  }
};

// What one thread was granted and refunded, per user key.
struct Ledger {
  std::map<std::string, int64_t> granted;
  std::map<std::string, int64_t> refunded;
};

void CheckReply(const ConsumeReply& r, const std::string& key, int64_t amount, Failures& fail) {
  if (r.remaining && *r.remaining < 0) fail.Add("negative remaining: " + Describe(r));
  if (r.remaining.has_value() != r.limit.has_value()) fail.Add("remaining/limit: " + Describe(r));
  if (r.allowed && r.retry_after_ms != 0) fail.Add("allowed with retry_after: " + Describe(r));
  if (!r.allowed && r.retry_after_ms == 0) fail.Add("denied with retry_after 0: " + Describe(r));
  if (r.allowed && r.remaining && r.limit && *r.remaining > *r.limit) {
    fail.Add("remaining > limit: " + Describe(r));
  }
  if (key.compare(0, r.level.size(), r.level) != 0) fail.Add("level not a prefix: " + Describe(r));
  (void)amount;
}

// Sums the ledgers per level.
std::map<std::string, int64_t> Expected(const Tree& tree, const std::vector<Ledger>& ledgers) {
  std::map<std::string, int64_t> out;
  for (const auto& l : tree.Levels()) out[l] = 0;
  for (const Ledger& ledger : ledgers) {
    for (const auto& [key, g] : ledger.granted) {
      int64_t net = g - (ledger.refunded.count(key) ? ledger.refunded.at(key) : 0);
      for (const std::string& level : Tree::PathOf(key)) {
        if (out.count(level)) out[level] += net;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("stress: no over-spend at any level with consume, refund and soft changes",
          "[stress][concurrency]") {
  Fixture f(T);
  Tree tree;
  tree.Install(f.engine);
  const std::vector<std::string> levels = tree.Levels();
  Failures fail;
  std::vector<Ledger> ledgers(kThreads);
  std::atomic<int> running{kThreads};
  std::atomic<int64_t> allowed_count{0}, denied_count{0};

  auto worker = [&](int t) {
    std::mt19937_64 rng(1234 + t);
    std::vector<std::string> keys = tree.shared_users;
    keys.insert(keys.end(), tree.own_users[t].begin(), tree.own_users[t].end());
    Ledger& ledger = ledgers[t];
    std::map<std::string, int64_t> outstanding;  // granted - refunded, per key
    for (int op = 0; op < kOpsPerThread; ++op) {
      const std::string& key = keys[rng() % keys.size()];
      const int dice = static_cast<int>(rng() % 100);
      if (dice < 30 && outstanding[key] > 0) {
        int64_t amount = 1 + static_cast<int64_t>(rng() % std::min<int64_t>(outstanding[key], 3));
        auto r = f.engine.Refund(key, amount);
        if (!r.ok()) {
          fail.Add("Refund " + key + ": " + ErrorOf(r));
          continue;
        }
        if (*r < 0) fail.Add("Refund returned a negative consumed");
        ledger.refunded[key] += amount;
        outstanding[key] -= amount;
      } else if (dice < 33 && t == 0) {
        // Thread 0 also changes soft limits; usage must be kept.
        const std::string& level = levels[rng() % levels.size()];
        const bool is_default_user = level.rfind("org:0/project:1/user:", 0) == 0;
        const std::string& target = is_default_user ? tree.user_default : level;
        const int64_t h = tree.HardOf(level);
        auto r = f.engine.Set(target, tree.Definition(h, static_cast<int64_t>(rng() % (h + 1))));
        if (!r.ok() || !*r) fail.Add("Set soft on " + target + ": " + ErrorOf(r));
      } else if (dice < 35 && t == 1) {
        (void)f.engine.DropIdleCounters(16);
      } else if (dice < 40) {
        // A peek or a DRYRUN changes nothing.
        auto r = f.engine.Consume(key, static_cast<int64_t>(rng() % 4),
                                  ConsumeOptions{.force = false, .dry_run = true});
        if (!r.ok()) fail.Add("DRYRUN " + key + ": " + ErrorOf(r));
        else CheckReply(*r, key, 0, fail);
      } else {
        int64_t amount = 1 + static_cast<int64_t>(rng() % 5);
        auto r = f.engine.Consume(key, amount);
        if (!r.ok()) {
          fail.Add("Consume " + key + ": " + ErrorOf(r));
          continue;
        }
        CheckReply(*r, key, amount, fail);
        if (r->allowed) {
          ledger.granted[key] += amount;
          outstanding[key] += amount;
          allowed_count.fetch_add(1, std::memory_order_relaxed);
        } else {
          denied_count.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    running.fetch_sub(1);
  };

  // A monitor: no level ever above its hard limit, at any instant.
  std::thread monitor([&] {
    while (running.load() > 0) {
      for (const std::string& level : levels) {
        auto u = f.engine.Usage(level);
        if (!u.ok() || !u->has_value()) {
          fail.Add("Usage " + level + ": " + ErrorOf(u));
          continue;
        }
        const UsageReport& r = **u;
        if (r.consumed < 0 || r.consumed > tree.HardOf(level)) {
          fail.Add("level " + level + " consumed " + std::to_string(r.consumed));
        }
        if (!r.remaining || *r.remaining < 0) fail.Add("level " + level + " remaining");
      }
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();
  monitor.join();

  INFO(fail.Text());
  CHECK(fail.count() == 0);
  INFO("allowed " << allowed_count.load() << ", denied " << denied_count.load());
  CHECK(allowed_count.load() > 0);
  CHECK(denied_count.load() > 0);  // the limits were actually reached

  const auto expected = Expected(tree, ledgers);
  for (const std::string& level : levels) {
    INFO("level " << level);
    const int64_t used = Used(f.engine, level);
    CHECK(used == expected.at(level));
    CHECK(used <= tree.HardOf(level));
    CHECK(used >= 0);
    CHECK(UsageOf(f.engine, level).limit == tree.HardOf(level));
  }
}

TEST_CASE("stress: without refunds, granted totals reach exactly the binding hard limits",
          "[stress][concurrency]") {
  Fixture f(T);
  Tree tree;
  tree.Install(f.engine);
  const std::vector<std::string> levels = tree.Levels();
  Failures fail;
  std::vector<Ledger> ledgers(kThreads);

  auto worker = [&](int t) {
    std::mt19937_64 rng(99 + t);
    std::vector<std::string> keys = tree.shared_users;
    keys.insert(keys.end(), tree.own_users[t].begin(), tree.own_users[t].end());
    Ledger& ledger = ledgers[t];
    for (int op = 0; op < kOpsPerThread / 4; ++op) {
      const std::string& key = keys[rng() % keys.size()];
      int64_t amount = 1 + static_cast<int64_t>(rng() % 3);
      auto r = f.engine.Consume(key, amount);
      if (!r.ok()) {
        fail.Add("Consume " + key + ": " + ErrorOf(r));
        continue;
      }
      CheckReply(*r, key, amount, fail);
      if (r->allowed) ledger.granted[key] += amount;
    }
    // Drain: amount 1 until denied, on every key (usage only grows: once
    // denied, always denied).
    for (const std::string& key : keys) {
      for (int i = 0; i < 100'000; ++i) {
        auto r = f.engine.Consume(key, 1);
        if (!r.ok()) {
          fail.Add("Consume " + key + ": " + ErrorOf(r));
          break;
        }
        CheckReply(*r, key, 1, fail);
        if (!r->allowed) break;
        ledger.granted[key] += 1;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& th : threads) th.join();

  INFO(fail.Text());
  CHECK(fail.count() == 0);
  const auto expected = Expected(tree, ledgers);
  for (const std::string& level : levels) {
    INFO("level " << level);
    const int64_t used = Used(f.engine, level);
    CHECK(used == expected.at(level));
    CHECK(used <= tree.HardOf(level));
  }
  // org:0's projects could take 200 > 150 (and each project's users 160 >
  // 100): org:0 is full. org:1/project:0's users could take 200 > 100, and
  // org:1 (120) never binds before it.
  CHECK(Used(f.engine, "org:0") == 150);
  CHECK(Used(f.engine, "org:1/project:0") == 100);
  CHECK(Used(f.engine, "org:1") == 100);
  // Every user is blocked by a full level on its path.
  for (const std::string& key : tree.AllUsers()) {
    INFO("user " << key);
    bool some_full = false;
    for (const std::string& level : Tree::PathOf(key)) {
      if (expected.count(level) && Used(f.engine, level) == tree.HardOf(level)) some_full = true;
    }
    CHECK(some_full);
    CHECK_FALSE(Take(f.engine, key, 1).allowed);
  }
}

TEST_CASE("stress: FORCE and plain consumes together keep exact accounting",
          "[stress][concurrency][force]") {
  Fixture f(T);
  SetOk(f.engine, "o", Quota(1000));
  SetOk(f.engine, "o/a", Quota(600));
  SetOk(f.engine, "o/b", Quota(600));
  Failures fail;
  std::array<std::atomic<int64_t>, 2> charged{};  // per project: every charge
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = t % 2 == 0 ? "o/a" : "o/b";
      const bool force = t >= 6;
      std::mt19937_64 rng(7 + t);
      for (int op = 0; op < kOpsPerThread / 8; ++op) {
        int64_t amount = 1 + static_cast<int64_t>(rng() % 3);
        auto r = f.engine.Consume(key, amount, ConsumeOptions{.force = force, .dry_run = false});
        if (!r.ok()) {
          fail.Add("Consume: " + ErrorOf(r));
          continue;
        }
        if (r->remaining && *r->remaining < 0) fail.Add("negative remaining " + Describe(*r));
        if (r->allowed || force) charged[t % 2].fetch_add(amount);
      }
    });
  }
  for (auto& th : threads) th.join();
  INFO(fail.Text());
  CHECK(fail.count() == 0);
  CHECK(Used(f.engine, "o/a") == charged[0].load());
  CHECK(Used(f.engine, "o/b") == charged[1].load());
  CHECK(Used(f.engine, "o") == charged[0].load() + charged[1].load());
}
