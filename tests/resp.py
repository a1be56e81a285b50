"""A minimal raw RESP2/RESP3 client for tests that must see the exact wire reply.

`RawConnection.call(*args)` sends one command as a RESP array and returns the reply as a
tagged tree, so a simple string and a bulk string stay distinguishable:

    ('+', b'OK')  ('-', b'ERR ...')  (':', 5)  ('$', b'v')  ('$', None)  ('*', [...])
    ('*', None)  ('_', None)  ('#', True)  (',', b'1.5')  ('(', b'123')  ('=', b'txt:...')
    ('%', [(key, value), ...])  ('~', [...])  ('|', [...])  ('>', [...])

Every read is bounded by the socket timeout and by `REPLY_BYTES_MAX`.
"""

import select
import socket
import time

REPLY_BYTES_MAX = 64 * 1024 * 1024


class ConnectionClosed(Exception):
    pass


def parse_reply(read_line, read_exact, error=AssertionError):
    """One RESP2/RESP3 value as (type byte, payload): aggregates as lists, maps as lists of
    pairs, null as None. `read_line` returns the next line without CRLF, `read_exact(n)`
    the next n bytes and consumes their CRLF; malformed input raises `error`."""
    line = read_line()
    if not line:
        raise error("empty reply line")
    kind, rest = chr(line[0]), line[1:]
    if kind in "+-(,":
        return (kind, rest)
    if kind == ":":
        return (kind, int(rest))
    if kind == "_":
        return (kind, None)
    if kind == "#":
        return (kind, rest == b"t")
    if kind in "$=!":
        length = int(rest)
        return (kind, None) if length < 0 else (kind, read_exact(length))
    if kind in "*~>|":
        count = int(rest)
        return (kind, None) if count < 0 else (kind, [parse_reply(read_line, read_exact, error) for _ in range(count)])
    if kind == "%":
        count = int(rest)
        return (kind, [(parse_reply(read_line, read_exact, error), parse_reply(read_line, read_exact, error))
                       for _ in range(count)])
    raise error(f"unknown RESP type byte in {line[:80]!r}")


def read_until_quiet(sock, quiet_seconds):
    """Everything the server sends until it is silent for `quiet_seconds` or closes the
    connection; returns (bytes, whether it closed)."""
    received = b""
    sock.settimeout(quiet_seconds)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return received, True
            received += data
    except (socket.timeout, TimeoutError):
        return received, False
    except ConnectionResetError:
        return received, True


def encode_command(*args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class RawConnection:
    def __init__(self, port, timeout=10.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

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
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        self.buffer += chunk
        if len(self.buffer) > REPLY_BYTES_MAX:
            raise AssertionError("reply larger than REPLY_BYTES_MAX")

    def _line(self):
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exact(self, count):
        while len(self.buffer) < count + 2:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count + 2:]
        return data

    def read_reply(self):
        return parse_reply(self._line, self._exact)

    def read_available(self, wait=0.5):
        """Everything the server sends within `wait` seconds, or until it closes."""
        self.sock.settimeout(wait)
        data = self.buffer
        self.buffer = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, TimeoutError, ConnectionResetError):
            pass
        return data

    def is_closed_by_peer(self, wait=3.0):
        """True if the server closes the connection within `wait` seconds (EOF or reset)."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True


def canonical(reply):
    """The reply with every array, set and map sorted, for commands whose order is free."""
    kind, value = reply
    if kind in "*~" and value is not None:
        return (kind, sorted((canonical(item) for item in value), key=repr))
    if kind == "%":
        return (kind, sorted(((canonical(k), canonical(v)) for k, v in value), key=repr))
    return reply


def read_all_available(connections, wait):
    """What each connection receives within one window of `wait` seconds, waiting on all of
    them at once (a connection that closes, or is None, gives what it had)."""
    received = [b"" if connection is None else connection.buffer for connection in connections]
    open_sockets = {}
    for number, connection in enumerate(connections):
        if connection is not None:
            connection.buffer = b""
            open_sockets[connection.sock] = number
    deadline = time.monotonic() + wait
    while open_sockets and (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select(list(open_sockets), [], [], left)
        for sock in readable:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, BlockingIOError, socket.timeout):
                chunk = b""
            if chunk:
                received[open_sockets[sock]] += chunk
            else:
                del open_sockets[sock]
    return received
