#!/usr/bin/python3
"""Bad protocol input on raw sockets (SPEC section 4): each gets Redis's exact
'-ERR Protocol error: ...' reply and then the server closes that connection;
meanwhile another client keeps getting correct answers, the state is
unchanged (USAGE.GET before and after) and the daemon stays alive."""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from limiterd_harness import LimiterdCase, RawConn, RespError, encode_command, unittest_main  # noqa: E402


def perr(text):
    return b"-ERR Protocol error: " + text + b"\r\n"


class Watcher:
    """Another client on its own connection that keeps checking answers
    while the bad input is sent."""

    def __init__(self, server, key, want):
        self.conn = server.raw()
        self.key, self.want = key, want
        self.errors, self.rounds = [], 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        deadline = time.monotonic() + 60
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                got = self.conn.call("CREDITS.CONSUME", self.key, 0, "DRYRUN")
                if got != self.want:
                    self.errors.append("watcher got %r, want %r" % (got, self.want))
                    return
                if self.conn.call("PING") != "PONG":
                    self.errors.append("watcher: PING")
                    return
                self.rounds += 1
                time.sleep(0.001)
        except Exception as e:  # noqa: BLE001
            self.errors.append("watcher: %r" % e)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        self.conn.close()


class BadInput(LimiterdCase):
    def setUp(self):
        super().setUp()
        self.ok("LIMIT.SET", "org:st", "HARD", 100, "PERIOD", "monthly")
        self.ok("LIMIT.SET", "org:st/p", "HARD", 50, "PERIOD", "monthly")
        self.assertEqual(self.consume("org:st/p", 7)[0], 1)
        self.before = (self.usage("org:st"), self.usage("org:st/p"))
        self.watcher = Watcher(self.server, "org:st/p", self.consume("org:st/p", 0, "DRYRUN"))
        self.watcher.__enter__()

    def tearDown(self):
        self.watcher.__exit__()
        self.assertEqual(self.watcher.errors, [])
        self.assertGreater(self.watcher.rounds, 0, "the other client got no answer meanwhile")
        self.assertEqual((self.usage("org:st"), self.usage("org:st/p")), self.before, "state changed")
        super().tearDown()

    def bad(self, data, want):
        with RawConn(self.server.port) as c:
            c.send(data)
            got = c.read_until_close()
        self.assertEqual(got, want, "input %r" % data[:60])
        self.assertTrue(self.server.alive(), self.server.log())

    def test_invalid_multibulk_length(self):
        self.bad(b"*abc\r\n", perr(b"invalid multibulk length"))
        self.bad(b"*1x\r\n", perr(b"invalid multibulk length"))

    def test_oversized_array(self):
        self.bad(b"*2147483648\r\n", perr(b"invalid multibulk length"))

    def test_invalid_bulk_length(self):
        self.bad(b"*1\r\n$abc\r\n", perr(b"invalid bulk length"))
        self.bad(b"*2\r\n$4\r\nPING\r\n$-5\r\n", perr(b"invalid bulk length"))

    def test_expected_dollar(self):
        self.bad(b"*1\r\nx\r\n", perr(b"expected '$', got 'x'"))
        self.bad(b"*3\r\n$15\r\nCREDITS.CONSUME\r\n:5\r\n", perr(b"expected '$', got ':'"))

    def test_bulk_over_proto_max_bulk_len(self):
        # Default proto-max-bulk-len: 1 MB. The header alone is refused.
        self.bad(b"*2\r\n$4\r\nECHO\r\n$1048577\r\n", perr(b"invalid bulk length"))
        # Exactly the limit is fine.
        big = b"x" * (1024 * 1024)
        with RawConn(self.server.port, timeout=30) as c:
            c.send(b"*2\r\n$4\r\nECHO\r\n$1048576\r\n" + big + b"\r\n")
            self.assertEqual(len(c.read_reply()), len(big))
            self.assertEqual(c.call("PING"), "PONG")

    def test_too_big_inline(self):
        # 64 KB + 1 byte without a newline (all of it is read: no reset).
        self.bad(b"A" * (64 * 1024 + 1), perr(b"too big inline request"))

    def test_binary_garbage(self):
        self.bad(b"*\xff\xfe\x01\x80\r\n", perr(b"invalid multibulk length"))
        self.bad(b"*2\r\n$4\r\nECHO\r\n\xff\xfe\x01\r\n", perr(b"expected '$', got '\xff'"))
        self.bad(b"*2\r\n$4\r\nECHO\r\n$\x02\x01\r\n", perr(b"invalid bulk length"))
        # Garbage taken as an inline command is an unknown command; the connection stays.
        with RawConn(self.server.port) as c:
            c.send(b"\x01\x02\xfe garbage\r\n")
            reply = c.read_reply()
            self.assertIsInstance(reply, RespError)
            self.assertTrue(reply.message.startswith("ERR unknown command '\x01\x02"), reply)
            self.assertEqual(c.call("PING"), "PONG")

    def test_unbalanced_quotes(self):
        self.bad(b'LIMIT.SET "org:st HARD 1\r\n', perr(b"unbalanced quotes in request"))
        self.bad(b"CREDITS.CONSUME 'org:st/p 1\r\n", perr(b"unbalanced quotes in request"))
        # Balanced quotes work inline.
        with RawConn(self.server.port) as c:
            c.send(b'ECHO "a b\\x41"\r\n')
            self.assertEqual(c.read_reply(), "a bA")

    def test_commands_before_the_error_are_served(self):
        self.ok("LIMIT.SET", "pre", "HARD", 10)
        self.bad(b"*3\r\n$15\r\nCREDITS.CONSUME\r\n$3\r\npre\r\n$1\r\n4\r\nPING\r\n*abc\r\nPING\r\n",
                 b"*6\r\n:1\r\n:6\r\n:10\r\n:0\r\n:-1\r\n$3\r\npre\r\n+PONG\r\n"
                 + perr(b"invalid multibulk length"))
        self.assertEqual(self.consumed("pre"), 4, "a command before the bad input was lost")

    def test_half_a_command_then_disconnect(self):
        for half in (b"*3\r\n$15\r\nCREDITS.CONSUME\r\n$8\r\norg:st/p\r\n$1\r\n",
                     b"*3\r\n$15\r\nCREDITS.CONSUME\r\n$8\r\norg:st/p\r\n$1\r\n5",
                     b"*3\r\n$15\r\nCREDITS.CONS",
                     b"CREDITS.CONSUME org:st/p 5"):
            with RawConn(self.server.port) as c:
                c.send(half)
                time.sleep(0.05)
            self.assertEqual(self.call("PING"), "PONG")
        with RawConn(self.server.port) as c:   # reset instead of a clean close
            c.send(b"*3\r\n$15\r\nCREDITS.CONSUME\r\n$8\r\norg:st/p\r\n")
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.assertTrue(self.server.alive())

    def test_slow_client_one_byte_at_a_time(self):
        self.ok("LIMIT.SET", "slow", "HARD", 100)
        with RawConn(self.server.port) as c:
            for b in encode_command("CREDITS.CONSUME", "slow", 5) + b"CREDITS.CONSUME slow 3\r\n":
                c.send(bytes([b]))
                time.sleep(0.002)
            c.sock.settimeout(10)
            want = b"*6\r\n:1\r\n:95\r\n:100\r\n:0\r\n:-1\r\n$4\r\nslow\r\n" \
                   b"*6\r\n:1\r\n:92\r\n:100\r\n:0\r\n:-1\r\n$4\r\nslow\r\n"
            got = b""
            while len(got) < len(want):
                chunk = c.sock.recv(4096)
                self.assertTrue(chunk, "closed after %r" % got)
                got += chunk
            self.assertEqual(got, want)
        self.assertEqual(self.consumed("slow"), 8)


class UnauthenticatedLimits(LimiterdCase):
    server_kwargs = {"password": "pw"}

    def setUp(self):
        super().setUp()
        self.ok("LIMIT.SET", "org:st", "HARD", 100)
        self.consume("org:st", 3)
        self.before = self.usage("org:st")
        self.watcher = Watcher(self.server, "org:st", self.consume("org:st", 0, "DRYRUN"))
        self.watcher.__enter__()

    def tearDown(self):
        self.watcher.__exit__()
        self.assertEqual(self.watcher.errors, [])
        self.assertEqual(self.usage("org:st"), self.before)
        super().tearDown()

    def bad(self, data, want):
        with self.server.raw(auth=False) as c:
            c.send(data)
            self.assertEqual(c.read_until_close(), want, "input %r" % data[:60])

    def test_more_than_10_args_before_auth(self):
        self.bad(b"*11\r\n", perr(b"unauthenticated multibulk length"))
        # 10 are fine: NOAUTH, and the connection stays.
        with self.server.raw(auth=False) as c:
            self.assertEqual(c.call("LIMIT.DEL", *["k%d" % i for i in range(9)]),
                             RespError("NOAUTH Authentication required."))
            self.assertEqual(c.call("AUTH", "pw"), "OK")
            self.assertEqual(c.call("LIMIT.DEL", *["k%d" % i for i in range(20)]), 0)

    def test_bulk_over_16k_before_auth(self):
        self.bad(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n", perr(b"unauthenticated bulk length"))
        with self.server.raw(auth=False) as c:
            self.assertEqual(c.call("AUTH", "p" * 16384),
                             RespError("WRONGPASS invalid username-password pair or user is disabled."))
            self.assertEqual(c.call("AUTH", "pw"), "OK")
            self.assertEqual(len(c.call("ECHO", "e" * 100_000)), 100_000)


class ConfiguredBulkLimit(LimiterdCase):
    """--proto-max-bulk-len from the command line (2 MB, above the 1 MB default)."""
    server_kwargs = {"extra_args": ["--proto-max-bulk-len", "2mb"]}

    def test_bulk_limit_directive(self):
        self.assertEqual(self.r.config_get("proto-max-bulk-len"), {"proto-max-bulk-len": str(2 * 1024 * 1024)})
        big = "b" * (1536 * 1024)   # over the default, under the configured limit
        with self.server.raw(timeout=30) as c:
            self.assertEqual(len(c.call("ECHO", big)), len(big))
        with RawConn(self.server.port) as c:
            c.send(b"*2\r\n$4\r\nECHO\r\n$2097153\r\n")
            self.assertEqual(c.read_until_close(), perr(b"invalid bulk length"))
        self.assertEqual(self.call("PING"), "PONG")


if __name__ == "__main__":
    unittest_main()
