"""`trestle local --nodes 3`: the embedded default starts three node processes on
consecutive ports, prints each node's pid, serves a cluster-aware client, and stops every
node on SIGTERM."""

import os
import random
import re
import signal
import subprocess
import time

import pytest
import redis

from cluster_harness import parse_info
from ports import port_is_free

pytestmark = pytest.mark.cluster

NODES = 3
START_SECONDS_MAX = 60.0
STOP_SECONDS_MAX = 20.0
PORT_TRIES_MAX = 50


def free_port_block():
    """A client port P such that P..P+n-1 and their peer ports (+10000) are free now."""
    for _ in range(PORT_TRIES_MAX):
        # Client ports 20000-21999, peer ports 30000-31999: below the ephemeral range (ports.py).
        base = random.randrange(20000, 22000 - NODES)
        ports = [base + i for i in range(NODES)] + [base + 10000 + i for i in range(NODES)]
        if all(port_is_free(port) for port in ports):
            return base
    pytest.skip("no free block of ports for trestle local")


def pids_in(text):
    return [int(pid) for pid in re.findall(r"node \d+: pid (\d+)", text)]


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.timeout(120)
def test_trestle_local_starts_serves_and_stops_three_nodes(cluster_binary, tmp_path):
    port = free_port_block()
    out_path = tmp_path / "local.out"
    with open(out_path, "wb") as out:
        local = subprocess.Popen([cluster_binary, "local", "--nodes", str(NODES), "--port", str(port),
                                  "--dir", str(tmp_path / "data")], stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
    node_pids = []
    try:
        deadline = time.monotonic() + START_SECONDS_MAX
        state = None
        while time.monotonic() < deadline and local.poll() is None:
            node_pids = pids_in(out_path.read_text(errors="replace"))
            try:
                info = parse_info(redis.Redis(port=port, socket_timeout=2, decode_responses=True)
                                  .execute_command("CLUSTER", "INFO"))
                state = info.get("cluster_state")
                if state == "ok" and len(node_pids) == NODES:
                    break
            except redis.RedisError:
                pass
            time.sleep(0.2)
        output = out_path.read_text(errors="replace")
        assert state == "ok", f"no cluster_state:ok within {START_SECONDS_MAX} s:\n{output}"
        assert len(node_pids) == NODES, output
        assert "redis-cli" in output  # it says how to connect

        from redis.cluster import RedisCluster
        client = RedisCluster(host="127.0.0.1", port=port, decode_responses=True, protocol=2, socket_timeout=5)
        values = {f"local:{n}": str(n) for n in range(100)}
        for key, value in values.items():
            client.set(key, value)
        assert [client.get(key) for key in values] == list(values.values())
        client.close()

        local.send_signal(signal.SIGTERM)
        assert local.wait(timeout=STOP_SECONDS_MAX) is not None
        deadline = time.monotonic() + STOP_SECONDS_MAX
        while time.monotonic() < deadline and any(alive(pid) for pid in node_pids):
            time.sleep(0.1)
        assert not [pid for pid in node_pids if alive(pid)], "nodes still running after trestle local stopped"
        assert (tmp_path / "data" / "node-1.log").exists()
    finally:
        if local.poll() is None:
            local.kill()
            local.wait()
        for pid in node_pids:  # only pids trestle local reported as its own nodes
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
