#!/usr/bin/python3
"""Connection and server commands, pipelines, MULTI/EXEC, unknown-command
and arity errors (SPEC sections 3 and 4) against the real limiterd, through
redis-py (Debian python3-redis 4.3.4) and raw sockets for exact bytes."""

import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import redis  # noqa: E402

from limiterd_harness import (HOUR, T0, LimiterdCase, RawConn, RespClosed, RespError, RespMap,  # noqa: E402
                              Server, pairs, unittest_main)

SPEC_COMMANDS = [
    "limit.set", "limit.get", "limit.del", "limit.cancel", "limit.scan", "credits.consume",
    "credits.refund", "usage.get", "usage.reset", "ping", "echo", "hello", "auth", "select",
    "quit", "reset", "client", "command", "info", "config", "dbsize", "flushall", "time",
    "save", "bgsave", "bgrewriteaof", "lastsave", "shutdown", "multi", "exec", "discard", "debug",
]
USAGE_FIELDS = {"key", "kind", "unit", "status", "limit", "soft_limit", "consumed", "remaining",
                "soft_reached", "period", "period_start", "resets_at", "renewable", "valid_until",
                "source"}


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class Connection(LimiterdCase):
    def test_ping_echo(self):
        self.assertIs(self.r.ping(), True)
        self.assertEqual(self.call("PING"), "PONG")
        self.assertEqual(self.call("PING", "hello world"), "hello world")
        self.assertEqual(self.r.echo("bin\x00ary \r\n"), "bin\x00ary \r\n")
        self.assertEqual(self.err("ECHO"), "ERR wrong number of arguments for 'echo' command")

    def test_hello(self):
        reply = self.call("HELLO", "3")
        self.assertIsInstance(reply, RespMap, "HELLO 3 must answer a RESP3 map, got %r" % (reply,))
        self.assertEqual(reply["proto"], 3)
        self.assertIsInstance(reply["id"], int)
        self.assertIsInstance(reply["version"], str)
        self.assertIn("server", reply)
        self.assertEqual(reply["id"], self.call("CLIENT", "ID"))
        # In RESP3 every map is a map, nil is '_'.
        self.ok("LIMIT.SET", "k", "HARD", 10)
        self.assertIsInstance(self.call("USAGE.GET", "k"), RespMap)
        self.assertEqual(set(self.call("USAGE.GET", "k")), USAGE_FIELDS)
        self.assertIsInstance(self.call("LIMIT.GET", "k"), RespMap)
        self.assertEqual(self.call("CREDITS.CONSUME", "k", 4), [1, 6, 10, 0, -1, "k"])
        self.assertIsNone(self.call("USAGE.GET", "nothing"))
        self.raw.send(b"USAGE.GET nothing\r\n")
        self.assertEqual(self.raw._line(), b"_", "RESP3 nil is '_'")
        # Back to RESP2: flat arrays.
        reply = self.call("HELLO", "2")
        self.assertIsInstance(reply, list)
        self.assertEqual(pairs(reply)["proto"], 2)
        self.assertIsInstance(self.call("USAGE.GET", "k"), list)
        self.raw.send(b"USAGE.GET nothing\r\n")
        self.assertEqual(self.raw._line(), b"$-1", "RESP2 nil is '$-1'")
        # redis-py 4.3.4 has no protocol= option: HELLO through execute_command (RESP2 reply).
        self.assertEqual(pairs(self.r.execute_command("HELLO", "2"))["proto"], 2)
        self.assertEqual(self.err("HELLO", "4"), "NOPROTO unsupported protocol version")
        reply = self.call("HELLO", "3", "SETNAME", "hello-client")
        self.assertIsInstance(reply, RespMap)
        self.assertEqual(self.call("CLIENT", "GETNAME"), "hello-client")

    def test_select(self):
        self.ok("SELECT", "0")
        self.assertEqual(self.err("SELECT", "1"), "ERR DB index is out of range")
        self.assertEqual(self.err("SELECT", "x"), "ERR value is not an integer or out of range")

    def test_auth_without_password(self):
        self.assertEqual(self.err("AUTH", "x"),
                         "ERR AUTH <password> called without any password configured for the default "
                         "user. Are you sure your configuration is correct?")

    def test_client(self):
        with self.server.raw() as a, self.server.raw() as b, self.server.raw() as c:
            # Each client talks once first: a connected socket is not yet an
            # accepted, registered client, and CLIENT LIST below must list c.
            ida, idb, idc = a.call("CLIENT", "ID"), b.call("CLIENT", "ID"), c.call("CLIENT", "ID")
            self.assertIsInstance(ida, int)
            self.assertNotEqual(ida, idb)
            self.assertIsNone(a.call("CLIENT", "GETNAME"))
            self.assertEqual(a.call("CLIENT", "SETNAME", "alice"), "OK")
            self.assertEqual(a.call("CLIENT", "GETNAME"), "alice")
            self.assertIsNone(b.call("CLIENT", "GETNAME"))
            self.assertIsInstance(a.call("CLIENT", "SETNAME", "has space"), RespError)
            self.assertEqual(a.call("CLIENT", "SETINFO", "lib-name", "blackbox"), "OK")
            self.assertEqual(a.call("CLIENT", "SETINFO", "lib-ver", "1.0"), "OK")
            info = a.call("CLIENT", "INFO")
            fields = dict(f.split("=", 1) for f in info.strip().split(" "))
            self.assertEqual((fields["id"], fields["name"]), (str(ida), "alice"))
            self.assertIn("addr", fields)
            lines = b.call("CLIENT", "LIST").strip().split("\n")
            listed = [dict(f.split("=", 1) for f in line.strip().split(" ")) for line in lines]
            by_id = {int(d["id"]): d for d in listed}
            self.assertIn(ida, by_id)
            self.assertIn(idb, by_id)
            self.assertEqual(by_id[ida]["name"], "alice")
            # redis-py's parser reads it too.
            self.assertIn("alice", [d["name"] for d in self.r.client_list()])
            self.assertEqual(self.r.client_info()["id"], self.r.client_id())
            # KILL ID closes that connection; others go on.
            self.assertEqual(a.call("CLIENT", "KILL", "ID", idb), 1)
            self.assertEqual(b.read_until_close(), b"")
            self.assertEqual(a.call("CLIENT", "KILL", "ID", 999999), 0)
            # The old form by address.
            addr_c = by_id[idc]["addr"]
            self.assertEqual(a.call("CLIENT", "KILL", addr_c), "OK")
            self.assertEqual(c.read_until_close(), b"")
            self.assertEqual(a.call("CLIENT", "KILL", addr_c), RespError("ERR No such client"))
            self.assertEqual(a.call("PING"), "PONG")
            self.assertIsInstance(a.call("CLIENT", "NOSUCH"), RespError)

    def test_quit_and_reset(self):
        with self.server.raw() as a:
            self.assertEqual(a.call("CLIENT", "SETNAME", "x"), "OK")
            self.assertEqual(a.call("HELLO", "3")["proto"], 3)
            self.assertEqual(a.call("RESET"), "RESET")
            self.assertIsNone(a.call("CLIENT", "GETNAME"))
            self.assertEqual(pairs(a.call("HELLO"))["proto"], 2, "RESET goes back to RESP2")
            a.send(b"QUIT\r\n")
            self.assertEqual(a.read_until_close(), b"+OK\r\n")

    def test_unknown_command(self):
        self.assertEqual(self.err("FOO", "a", "b"),
                         "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
        self.assertEqual(self.err("foo"), "ERR unknown command 'foo', with args beginning with: ")
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            self.r.execute_command("foo", "x")
        self.assertEqual(str(cm.exception), "unknown command 'foo', with args beginning with: 'x' ")
        self.assertEqual(self.err("CLIENT"), "ERR wrong number of arguments for 'client' command")

    def test_arity(self):
        for args, name in [(("LIMIT.SET",), "limit.set"), (("limit.get",), "limit.get"),
                           (("LIMIT.GET", "a", "b"), "limit.get"), (("LIMIT.DEL",), "limit.del"),
                           (("LIMIT.CANCEL",), "limit.cancel"), (("LIMIT.SCAN",), "limit.scan"),
                           (("CREDITS.CONSUME", "k"), "credits.consume"),
                           (("CREDITS.REFUND", "k"), "credits.refund"),
                           (("CREDITS.REFUND", "k", "1", "2"), "credits.refund"),
                           (("USAGE.GET",), "usage.get"), (("USAGE.RESET", "a", "b"), "usage.reset"),
                           (("ECHO",), "echo"), (("DBSIZE", "x"), "dbsize"), (("TIME", "x"), "time")]:
            self.assertEqual(self.err(*args), "ERR wrong number of arguments for '%s' command" % name)
        self.assertEqual(self.call("PING"), "PONG")


class AuthRequired(LimiterdCase):
    server_kwargs = {"password": "s3cret"}

    def test_auth(self):
        with self.server.raw(auth=False) as c:
            self.assertEqual(c.call("LIMIT.GET", "k"), RespError("NOAUTH Authentication required."))
            self.assertEqual(c.call("PING"), RespError("NOAUTH Authentication required."))
            self.assertEqual(c.call("AUTH", "wrong"),
                             RespError("WRONGPASS invalid username-password pair or user is disabled."))
            self.assertEqual(c.call("AUTH", "default", "wrong"),
                             RespError("WRONGPASS invalid username-password pair or user is disabled."))
            err = c.call("HELLO", "3")
            self.assertIsInstance(err, RespError)
            self.assertTrue(err.message.startswith("NOAUTH "), err)
            self.assertEqual(c.call("AUTH", "s3cret"), "OK")
            self.assertEqual(c.call("PING"), "PONG")
        with self.server.raw(auth=False) as c:
            self.assertEqual(c.call("AUTH", "default", "s3cret"), "OK")
            self.assertEqual(c.call("DBSIZE"), 0)
        with self.server.raw(auth=False) as c:
            reply = c.call("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "h3")
            self.assertIsInstance(reply, RespMap)
            self.assertEqual(reply["proto"], 3)
            self.assertEqual(c.call("CLIENT", "GETNAME"), "h3")
        with self.server.raw(auth=False) as c:
            self.assertIsInstance(c.call("HELLO", "3", "AUTH", "default", "nope"), RespError)
            self.assertEqual(c.call("DBSIZE"), RespError("NOAUTH Authentication required."))
        # redis-py with and without the password.
        self.assertIs(self.r.ping(), True)
        anon = redis.Redis(host="127.0.0.1", port=self.server.port, socket_timeout=10)
        with self.assertRaises(redis.exceptions.AuthenticationError):
            anon.ping()
        anon.close()


class ServerCommands(LimiterdCase):
    def test_command(self):
        count = self.call("COMMAND", "COUNT")
        names = self.call("COMMAND", "LIST")
        # As Redis 7: COUNT counts commands, LIST also names subcommands ("client|list").
        self.assertEqual(count, len([n for n in names if "|" not in n]))
        for sub in ("client|id", "client|list", "client|kill", "command|info", "config|get"):
            self.assertIn(sub, names)
        self.assertEqual(count, self.r.command_count())
        for name in SPEC_COMMANDS:
            self.assertIn(name, names)
        everything = self.call("COMMAND")
        self.assertEqual(len(everything), count)
        info = self.call("COMMAND", "INFO", "limit.set", "credits.consume", "limit.del", "limit.scan",
                         "usage.get", "ping", "nosuchcommand", "LIMIT.GET")
        self.assertEqual(len(info), 8)
        by_name = {e[0]: e for e in info if e is not None}
        self.assertIsNone(info[6])
        # name, arity, flags, first key, last key, step
        self.assertIn(by_name["limit.set"][1], (-2, -3))
        self.assertEqual(by_name["limit.set"][3:6], [1, 1, 1])
        self.assertIn("write", by_name["limit.set"][2])
        self.assertEqual(by_name["credits.consume"][1], -3)
        self.assertEqual(by_name["credits.consume"][3:6], [1, 1, 1])
        self.assertIn("write", by_name["credits.consume"][2])
        self.assertEqual(by_name["limit.del"][1], -2)
        self.assertEqual(by_name["limit.del"][3:6], [1, -1, 1])
        self.assertEqual(by_name["limit.scan"][1], -2)
        self.assertEqual(by_name["limit.scan"][3:6], [0, 0, 0])
        self.assertEqual(by_name["usage.get"][1], 2)
        self.assertEqual(by_name["usage.get"][3:6], [1, 1, 1])
        self.assertIn("readonly", by_name["usage.get"][2])
        self.assertEqual(by_name["limit.get"][1], 2)
        self.assertIn("readonly", by_name["limit.get"][2])
        self.assertEqual(by_name["ping"][1], -1)
        self.assertNotIn("write", by_name["ping"][2])
        # redis-py's COMMAND parser (cluster clients use it) reads the table.
        table = self.r.command()
        self.assertEqual(table["credits.consume"]["arity"], -3)
        self.assertEqual(table["credits.consume"]["first_key_pos"], 1)
        docs = pairs(self.call("COMMAND", "DOCS", "limit.set"))
        self.assertEqual(list(docs), ["limit.set"])
        self.assertIn("summary", pairs(docs["limit.set"]))
        self.assertEqual(self.call("HELLO", "3")["proto"], 3)
        docs = self.call("COMMAND", "DOCS", "credits.consume")
        self.assertIsInstance(docs, RespMap)
        self.assertIsInstance(docs["credits.consume"], RespMap)
        self.assertTrue(docs["credits.consume"]["summary"])

    def test_info(self):
        self.ok("LIMIT.SET", "a", "HARD", 1)
        self.ok("LIMIT.SET", "b", "HARD", 1)
        self.ok("LIMIT.SET", "c", "HARD", 1)
        info = self.r.info()   # default sections, parsed by redis-py
        for field in ("redis_version", "tcp_port", "uptime_in_seconds", "process_id",
                      "connected_clients", "used_memory", "used_memory_human", "aof_enabled",
                      "total_commands_processed", "total_connections_received", "role"):
            self.assertIn(field, info)
        self.assertEqual(info["tcp_port"], self.server.port)
        self.assertEqual(info["process_id"], self.server.proc.pid)
        self.assertEqual(info["role"], "master")
        self.assertGreater(info["used_memory"], 0)
        self.assertEqual(info["db0"]["keys"], 3)
        server = self.r.info("server")
        self.assertIn("redis_version", server)
        self.assertNotIn("used_memory", server)
        self.assertNotIn("redis_version", self.r.info("memory"))
        for section, field in [("clients", "connected_clients"), ("memory", "used_memory"),
                               ("persistence", "aof_enabled"), ("stats", "total_commands_processed"),
                               ("replication", "role"), ("keyspace", "db0")]:
            self.assertIn(field, self.r.info(section), section)
        raw = self.call("INFO", "server")
        self.assertTrue(raw.startswith("# Server\r\n"), raw[:40])
        # connected_clients counts connections.
        base = self.r.info("clients")["connected_clients"]
        extra = [self.server.raw() for _ in range(3)]
        for e in extra:
            self.assertEqual(e.call("PING"), "PONG")
        self.assertEqual(self.r.info("clients")["connected_clients"], base + 3)
        for e in extra:
            e.close()
        wait_for(lambda: self.r.info("clients")["connected_clients"] == base, what="connected_clients to drop")
        before = self.r.info("stats")
        for _ in range(10):
            self.r.ping()
        after = self.r.info("stats")
        self.assertGreaterEqual(after["total_commands_processed"], before["total_commands_processed"] + 10)
        # One read and one write per request for a client that waits for each
        # reply (with the INFO itself: 11); a slow moment adds a look or two.
        reads = after["total_reads_processed"] - before["total_reads_processed"]
        writes = after["total_writes_processed"] - before["total_writes_processed"]
        self.assertEqual(writes, 11)
        self.assertGreaterEqual(reads, 11)
        self.assertLessEqual(reads, 15)

    def test_half_closed_client_gets_its_reply_then_the_close(self):
        # A client that sends its command and shuts down its side, as
        # `printf 'PING\r\n' | nc -N` does: the reply, then the server's close.
        for i in range(10):
            with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
                s.sendall(b"ECHO hello%d\r\n" % i)
                s.shutdown(socket.SHUT_WR)
                got = b""
                while True:
                    chunk = s.recv(4096)  # socket.timeout after 5 s fails the test
                    if not chunk:
                        break
                    got += chunk
                self.assertEqual(got, b"$6\r\nhello%d\r\n" % i)

    def test_config(self):
        self.assertEqual(self.r.config_get("port"), {"port": str(self.server.port)})
        self.assertEqual(self.r.config_get("maxclients").keys(), {"maxclients"})
        self.assertIs(self.r.config_set("maxclients", 123), True)
        self.assertEqual(self.r.config_get("maxclients"), {"maxclients": "123"})
        allc = self.r.config_get("*")
        for name in ("port", "bind", "maxclients", "requirepass", "proto-max-bulk-len",
                     "enable-debug-command", "hierarchy-separator", "appendonly"):
            self.assertIn(name, allc)
        self.assertEqual(self.r.config_get("max*").keys() >= {"maxclients"}, True)
        self.assertEqual(self.r.config_get("nosuchdirective"), {})
        self.assertIsInstance(self.call("CONFIG", "SET", "nosuchdirective", "1"), RespError)
        self.assertIsInstance(self.call("CONFIG", "SET", "maxclients", "lots"), RespError)
        self.assertEqual(self.r.config_get("maxclients"), {"maxclients": "123"})
        # The persistence policies, as redis-py sets them (save's value is one
        # string of pairs); the files are fixed.
        self.assertIs(self.r.config_set("save", "900 1 300 10"), True)
        self.assertEqual(self.r.config_get("save"), {"save": "900 1 300 10"})
        self.assertIs(self.r.config_set("appendfsync", "no"), True)
        self.assertEqual(self.r.config_get("appendfsync"), {"appendfsync": "no"})
        self.assertIn("can't set immutable config", self.err("CONFIG", "SET", "appendonly", "yes"))
        self.assertEqual(self.err("CONFIG", "SET", "save", "900", "1"), "ERR syntax error")

    def test_dbsize_flushall_time(self):
        self.assertEqual(self.r.dbsize(), 0)
        for k in ("a", "b", "c"):
            self.ok("LIMIT.SET", k, "HARD", 5)
        self.assertEqual(self.r.dbsize(), 3)
        self.assertEqual(self.call("FLUSHALL"), "OK")
        self.assertEqual(self.r.dbsize(), 0)
        self.assertIsNone(self.call("LIMIT.GET", "a"))
        secs, micros = self.r.time()
        self.assertTrue(0 <= micros < 1_000_000)
        now = time.time()
        self.assertTrue(abs(secs - now) < 60 or abs(secs - T0 / 1000) < 60,
                        "TIME %d is neither the wall clock nor the debug clock" % secs)


class IdleCounters(LimiterdCase):
    def test_daemon_drops_idle_counters_by_itself(self):
        """SPEC 2: 'A materialized counter that holds nothing but a fresh
        state may be dropped at any time, so memory stays bounded by active
        keys.' The daemon's own timer does the dropping (server/server.cc's
        cron), with no command asking; a counter that holds usage stays."""
        self.ok("LIMIT.SET", "org:i/*", "HARD", 5, "PERIOD", "1h")
        users = ["org:i/u%d" % n for n in range(200)]
        for user in users:
            self.assertEqual(self.consume(user, 1)[0], 1)
        # Not idle yet: each holds this period's charge.
        time.sleep(0.3)  # 30 timer ticks
        self.assertEqual(self.r.dbsize(), 1 + len(users))
        self.advance(HOUR)  # a new period: every counter reads fresh
        self.assertEqual(self.consume(users[0], 2)[0], 1)  # this one is charged again
        wait_for(lambda: self.r.dbsize() == 2, what="the idle counters to be dropped")
        self.assertEqual(sorted(self.scan_all("COUNT", 1000)[0]), ["org:i/*", users[0]])
        self.assertEqual(self.usage(users[0])["consumed"], 2)
        # A dropped counter reads as it did (fresh) and materializes again.
        self.assertEqual(self.usage(users[1])["consumed"], 0)
        self.assertEqual(self.consume(users[1], 5)[0], 1)
        self.assertEqual(self.consume(users[1], 1)[0], 0, "the hard limit still holds")
        time.sleep(0.3)
        self.assertEqual(self.r.dbsize(), 3)


class MaxClients(LimiterdCase):
    server_kwargs = {"extra_args": ["--maxclients", "3"]}

    def setUp(self):
        pass   # no default connections: the test counts them

    def test_maxclients(self):
        conns = []
        try:
            for _ in range(3):
                # The harness's own PING connection may not be gone yet: retry.
                def connect():
                    c = RawConn(self.server.port)
                    conns.append(c)
                    try:
                        return c.call("PING") == "PONG"
                    except (RespClosed, OSError):
                        return False
                wait_for(connect, what="one of 3 allowed connections")
            over = RawConn(self.server.port)
            conns.append(over)
            # Nothing sent: a close with unread input would be a reset, losing the reply.
            self.assertEqual(over.read_until_close(), b"-ERR max number of clients reached\r\n")
            conns[-2].close()
            wait_for(connect, what="a free client slot after a close")
        finally:
            for c in conns:
                c.close()


class ThreadNames(unittest.TestCase):
    def test_threads_are_named(self):
        """top -H, perf and gdb tell the threads apart, as Redis's io_thd_N
        and bio_aof: the main thread keeps the binary's name."""
        with Server(threads=2, extra_args=["--appendonly", "yes", "--appendfsync", "always"]) as s:
            r = s.redis()
            self.assertEqual(r.execute_command("LIMIT.SET", "org:a", "HARD", 10), "OK")
            self.assertEqual(r.execute_command("CREDITS.CONSUME", "org:a", 1)[0], 1)  # it serves
            r.close()
            task_dir = "/proc/%d/task" % s.proc.pid
            names = []
            for tid in os.listdir(task_dir):
                with open(os.path.join(task_dir, tid, "comm")) as f:
                    names.append(f.read().strip())
            for name in ("io-0", "io-1", "aof-sync", "aof-zero-fill"):
                self.assertEqual(names.count(name), 1, "%s in %s" % (name, sorted(names)))
            self.assertNotIn("io-2", names)
            # The main thread; under TSan its runtime's own thread is named so too.
            self.assertIn("limiterd", names)


class Shutdown(unittest.TestCase):
    def test_shutdown(self):
        with Server() as s:
            c = s.raw()
            c.send(b"SHUTDOWN NOSAVE\r\n")
            self.assertEqual(c.read_until_close(), b"")
            s.proc.wait(20)
            self.assertEqual(s.proc.returncode, 0)
        with Server() as s:
            r = s.redis()
            r.shutdown(nosave=True)
            s.proc.wait(20)
            self.assertEqual(s.proc.returncode, 0)


class Pipelines(LimiterdCase):
    def test_pipeline_hundreds(self):
        self.ok("LIMIT.SET", "p", "HARD", 300)
        pipe = self.r.pipeline(transaction=False)
        for i in range(500):
            pipe.execute_command("CREDITS.CONSUME", "p", 1)
            if i == 250:
                pipe.execute_command("CREDITS.CONSUME", "nolimit", 1)
        replies = pipe.execute(raise_on_error=False)
        self.assertEqual(len(replies), 501)
        err = replies.pop(251)
        self.assertIsInstance(err, redis.exceptions.ResponseError)
        self.assertEqual(str(err), "NOLIMIT no limit applies to 'nolimit'")
        for i, reply in enumerate(replies):
            want = [1, 299 - i, 300, 0, -1, "p"] if i < 300 else [0, 0, 300, -1, -1, "p"]
            self.assertEqual(reply, want, "reply %d" % i)
        self.assertEqual(self.usage("p")["consumed"], 300)

    def test_raw_pipeline_one_write(self):
        self.ok("LIMIT.SET", "q", "HARD", 1000)
        self.raw.send(b"".join(b"*3\r\n$15\r\nCREDITS.CONSUME\r\n$1\r\nq\r\n$1\r\n2\r\n" for _ in range(300))
                      + b"PING\r\n")
        for i in range(300):
            self.assertEqual(self.raw.read_reply(), [1, 1000 - 2 * (i + 1), 1000, 0, -1, "q"])
        self.assertEqual(self.raw.read_reply(), "PONG")


class Transactions(LimiterdCase):
    def test_multi_exec(self):
        pipe = self.r.pipeline(transaction=True)
        pipe.execute_command("LIMIT.SET", "t", "HARD", 5)
        pipe.execute_command("CREDITS.CONSUME", "t", 3)
        pipe.execute_command("CREDITS.CONSUME", "t", 3)
        pipe.execute_command("USAGE.GET", "t")
        res = pipe.execute()
        self.assertEqual(res[:3], ["OK", [1, 2, 5, 0, -1, "t"], [0, 2, 5, -1, -1, "t"]])
        self.assertEqual(pairs(res[3])["consumed"], 3)

    def test_raw_multi_texts(self):
        self.ok("LIMIT.SET", "t", "HARD", 5)
        c = self.raw
        self.assertEqual(c.call("EXEC"), RespError("ERR EXEC without MULTI"))
        self.assertEqual(c.call("DISCARD"), RespError("ERR DISCARD without MULTI"))
        self.assertEqual(c.call("MULTI"), "OK")
        self.assertEqual(c.call("MULTI"), RespError("ERR MULTI calls can not be nested"))
        self.assertEqual(c.call("CREDITS.CONSUME", "t", 1), "QUEUED")
        self.assertEqual(c.call("FOO", "bar"), RespError("ERR unknown command 'FOO', with args beginning with: 'bar' "))
        self.assertEqual(c.call("CREDITS.CONSUME", "t", 1), "QUEUED")
        self.assertEqual(c.call("EXEC"), RespError("EXECABORT Transaction discarded because of previous errors."))
        self.assertEqual(self.consumed("t"), 0)
        # An arity error while queueing aborts too.
        self.assertEqual(c.call("MULTI"), "OK")
        self.assertEqual(c.call("CREDITS.CONSUME", "t", 1), "QUEUED")
        self.assertEqual(c.call("USAGE.GET"), RespError("ERR wrong number of arguments for 'usage.get' command"))
        self.assertEqual(c.call("EXEC"), RespError("EXECABORT Transaction discarded because of previous errors."))
        self.assertEqual(self.consumed("t"), 0)
        # DISCARD.
        self.assertEqual(c.call("MULTI"), "OK")
        self.assertEqual(c.call("CREDITS.CONSUME", "t", 1), "QUEUED")
        self.assertEqual(c.call("DISCARD"), "OK")
        self.assertEqual(self.consumed("t"), 0)
        # A run-time error (NOLIMIT) or a denial inside EXEC does not stop the others.
        self.assertEqual(c.call("MULTI"), "OK")
        self.assertEqual(c.call("CREDITS.CONSUME", "nolimit", 1), "QUEUED")
        self.assertEqual(c.call("CREDITS.CONSUME", "t", 9), "QUEUED")
        self.assertEqual(c.call("CREDITS.CONSUME", "t", 2), "QUEUED")
        self.assertEqual(c.call("EXEC"), [RespError("NOLIMIT no limit applies to 'nolimit'"),
                                          [0, 5, 5, -1, -1, "t"], [1, 3, 5, 0, -1, "t"]])

    def test_redis_py_execabort(self):
        self.ok("LIMIT.SET", "t", "HARD", 5)
        pipe = self.r.pipeline(transaction=True)
        pipe.execute_command("CREDITS.CONSUME", "t", 1)
        pipe.execute_command("NOSUCHCOMMAND", "x")
        with self.assertRaises(redis.exceptions.ResponseError):
            pipe.execute()
        self.assertEqual(self.consumed("t"), 0)

    def test_atomic_under_concurrency(self):
        """Writers charge x and y in one MULTI; readers read both in one MULTI
        and must always see them equal; other clients charge z between."""
        self.ok("LIMIT.SET", "x", "HARD", 1_000_000)
        self.ok("LIMIT.SET", "y", "HARD", 1_000_000)
        self.ok("LIMIT.SET", "org:z", "HARD", 1_000_000)
        errors, deadline = [], time.monotonic() + 60

        def writer():
            r = self.server.redis()
            try:
                for _ in range(60):
                    p = r.pipeline(transaction=True)
                    p.execute_command("CREDITS.CONSUME", "x", 1)
                    p.execute_command("CREDITS.CONSUME", "org:z", 1)
                    p.execute_command("CREDITS.CONSUME", "org:z", 1)
                    p.execute_command("CREDITS.CONSUME", "y", 1)
                    a, z1, z2, b = p.execute()
                    if z2[1] != z1[1] - 1:
                        errors.append("another client charged org:z inside a transaction: %r %r" % (z1, z2))
                    if a[0] != 1 or b[0] != 1:
                        errors.append("denied: %r %r" % (a, b))
                    if time.monotonic() > deadline:
                        return
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                r.close()

        def plain():
            r = self.server.redis()
            try:
                for _ in range(150):
                    r.execute_command("CREDITS.CONSUME", "org:z/p", 1)
                    if time.monotonic() > deadline:
                        return
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                r.close()

        def reader():
            r = self.server.redis()
            try:
                for _ in range(80):
                    p = r.pipeline(transaction=True)
                    p.execute_command("USAGE.GET", "x")
                    p.execute_command("USAGE.GET", "y")
                    ux, uy = (pairs(u)["consumed"] for u in p.execute())
                    if ux != uy:
                        errors.append("a transaction was seen half done: x=%d y=%d" % (ux, uy))
                    if time.monotonic() > deadline:
                        return
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                r.close()

        threads = ([threading.Thread(target=writer) for _ in range(4)]
                   + [threading.Thread(target=plain) for _ in range(3)]
                   + [threading.Thread(target=reader) for _ in range(3)])
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertFalse(any(t.is_alive() for t in threads), "threads did not finish")
        self.assertEqual(errors[:5], [])
        self.assertEqual(self.consumed("x"), 240)
        self.assertEqual(self.consumed("y"), 240)
        self.assertEqual(self.consumed("org:z"), 480 + 450)


if __name__ == "__main__":
    unittest_main()
