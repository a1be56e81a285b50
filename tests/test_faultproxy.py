"""Unit tests of tests/faultproxy.py against a plain echo server over loopback sockets.

No trestle binary is needed. Each test owns its echo server and proxy and stops both.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from faultproxy import FaultProxy, FaultProxyError

SOCKET_SECONDS = 5.0
QUIET_SECONDS = 0.4  # how long "nothing arrives" is watched for


class EchoServer:
    """Echoes every byte back; counts what it received (to tell "up" from "down" losses)."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = 0
        self.accepted = 0
        self.lock = threading.Lock()
        self.connections = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.connections.append(conn)
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    def _echo(self, conn):
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    conn.shutdown(socket.SHUT_WR)
                    return
                with self.lock:
                    self.received += len(data)
                conn.sendall(data)
        except OSError:
            pass

    def stop(self):
        self.running = False
        self.listener.close()
        with self.lock:
            for conn in self.connections:
                conn.close()


@pytest.fixture
def echo():
    server = EchoServer()
    yield server
    server.stop()


@pytest.fixture
def proxy(echo):
    with FaultProxy(("127.0.0.1", echo.port)) as running:
        yield running


def connect(proxy):
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=SOCKET_SECONDS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def receive_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {count} bytes")
        data += chunk
    return data


def round_trip_seconds(sock, payload=b"ping"):
    started = time.monotonic()
    sock.sendall(payload)
    assert receive_exactly(sock, len(payload)) == payload
    return time.monotonic() - started


def assert_silent(sock):
    """Nothing arrives within QUIET_SECONDS (the connection stays open)."""
    sock.settimeout(QUIET_SECONDS)
    with pytest.raises(socket.timeout):
        data = sock.recv(100)
        raise AssertionError(f"expected silence, got {data!r}")
    sock.settimeout(SOCKET_SECONDS)


def assert_reset(sock):
    """The connection is gone: reset or EOF on the next read (after any bytes in flight)."""
    sock.settimeout(SOCKET_SECONDS)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass


def wait_for(predicate, seconds=SOCKET_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_pass_through_forwards_both_ways_intact(proxy):
    payload = os.urandom(1_000_000)
    with connect(proxy) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        echoed = receive_exactly(sock, len(payload))
        sender.join(SOCKET_SECONDS)
    assert echoed == payload
    stats = proxy.stats()
    assert stats["accepted"] == 1
    assert stats["up_bytes"] == len(payload) and stats["down_bytes"] == len(payload)
    assert stats["up_dropped"] == 0 and stats["down_dropped"] == 0


def test_client_close_closes_target_side(proxy, echo):
    with connect(proxy) as sock:
        round_trip_seconds(sock)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(10) == b""  # echo server saw EOF and closed its side, through us
    assert wait_for(lambda: proxy.stats()["open"] == 0)


@pytest.mark.parametrize("direction", ["up", "down", "both"])
def test_delay_applies_per_direction_and_is_lifted(proxy, direction):
    with connect(proxy) as sock:
        assert round_trip_seconds(sock) < 0.15
        proxy.delay(250, direction)
        expected = 0.5 if direction == "both" else 0.25
        elapsed = round_trip_seconds(sock)
        assert expected - 0.02 <= elapsed < expected + 1.0, elapsed
        proxy.pass_through()
        assert round_trip_seconds(sock) < 0.15


def test_delay_keeps_order_when_lowered(proxy):
    with connect(proxy) as sock:
        proxy.delay(300, "up")
        sock.sendall(b"first-")
        time.sleep(0.05)
        proxy.delay(0, "up")
        sock.sendall(b"second")
        assert receive_exactly(sock, 12) == b"first-second"


def test_delay_rejects_bad_arguments(proxy):
    with pytest.raises(FaultProxyError):
        proxy.delay(-1)
    with pytest.raises(FaultProxyError):
        proxy.delay(10, "sideways")


def test_blackhole_up_discards_then_resets_on_lift(proxy, echo):
    with connect(proxy) as sock:
        round_trip_seconds(sock)
        proxy.blackhole("up")
        sock.sendall(b"lost")
        assert_silent(sock)
        assert echo.received == 4  # only the first ping reached the target
        assert proxy.stats()["up_dropped"] == 4
        proxy.pass_through()
        assert_reset(sock)
    with connect(proxy) as fresh:
        assert round_trip_seconds(fresh) < 1.0


def test_blackhole_down_reaches_target_but_not_client(proxy, echo):
    with connect(proxy) as sock:
        round_trip_seconds(sock)
        proxy.blackhole("down")
        sock.sendall(b"one-way")
        assert_silent(sock)
        assert wait_for(lambda: echo.received == 4 + 7)
        assert proxy.stats()["down_dropped"] == 7
        proxy.heal()
        assert_reset(sock)


def test_lifting_a_blackhole_keeps_connections_that_lost_nothing(proxy):
    with connect(proxy) as sock:
        round_trip_seconds(sock)
        proxy.blackhole("both")
        proxy.heal()  # nothing was discarded: the stream is intact, so it stays open
        assert round_trip_seconds(sock) < 1.0
        assert proxy.stats()["resets"] == 0


def test_cut_resets_open_connections_and_new_ones_until_heal(proxy, echo):
    with connect(proxy) as sock:
        round_trip_seconds(sock)
        proxy.cut()
        assert_reset(sock)
    accepted_before = echo.accepted
    try:  # the kernel completes the handshake; the proxy resets at once (maybe before connect returns)
        with connect(proxy) as refused:
            assert_reset(refused)
    except ConnectionResetError:
        pass
    assert proxy.stats()["refused"] >= 1
    assert echo.accepted == accepted_before  # never reached the target
    proxy.heal()
    with connect(proxy) as healed:
        assert round_trip_seconds(healed) < 1.0


def test_unreachable_target_resets_the_client():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]  # bound, never listening: connect is refused
        with FaultProxy(("127.0.0.1", dead_port)) as proxy:
            try:  # the reset may come before connect() returns
                with connect(proxy) as sock:
                    assert_reset(sock)
            except ConnectionResetError:
                pass
            assert wait_for(lambda: proxy.stats()["target_unreachable"] == 1)


def test_only_loopback_is_allowed():
    with pytest.raises(FaultProxyError):
        FaultProxy(("10.0.0.1", 80))
    with pytest.raises(FaultProxyError):
        FaultProxy(("127.0.0.1", 80), listen=("0.0.0.0", 0))


def test_stop_closes_everything(echo):
    proxy = FaultProxy(("127.0.0.1", echo.port)).start()
    sock = connect(proxy)
    round_trip_seconds(sock)
    proxy.stop()
    assert_reset(sock)
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
    with pytest.raises(FaultProxyError):
        proxy.delay(10)


def test_command_line_controls_a_running_proxy(echo):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        listen_port = probe.getsockname()[1]
    script = Path(__file__).with_name("faultproxy.py")
    process = subprocess.Popen(
        [sys.executable, str(script), "--listen", f"127.0.0.1:{listen_port}", "--target", f"127.0.0.1:{echo.port}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert "proxy listening" in process.stdout.readline()
        process.stdout.readline()  # the command summary
        sock = socket.create_connection(("127.0.0.1", listen_port), timeout=SOCKET_SECONDS)
        assert round_trip_seconds(sock) < 0.5
        process.stdin.write("delay 300 down\n")
        process.stdin.flush()
        assert "delay down 300ms" in process.stdout.readline()
        assert round_trip_seconds(sock) >= 0.28
        process.stdin.write("cut\n")
        process.stdin.flush()
        assert "cut" in process.stdout.readline()
        assert_reset(sock)
        sock.close()
        process.stdin.write("quit\n")
        process.stdin.flush()
        assert process.wait(timeout=SOCKET_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdin.close()
        process.stdout.close()


def test_command_line_in_the_background_serves_until_sigterm(echo):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        listen_port = probe.getsockname()[1]
    script = Path(__file__).with_name("faultproxy.py")
    with subprocess.Popen([sys.executable, str(script), "--listen", f"127.0.0.1:{listen_port}", "--target",
                           f"127.0.0.1:{echo.port}"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          text=True) as process:
        try:
            assert "proxy listening" in process.stdout.readline()
            with socket.create_connection(("127.0.0.1", listen_port), timeout=SOCKET_SECONDS) as sock:
                assert round_trip_seconds(sock) < 0.5  # stdin is closed, yet it keeps serving
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=SOCKET_SECONDS) == 0
        finally:
            if process.poll() is None:
                process.kill()
