#!/usr/bin/python3
"""Durability of the real limiterd (SPEC section 5), black-box.

  CrashAof        kill -9 at a random moment while 16 connections consume
                  (appendonly yes, appendfsync always; group commits made
                  by the io threads and by the sync thread), restart, check:
                  every acknowledged consume is there, nothing beyond the
                  acknowledged plus the one request in flight per
                  connection, and each level is the sum of its children
                  (a consume charges user, project and org atomically).
                  Repeated LIMITERD_CRASH_ITERATIONS times (default 20) on
                  the same files, so each round also recovers the last.
  CrashEverysec   a few rounds of the same with appendfsync everysec (the
                  batch is written before its replies: kill -9 loses none).
  CrashRewrite    the same with BGREWRITEAOF (and automatic rewrites) under
                  the load, sometimes killed in the middle of one.
  CrashBgsave     the same with BGSAVE under the load; the snapshot alone
                  (appendonly no) must load as a consistent point in time.
  DiskFull        RLIMIT_FSIZE: writers get MISCONF and their changes are
                  not acknowledged, readers are served; the limit lifted,
                  writes resume; after kill -9 every acknowledged consume
                  is there.
  UnwritableDir   the data directory replaced by a file: BGSAVE fails,
                  INFO says so, writers get MISCONF; a later SAVE clears it.
  CheckFiles      --check-aof [--fix] and --check-snapshot; a torn tail
                  (aof-load-truncated yes / no), a flipped byte in the
                  middle stops start-up naming the file and the offset.
  Restore         limits of every kind, materialized defaults, a cancelled
                  limit, period roll-overs under DEBUG CLOCK: USAGE.GET and
                  LIMIT.GET of every key are identical after a restart from
                  the AOF, from a snapshot, from a rewritten AOF, and from a
                  snapshot made the AOF's base.

Run: test_durability.py --binary PATH [ClassName ...]
"""

import glob
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from limiterd_harness import (DAY, HOUR, T0, RawConn, RespClosed, RespError,  # noqa: E402
                              Server, binary_from_env, free_port, pairs, unittest_main)

ITERATIONS = int(os.environ.get("LIMITERD_CRASH_ITERATIONS", "20"))
CONNECTIONS = 16
ORGS = 4
PROJECTS = 2            # per org
BIG = 10 ** 15          # limits nobody reaches: every consume is allowed
SEED = int(os.environ.get("LIMITERD_CRASH_SEED", str(int(time.time()))))


def info(conn, section="persistence"):
    text = conn.call("INFO", section)
    out = {}
    for line in text.split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


SANITIZER_MARKS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")


def check_no_sanitizer_report(test, server):
    """A daemon ended by kill -9 never reaches its exit status: look for
    sanitizer reports in its whole log instead."""
    try:
        with open(server.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return
    for mark in SANITIZER_MARKS:
        at = text.find(mark)
        test.assertEqual(at, -1, "sanitizer report in the daemon's log:\n" + text[max(0, at - 200):at + 4000])


def make_tempdir(case):
    d = tempfile.mkdtemp(prefix="limiterd-durability-")
    case.addCleanup(shutil.rmtree, d, True)
    return d


# -- the load -------------------------------------------------------------------

def user_key(c):
    """Connection c's own key, 3 levels deep: its project is shared with one
    other connection, its org with three others."""
    return "org:o%d/project:p%d/user:u%d" % (c % ORGS, (c // ORGS) % PROJECTS, c)


def ancestors(key):
    parts = key.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


ALL_USERS = [user_key(c) for c in range(CONNECTIONS)]
ALL_KEYS = sorted(set(ALL_USERS + [a for u in ALL_USERS for a in ancestors(u)]))


def define_limits(conn):
    """Orgs and projects with their own limit; users by the default
    project/*, so every user counter is a materialized one."""
    for o in range(ORGS):
        assert conn.call("LIMIT.SET", "org:o%d" % o, "HARD", BIG) == "OK"
        for p in range(PROJECTS):
            project = "org:o%d/project:p%d" % (o, p)
            assert conn.call("LIMIT.SET", project, "HARD", BIG) == "OK"
            assert conn.call("LIMIT.SET", project + "/*", "HARD", BIG) == "OK"


def read_consumed(conn, keys=ALL_KEYS):
    out = {}
    for k in keys:
        u = pairs(conn.call("USAGE.GET", k))
        out[k] = 0 if u is None else u["consumed"]
    return out


def check_sums(test, consumed, what):
    """Every consume charges user, project and org at once: at any
    consistent point in time a level holds exactly the sum of its children."""
    for o in range(ORGS):
        org = "org:o%d" % o
        projects = ["%s/project:p%d" % (org, p) for p in range(PROJECTS)]
        test.assertEqual(consumed[org], sum(consumed[p] for p in projects),
                         "%s: %s is not the sum of its projects: %r" % (what, org, consumed))
        for p in projects:
            users = [u for u in ALL_USERS if u.startswith(p + "/")]
            test.assertEqual(consumed[p], sum(consumed[u] for u in users),
                             "%s: %s is not the sum of its users: %r" % (what, p, consumed))


class Load:
    """CONNECTIONS threads, each on its own connection, consuming 1..5 on its
    own user key in a loop until stopped or the server goes away. Records
    what was acknowledged (a reply with allowed = 1) and the request in
    flight when the connection broke."""

    def __init__(self, port, rng, stop_on_error=True, reconnect=False):
        """reconnect: after a connection is closed on us (a change that could
        not be written gets no reply: the daemon closes), carry on with a new
        one while the daemon accepts; its request stays in flight."""
        self.port = port
        self.reconnect = reconnect
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = [0] * CONNECTIONS
        self.inflight = [0] * CONNECTIONS
        self.errors = []          # error replies (MISCONF): refused, not applied
        self.unexpected = []
        self.stop_on_error = stop_on_error
        self.seeds = [rng.randrange(1 << 30) for _ in range(CONNECTIONS)]
        self.threads = [threading.Thread(target=self._run, args=(c,), daemon=True)
                        for c in range(CONNECTIONS)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout=30):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        alive = [t for t in self.threads if t.is_alive()]
        if alive:
            raise AssertionError("%d load threads still running after %.0f s" % (len(alive), timeout))

    def snapshot(self):
        with self.lock:
            return list(self.acked)

    def _run(self, c):
        rng = random.Random(self.seeds[c])
        key = user_key(c)
        conn = None
        try:
            while not self.stop.is_set():
                if conn is None:
                    try:
                        conn = RawConn(self.port, timeout=20)
                    except OSError:
                        return                    # the daemon is gone
                amount = rng.randint(1, 5)
                with self.lock:
                    self.inflight[c] += amount   # may be applied without its reply
                try:
                    reply = conn.call("CREDITS.CONSUME", key, amount)
                except (OSError, RespClosed):
                    conn.close()                  # its request stays in flight
                    conn = None
                    if self.reconnect:
                        continue
                    return
                with self.lock:
                    self.inflight[c] -= amount
                    if isinstance(reply, RespError):
                        self.errors.append(reply.message)
                    elif isinstance(reply, list) and reply[0] == 1:
                        self.acked[c] += amount
                    else:
                        self.unexpected.append(reply)
                if isinstance(reply, RespError) and self.stop_on_error:
                    return
        finally:
            if conn is not None:
                conn.close()

    def per_key(self, values):
        out = {k: 0 for k in ALL_KEYS}
        for c in range(CONNECTIONS):
            for k in [user_key(c)] + ancestors(user_key(c)):
                out[k] += values[c]
        return out


def check_bounds(test, consumed, base, acked, inflight, what):
    """base + acked <= consumed <= base + acked + in flight, per key."""
    lo = {k: base[k] + acked[k] for k in ALL_KEYS}
    for k in ALL_KEYS:
        test.assertGreaterEqual(consumed[k], lo[k],
                                "%s: %s lost acknowledged consumes: has %d, %d acknowledged "
                                "(%d before this round)" % (what, k, consumed[k], lo[k], base[k]))
        test.assertLessEqual(consumed[k], lo[k] + inflight[k],
                             "%s: %s has %d, more than %d acknowledged + %d in flight"
                             % (what, k, consumed[k], lo[k], inflight[k]))


# -- crash tests ------------------------------------------------------------------

class CrashBase(unittest.TestCase):
    """Rounds of: start on the same files, check against the last round's
    bounds, load, (a background job), kill -9 at a random time."""

    args = ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    prefill = 0          # extra limits, so that a rewrite or a snapshot takes a while
    iterations = ITERATIONS
    time_budget = 150.0  # seconds for all rounds (ctest TIMEOUT: 240); Debug needs 25-45 s

    def background(self, conn, load, rng, kill_at):
        """Runs in the controlling thread during the load; returns what
        check() wants to know."""
        time.sleep(kill_at)

    def after_kill(self, state, base, acked, inflight):
        pass

    def test_crash_rounds(self):
        rng = random.Random(SEED)
        iterations = self.iterations
        print("\n%s: seed %d (LIMITERD_CRASH_SEED), %d rounds"
              % (type(self).__name__, SEED, iterations), flush=True)
        self.dir = make_tempdir(self)
        base = {k: 0 for k in ALL_KEYS}
        acked = dict(base)
        inflight = dict(base)
        started = time.monotonic()
        rounds = 0
        for i in range(iterations + 1):
            server = Server(data_dir=self.dir, extra_args=self.args)
            server.start()
            last = i == iterations or time.monotonic() - started > self.time_budget
            try:
                with server.raw() as conn:
                    consumed = read_consumed(conn)
                    what = "start %d (after kill -9 #%d)" % (i, i)
                    check_bounds(self, consumed, base, acked, inflight, what)
                    check_sums(self, consumed, what)
                    base = consumed
                    if i == 0:
                        define_limits(conn)
                        self.fill(conn)
                if last:
                    break
                load = Load(server.port, rng).start()
                kill_at = rng.uniform(0.2, 1.5)
                with server.raw() as control:
                    state = self.background(control, load, rng, kill_at)
                # A daemon that died on its own (a crash, a sanitizer report)
                # would pass for a kill: it must be alive up to the kill.
                self.assertTrue(server.alive(), "limiterd died before the kill -9")
                server.kill()
                check_no_sanitizer_report(self, server)
                load.join()
                self.assertEqual(load.unexpected, [], "unexpected replies")
                self.assertEqual(load.errors, [], "error replies under load")
                acked = load.per_key(load.snapshot())
                inflight = load.per_key(load.inflight)
                self.assertGreater(sum(acked[u] for u in ALL_USERS), 0,
                                   "round %d: nothing was acknowledged before the kill" % i)
                self.after_kill(state, base, acked, inflight)
                rounds += 1
            except BaseException:
                print(server.log()[-6000:], flush=True)
                server.kill()
                raise
        server.stop()
        print("%s: %d kill -9 rounds in %.1f s" % (type(self).__name__, rounds,
                                                  time.monotonic() - started), flush=True)
        self.assertGreaterEqual(rounds, min(iterations, 20),
                                "the time budget (%.0f s) cut the rounds short" % self.time_budget)

    def fill(self, conn):
        """`prefill` more limits, pipelined."""
        batch = 500
        for start in range(0, self.prefill, batch):
            n = min(batch, self.prefill - start)
            conn.send(b"".join(
                b"*4\r\n$9\r\nLIMIT.SET\r\n$%d\r\n%s\r\n$4\r\nHARD\r\n$2\r\n10\r\n"
                % (len(k), k) for k in (b"fill:%08d" % j for j in range(start, start + n))))
            for _ in range(n):
                self.assertEqual(conn.read_reply(), "OK")


class CrashAof(CrashBase):
    """Its clients wait for each reply, so the io threads make group commits
    themselves (aof_fsyncs_inline), as well as the sync thread: the kill -9
    rounds must cover that path. (The bound lifted so that a slow disk's
    fsyncs do not turn it off.)"""
    args = CrashBase.args + ["--aof-inline-fsync-max-us", "1000000"]

    def background(self, conn, load, rng, kill_at):
        time.sleep(kill_at)
        return int(info(conn)["aof_fsyncs_inline"])

    def after_kill(self, state, base, acked, inflight):
        self.assertGreater(state, 0, "no group commit was made on an io thread")


class CrashEverysec(CrashBase):
    """everysec writes a batch's changes before its replies (only the fsync
    is once a second), so kill -9 loses nothing acknowledged either."""
    args = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
    iterations = max(1, ITERATIONS // 4)


class CrashRewrite(CrashBase):
    # Small automatic-rewrite thresholds: rewrites also start on their own.
    args = CrashBase.args + ["--auto-aof-rewrite-percentage", "100",
                             "--auto-aof-rewrite-min-size", "256kb"]
    prefill = 5000

    def background(self, conn, load, rng, kill_at):
        # Half of the rounds: BGREWRITEAOF right before the kill (it is
        # likely still running); the other half: early, so it completes.
        if rng.random() < 0.5:
            first = max(0.0, kill_at - rng.uniform(0, 0.03))
        else:
            first = rng.uniform(0.05, kill_at / 2)
        time.sleep(first)
        reply = conn.call("BGREWRITEAOF")
        ok = (not isinstance(reply, RespError) and reply.startswith("Background append only file rewriting")) \
            or (isinstance(reply, RespError) and "already in progress" in reply.message)
        self.assertTrue(ok, "BGREWRITEAOF: %r" % (reply,))
        time.sleep(max(0.0, kill_at - first))


class CrashBgsave(CrashBase):
    prefill = 5000

    def background(self, conn, load, rng, kill_at):
        first = rng.uniform(0.05, kill_at * 0.8)
        time.sleep(first)
        acked_before = load.snapshot()          # acknowledged before BGSAVE was sent
        reply = conn.call("BGSAVE")
        self.assertEqual(reply, "Background saving started")
        completed = False
        deadline = time.monotonic() + max(0.0, kill_at - first)
        while time.monotonic() < deadline:
            p = info(conn)
            if p["rdb_bgsave_in_progress"] == "0":
                self.assertEqual(p["rdb_last_bgsave_status"], "ok")
                completed = True
                break
            time.sleep(0.01)
        time.sleep(max(0.0, deadline - time.monotonic()))
        return {"completed": completed, "acked_before": load.per_key(acked_before)}

    def after_kill(self, state, base, acked, inflight):
        """The snapshot alone: a point in time between the BGSAVE command and
        the kill."""
        snap = os.path.join(self.dir, "dump.snap")
        if not os.path.exists(snap):
            self.assertFalse(state["completed"], "BGSAVE completed but no dump.snap")
            return
        server = Server(data_dir=self.dir, extra_args=["--appendonly", "no", "--save", ""])
        server.start()
        try:
            with server.raw() as conn:
                consumed = read_consumed(conn)
            check_sums(self, consumed, "snapshot")
            for k in ALL_KEYS:
                self.assertLessEqual(consumed[k], base[k] + acked[k] + inflight[k],
                                     "snapshot: %s beyond what was ever sent" % k)
                if state["completed"]:
                    self.assertGreaterEqual(consumed[k], base[k] + state["acked_before"][k],
                                            "snapshot: %s misses consumes acknowledged before "
                                            "BGSAVE" % k)
        finally:
            server.kill()
            check_no_sanitizer_report(self, server)


# -- disk errors ------------------------------------------------------------------

class DiskFull(unittest.TestCase):
    LIMIT = 256 * 1024

    def test_file_size_limit(self):
        d = make_tempdir(self)
        limit = self.LIMIT

        def small_files():
            # The soft limit only: lifting it later needs no privilege.
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

        args = ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        server = Server(data_dir=d, extra_args=args, preexec=small_files).start()
        try:
            with server.raw() as conn:
                define_limits(conn)
            # Until every connection got MISCONF (or 30 s).
            load = Load(server.port, random.Random(SEED), stop_on_error=True,
                        reconnect=True).start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(t.is_alive() for t in load.threads):
                time.sleep(0.05)
            load.stop.set()
            load.join()
            self.assertTrue(load.errors, "no writer got an error past RLIMIT_FSIZE")
            for e in load.errors:
                self.assertTrue(e.startswith("MISCONF "), e)
            with server.raw() as conn:
                p = info(conn)
                self.assertEqual(p["aof_last_write_status"], "err")
                # Readers are served; writers are refused.
                self.assertIsInstance(conn.call("USAGE.GET", ALL_USERS[0]), list)
                self.assertEqual(conn.call("PING"), "PONG")
                reply = conn.call("CREDITS.CONSUME", ALL_USERS[0], 1)
                self.assertIsInstance(reply, RespError)
                self.assertTrue(reply.message.startswith("MISCONF "), reply)
                self.assertLessEqual(os.path.getsize(self.incr_file(d)), limit)
            acked = load.per_key(load.snapshot())
            inflight = load.per_key(load.inflight)

            # Space again: the cron's retry clears the error, writes resume.
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            with server.raw() as conn:
                wait_until(lambda: info(conn)["aof_last_write_status"] == "ok", 15,
                           "aof_last_write_status:ok once the limit is lifted")
            load2 = Load(server.port, random.Random(SEED + 1), stop_on_error=True).start()
            time.sleep(0.5)
            load2.stop.set()
            load2.join()
            self.assertEqual(load2.errors, [])
            more = load2.per_key(load2.snapshot())
            self.assertTrue(server.alive(), "limiterd died before the kill -9")
            server.kill()
            check_no_sanitizer_report(self, server)
        except BaseException:
            print(server.log()[-6000:], flush=True)
            raise
        finally:
            server.kill()
        # Restarted without the limit: every acknowledged consume is there.
        server = Server(data_dir=d, extra_args=args).start()
        try:
            with server.raw() as conn:
                consumed = read_consumed(conn)
            zero = {k: 0 for k in ALL_KEYS}
            total = {k: acked[k] + more[k] for k in ALL_KEYS}
            check_bounds(self, consumed, zero, total, inflight, "after the disk filled")
            check_sums(self, consumed, "after the disk filled")
        finally:
            server.stop()

    @staticmethod
    def incr_file(d):
        files = glob.glob(os.path.join(d, "appendonlydir", "*.incr.aof"))
        assert files, "no incr file in %s" % d
        return max(files, key=os.path.getmtime)


class UnwritableDir(unittest.TestCase):
    def test_bgsave_into_a_file(self):
        d = make_tempdir(self)
        data = os.path.join(d, "data")
        os.mkdir(data)
        # Save rules set: stop-writes-on-bgsave-error applies (as Redis).
        server = Server(data_dir=data, extra_args=["--save", "3600 1"]).start()
        try:
            with server.raw() as conn:
                self.assertEqual(conn.call("LIMIT.SET", "k", "HARD", 100), "OK")
                self.assertEqual(conn.call("CREDITS.CONSUME", "k", 1)[0], 1)
                # Root ignores permissions: make the directory a file instead.
                os.rename(data, data + ".away")
                with open(data, "w") as f:
                    f.write("not a directory\n")
                reply = conn.call("BGSAVE")
                if not isinstance(reply, RespError):
                    self.assertEqual(reply, "Background saving started")
                    wait_until(lambda: info(conn)["rdb_bgsave_in_progress"] == "0", 15,
                               "the BGSAVE to end")
                p = info(conn)
                self.assertEqual(p["rdb_last_bgsave_status"], "err")
                # stop-writes-on-bgsave-error yes: writers get MISCONF,
                # nothing changes; readers are served.
                reply = conn.call("CREDITS.CONSUME", "k", 1)
                self.assertIsInstance(reply, RespError)
                self.assertTrue(reply.message.startswith("MISCONF "), reply)
                self.assertIsInstance(conn.call("LIMIT.SET", "j", "HARD", 1), RespError)
                self.assertEqual(pairs(conn.call("USAGE.GET", "k"))["consumed"], 1)
                self.assertIsInstance(conn.call("SAVE"), RespError)
                # SIGTERM snapshots (save rules are set): that fails, so the
                # daemon keeps running (Redis 7).
                server.proc.send_signal(signal.SIGTERM)
                server.log_path = os.path.join(data + ".away", "limiterd.log")
                wait_until(lambda: "Errors trying to shut down" in server.log(), 15,
                           "the failed shutdown to be logged")
                server.log_path = os.path.join(data, "limiterd.log")
                self.assertTrue(server.alive(), "exited although its snapshot failed")
                self.assertEqual(conn.call("PING"), "PONG")
                # The directory back: a successful SAVE clears the error.
                os.remove(data)
                os.rename(data + ".away", data)
                self.assertEqual(conn.call("SAVE"), "OK")
                self.assertEqual(info(conn)["rdb_last_bgsave_status"], "ok")
                self.assertEqual(conn.call("CREDITS.CONSUME", "k", 1)[0], 1)
                self.assertTrue(os.path.exists(os.path.join(data, "dump.snap")))
            # Now SIGTERM snapshots and exits 0; the snapshot has it all.
            os.remove(os.path.join(data, "dump.snap"))
            self.assertEqual(server.stop(), 0)
            self.assertTrue(os.path.exists(os.path.join(data, "dump.snap")))
        except BaseException:
            print(server.log()[-6000:], flush=True)
            raise
        finally:
            server.stop(check=False)
        server = Server(data_dir=data, extra_args=["--save", ""]).start()
        try:
            with server.raw() as conn:
                self.assertEqual(pairs(conn.call("USAGE.GET", "k"))["consumed"], 2)
        finally:
            server.stop()


# -- offline checks and corruption ------------------------------------------------

def run_binary(*args, timeout=60):
    return subprocess.run([binary_from_env()] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=timeout, text=True, errors="replace")


def start_fails(test, *args):
    """Runs the daemon, which must refuse to start; returns its output."""
    try:
        r = run_binary("--port", free_port(), "--bind", "127.0.0.1", *args, timeout=30)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("limiterd started (and ran 30 s) with %r:\n%s" % (args, e.stdout))
    test.assertNotEqual(r.returncode, 0, "limiterd started with %r:\n%s" % (args, r.stdout))
    return r.stdout


class CheckFiles(unittest.TestCase):
    AMOUNTS = [3, 1, 4, 1, 5, 9, 2, 6]

    def make_aof(self, wait_zero_filled=False):
        """A directory with an AOF whose last record is CREDITS.CONSUME k 6,
        left by kill -9 (with the space zero-filled ahead when asked to wait
        for the zero-fill thread)."""
        d = make_tempdir(self)
        server = Server(data_dir=d, extra_args=["--appendonly", "yes", "--appendfsync", "always",
                                                "--save", ""]).start()
        try:
            with server.raw() as conn:
                self.assertEqual(conn.call("LIMIT.SET", "k", "HARD", 1000), "OK")
                for a in self.AMOUNTS:
                    self.assertEqual(conn.call("CREDITS.CONSUME", "k", a)[0], 1)
                deadline = time.monotonic() + 10
                while wait_zero_filled and int(info(conn)["aof_zero_filled_ahead"]) == 0:
                    self.assertLess(time.monotonic(), deadline, "nothing zero-filled in 10 s")
                    time.sleep(0.01)
        finally:
            server.kill()
        check_no_sanitizer_report(self, server)
        os.remove(os.path.join(d, "limiterd.log"))
        return d

    def copy(self, d):
        c = make_tempdir(self)
        shutil.rmtree(c)
        shutil.copytree(d, c)
        return c

    @staticmethod
    def incr(d):
        files = sorted(glob.glob(os.path.join(d, "appendonlydir", "*.incr.aof")))
        assert files, os.listdir(os.path.join(d, "appendonlydir"))
        return files[-1]

    def start_fails(self, d, *args):
        return start_fails(self, "--dir", d, "--appendonly", "yes", "--save", "", *args)

    def consumed_after_start(self, d, *args):
        server = Server(data_dir=d, extra_args=["--appendonly", "yes", "--save", ""] + list(args))
        server.start()
        try:
            with server.raw() as conn:
                return pairs(conn.call("USAGE.GET", "k"))["consumed"], server.log()
        finally:
            server.stop()

    def test_torn_tail(self):
        original = self.make_aof()
        d = self.copy(original)
        incr = self.incr(d)
        # Where the records end: with appendfsync always, zero-filled space
        # follows them (the server was killed, so it is still there).
        with open(incr, "rb") as f:
            end = len(f.read().rstrip(b"\0"))
        with open(incr, "r+b") as f:
            f.truncate(end - 3)
        # aof-load-truncated no: refused, naming the file.
        out = self.start_fails(d, "--aof-load-truncated", "no")
        self.assertIn(os.path.basename(incr), out)
        # --check-aof reports it (non-zero), --fix truncates the torn record.
        r = run_binary("--check-aof", incr)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertTrue(r.stdout.strip(), "no report")
        # aof-load-truncated yes (a copy): loads all but the torn record.
        d2 = self.copy(d)
        consumed, log = self.consumed_after_start(d2)
        self.assertEqual(consumed, sum(self.AMOUNTS) - self.AMOUNTS[-1])
        self.assertIn("short read while loading the AOF", log)
        r = run_binary("--check-aof", incr, "--fix")
        self.assertEqual(r.returncode, 0, r.stdout)
        r = run_binary("--check-aof", incr)
        self.assertEqual(r.returncode, 0, r.stdout)
        consumed, _ = self.consumed_after_start(d, "--aof-load-truncated", "no")
        self.assertEqual(consumed, sum(self.AMOUNTS) - self.AMOUNTS[-1])
        # The manifest form of --check-aof.
        manifests = glob.glob(os.path.join(original, "appendonlydir", "*.manifest"))
        self.assertEqual(len(manifests), 1)
        r = run_binary("--check-aof", manifests[0])
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_zero_filled_space_after_a_crash(self):
        # appendfsync always writes into space zero-filled ahead; killed,
        # the server leaves it behind. It is no torn tail: the AOF loads
        # whole and without a warning, even with aof-load-truncated no, and
        # the space is cut from the file.
        d = self.make_aof(wait_zero_filled=True)
        incr = self.incr(d)
        with open(incr, "rb") as f:
            data = f.read()
        end = len(data.rstrip(b"\0"))
        self.assertGreaterEqual(len(data) - end, 1 << 20, "no zero-filled space")
        r = run_binary("--check-aof", incr)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("zero-filled", r.stdout)
        consumed, log = self.consumed_after_start(d, "--aof-load-truncated", "no")
        self.assertEqual(consumed, sum(self.AMOUNTS))
        self.assertNotIn("short read", log)
        self.assertLessEqual(os.path.getsize(incr), end + 64)

    def test_flipped_byte(self):
        d = self.make_aof()
        incr = self.incr(d)
        size = os.path.getsize(incr)
        offset = size // 2
        with open(incr, "r+b") as f:
            f.seek(offset)
            b = f.read(1)
            f.seek(offset)
            f.write(bytes([b[0] ^ 0x40]))
        out = self.start_fails(d)
        self.assertIn(os.path.basename(incr), out)
        self.assertRegex(out, r"offset\D{0,3}\d+", "no offset named:\n" + out)
        r = run_binary("--check-aof", incr)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        # aof-load-truncated yes does not excuse it: it is not the tail.
        self.start_fails(d, "--aof-load-truncated", "yes")

    def test_snapshot(self):
        d = make_tempdir(self)
        server = Server(data_dir=d, extra_args=["--save", ""]).start()
        try:
            with server.raw() as conn:
                for i in range(100):
                    self.assertEqual(conn.call("LIMIT.SET", "k%d" % i, "HARD", 10), "OK")
                self.assertEqual(conn.call("SAVE"), "OK")
        finally:
            server.stop()
        snap = os.path.join(d, "dump.snap")
        r = run_binary("--check-snapshot", snap)
        self.assertEqual(r.returncode, 0, r.stdout)
        size = os.path.getsize(snap)
        with open(snap, "r+b") as f:
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0x01]))
        r = run_binary("--check-snapshot", snap)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        out = start_fails(self, "--dir", d, "--save", "")
        self.assertIn("dump.snap", out)

    def test_usage(self):
        r = run_binary("--check-aof")
        self.assertNotEqual(r.returncode, 0)
        r = run_binary("--check-aof", "/nonexistent/appendonly.aof.manifest")
        self.assertNotEqual(r.returncode, 0)


# -- exact restore ----------------------------------------------------------------

class Restore(unittest.TestCase):
    """Every kind of state, then restarts from each kind of file: the same
    USAGE.GET and LIMIT.GET for every key, at the same DEBUG CLOCK time."""

    KEYS = ["org:acme", "org:acme/*", "org:acme/user:vip", "org:acme/user:1", "org:acme/user:2",
            "org:acme/user:3", "api:key1", "api:key2", "trial:x", "plan:projects", "old:plan",
            "daily:x", "gone:y", "nothing:here"]

    def populate(self, c):
        def ok(*a):
            self.assertEqual(c.call(*a), "OK", a)

        def consume(key, n, *flags):
            r = c.call("CREDITS.CONSUME", key, n, *flags)
            self.assertIsInstance(r, list, (key, n, r))
            return r

        t = T0 + 10 * DAY + 5 * HOUR
        ok("DEBUG", "CLOCK", "SET", t)
        ok("LIMIT.SET", "org:acme", "HARD", 1000, "SOFT", 800, "UNIT", "credits", "PERIOD", "monthly")
        ok("LIMIT.SET", "org:acme/*", "HARD", 100, "PERIOD", "monthly")
        ok("LIMIT.SET", "org:acme/user:vip", "HARD", 500, "PERIOD", "monthly")
        ok("LIMIT.SET", "api:key1", "HARD", 100, "WINDOW", "60s")
        ok("LIMIT.SET", "api:key2", "RATE", 10, "PER", "1s", "BURST", 20)
        ok("LIMIT.SET", "trial:x", "HARD", 50, "PERIOD", "30d", "NORENEW")
        ok("LIMIT.SET", "plan:projects", "HARD", 3)
        ok("LIMIT.SET", "old:plan", "HARD", 10, "VALIDUNTIL", t + 100 * DAY)
        ok("LIMIT.SET", "daily:x", "HARD", 10, "PERIOD", "daily")
        ok("LIMIT.SET", "gone:y", "HARD", 10)
        consume("org:acme/user:1", 30)
        consume("org:acme/user:2", 7)
        consume("org:acme/user:vip", 120)
        consume("org:acme/user:3", 500)             # denied: the default's 100
        consume("org:acme/user:3", 150, "FORCE")    # over, recorded
        consume("old:plan", 4)
        self.assertEqual(c.call("LIMIT.CANCEL", "old:plan"), 1)
        consume("plan:projects", 2)
        self.assertEqual(c.call("CREDITS.REFUND", "plan:projects", 1), 1)
        consume("trial:x", 20)
        consume("daily:x", 9)
        consume("gone:y", 1)
        self.assertEqual(c.call("LIMIT.DEL", "gone:y"), 1)
        for i in range(12):                          # a sliding window over several steps
            consume("api:key1", 3)
            consume("api:key2", 1)
            ok("DEBUG", "CLOCK", "ADVANCE", 7_000)
        # Roll-overs: the next month, the next day, the trial's end.
        ok("DEBUG", "CLOCK", "SET", T0 + 33 * DAY + 2 * HOUR)
        consume("org:acme/user:1", 11)
        consume("daily:x", 2)
        consume("trial:x", 1)                        # still in its 30 days
        consume("api:key2", 5)
        self.assertEqual(c.call("USAGE.RESET", "org:acme/user:2"), 1)
        ok("DEBUG", "CLOCK", "ADVANCE", 1234)
        return T0 + 33 * DAY + 2 * HOUR + 1234

    def state(self, c, t):
        self.assertEqual(c.call("DEBUG", "CLOCK", "SET", t), "OK")
        keys = set(self.KEYS)
        cursor = "0"
        while True:
            cursor, batch = c.call("LIMIT.SCAN", cursor, "COUNT", 100)
            keys.update(batch)
            if cursor == "0":
                break
        return {k: (c.call("USAGE.GET", k), c.call("LIMIT.GET", k)) for k in sorted(keys)}

    def restart_and_compare(self, d, expected, t, args, what):
        # The clock starts stopped at t: on the wall clock, before the first
        # DEBUG CLOCK SET, the idle sweep could drop counters that read as
        # fresh years after t.
        server = Server(data_dir=d, extra_args=list(args) + ["--debug-clock", t]).start()
        try:
            with server.raw() as c:
                got = self.state(c, t)
        finally:
            server.kill()
        check_no_sanitizer_report(self, server)
        for k in sorted(set(expected) | set(got)):
            self.assertEqual(got.get(k), expected.get(k), "%s: %s differs" % (what, k))
        return got

    def test_debug_clock_at_start(self):
        out = start_fails(self, "--debug-clock", T0)
        self.assertIn("debug-clock needs enable-debug-command yes", out)
        server = Server(extra_args=["--debug-clock", T0 + 1234]).start()
        try:
            with server.raw() as c:
                self.assertEqual(c.call("TIME"), [str(T0 // 1000 + 1), "234000"])
                time.sleep(0.3)  # stopped: still the same
                self.assertEqual(c.call("TIME"), [str(T0 // 1000 + 1), "234000"])
        finally:
            server.stop()

    def test_restore(self):
        d = make_tempdir(self)
        aof = ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        server = Server(data_dir=d, extra_args=aof).start()
        try:
            with server.raw() as c:
                t = self.populate(c)
                expected = self.state(c, t)
                self.assertIsNotNone(expected["org:acme/user:1"][0])
                self.assertIn("cancelled", expected["old:plan"][0])
        finally:
            server.kill()
        # 1. The AOF (kill -9 with everysec: written before each reply).
        self.restart_and_compare(d, expected, t, aof, "AOF")
        # 2. A rewritten AOF (base snapshot + empty incr), then kill -9.
        # Here too the clock starts stopped at t: on the wall clock, the idle
        # sweep's first tick (100 ms) can drop counters that read as fresh
        # years after t before the rewrite's cut (seen under TSan), and the
        # comparison is at t. Likewise for the snapshot of step 3.
        stopped_clock = ["--debug-clock", t]
        server = Server(data_dir=d, extra_args=aof + stopped_clock).start()
        try:
            with server.raw() as c:
                reply = c.call("BGREWRITEAOF")
                self.assertFalse(isinstance(reply, RespError), reply)
                wait_until(lambda: info(c)["aof_rewrite_in_progress"] == "0"
                           and info(c)["aof_rewrite_scheduled"] == "0", 30, "the rewrite")
                self.assertEqual(info(c)["aof_last_bgrewrite_status"], "ok")
        finally:
            server.kill()
        self.restart_and_compare(d, expected, t, aof, "rewritten AOF")
        # 3. A snapshot alone (SHUTDOWN SAVE; then appendonly no).
        server = Server(data_dir=d, extra_args=aof + stopped_clock).start()
        with server.raw() as c:
            c.send(b"SHUTDOWN SAVE\r\n")
            self.assertEqual(c.read_until_close(), b"")
        server.proc.wait(30)
        self.assertEqual(server.proc.returncode, 0, server.log())
        self.restart_and_compare(d, expected, t, ["--appendonly", "no", "--save", ""], "snapshot")
        # 4. appendonly yes without an AOF: the snapshot becomes its base.
        shutil.rmtree(os.path.join(d, "appendonlydir"))
        self.restart_and_compare(d, expected, t, aof, "snapshot as the AOF's base")
        self.assertTrue(glob.glob(os.path.join(d, "appendonlydir", "*.manifest")))
        self.restart_and_compare(d, expected, t, aof, "AOF made from the snapshot")
        # FLUSHALL is logged like any change.
        server = Server(data_dir=d, extra_args=aof).start()
        try:
            with server.raw() as c:
                self.assertEqual(c.call("FLUSHALL"), "OK")
        finally:
            server.kill()
        server = Server(data_dir=d, extra_args=aof).start()
        try:
            with server.raw() as c:
                self.assertEqual(c.call("DBSIZE"), 0)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest_main()
