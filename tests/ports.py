"""Loopback ports for test servers that must be told a number before they start.

A port the kernel hands out for `bind(("127.0.0.1", 0))` comes from the ephemeral range
(/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default), the same range outgoing
connections draw their local ports from. Between the test releasing such a port and the
server binding it, any client or peer connection on the machine may take it as its local
port, and the server dies with "Address already in use" (seen in CI: a node's client port,
which opens only once the node leads its shards, was taken by a peer connection's
local end). So test ports come from below the ephemeral range, are never handed out twice
by one test process, and are checked to be bindable when handed out.
"""

import random
import socket

PORT_RANGE_START = 20000
PORT_RANGE_END = 32000  # exclusive; below the default ephemeral range
PORT_TRIES_MAX = 1000

_handed_out = set()


def port_is_free(port):
    """True when nothing listens on (or holds) 127.0.0.1:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def loopback_port():
    """A loopback port outside the ephemeral range that this process has not handed out yet."""
    for _ in range(PORT_TRIES_MAX):
        port = random.randrange(PORT_RANGE_START, PORT_RANGE_END)
        if port in _handed_out or not port_is_free(port):
            continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {PORT_RANGE_START}-{PORT_RANGE_END - 1}")
