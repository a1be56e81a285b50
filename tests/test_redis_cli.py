"""redis-cli and raw sockets drive a real trestle server: one-shot commands, inline
commands, `--pipe` mass insertion and RESP3 mode (`-3`)."""

import shutil
import socket
import subprocess
import time

import pytest

from resp import RawConnection, encode_command

pytestmark = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli is not installed")

CLI_SECONDS_MAX = 30


def cli(port, *args, stdin=None):
    completed = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
        input=stdin, capture_output=True, timeout=CLI_SECONDS_MAX)
    return completed


def cli_output(port, *args):
    completed = cli(port, *args)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.decode().rstrip("\n")


def test_ping_set_get(server):
    assert cli_output(server.port, "ping") == "PONG"
    assert cli_output(server.port, "set", "greeting", "hello world") == "OK"
    assert cli_output(server.port, "get", "greeting") == "hello world"
    assert cli_output(server.port, "get", "missing") == ""
    assert cli_output(server.port, "incr", "n") == "1"
    assert cli_output(server.port, "--no-raw", "get", "missing") == "(nil)"
    assert cli_output(server.port, "--no-raw", "incr", "n") == "(integer) 2"


def test_cli_error_text(server):
    output = cli_output(server.port, "--no-raw", "nosuchcommand")
    assert output == "(error) ERR unknown command 'nosuchcommand', with args beginning with: "


def test_cli_resp3(server):
    cli_output(server.port, "hset", "h", "a", "1")
    assert cli_output(server.port, "-3", "--no-raw", "hgetall", "h") == '1# "a" => "1"'
    assert cli_output(server.port, "-3", "--no-raw", "get", "missing") == "(nil)"
    hello = cli_output(server.port, "-3", "--no-raw", "hello", "3")
    assert '"proto" => (integer) 3' in hello
    assert '"server" => "redis"' in hello


def test_inline_commands_over_raw_socket(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(100) == b"+PONG\r\n"
        sock.sendall(b'set a "b c"\r\n')
        assert sock.recv(100) == b"+OK\r\n"
        sock.sendall(b"get a\r\n")
        assert sock.recv(100) == b"$3\r\nb c\r\n"
        sock.sendall(b"set  'single quoted'  \"esc\\x41\\n\"\n")
        assert sock.recv(100) == b"+OK\r\n"
        sock.sendall(b"GET 'single quoted'\r\n")
        assert sock.recv(100) == b"$5\r\nescA\n\r\n"
        sock.sendall(b"\r\n")  # an empty inline line is ignored
        sock.sendall(b"PING\r\n")
        assert sock.recv(100) == b"+PONG\r\n"
        sock.sendall(b'set a "unbalanced\r\n')
        assert sock.recv(200) == b"-ERR Protocol error: unbalanced quotes in request\r\n"


def test_inline_and_resp_mixed_in_one_write(server):
    with RawConnection(server.port) as connection:
        connection.send(b"PING\r\n" + encode_command("SET", "k", "v") + b"GET k\r\n")
        assert connection.read_reply() == ("+", b"PONG")
        assert connection.read_reply() == ("+", b"OK")
        assert connection.read_reply() == ("$", b"v")


@pytest.mark.timeout(60)
def test_pipe_mass_insertion_10k(server):
    count = 10_000
    payload = b"".join(encode_command("SET", f"mass:{i}", f"value:{i}") for i in range(count))
    completed = cli(server.port, "--pipe", stdin=payload)
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout.decode()
    assert f"errors: 0, replies: {count}" in output, output
    assert cli_output(server.port, "dbsize") == str(count)
    assert cli_output(server.port, "get", "mass:9999") == "value:9999"
    assert cli_output(server.port, "get", "mass:0") == "value:0"


@pytest.mark.timeout(90)
@pytest.mark.skipif(shutil.which("redis-benchmark") is None, reason="redis-benchmark is not installed")
def test_redis_benchmark_smoke(server):
    completed = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-t", "set,get,incr,mset", "-n", "5000",
         "-c", "10", "-P", "4", "-q", "--csv"],
        capture_output=True, timeout=80)
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout.decode()
    for test in ("SET", "GET", "INCR", "MSET"):
        assert f'"{test}' in output, output
    assert cli_output(server.port, "get", "counter:__rand_int__") == "5000"


def test_requests_split_at_every_byte(server):
    """The same batch of requests, delivered one byte per write, gets the same replies."""
    batch = (encode_command("SET", "split", "a b\r\nc") + b"PING\r\n" + encode_command("GET", "split")
             + b'ECHO "quoted arg"\r\n' + encode_command("HSET", "hs", "f", "") + encode_command("HGETALL", "hs"))
    expected = [("+", b"OK"), ("+", b"PONG"), ("$", b"a b\r\nc"), ("$", b"quoted arg"), (":", 1),
                ("*", [("$", b"f"), ("$", b"")])]
    with RawConnection(server.port) as whole:
        whole.send(batch)
        assert [whole.read_reply() for _ in expected] == expected
    with RawConnection(server.port) as trickle:
        trickle.call("FLUSHALL")
        trickle.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for offset in range(len(batch)):
            trickle.send(batch[offset:offset + 1])
            if offset % 16 == 0:
                time.sleep(0.001)
        assert [trickle.read_reply() for _ in expected[:3]] == [("+", b"OK"), ("+", b"PONG"), ("$", b"a b\r\nc")]
        assert [trickle.read_reply() for _ in expected[3:]] == expected[3:]
