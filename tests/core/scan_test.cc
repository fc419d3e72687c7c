// Copyright limiterd authors.
// SPEC 3 LIMIT.SCAN: as SCAN, over keys with a definition or a materialized
// counter; cursor 0 starts and ends; every key present for the whole scan is
// returned at least once, also while other threads add and remove keys.
#include <atomic>
#include <mutex>
#include <thread>

#include "test_util.h"

using namespace lt;  // NOLINT

namespace {
constexpr int64_t T = k2024_02_29_12;  // 2024-02-29 12:00 UTC
}  // namespace

TEST_CASE("scan of an empty engine", "[scan]") {
  Fixture f(T);
  ScanPage page = f.engine.Scan(0, 10);
  CHECK(page.next_cursor == 0u);
  CHECK(page.keys.empty());
  CHECK(f.engine.Size() == 0u);
}

TEST_CASE("scan returns every key, with any COUNT", "[scan]") {
  Fixture f(T);
  std::vector<std::string> expected;
  for (int i = 0; i < 1000; ++i) {
    std::string k = "key:" + std::to_string(i);
    SetOk(f.engine, k, Quota(10));
    expected.push_back(k);
  }
  SetOk(f.engine, "org/*", Quota(5));
  expected.push_back("org/*");
  for (int i = 0; i < 20; ++i) {
    std::string k = "org/user:" + std::to_string(i);
    CHECK(Take(f.engine, k, 1).allowed);
    expected.push_back(k);
  }
  std::sort(expected.begin(), expected.end());
  CHECK(f.engine.Size() == expected.size());
  for (size_t count : {size_t{1}, size_t{3}, size_t{10}, size_t{100}, size_t{5000}}) {
    INFO("COUNT " << count);
    CHECK(ScanAll(f.engine, count) == expected);
  }
}

TEST_CASE("scan while another thread adds and removes keys", "[scan][concurrency]") {
  Fixture f(T);
  std::vector<std::string> stable;
  for (int i = 0; i < 300; ++i) {
    stable.push_back("stable:" + std::to_string(i));
    SetOk(f.engine, stable.back(), Quota(10));
  }
  SetOk(f.engine, "churn/*", Quota(100));
  std::sort(stable.begin(), stable.end());

  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::thread churn([&] {
    LimitDefinition d = Quota(10);
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      std::string a = "churn:" + std::to_string(n % 500);
      std::string b = "churn/m" + std::to_string(n % 300);
      if ((n / 500) % 2 == 0) {
        auto r = f.engine.Set(a, d);
        if (!r.ok()) errors.fetch_add(1);
        auto c = f.engine.Consume(b, 1);  // materializes a counter
        if (!c.ok()) errors.fetch_add(1);
      } else {
        std::string_view keys[] = {a, b};
        auto r = f.engine.Delete(keys);
        if (!r.ok()) errors.fetch_add(1);
      }
      if (n % 64 == 0) (void)f.engine.DropIdleCounters(8);
      ++n;
    }
  });

  for (size_t count : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{16}}) {
    std::set<std::string> seen;
    uint64_t cursor = 0;
    size_t pages = 0;
    do {
      ScanPage page = f.engine.Scan(cursor, count);
      seen.insert(page.keys.begin(), page.keys.end());
      cursor = page.next_cursor;
      ++pages;
    } while (cursor != 0 && pages < 10'000'000);
    INFO("COUNT " << count << ", " << pages << " pages");
    CHECK(cursor == 0u);
    size_t missing = 0;
    for (const std::string& k : stable) missing += seen.count(k) == 0 ? 1 : 0;
    CHECK(missing == 0u);
    for (const std::string& k : seen) {
      INFO(k);
      CHECK((k.rfind("stable:", 0) == 0 || k.rfind("churn", 0) == 0));
    }
  }
  stop = true;
  churn.join();
  CHECK(errors.load() == 0);
  CHECK(f.engine.Size() >= stable.size() + 1);
}
