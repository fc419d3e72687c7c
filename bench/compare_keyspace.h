// Copyright limiterd authors.
// bench/compare.sh's keyspace for the Google Benchmark binaries, so that
// they time the keys the comparison loads (bench/lib.sh): 100 orgs x 10
// projects x 100 users, each id redis-benchmark's 12-digit __rand_int__
// (an org and a user are two draws of 0-9, a project one), every org and
// project limited, users under their project's default "<project>/*".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace limiterd::bench {

// n as redis-benchmark writes a draw of __rand_int__: 12 digits.
inline std::string RandInt(int n) {
  std::string digits = std::to_string(n);
  return std::string(12 - digits.size(), '0') + digits;
}

struct CompareKeyspace {
  std::vector<std::string> orgs;
  std::vector<std::string> projects;  // each also has the default "<project>/*"
  std::vector<std::string> users;     // project by project
};

inline CompareKeyspace MakeCompareKeyspace() {
  CompareKeyspace keys;
  for (int o = 0; o < 100; ++o) {
    keys.orgs.push_back("org:" + RandInt(o / 10) + RandInt(o % 10));
    for (int p = 0; p < 10; ++p) {
      keys.projects.push_back(keys.orgs.back() + "/project:" + RandInt(p));
      for (int u = 0; u < 100; ++u) {
        keys.users.push_back(keys.projects.back() + "/user:" + RandInt(u / 10) + RandInt(u % 10));
      }
    }
  }
  return keys;
}

// A random order that is the same on every run (xorshift64).
class FixedRandom {
 public:
  uint64_t Next() {
    x_ ^= x_ << 13;
    x_ ^= x_ >> 7;
    x_ ^= x_ << 17;
    return x_;
  }

 private:
  uint64_t x_ = 88172645463325252ull;
};

}  // namespace limiterd::bench
