#!/usr/bin/env python3
"""Dry-run stand-in for `trestle node`, backed by a real redis-server in cluster mode, so
the cluster tests' own code (slot tables, RedisCluster workloads, redis-cli -c,
redis-benchmark --cluster, kill/restart) can be exercised before Trestle's cluster exists:

    TRESTLE_BIN=tests/cluster_redis_adapter.py tests/run.sh -k cluster

It is not part of the suite and not a faithful model: Redis Cluster here has one master
per node and no replicas, no `--proxy`, no `trestle cluster` administration, and its bus
ignores `--peer-route` (Redis nodes dial each other both ways). Expected results with it:
the protocol/redis-cli/redis-benchmark test passes; failover, partition, membership and
proxy-mode tests fail (no failover without replicas; a "partitioned" node still accepts
writes; no add-node; no proxy mode), which also shows that those tests can fail.

`node ...` execs redis-server (so the harness's pid is redis-server's). The node with the
lowest id in the bootstrap SPEC, started on an empty directory, first spawns a detached
helper (`create SPEC`) that waits for every node and runs `redis-cli --cluster create`.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time

createWaitSecondsMax = 30.0


def parse_spec(spec):
    return [(int(i), address.split(":")) for i, _, address in (item.partition("@") for item in spec.split(","))]


def create(spec):
    members = parse_spec(spec)
    deadline = time.monotonic() + createWaitSecondsMax
    for _, (host, port, _) in members:
        while True:
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    return 1
                time.sleep(0.1)
    addresses = [f"{host}:{port}" for _, (host, port, _) in members]
    return subprocess.call([shutil.which("redis-cli"), "--cluster", "create", *addresses, "--cluster-yes"])


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "create":
        return create(sys.argv[2])
    if len(sys.argv) < 2 or sys.argv[1] != "node":
        print("redis adapter: only `node` is implemented", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="cluster_redis_adapter.py node")
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
    options = parser.parse_args(sys.argv[2:])
    if options.proxy:
        print("redis adapter: --proxy is not supported", file=sys.stderr)
        return 2
    os.makedirs(options.dir, exist_ok=True)
    config = os.path.join(options.dir, "nodes.conf")
    if options.bootstrap and not os.path.exists(config):
        lowest = min(i for i, _ in parse_spec(options.bootstrap))
        if options.id == lowest:
            with open(os.path.join(options.dir, "create.log"), "wb") as log:
                subprocess.Popen([sys.executable, __file__, "create", options.bootstrap], stdout=log, stderr=log,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    server = shutil.which("redis-server")
    peer_port = options.peer_port or options.port + 10000
    os.execv(server, [server, "--port", str(options.port), "--bind", options.host, "--cluster-enabled", "yes",
                      "--cluster-config-file", config, "--cluster-port", str(peer_port), "--dir", options.dir,
                      "--appendonly", "yes", "--appendfsync", "always" if options.fsync == "always" else "no",
                      "--save", "", "--cluster-node-timeout", "2000", "--protected-mode", "no"])


if __name__ == "__main__":
    sys.exit(main())
