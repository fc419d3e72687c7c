#!/usr/bin/python3
"""SPEC section 3's limit commands against the real limiterd, through redis-py
(Debian python3-redis 4.3.4) and a raw socket where exact error texts matter.
Time is the daemon's DEBUG CLOCK, stopped at T0 = 2024-01-01T00:00:00Z."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import redis  # noqa: E402

from limiterd_harness import (DAY, FEB1, HOUR, MAR1, T0, LimiterdCase,  # noqa: E402
                              unittest_main)

NOT_INT = "ERR value is not an integer or out of range"


def ms_of(value):
    """A duration as a reply may give it: integer ms (SPEC: 'durations in
    replies are integer milliseconds') or the form LIMIT.SET takes ('30d')."""
    if isinstance(value, int):
        return value
    units = {"ms": 1, "s": 1000, "m": 60_000, "h": HOUR, "d": DAY, "w": 7 * DAY}
    for suffix in ("ms", "s", "m", "h", "d", "w"):
        if value.endswith(suffix) and value[:-len(suffix)].isdigit():
            return int(value[:-len(suffix)]) * units[suffix]
    raise AssertionError("not a duration: %r" % (value,))


class LimitSet(LimiterdCase):
    def test_defaults(self):
        self.assertEqual(self.cmd("LIMIT.SET", "k", "HARD", 100), "OK")
        d = self.limit("k")
        for field, want in {"kind": "quota", "hard": 100, "soft": None, "unit": "requests",
                            "period": "none", "anchor": T0, "renewable": 1,
                            "valid_until": None, "source": "own"}.items():
            self.assertIn(field, d, d)
            self.assertEqual(d[field], want, "LIMIT.GET field %s: %r" % (field, d))

    def test_every_quota_option(self):
        anchor = T0 + 14 * DAY       # 2024-01-15
        until = T0 + 366 * DAY       # 2025-01-01
        self.ok("LIMIT.SET", "k", "HARD", 1000, "SOFT", 800, "UNIT", "tokens", "PERIOD", "monthly",
                "ANCHOR", anchor, "VALIDUNTIL", until)
        d = self.limit("k")
        want = {"kind": "quota", "hard": 1000, "soft": 800, "unit": "tokens", "period": "monthly",
                "anchor": anchor, "renewable": 1, "valid_until": until, "source": "own"}
        self.assertEqual({f: d.get(f) for f in want}, want)
        u = self.usage("k")
        # Periods run on the anchor's grid (also before it): Dec 15 .. Jan 15.
        self.assertEqual(u["period_start"], T0 - 17 * DAY)
        self.assertEqual(u["resets_at"], anchor)
        self.assertEqual(u["valid_until"], until)

    def test_every_period(self):
        for period, reset_after in [("daily", DAY), ("weekly", 7 * DAY), ("monthly", 31 * DAY),
                                    ("30d", 30 * DAY), ("1h", HOUR), ("60s", 60_000),
                                    ("500ms", 500), ("2w", 14 * DAY), ("5m", 300_000)]:
            key = "p:" + period
            self.ok("LIMIT.SET", key, "HARD", 10, "PERIOD", period)
            self.assertEqual(self.limit(key)["kind"], "quota")
            self.assertEqual(self.consume(key, 1), [1, 9, 10, 0, reset_after, key], period)
        self.assertEqual(self.limit("p:daily")["period"], "daily")
        self.assertEqual(ms_of(self.limit("p:30d")["period"]), 30 * DAY)
        self.assertEqual(ms_of(self.limit("p:500ms")["period"]), 500)

    def test_unlimited(self):
        self.ok("LIMIT.SET", "u", "UNLIMITED", "UNIT", "usd")
        self.assertIsNone(self.limit("u")["hard"])
        self.assertEqual(self.consume("u", 10 ** 12), [1, None, None, 0, -1, "u"])
        u = self.usage("u")
        self.assertIsNone(u["limit"])
        self.assertIsNone(u["remaining"])
        self.assertEqual(u["consumed"], 10 ** 12)
        self.assertEqual(u["unit"], "usd")

    def test_window_option(self):
        self.ok("LIMIT.SET", "w", "WINDOW", "60s", "HARD", 3)
        d = self.limit("w")
        self.assertEqual(d["kind"], "window")
        self.assertEqual(d["hard"], 3)
        self.assertEqual(ms_of(d["window"]), 60_000)

    def test_rate_option(self):
        self.ok("LIMIT.SET", "b", "RATE", 10, "PER", "1s", "BURST", 20)
        d = self.limit("b")
        self.assertEqual(d["kind"], "bucket")
        self.assertEqual(d["burst"], 20)
        self.assertEqual(d["hard"], 20)  # a bucket's hard limit is its capacity
        rate = d["rate"]
        if isinstance(rate, str) and "/" in rate:          # "10/1s"
            n, per = rate.split("/")
            self.assertEqual((int(n), ms_of(per)), (10, 1000))
        else:                                              # rate 10, per 1000
            self.assertEqual(rate, 10)
            self.assertEqual(ms_of(d["per"]), 1000)
        # HARD may be given with RATE if it equals the capacity (BURST, default the RATE count).
        self.ok("LIMIT.SET", "b2", "RATE", 10, "PER", "1s", "HARD", 10)
        self.assertEqual(self.limit("b2")["burst"], 10)
        self.assertErr(("LIMIT.SET", "b3", "RATE", 10, "PER", "1s", "HARD", 5))
        self.assertErr(("LIMIT.SET", "b3", "RATE", 10, "PER", "1s", "BURST", 20, "HARD", 10))

    def test_norenew(self):
        self.ok("LIMIT.SET", "n", "HARD", 5, "PERIOD", "1h", "NORENEW")
        self.assertEqual(self.limit("n")["renewable"], 0)
        self.assertEqual(self.usage("n")["renewable"], 0)
        self.assertEqual(self.consume("n", 2)[0], 1)
        self.advance(HOUR - 1)
        self.assertEqual(self.usage("n")["status"], "active")
        self.advance(1)
        self.assertEqual(self.usage("n")["status"], "expired")
        r = self.consume("n", 1)
        self.assertEqual((r[0], r[3], r[5]), (0, -1, "n"))
        self.assertEqual(self.consume("n", 0)[0], 0, "a peek is denied on an expired level")

    def test_validuntil(self):
        self.ok("LIMIT.SET", "v", "HARD", 5, "PERIOD", "daily", "VALIDUNTIL", T0 + 1000)
        self.advance(999)
        self.assertEqual(self.consume("v", 1)[0], 1)
        self.advance(1)  # a time point is reached when now >= it
        self.assertEqual(self.usage("v")["status"], "expired")
        r = self.consume("v", 1)
        self.assertEqual((r[0], r[3]), (0, -1))
        self.assertEqual(self.consumed("v"), 1)

    def test_soft(self):
        self.ok("LIMIT.SET", "s", "HARD", 100, "SOFT", 80)
        self.assertEqual(self.limit("s")["soft"], 80)
        self.consume("s", 79)
        self.assertEqual(self.usage("s")["soft_reached"], 0)
        self.consume("s", 1)
        self.assertEqual(self.usage("s")["soft_reached"], 1)
        self.assertEqual(self.usage("s")["soft_limit"], 80)

    def test_nx_xx_gt(self):
        self.assertEqual(self.cmd("LIMIT.SET", "k", "HARD", 10, "NX"), "OK")
        self.assertIsNone(self.cmd("LIMIT.SET", "k", "HARD", 99, "NX"))
        self.assertEqual(self.limit("k")["hard"], 10)
        self.assertIsNone(self.cmd("LIMIT.SET", "missing", "HARD", 10, "XX"))
        self.assertIsNone(self.limit("missing"))
        self.assertEqual(self.cmd("LIMIT.SET", "k", "HARD", 20, "XX"), "OK")
        self.assertIsNone(self.cmd("LIMIT.SET", "k", "HARD", 15, "GT"))
        self.assertIsNone(self.cmd("LIMIT.SET", "k", "HARD", 20, "GT"))
        self.assertEqual(self.limit("k")["hard"], 20)
        self.assertEqual(self.cmd("LIMIT.SET", "k", "HARD", 30, "GT"), "OK")
        self.assertEqual(self.cmd("LIMIT.SET", "k", "HARD", 40, "XX", "GT"), "OK")
        self.assertEqual(self.cmd("LIMIT.SET", "k", "UNLIMITED", "GT"), "OK")
        self.assertIsNone(self.cmd("LIMIT.SET", "k", "HARD", 10 ** 15, "GT"))
        self.assertIsNone(self.limit("k")["hard"])
        self.assertEqual(self.cmd("LIMIT.SET", "fresh", "HARD", 1, "GT"), "OK")

    def test_change_keeps_or_restarts_usage(self):
        self.ok("LIMIT.SET", "k", "HARD", 10, "PERIOD", "monthly")
        self.consume("k", 7)
        self.ok("LIMIT.SET", "k", "HARD", 50, "SOFT", 20, "PERIOD", "monthly")
        self.assertEqual(self.consumed("k"), 7, "changing hard/soft keeps the usage")
        self.ok("LIMIT.SET", "k", "HARD", 50, "PERIOD", "daily")
        self.assertEqual(self.consumed("k"), 0, "changing the period starts afresh")
        self.consume("k", 3)
        self.ok("LIMIT.SET", "k", "WINDOW", "1m", "HARD", 50)
        self.assertEqual(self.consumed("k"), 0, "changing the kind starts afresh")

    def test_keywords_case_insensitive(self):
        self.ok("limit.set", "k", "hard", 10, "soft", 5, "period", "Monthly", "unit", "credits", "nx")
        d = self.limit("k")
        self.assertEqual((d["hard"], d["soft"], d["period"], d["unit"]), (10, 5, "monthly", "credits"))
        self.ok("Limit.Set", "w", "window", "60S", "Hard", 3)

    def test_errors(self):
        self.assertEqual(self.err("LIMIT.SET"), "ERR wrong number of arguments for 'limit.set' command")
        self.assertEqual(self.err("LIMIT.SET", "k", "HARD", "abc"), NOT_INT)
        self.assertEqual(self.err("LIMIT.SET", "k", "HARD", 10, "BOGUS"), "ERR syntax error")
        bad = [
            ("LIMIT.SET", "k", "HARD", 10, "SOFT", 20),              # soft > hard
            ("LIMIT.SET", "k", "HARD", -1),                          # negative
            ("LIMIT.SET", "k", "HARD", 10, "SOFT", -1),
            ("LIMIT.SET", "k", "HARD", "99999999999999999999"),      # over int64
            ("LIMIT.SET", "k", "HARD", "1.5"),
            ("LIMIT.SET", "k", "SOFT", 5),                           # no HARD/UNLIMITED/RATE
            ("LIMIT.SET", "k", "UNIT", "tokens"),
            ("LIMIT.SET", "k", "HARD", 10, "UNLIMITED"),             # conflicting
            ("LIMIT.SET", "k", "HARD", 10, "PERIOD", "daily", "WINDOW", "60s"),
            ("LIMIT.SET", "k", "WINDOW", "60s", "RATE", 1, "PER", "1s"),
            ("LIMIT.SET", "k", "HARD", 10, "NX", "XX"),
            ("LIMIT.SET", "k", "HARD", 10, "PERIOD", "fortnightly"),
            ("LIMIT.SET", "k", "HARD", 10, "PERIOD", "10x"),
            ("LIMIT.SET", "k", "HARD", 10, "PERIOD", "-5s"),
            ("LIMIT.SET", "k", "HARD", 10, "PERIOD", "0s"),
            ("LIMIT.SET", "k", "HARD", 10, "PERIOD"),                # missing value
            ("LIMIT.SET", "k", "WINDOW", "abc", "HARD", 3),
            ("LIMIT.SET", "k", "RATE", 10),                          # no PER
            ("LIMIT.SET", "k", "RATE", 10, "PER", "soon"),
            ("LIMIT.SET", "k", "HARD", 10, "ANCHOR", "yesterday"),
            ("LIMIT.SET", "k", "HARD", 10, "VALIDUNTIL", "-1"),
            ("LIMIT.SET", "k", "WINDOW", "60s", "HARD", 3, "NORENEW"),  # design.md choice 7
            ("LIMIT.SET", "a/*/b", "HARD", 1),                       # design.md choice 8
        ]
        for args in bad:
            self.assertErr(args)
        self.assertIsNone(self.call("LIMIT.GET", "k"), "a refused LIMIT.SET must not create the limit")
        self.assertEqual(self.call("DBSIZE"), 0)
        # An error leaves an existing definition as it was.
        self.ok("LIMIT.SET", "k", "HARD", 10)
        self.assertErr(("LIMIT.SET", "k", "HARD", 10, "SOFT", 11))
        self.assertEqual((self.limit("k")["hard"], self.limit("k")["soft"]), (10, None))


class LimitGetDelCancel(LimiterdCase):
    def test_get(self):
        self.assertIsNone(self.cmd("LIMIT.GET", "nothing"))
        self.ok("LIMIT.SET", "org:acme/*", "HARD", 30, "PERIOD", "monthly")
        self.ok("LIMIT.SET", "org:acme/user:vip", "HARD", 80, "PERIOD", "monthly")
        self.assertEqual(self.limit("org:acme/*")["source"], "own")
        self.assertEqual(self.limit("org:acme/user:vip")["source"], "own")
        d = self.limit("org:acme/user:1")
        self.assertEqual((d["hard"], d["source"]), (30, "org:acme/*"))
        self.assertIsNone(self.call("LIMIT.GET", "org:acme"), "a default is not the parent's limit")
        self.assertIsNone(self.call("LIMIT.GET", "org:acme/user:1/x"), "a default covers direct children only")
        self.ok("LIMIT.SET", "*", "HARD", 5)
        self.assertEqual(self.limit("anything")["source"], "*")
        self.assertEqual(self.limit("org:acme")["source"], "*")
        self.assertEqual(self.err("LIMIT.GET"), "ERR wrong number of arguments for 'limit.get' command")

    def test_del(self):
        self.ok("LIMIT.SET", "a", "HARD", 1)
        self.ok("LIMIT.SET", "b", "HARD", 1)
        self.assertEqual(self.cmd("LIMIT.DEL", "a", "b", "c"), 2)
        self.assertIsNone(self.call("LIMIT.GET", "a"))
        self.assertEqual(self.cmd("LIMIT.DEL", "a"), 0)
        self.assertEqual(self.err("LIMIT.DEL"), "ERR wrong number of arguments for 'limit.del' command")

    def test_del_parent_children_keep_their_limits(self):
        self.ok("LIMIT.SET", "org:d", "HARD", 10)
        self.ok("LIMIT.SET", "org:d/p", "HARD", 100)
        self.assertEqual(self.consume("org:d/p", 10), [1, 0, 10, 0, -1, "org:d"])
        self.assertEqual(self.consume("org:d/p", 1), [0, 0, 10, -1, -1, "org:d"])
        self.assertEqual(self.cmd("LIMIT.DEL", "org:d"), 1)
        self.assertEqual(self.consume("org:d/p", 50), [1, 40, 100, 0, -1, "org:d/p"])

    def test_del_default_drops_its_counters(self):
        self.ok("LIMIT.SET", "org:e/*", "HARD", 5)
        self.consume("org:e/u1", 1)
        self.assertEqual(self.call("DBSIZE"), 2)
        self.assertEqual(self.cmd("LIMIT.DEL", "org:e/*"), 1)
        self.assertEqual(self.call("DBSIZE"), 0)
        self.assertEqual(self.err("CREDITS.CONSUME", "org:e/u1", 1), "NOLIMIT no limit applies to 'org:e/u1'")

    def test_cancel(self):
        self.ok("LIMIT.SET", "c", "HARD", 2)
        self.assertEqual(self.consume("c", 2)[0], 1)
        self.assertEqual(self.consume("c", 1)[0], 0)
        self.assertEqual(self.cmd("LIMIT.CANCEL", "c"), 1)
        self.assertEqual(self.usage("c")["status"], "cancelled")
        self.assertEqual(self.consume("c", 5), [1, None, None, 0, -1, "c"])
        self.assertEqual(self.consumed("c"), 7, "a cancelled limit keeps counting for reports")
        self.assertEqual(self.cmd("LIMIT.CANCEL", "nothing"), 0)
        cursor, keys = self.cmd("LIMIT.SCAN", 0, "COUNT", 100)
        self.assertEqual((int(cursor), keys), (0, ["c"]))

    def test_cancelled_parent_no_longer_caps(self):
        self.ok("LIMIT.SET", "org:c", "HARD", 3)
        self.ok("LIMIT.SET", "org:c/p", "HARD", 10)
        self.consume("org:c/p", 3)
        self.assertEqual(self.consume("org:c/p", 1)[0], 0)
        self.assertEqual(self.cmd("LIMIT.CANCEL", "org:c"), 1)
        self.assertEqual(self.consume("org:c/p", 1), [1, 6, 10, 0, -1, "org:c/p"])


class LimitScan(LimiterdCase):
    def test_scan(self):
        self.assertEqual(self.scan_all()[0], [])
        scan_keys = {"scan:%03d" % i for i in range(250)}
        other = {"other:%d" % i for i in range(30)}
        pipe = self.r.pipeline(transaction=False)
        for k in sorted(scan_keys | other):
            pipe.execute_command("LIMIT.SET", k, "HARD", 5)
        pipe.execute_command("LIMIT.SET", "org:s/*", "HARD", 5)
        pipe.execute_command("CREDITS.CONSUME", "org:s/u", 1)   # a materialized counter
        pipe.execute()
        everything = scan_keys | other | {"org:s/*", "org:s/u"}
        seen, rounds = self.scan_all("COUNT", 10)
        self.assertEqual(set(seen), everything)
        self.assertGreater(rounds, 5, "COUNT 10 over 282 keys should take several rounds")
        seen, _ = self.scan_all("MATCH", "scan:*", "COUNT", 7)
        self.assertEqual(set(seen), scan_keys)
        seen, _ = self.scan_all("MATCH", "scan:1?[05]")
        self.assertEqual(set(seen), {"scan:%d" % i for i in range(100, 200) if i % 10 in (0, 5)})
        seen, _ = self.scan_all("COUNT", 1000)
        self.assertEqual(set(seen), everything)
        self.assertEqual(self.cmd("DBSIZE"), len(everything))

    def test_scan_errors(self):
        self.assertErr(("LIMIT.SCAN", "abc"))
        self.assertErr(("LIMIT.SCAN", 0, "COUNT", 0))
        self.assertErr(("LIMIT.SCAN", 0, "COUNT", "x"))
        self.assertErr(("LIMIT.SCAN", 0, "BOGUS", 1))
        self.assertEqual(self.err("LIMIT.SCAN"), "ERR wrong number of arguments for 'limit.scan' command")


class Consume(LimiterdCase):
    def test_lifetime_quota(self):
        self.ok("LIMIT.SET", "k", "HARD", 10)
        self.assertEqual(self.consume("k", 3), [1, 7, 10, 0, -1, "k"])
        self.assertEqual(self.consume("k", 8), [0, 7, 10, -1, -1, "k"])
        self.assertEqual(self.consume("k", 7), [1, 0, 10, 0, -1, "k"])
        self.assertEqual(self.consume("k", 0), [1, 0, 10, 0, -1, "k"], "peek")
        self.assertEqual(self.consume("k", 1), [0, 0, 10, -1, -1, "k"])
        self.assertEqual(self.usage("k")["status"], "empty")
        self.assertEqual(self.consumed("k"), 10)

    def test_force(self):
        self.ok("LIMIT.SET", "k", "HARD", 10)
        self.assertEqual(self.consume("k", 8, "FORCE"), [1, 2, 10, 0, -1, "k"])
        r = self.consume("k", 5, "FORCE")
        self.assertEqual((r[0], r[1], r[2], r[5]), (0, 0, 10, "k"))
        self.assertEqual(self.consumed("k"), 13, "FORCE records the usage past the limit")
        self.assertEqual(self.usage("k")["remaining"], 0)

    def test_dryrun(self):
        self.ok("LIMIT.SET", "k", "HARD", 10)
        self.assertEqual(self.consume("k", 4, "DRYRUN"), [1, 6, 10, 0, -1, "k"])
        self.assertEqual(self.consume("k", 11, "DRYRUN"), [0, 10, 10, -1, -1, "k"])
        self.assertEqual(self.consumed("k"), 0)
        self.assertEqual(self.consume("k", 4, "dryrun"), [1, 6, 10, 0, -1, "k"])
        self.assertEqual(self.consumed("k"), 0)

    def test_nolimit(self):
        self.assertEqual(self.err("CREDITS.CONSUME", "k", 1), "NOLIMIT no limit applies to 'k'")
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            self.cmd("CREDITS.CONSUME", "k", 1)
        self.assertEqual(str(cm.exception), "NOLIMIT no limit applies to 'k'")
        self.assertEqual(self.err("CREDITS.CONSUME", "k", 0), "NOLIMIT no limit applies to 'k'")
        self.assertEqual(self.err("CREDITS.CONSUME", "org:z/u:1", 1), "NOLIMIT no limit applies to 'org:z/u:1'")

    def test_errors(self):
        self.ok("LIMIT.SET", "k", "HARD", 10)
        self.assertEqual(self.err("CREDITS.CONSUME", "k"),
                         "ERR wrong number of arguments for 'credits.consume' command")
        self.assertEqual(self.err("CREDITS.CONSUME", "k", "x"), NOT_INT)
        self.assertEqual(self.err("CREDITS.CONSUME", "k", 1, "BOGUS"), "ERR syntax error")
        self.assertErr(("CREDITS.CONSUME", "k", -1))
        self.assertErr(("CREDITS.CONSUME", "k", "99999999999999999999"))
        self.ok("LIMIT.SET", "org:a/*", "HARD", 10)
        self.assertErr(("CREDITS.CONSUME", "org:a/*", 1))   # design.md choice 8
        self.assertEqual(self.consumed("k"), 0)

    def test_overflow(self):
        self.ok("LIMIT.SET", "o", "UNLIMITED")
        self.assertEqual(self.consume("o", 2 ** 63 - 1)[0], 1)
        self.assertEqual(self.err("CREDITS.CONSUME", "o", 1), "ERR increment or decrement would overflow")
        self.assertEqual(self.consumed("o"), 2 ** 63 - 1)

    def test_hierarchy_levels(self):
        self.ok("LIMIT.SET", "org:acme", "HARD", 100, "PERIOD", "monthly")
        self.ok("LIMIT.SET", "org:acme/*", "HARD", 30, "PERIOD", "monthly")
        self.ok("LIMIT.SET", "org:acme/user:vip", "HARD", 80, "PERIOD", "monthly")
        month = 31 * DAY
        self.assertEqual(self.consume("org:acme/user:1", 25), [1, 5, 30, 0, month, "org:acme/user:1"])
        self.assertEqual(self.consume("org:acme/user:1", 6), [0, 5, 30, month, month, "org:acme/user:1"])
        self.assertEqual(self.consume("org:acme/user:vip", 70), [1, 5, 100, 0, month, "org:acme"])
        self.assertEqual(self.consume("org:acme/user:2", 10), [0, 5, 100, month, month, "org:acme"])
        self.assertEqual(self.consume("org:acme", 5), [1, 0, 100, 0, month, "org:acme"])
        self.assertEqual(self.consumed("org:acme"), 100)
        self.assertEqual(self.consumed("org:acme/user:1"), 25)
        self.assertEqual(self.consumed("org:acme/user:vip"), 70)
        self.assertEqual(self.usage("org:acme/user:2")["consumed"], 0)

    def test_level_choice(self):
        # Tie: the deepest.
        self.ok("LIMIT.SET", "org:t", "HARD", 10)
        self.ok("LIMIT.SET", "org:t/p", "HARD", 10)
        self.assertEqual(self.consume("org:t/p", 3), [1, 7, 10, 0, -1, "org:t/p"])
        # Several deny: the one with the smallest remaining.
        self.ok("LIMIT.SET", "org:d", "HARD", 10)
        self.ok("LIMIT.SET", "org:d/p", "HARD", 5)
        self.assertEqual(self.consume("org:d/p", 11), [0, 5, 5, -1, -1, "org:d/p"])
        # Only the ancestor denies: it is named even if a deeper level has less left.
        self.ok("LIMIT.SET", "org:e", "HARD", 10)
        self.ok("LIMIT.SET", "org:e/p", "HARD", 8)
        self.consume("org:e", 6)
        self.assertEqual(self.consume("org:e/p", 5), [0, 4, 10, -1, -1, "org:e"])
        # No level with a hard limit: nil remaining and limit, the key itself.
        self.ok("LIMIT.SET", "org:u", "UNLIMITED")
        self.ok("LIMIT.SET", "org:u/p", "UNLIMITED")
        self.assertEqual(self.consume("org:u/p", 5), [1, None, None, 0, -1, "org:u/p"])
        # An ancestor alone gives the limit to a key that has none.
        self.ok("LIMIT.SET", "org:f", "HARD", 10)
        self.assertEqual(self.consume("org:f/p/q", 4), [1, 6, 10, 0, -1, "org:f"])

    def test_materialize_only_on_charge(self):
        self.ok("LIMIT.SET", "org:m/*", "HARD", 5)
        self.assertEqual(self.cmd("DBSIZE"), 1)
        self.assertEqual(self.consume("org:m/u", 1, "DRYRUN")[0], 1)
        self.assertEqual(self.consume("org:m/u", 6)[0], 0)
        self.assertEqual(self.consume("org:m/u", 0)[0], 1)
        self.assertEqual(self.cmd("DBSIZE"), 1, "denied/DRYRUN/peek left a materialized entry")
        self.assertEqual(self.cmd("LIMIT.SCAN", 0, "COUNT", 100)[1], ["org:m/*"])
        self.assertEqual(self.consume("org:m/u", 1)[0], 1)
        self.assertEqual(self.cmd("DBSIZE"), 2)
        # The counter follows the default's definition.
        self.ok("LIMIT.SET", "org:m/*", "HARD", 50)
        self.assertEqual(self.consume("org:m/u", 10), [1, 39, 50, 0, -1, "org:m/u"])

    def test_denied_changes_nothing_at_any_level(self):
        self.ok("LIMIT.SET", "org:n", "HARD", 100, "PERIOD", "daily")
        self.ok("LIMIT.SET", "org:n/p", "HARD", 10, "PERIOD", "daily")
        self.consume("org:n/p", 8)
        before = (self.usage("org:n"), self.usage("org:n/p"))
        self.assertEqual(self.consume("org:n/p", 3)[0], 0)
        self.assertEqual(self.consume("org:n/p", 2, "DRYRUN")[0], 1)
        self.assertEqual((self.usage("org:n"), self.usage("org:n/p")), before)

    def test_monthly_rollover_exact(self):
        self.clock_set(T0 + 1000)
        self.ok("LIMIT.SET", "m", "HARD", 10, "PERIOD", "monthly")
        self.assertEqual(self.consume("m", 10), [1, 0, 10, 0, FEB1 - T0 - 1000, "m"])
        self.assertEqual(self.consume("m", 1), [0, 0, 10, FEB1 - T0 - 1000, FEB1 - T0 - 1000, "m"])
        self.assertEqual(self.consume("m", 11)[3], -1, "amount above the limit never fits")
        self.clock_set(FEB1 - 1)
        self.assertEqual(self.consume("m", 1), [0, 0, 10, 1, 1, "m"])
        self.advance(1)
        self.assertEqual(self.consume("m", 1), [1, 9, 10, 0, MAR1 - FEB1, "m"])

    def test_monthly_anchor_31st_clamps(self):
        jan31 = T0 + 30 * DAY
        feb29 = FEB1 + 28 * DAY
        mar31 = MAR1 + 30 * DAY
        self.ok("LIMIT.SET", "m31", "HARD", 10, "PERIOD", "monthly", "ANCHOR", jan31)
        self.clock_set(FEB1 + 9 * DAY)
        u = self.usage("m31")
        self.assertEqual((u["period_start"], u["resets_at"]), (jan31, feb29))
        self.clock_set(feb29)
        u = self.usage("m31")
        self.assertEqual((u["period_start"], u["resets_at"]), (feb29, mar31))

    def test_window(self):
        self.ok("LIMIT.SET", "w", "WINDOW", "60s", "HARD", 3)
        for left in (2, 1, 0):
            r = self.consume("w", 1)
            self.assertEqual((r[0], r[1], r[2], r[3], r[5]), (1, left, 3, 0, "w"))
        r = self.consume("w", 1)
        self.assertEqual((r[0], r[1], r[2], r[5]), (0, 0, 3, "w"))
        retry = r[3]
        # Never earlier than an exact 60 s window; at most 1/60 later (docs/design.md).
        self.assertGreaterEqual(retry, 60_000)
        self.assertLessEqual(retry, 61_000)
        self.assertGreaterEqual(r[4], retry)
        self.advance(retry - 1)
        r = self.consume("w", 1)
        self.assertEqual((r[0], r[3]), (0, 1), "retry_after must count down exactly")
        self.advance(1)
        self.assertEqual(self.consume("w", 1)[0], 1, "waiting retry_after ms must succeed")
        self.assertEqual(self.consume("w", 4)[3], -1, "amount above the window's limit")

    def test_bucket(self):
        self.ok("LIMIT.SET", "b", "RATE", 10, "PER", "1s")
        for i in range(10):
            r = self.consume("b", 1)
            self.assertEqual(r, [1, 9 - i, 10, 0, 100 * (i + 1), "b"])
        self.assertEqual(self.consume("b", 1), [0, 0, 10, 100, 1000, "b"])
        self.advance(99)
        self.assertEqual(self.consume("b", 1)[:4], [0, 0, 10, 1])
        self.advance(1)
        self.assertEqual(self.consume("b", 1)[:4], [1, 0, 10, 0])
        self.assertEqual(self.consume("b", 11)[3], -1, "amount above the capacity")
        self.ok("LIMIT.SET", "burst", "RATE", 1, "PER", "1s", "BURST", 5)
        self.assertEqual(self.consume("burst", 5), [1, 0, 5, 0, 5000, "burst"])
        self.assertEqual(self.consume("burst", 1), [0, 0, 5, 1000, 5000, "burst"])


class RefundUsageReset(LimiterdCase):
    def test_refund(self):
        self.ok("LIMIT.SET", "org:r", "HARD", 100)
        self.ok("LIMIT.SET", "org:r/p", "HARD", 50)
        self.consume("org:r/p", 30)
        self.consume("org:r", 10)
        self.assertEqual(self.cmd("CREDITS.REFUND", "org:r/p", 5), 25)
        self.assertEqual(self.consumed("org:r"), 35)
        self.assertEqual(self.cmd("CREDITS.REFUND", "org:r/p", 30), 0, "clamped at 0")
        self.assertEqual(self.consumed("org:r"), 5, "each level is clamped on its own")
        self.assertEqual(self.consumed("org:r/p"), 0)
        self.assertErr(("CREDITS.REFUND", "org:r/p", -1))
        self.assertEqual(self.err("CREDITS.REFUND", "org:r/p", "x"), NOT_INT)
        self.assertEqual(self.err("CREDITS.REFUND", "org:r/p"),
                         "ERR wrong number of arguments for 'credits.refund' command")

    def test_max_projects(self):
        self.ok("LIMIT.SET", "projects:acme", "HARD", 3)
        for left in (2, 1, 0):
            self.assertEqual(self.consume("projects:acme", 1), [1, left, 3, 0, -1, "projects:acme"])
        self.assertEqual(self.consume("projects:acme", 1), [0, 0, 3, -1, -1, "projects:acme"])
        self.assertEqual(self.cmd("CREDITS.REFUND", "projects:acme", 1), 2)   # a project deleted
        self.assertEqual(self.consume("projects:acme", 1), [1, 0, 3, 0, -1, "projects:acme"])

    def test_usage_get_every_field(self):
        self.clock_set(T0 + 5 * DAY)
        self.ok("LIMIT.SET", "org:u", "HARD", 100, "SOFT", 80, "UNIT", "credits", "PERIOD", "monthly")
        self.consume("org:u", 85)
        u = self.usage("org:u")
        self.assertEqual(u, {"key": "org:u", "kind": "quota", "unit": "credits", "status": "active",
                             "limit": 100, "soft_limit": 80, "consumed": 85, "remaining": 15,
                             "soft_reached": 1, "period": "monthly", "period_start": T0,
                             "resets_at": FEB1, "renewable": 1, "valid_until": None, "source": "own"})
        self.consume("org:u", 15)
        self.assertEqual(self.usage("org:u")["status"], "empty")
        self.ok("LIMIT.SET", "org:u/*", "UNLIMITED", "UNIT", "credits")
        self.assertEqual(self.usage("org:u/user:1"),
                         {"key": "org:u/user:1", "kind": "quota", "unit": "credits", "status": "active",
                          "limit": None, "soft_limit": None, "consumed": 0, "remaining": None,
                          "soft_reached": 0, "period": "none", "period_start": T0 + 5 * DAY,
                          "resets_at": None, "renewable": 1, "valid_until": None, "source": "org:u/*"})
        self.assertIsNone(self.cmd("USAGE.GET", "nothing"))
        self.assertErr(("USAGE.GET", "org:u/*"))
        self.assertEqual(self.err("USAGE.GET", "a", "b"), "ERR wrong number of arguments for 'usage.get' command")

    def test_usage_get_window_and_bucket(self):
        self.ok("LIMIT.SET", "w", "WINDOW", "60s", "HARD", 10, "UNIT", "tokens")
        self.consume("w", 4)
        u = self.usage("w")
        self.assertEqual((u["kind"], ms_of(u["period"]), u["limit"], u["consumed"], u["remaining"], u["unit"]),
                         ("window", 60_000, 10, 4, 6, "tokens"))
        self.ok("LIMIT.SET", "b", "RATE", 10, "PER", "1s")
        self.consume("b", 4)
        u = self.usage("b")
        self.assertEqual((u["kind"], u["period"], u["limit"], u["consumed"], u["remaining"]),
                         ("bucket", "10/1s", 10, 4, 6))
        self.advance(200)   # two units refilled
        self.assertEqual(self.usage("b")["consumed"], 2)

    def test_usage_reset(self):
        self.ok("LIMIT.SET", "org:x", "HARD", 100)
        self.ok("LIMIT.SET", "org:x/p", "HARD", 50)
        self.consume("org:x/p", 20)
        self.assertEqual(self.cmd("USAGE.RESET", "org:x/p"), 1)
        self.assertEqual(self.consumed("org:x/p"), 0)
        self.assertEqual(self.consumed("org:x"), 20, "ancestors untouched")
        self.assertEqual(self.cmd("USAGE.RESET", "nothing"), 0)
        self.assertEqual(self.err("USAGE.RESET"), "ERR wrong number of arguments for 'usage.reset' command")


class DebugClock(LimiterdCase):
    def test_set_advance_real(self):
        self.ok("LIMIT.SET", "d", "HARD", 10, "PERIOD", "1h")
        self.advance(HOUR - 1)
        self.assertEqual(self.consume("d", 1)[4], 1)
        self.advance(1)
        self.assertEqual(self.consume("d", 1)[4], HOUR)
        self.assertErr(("DEBUG", "CLOCK", "SET", "soon"))
        self.assertErr(("DEBUG", "CLOCK", "BOGUS"))
        self.ok("DEBUG", "CLOCK", "REAL")
        import time
        self.ok("LIMIT.SET", "real", "HARD", 10, "PERIOD", "1h")
        start = self.usage("real")["period_start"]
        self.assertLess(abs(start - time.time() * 1000), 60_000, "DEBUG CLOCK REAL: back to the wall clock")


class NoDebugCommand(LimiterdCase):
    server_kwargs = {"debug": False}

    def test_debug_refused(self):
        self.assertErr(("DEBUG", "CLOCK", "SET", T0))
        self.assertErr(("DEBUG", "CLOCK", "ADVANCE", 1000))
        self.assertEqual(self.call("PING"), "PONG")


if __name__ == "__main__":
    unittest_main()
