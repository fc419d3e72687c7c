"""Black-box harness: runs the REAL limiterd binary on a free 127.0.0.1 port.

Used two ways:

  * imported by the Python tests: ``Server`` starts a daemon (free port,
    waits until it answers PING, always stopped: SIGTERM, then SIGKILL after
    a timeout), ``RawConn`` is a tiny RESP2/RESP3 client on a plain socket
    for exact byte-level checks, ``LimiterdCase`` is the unittest base (one
    daemon per class, FLUSHALL and DEBUG CLOCK SET T0 before each test) and
    ``unittest_main`` their entry point (``--binary PATH``).
  * as a wrapper for the non-Python tests (bash + redis-cli, node, the C
    programs):

        python3 limiterd_harness.py --binary BIN [--password PW] [--threads N]
            [--timeout S] -- COMMAND ARGS...

    starts one daemon, runs COMMAND with LIMITERD_HOST / LIMITERD_PORT /
    LIMITERD_PASSWORD / LIMITERD_BINARY in its environment, then fails if the
    command failed, if the daemon died meanwhile, or if it did not exit
    cleanly on SIGTERM (a sanitizer report makes it exit non-zero).

The daemon gets PR_SET_PDEATHSIG, so even a test process killed by a ctest
timeout leaves no daemon behind.
"""

import argparse
import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HOST = "127.0.0.1"
# Sanitizer builds start slowly; this is a bound, not a sleep.
START_TIMEOUT = float(os.environ.get("LIMITERD_START_TIMEOUT", "30"))
STOP_TIMEOUT = 10.0

_live_servers = []


def binary_from_env():
    path = os.environ.get("LIMITERD_BINARY")
    if not path:
        raise SystemExit("FAIL: LIMITERD_BINARY is not set (pass --binary $<TARGET_FILE:limiterd>)")
    if not os.access(path, os.X_OK):
        raise SystemExit("FAIL: limiterd binary %r is not executable" % path)
    return path


def take_binary_arg(argv):
    """Removes '--binary PATH' from argv (unittest must not see it) and
    exports it as LIMITERD_BINARY."""
    if "--binary" in argv:
        i = argv.index("--binary")
        os.environ["LIMITERD_BINARY"] = argv[i + 1]
        del argv[i:i + 2]
    return binary_from_env()


def free_port():
    """A port the kernel had free a moment ago (the daemon may still lose a
    race for it: Server.start retries on EADDRINUSE)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _die_with_parent():
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ServerError(AssertionError):
    pass


class Server:
    """One limiterd process. Use as a context manager, or start()/stop()."""

    def __init__(self, password=None, debug=True, threads=2, extra_args=(), binary=None,
                 data_dir=None, preexec=None):
        """data_dir: an existing directory to run in (--dir), kept by stop()
        so that a later Server can restart from its files; default: a fresh
        temporary one, removed by stop(). preexec: also run in the child
        before exec (e.g. resource.setrlimit)."""
        self.binary = binary or binary_from_env()
        self.password = password
        self.debug = debug
        self.threads = threads
        self.extra_args = [str(a) for a in extra_args]
        self.proc = None
        self.port = None
        self.own_dir = data_dir is None
        self.dir = tempfile.mkdtemp(prefix="limiterd-bb-") if data_dir is None else data_dir
        self.log_path = os.path.join(self.dir, "limiterd.log")
        self.preexec = preexec

    # -- lifecycle -------------------------------------------------------
    def command_line(self, port):
        cmd = [self.binary, "--port", str(port), "--bind", HOST,
               "--threads", str(self.threads), "--dir", self.dir]
        if self.debug:
            cmd += ["--enable-debug-command", "yes"]
        if self.password is not None:
            cmd += ["--requirepass", self.password]
        return cmd + self.extra_args

    def start(self):
        last = ""
        for _ in range(5):
            self.port = free_port()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(self.command_line(self.port), cwd=self.dir,
                                             stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT,
                                             preexec_fn=self._preexec)
            _live_servers.append(self)
            outcome = self._wait_ready()
            if outcome == "ready":
                return self
            last = self.log()
            if "in use" not in last.lower() and "eaddrinuse" not in last.lower():
                break
        self.kill()
        raise ServerError("limiterd did not start (%s):\n%s\ncommand: %s"
                          % (outcome, last, " ".join(self.command_line(self.port))))

    def _preexec(self):
        _die_with_parent()
        if self.preexec is not None:
            self.preexec()

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited with %d" % self.proc.returncode
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    s.sendall(b"PING\r\n")
                    data = s.recv(64)
                    # +PONG, or -NOAUTH when a password is set: it answers.
                    if data[:1] in (b"+", b"-"):
                        return "ready"
            except OSError:
                pass
            time.sleep(0.02)
        return "no answer to PING within %.0f s" % START_TIMEOUT

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        """The daemon's output: its head (where a sanitizer report starts)
        and its tail."""
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        if len(text) > 12000:
            text = text[:8000] + "\n[... %d bytes ...]\n" % (len(text) - 12000) + text[-4000:]
        return text

    def kill(self):
        """SIGKILL (kill -9), and wait for it. The directory stays."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in _live_servers:
            _live_servers.remove(self)

    def stop(self, check=True):
        """SIGTERM, SIGKILL after STOP_TIMEOUT. With check, raise unless the
        daemon exited cleanly (0, or killed by the SIGTERM itself)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                if check:
                    raise ServerError("limiterd ignored SIGTERM for %.0f s (killed)\n%s"
                                      % (STOP_TIMEOUT, self.log()))
        rc = self.proc.returncode
        if self in _live_servers:
            _live_servers.remove(self)
        if check and rc not in (0, -signal.SIGTERM):
            raise ServerError("limiterd exited with status %d\n%s" % (rc, self.log()))
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop(check=exc[0] is None)

    # -- clients ---------------------------------------------------------
    def raw(self, timeout=10.0, auth=True):
        conn = RawConn(self.port, timeout=timeout)
        if auth and self.password is not None:
            reply = conn.call("AUTH", self.password)
            if reply != "OK":
                raise ServerError("AUTH failed: %r" % (reply,))
        return conn

    def redis(self, **kwargs):
        import redis  # Debian python3-redis; imported here so a missing module is a clear failure
        kwargs.setdefault("decode_responses", True)
        kwargs.setdefault("socket_timeout", 20)
        return redis.Redis(host=HOST, port=self.port, password=self.password, **kwargs)


def _stop_all():
    for s in list(_live_servers):
        try:
            s.stop(check=False)
        except Exception:  # noqa: BLE001 - best effort at exit
            s.kill()


atexit.register(_stop_all)


def _on_signal(signum, _frame):
    _stop_all()
    sys.exit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


# -- a tiny RESP client ------------------------------------------------------

class RespError:
    """An error reply, kept whole (prefix included) for exact comparisons."""

    def __init__(self, message):
        self.message = message

    def __eq__(self, other):
        return isinstance(other, RespError) and other.message == self.message

    def __repr__(self):
        return "RespError(%r)" % self.message


class RespMap(dict):
    """A RESP3 map (a plain dict is never returned, so a test can tell a map
    from a flat RESP2 array)."""


class RespClosed(Exception):
    pass


def encode_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode("utf-8", "surrogateescape")
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawConn:
    def __init__(self, port, timeout=10.0, host=HOST):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def call(self, *args):
        self.send(encode_command(*args))
        return self.read_reply()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise RespClosed("connection closed by the server")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read_reply(self):
        line = self._line()
        t, rest = line[:1], line[1:].decode("utf-8", "surrogateescape")
        if t == b"+":
            return rest
        if t == b"-":
            return RespError(rest)
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "surrogateescape")
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.read_reply() for _ in range(n)]
        if t == b"%" or t == b"|":
            n = int(rest)
            m = RespMap()
            for _ in range(n):
                k = self.read_reply()
                m[k] = self.read_reply()
            return m
        if t == b"_":
            return None
        if t == b"#":
            return rest == "t"
        if t == b",":
            return float(rest)
        if t == b"(":
            return int(rest)
        if t in (b"=", b"!"):
            return self._exact(int(rest)).decode("utf-8", "surrogateescape")
        raise AssertionError("not a RESP reply: %r" % line)

    def read_until_close(self, timeout=10.0):
        """Everything the server sends until it closes the connection.
        Raises AssertionError if it is still open after `timeout`."""
        self.sock.settimeout(timeout)
        data, self.buf = self.buf, b""
        deadline = time.monotonic() + timeout
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            except socket.timeout:
                raise AssertionError("server did not close the connection within %.0f s; got %r"
                                     % (timeout, data[:300]))
            if not chunk:
                return data
            data += chunk
            if time.monotonic() > deadline:
                raise AssertionError("server kept sending for %.0f s" % timeout)


def pairs(reply):
    """A RESP2 flat field/value array (or a RESP3 map) as a dict."""
    if reply is None:
        return None
    if isinstance(reply, dict):
        return dict(reply)
    if not isinstance(reply, (list, tuple)) or len(reply) % 2:
        raise AssertionError("not a field/value array: %r" % (reply,))
    return {reply[i]: reply[i + 1] for i in range(0, len(reply), 2)}


# -- unittest base for the Python tests --------------------------------------

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_704_067_200_000           # 2024-01-01T00:00:00Z, a Monday
FEB1 = T0 + 31 * DAY             # 2024-02-01T00:00:00Z
MAR1 = FEB1 + 29 * DAY           # 2024-03-01T00:00:00Z (2024 is a leap year)


class LimiterdCase(unittest.TestCase):
    server_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.server = Server(**cls.server_kwargs).start()
        cls.addClassCleanup(cls.server.stop)

    def setUp(self):
        self.raw = self.server.raw()
        self.addCleanup(self.raw.close)
        self.r = self.server.redis()
        self.addCleanup(self.r.close)
        if self.server.debug:
            self.assertEqual(self.raw.call("FLUSHALL"), "OK")
            self.clock_set(T0)

    def tearDown(self):
        self.assertTrue(self.server.alive(), "limiterd died:\n" + self.server.log())

    # -- helpers ---------------------------------------------------------
    def cmd(self, *args):
        """One command through redis-py (raises ResponseError on an error)."""
        return self.r.execute_command(*args)

    def call(self, *args):
        """One command on the raw connection: errors come back as RespError
        with their whole text."""
        return self.raw.call(*args)

    def ok(self, *args):
        self.assertEqual(self.call(*args), "OK", args)

    def err(self, *args):
        """The whole error text of a command that must fail."""
        reply = self.call(*args)
        self.assertIsInstance(reply, RespError, "expected an error for %r, got %r" % (args, reply))
        return reply.message

    def assertErr(self, args, prefix="ERR"):
        msg = self.err(*args)
        self.assertTrue(msg.startswith(prefix + " "), "%r: %r does not start with %r" % (args, msg, prefix))
        return msg

    def clock_set(self, ms):
        self.assertEqual(self.call("DEBUG", "CLOCK", "SET", ms), "OK")

    def advance(self, ms):
        self.assertEqual(self.call("DEBUG", "CLOCK", "ADVANCE", ms), "OK")

    def consume(self, key, amount, *flags):
        reply = self.call("CREDITS.CONSUME", key, amount, *flags)
        self.assertIsInstance(reply, list, "CREDITS.CONSUME %s %s %s: %r" % (key, amount, flags, reply))
        self.assertEqual(len(reply), 6, reply)
        return reply

    def usage(self, key):
        return pairs(self.call("USAGE.GET", key))

    def limit(self, key):
        return pairs(self.call("LIMIT.GET", key))

    def scan_all(self, *opts):
        """Every key of a whole LIMIT.SCAN from cursor 0, and the rounds it took."""
        seen, cursor, rounds = [], 0, 0
        while True:
            reply = self.cmd("LIMIT.SCAN", cursor, *opts)
            self.assertEqual(len(reply), 2, reply)
            cursor, keys = int(reply[0]), reply[1]
            self.assertIsInstance(keys, list)
            seen += keys
            rounds += 1
            self.assertLess(rounds, 5000, "LIMIT.SCAN does not end")
            if cursor == 0:
                return seen, rounds

    def consumed(self, key):
        return self.usage(key)["consumed"]


def unittest_main():
    """Entry point of the Python tests: takes --binary, requires redis-py
    (a missing client is a failure, never a skip), runs unittest."""
    take_binary_arg(sys.argv)
    try:
        import redis  # noqa: F401  Debian python3-redis 4.3.4
    except ImportError as e:
        print("FAIL: the redis module is missing (%s); install Debian's python3-redis and run "
              "this test with /usr/bin/python3 (%s was used)" % (e, sys.executable))
        sys.exit(1)
    unittest.main(verbosity=2)


# -- wrapper mode --------------------------------------------------------------

def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", required=True)
    p.add_argument("--password")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-debug", action="store_true")
    p.add_argument("--timeout", type=float, default=100.0, help="bound on COMMAND's run time")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        p.error("no command to run")
    os.environ["LIMITERD_BINARY"] = a.binary
    server = Server(password=a.password, debug=not a.no_debug, threads=a.threads)
    try:
        server.start()
    except ServerError as e:
        print("FAIL: %s" % e, flush=True)
        return 1
    env = dict(os.environ, LIMITERD_HOST=HOST, LIMITERD_PORT=str(server.port),
               LIMITERD_PASSWORD=a.password or "")
    print("harness: limiterd pid %d on %s:%d; running %s" % (server.proc.pid, HOST, server.port, " ".join(cmd)),
          flush=True)
    failures = []
    try:
        rc = subprocess.run(cmd, env=env, timeout=a.timeout).returncode
        if rc != 0:
            failures.append("the test command exited with %d" % rc)
    except subprocess.TimeoutExpired:
        failures.append("the test command ran over %.0f s and was killed" % a.timeout)
    except OSError as e:
        failures.append("could not run the test command: %s" % e)
    if not server.alive():
        failures.append("limiterd died during the test (status %s):\n%s" % (server.proc.returncode, server.log()))
    try:
        server.stop(check=True)
    except ServerError as e:
        failures.append(str(e))
    for f in failures:
        print("FAIL: %s" % f, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
