"""Black-box test harness: starts real `trestle server` processes (and, for differential
tests, a real `redis-server`) on loopback, each on a free port with its own temporary data
directory, and stops exactly the processes it started.

Invariants:
- Every server listens on 127.0.0.1 only; ports come from `--port 0` (trestle prints the
  bound port in its banner) or from a port the kernel just handed out (redis-server).
- Every process started here is stopped at fixture teardown: SIGTERM, a bounded wait, then
  SIGKILL. Nothing is killed by name.
- Every test runs under a wall-clock alarm (`TRESTLE_TEST_TIMEOUT` seconds, default 60,
  or `@pytest.mark.timeout(N)`), so a hung server cannot hang the suite.
"""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from ports import loopback_port

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_MARKER = "Ready to accept connections"
STARTUP_SECONDS_MAX = 30.0
STOP_SECONDS_MAX = 10.0
TEST_SECONDS_DEFAULT = int(os.environ.get("TRESTLE_TEST_TIMEOUT", "60"))

pytest_plugins = ["cluster_fixtures"]  # cluster harness fixtures (tests/test_cluster_*.py)


def trestle_binary():
    """The binary under test: $TRESTLE_BIN, else the release build, else the debug build."""
    explicit = os.environ.get("TRESTLE_BIN")
    if explicit:
        return str(Path(explicit).resolve())
    for candidate in (REPO_ROOT / ".build/release/trestle", REPO_ROOT / ".build/debug/trestle"):
        if candidate.exists():
            return str(candidate)
    pytest.exit("no trestle binary: run `swift build` or set TRESTLE_BIN", returncode=2)


class ServerFailedToStart(Exception):
    """The server exited, or never printed its Ready line; carries its output."""

    def __init__(self, message, returncode, stdout, stderr):
        super().__init__(f"{message} (exit {returncode})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class TrestleServer:
    """One `trestle server` process over a data directory that outlives it.

    stdout and stderr go to files in a scratch directory next to (not inside) the data
    directory, so the banner and the log lines can be read at any time without pipes
    filling up. Unpacks as `(port, dir, process)`.
    """

    def __init__(self, data_dir, extra_args=(), scratch_dir=None, wrapper=()):
        self.dir = str(data_dir)
        self.extra_args = list(extra_args)
        # A command the server runs under (e.g. strace); the server's own pid then comes
        # from its banner, and signals go to that pid.
        self.wrapper = list(wrapper)
        self.server_pid = None
        self.scratch_dir = scratch_dir or tempfile.mkdtemp(prefix="trestle-out-")
        self.process = None
        self.port = None
        self.runs = 0
        self.stdout_path = None
        self.stderr_path = None

    def __iter__(self):
        return iter((self.port, self.dir, self.process))

    @property
    def pid(self):
        return self.server_pid or self.process.pid

    def start(self, extra_args=None, expect_failure=False):
        """Starts the server and waits for the Ready line; returns self.

        With expect_failure, waits for the process to exit instead and raises
        ServerFailedToStart if it became ready.
        """
        assert self.process is None or self.process.poll() is not None, "server already running"
        if extra_args is not None:
            self.extra_args = list(extra_args)
        self.runs += 1
        self.stdout_path = os.path.join(self.scratch_dir, f"run{self.runs}.stdout")
        self.stderr_path = os.path.join(self.scratch_dir, f"run{self.runs}.stderr")
        self.server_pid = None
        command = [*self.wrapper, trestle_binary(), "server", "--port", "0", "--dir", self.dir, *self.extra_args]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_SECONDS_MAX
        while time.monotonic() < deadline:
            stdout = self.stdout()
            if READY_MARKER in stdout:
                self.port = self._port_from_banner(stdout)
                self.server_pid = self._pid_from_banner(stdout)
                if expect_failure:
                    raise ServerFailedToStart("server started but was expected to refuse", None, stdout, self.stderr())
                return self
            if self.process.poll() is not None:
                failure = ServerFailedToStart("server exited before Ready", self.process.returncode, stdout, self.stderr())
                if expect_failure:
                    return failure
                raise failure
            time.sleep(0.02)
        self.kill()
        raise ServerFailedToStart("server not ready in time", None, self.stdout(), self.stderr())

    @staticmethod
    def _port_from_banner(stdout):
        for line in stdout.splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "listening":
                return int(words[1].rsplit(":", 1)[1])
        raise AssertionError(f"no 'listening HOST:PORT' line in banner:\n{stdout}")

    @staticmethod
    def _pid_from_banner(stdout):
        for line in stdout.splitlines():
            if line.startswith("Trestle ") and ", pid " in line:
                return int(line.rsplit(", pid ", 1)[1].split()[0])
        return None

    def stdout(self):
        return Path(self.stdout_path).read_text(errors="replace") if self.stdout_path else ""

    def stderr(self):
        return Path(self.stderr_path).read_text(errors="replace") if self.stderr_path else ""

    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        """SIGTERM, wait, then SIGKILL. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS_MAX)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS_MAX)
        return self.process.returncode

    def _signal(self, number):
        """Signals the server itself (under a wrapper, the pid from the banner)."""
        targets = [self.server_pid] if self.server_pid else []
        if self.wrapper and not targets:
            targets = child_pids(self.process.pid)  # died or hung before its banner
        if not targets or self.server_pid == self.process.pid:
            self.process.send_signal(number)
            return
        for pid in targets:
            try:
                os.kill(pid, number)
            except ProcessLookupError:
                pass

    def kill(self):
        """SIGKILL, as a crash: nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=STOP_SECONDS_MAX)

    def restart(self, extra_args=None):
        """Graceful stop, then start again on the same directory (new port)."""
        self.stop()
        return self.start(extra_args)

    def crash_restart(self, extra_args=None):
        """SIGKILL, then start again on the same directory (new port)."""
        self.kill()
        return self.start(extra_args)

    def client(self, **kwargs):
        kwargs.setdefault("socket_timeout", 10)
        kwargs.setdefault("protocol", 2)  # redis-py 8 defaults to RESP3; be explicit
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def rss_kilobytes(self):
        return rss_kilobytes(self.pid)


def child_pids(pid):
    """Direct children of a process we started, from /proc."""
    children = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            children += [int(word) for word in Path(task).read_text().split()]
        except OSError:
            pass
    return children


def rss_kilobytes(pid):
    """VmRSS of a process, in kB, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


@pytest.fixture
def server_factory(tmp_path):
    """Starts trestle servers with chosen flags; stops every one of them at teardown.

    `server_factory(*args, data_dir=None, start=True, wrapper=())` returns a TrestleServer.
    """
    started = []
    counter = [0]

    def make(*extra_args, data_dir=None, start=True, wrapper=()):
        counter[0] += 1
        if data_dir is None:
            data_dir = tmp_path / f"data{counter[0]}"
        scratch = tmp_path / f"out{counter[0]}"
        scratch.mkdir()
        server = TrestleServer(data_dir, extra_args, scratch_dir=str(scratch), wrapper=wrapper)
        started.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(server_factory):
    """A fresh trestle server with default flags; unpacks as (port, dir, process)."""
    return server_factory()


@pytest.fixture
def r(server):
    """A RESP2 redis-py client of `server`, decoding replies to str."""
    client = server.client(decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def r3(server):
    """A RESP3 redis-py client of `server`, decoding replies to str."""
    client = server.client(decode_responses=True, protocol=3)
    yield client
    client.close()


# ---------------------------------------------------------------------------------------
# Reference redis-server for differential tests
# ---------------------------------------------------------------------------------------


class RedisReference:
    """A real redis-server with persistence off, on a free loopback port."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="redis-ref-")
        self.process = None
        self.port = None

    def start(self):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        for _ in range(5):
            self.port = loopback_port()
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self.dir, "--protected-mode", "no", "--enable-debug-command", "local"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping():
                        return self
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS_MAX)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, **kwargs):
        kwargs.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)


@pytest.fixture(scope="session")
def redis_reference():
    reference = RedisReference().start()
    yield reference
    reference.stop()


@pytest.fixture(params=["redis", "trestle"])
def target(request):
    """Each test body runs twice: against the session's redis-server (flushed first) and
    against a fresh Trestle server. Both have `.port` and `.client()`. (test_busy_scripts.py
    has a `target` of its own.)"""
    if request.param == "redis":
        reference = request.getfixturevalue("redis_reference")
        reference.client().flushall()
        yield reference
    else:
        yield request.getfixturevalue("server")


# ---------------------------------------------------------------------------------------
# Per-test wall-clock limit (no plugin needed)
# ---------------------------------------------------------------------------------------


class WallClockLimitExceeded(Exception):
    pass


@pytest.fixture(autouse=True)
def _wall_clock_limit(request):
    marker = request.node.get_closest_marker("timeout")
    seconds = int(marker.args[0]) if marker else TEST_SECONDS_DEFAULT

    def expired(signum, frame):
        raise WallClockLimitExceeded(f"test exceeded {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
