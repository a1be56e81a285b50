#!/usr/bin/env python3
"""A stand-in for `trestle node`, used only to test the cluster harness and the fault
proxies before the real cluster exists. It is not a database.

It takes the real node's command line, binds the client and peer ports, prints
`Ready to accept connections`, and keeps a heartbeat link to every other member: the lower
id dials the higher id (through `--peer-route` when given) and sends `PING <id>` lines
every `heartbeatSeconds`; the other side answers `PONG <id>`. CLUSTER INFO reports
`cluster_state:ok` only while every other member was heard from within `peerSilenceSecondsMax`,
so a cut or blackholed proxy turns the state to `fail` and healing turns it back.
Membership: the bootstrap SPEC (remembered in DIR/members, so a restart ignores it), or
just itself when started without one.
Client commands: PING, CLUSTER INFO|MYID|SLOTS, TRESTLE PEERS; anything else is an error.
"""

import argparse
import os
import signal
import socket
import sys
import threading
import time

heartbeatSeconds = 0.1
peerSilenceSecondsMax = 1.0
lineBytesMax = 4096
argumentsMax = 64


def parse_spec(spec):
    members = {}
    for item in spec.split(","):
        node_id, _, address = item.partition("@")
        host, port, peer_port = address.split(":")
        members[int(node_id)] = (host, int(port), int(peer_port))
    return members


class FakeNode:
    def __init__(self, options):
        self.id = options.id
        self.options = options
        self.routes = {}
        for route in options.peer_route:
            node_id, _, address = route.partition("=")
            host, _, port = address.rpartition(":")
            self.routes[int(node_id)] = (host, int(port))
        os.makedirs(options.dir, exist_ok=True)
        members_path = os.path.join(options.dir, "members")
        if os.path.exists(members_path):
            with open(members_path) as members_file:
                self.members = parse_spec(members_file.read().strip())
        elif options.bootstrap:
            self.members = parse_spec(options.bootstrap)
            with open(members_path, "w") as members_file:
                members_file.write(options.bootstrap)
        else:
            self.members = {self.id: (options.host, options.port, options.peer_port)}
        self.heard = {}
        self.lock = threading.Lock()

    def peers_up(self):
        now = time.monotonic()
        with self.lock:
            return sorted(i for i, at in self.heard.items() if now - at <= peerSilenceSecondsMax and i != self.id)

    def state_ok(self):
        others = sorted(i for i in self.members if i != self.id)
        return len(self.members) > 1 and self.peers_up() == others

    def run(self):
        client_listener = socket.create_server((self.options.host, self.options.port), reuse_port=False)
        peer_listener = socket.create_server((self.options.host, self.options.peer_port))
        for listener, handler in ((client_listener, self.serve_client), (peer_listener, self.serve_peer)):
            threading.Thread(target=self.accept_loop, args=(listener, handler), daemon=True).start()
        for other in self.members:
            if other > self.id:
                threading.Thread(target=self.dial_loop, args=(other,), daemon=True).start()
        print(f"Trestle fake node {self.id}, pid {os.getpid()}", flush=True)
        print(READY, flush=True)
        while True:  # short sleeps: a signal caught by another thread is handled here soon
            time.sleep(0.1)

    @staticmethod
    def accept_loop(listener, handler):
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    def dial_loop(self, other):
        member = self.members[other]
        address = self.routes.get(other, (member[0], member[2]))
        while True:
            try:
                with socket.create_connection(address, timeout=peerSilenceSecondsMax) as conn:
                    reader = conn.makefile("rb")
                    while True:
                        conn.sendall(f"PING {self.id}\n".encode())
                        line = reader.readline(lineBytesMax)
                        if not line:
                            break
                        self.note(line)
                        time.sleep(heartbeatSeconds)
            except OSError:
                pass
            time.sleep(heartbeatSeconds * 2)

    def note(self, line):
        words = line.split()
        if len(words) == 2 and words[1].isdigit():
            with self.lock:
                self.heard[int(words[1])] = time.monotonic()

    def serve_peer(self, conn):
        try:
            reader = conn.makefile("rb")
            while True:
                line = reader.readline(lineBytesMax)
                if not line:
                    return
                self.note(line)
                conn.sendall(f"PONG {self.id}\n".encode())
        except OSError:
            pass
        finally:
            conn.close()

    def serve_client(self, conn):
        try:
            reader = conn.makefile("rb")
            while True:
                command = read_command(reader)
                if command is None:
                    return
                conn.sendall(self.reply(command))
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def reply(self, command):
        words = [word.upper() for word in command[:2]]
        if words[:1] == ["PING"]:
            return b"+PONG\r\n"
        if words == ["CLUSTER", "INFO"]:
            text = (f"cluster_state:{'ok' if self.state_ok() else 'fail'}\r\n"
                    f"cluster_known_nodes:{len(self.members)}\r\n"
                    f"trestle_moves_pending:0\r\n"
                    f"trestle_fake_peers_up:{len(self.peers_up())}\r\n")
            return bulk(text)
        if words == ["CLUSTER", "MYID"]:
            return bulk(str(self.id))
        if words == ["CLUSTER", "SLOTS"]:  # one range, every member, the lowest id as "leader"
            nodes = [b"*3\r\n" + bulk(host) + b":%d\r\n" % port + bulk(str(i))
                     for i, (host, port, _) in sorted(self.members.items())]
            return b"*1\r\n*%d\r\n:0\r\n:16383\r\n" % (2 + len(nodes)) + b"".join(nodes)
        if words == ["TRESTLE", "PEERS"]:
            return bulk(" ".join(map(str, self.peers_up())))
        return b"-ERR fake node: unknown command\r\n"


READY = "Ready to accept connections"


def bulk(text):
    data = text.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def read_command(reader):
    """One RESP array of bulk strings; None at end of stream; ValueError on garbage."""
    line = reader.readline(lineBytesMax)
    if not line:
        return None
    if not line.startswith(b"*"):
        return line.decode(errors="replace").split()  # inline command
    count = int(line[1:])
    if not 0 < count <= argumentsMax:
        raise ValueError("bad argument count")
    words = []
    for _ in range(count):
        header = reader.readline(lineBytesMax)
        if not header.startswith(b"$"):
            raise ValueError("expected a bulk string")
        size = int(header[1:])
        if not 0 <= size <= lineBytesMax:
            raise ValueError("bulk string too long")
        words.append(reader.read(size + 2)[:-2].decode(errors="replace"))
    return words


def main():
    if len(sys.argv) < 2 or sys.argv[1] != "node":
        print("fake trestle: only `node` is implemented", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="cluster_fake_node.py node")
    parser.add_argument("--id", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--peer-port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--bootstrap")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--proxy", action="store_true")
    parser.add_argument("--peer-route", action="append", default=[])
    parser.add_argument("--fsync", choices=("always", "no"), default="always")
    parser.add_argument("--cluster-secret-file")  # accepted; the fake has no peer links to protect
    parser.add_argument("--requirepass")
    options = parser.parse_args(sys.argv[2:])
    if options.peer_port is None:
        options.peer_port = options.port + 10000
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(f"fake node {options.id} starting: {' '.join(sys.argv[1:])}", file=sys.stderr, flush=True)
    FakeNode(options).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
