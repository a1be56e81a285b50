"""`trestle local --nodes 3`: the embedded default starts three node processes on
consecutive ports, prints each node's pid, serves a cluster-aware client, and stops every
node on SIGTERM. A node that dies is reported; the others keep serving, and it is started
again (`--restart always`, the default) or left down (`--restart never`)."""

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


def start_local(cluster_binary, tmp_path, *extra):
    """Starts `trestle local` and waits for cluster_state:ok; returns (process, port, output path)."""
    port = free_port_block()
    out_path = tmp_path / "local.out"
    with open(out_path, "wb") as out:
        local = subprocess.Popen([cluster_binary, "local", "--nodes", str(NODES), "--port", str(port),
                                  "--dir", str(tmp_path / "data"), *extra], stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_SECONDS_MAX
    while time.monotonic() < deadline and local.poll() is None:
        if len(pids_in(out_path.read_text(errors="replace"))) == NODES and cluster_state(port) == "ok":
            return local, port, out_path
        time.sleep(0.2)
    output = out_path.read_text(errors="replace")
    stop_local(local, pids_in(output))
    pytest.fail(f"trestle local did not reach cluster_state:ok within {START_SECONDS_MAX} s:\n{output}")


def cluster_state(port):
    try:
        info = parse_info(redis.Redis(port=port, socket_timeout=2, decode_responses=True)
                          .execute_command("CLUSTER", "INFO"))
        return info.get("cluster_state")
    except redis.RedisError:
        return None


def stop_local(local, node_pids):
    if local.poll() is None:
        local.send_signal(signal.SIGTERM)
        try:
            local.wait(timeout=STOP_SECONDS_MAX)
        except subprocess.TimeoutExpired:
            local.kill()
            local.wait()
    for pid in node_pids:  # only pids trestle local reported as its own nodes
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def write_and_read_back(port, prefix, count=50):
    """Writes through a cluster client until every write is acknowledged (failover may
    refuse some at first), then reads them all back."""
    from redis.cluster import RedisCluster
    client = RedisCluster(host="127.0.0.1", port=port, decode_responses=True, protocol=2, socket_timeout=5)
    try:
        deadline = time.monotonic() + START_SECONDS_MAX
        for n in range(count):
            while True:
                try:
                    client.set(f"{prefix}:{n}", str(n))
                    break
                except redis.RedisError:
                    assert time.monotonic() < deadline, "writes refused for too long after a node died"
                    time.sleep(0.2)
        assert [client.get(f"{prefix}:{n}") for n in range(count)] == [str(n) for n in range(count)]
    finally:
        client.close()


def wait_for_output(out_path, pattern, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = re.search(pattern, out_path.read_text(errors="replace"))
        if found:
            return found
        time.sleep(0.1)
    return None


@pytest.mark.timeout(180)
def test_a_killed_node_is_reported_the_others_serve_and_it_comes_back(cluster_binary, tmp_path):
    local, port, out_path = start_local(cluster_binary, tmp_path)
    node_pids = pids_in(out_path.read_text(errors="replace"))
    try:
        write_and_read_back(port, "before")
        victim = node_pids[1]
        os.kill(victim, signal.SIGKILL)
        assert wait_for_output(out_path, rf"node 2 \(pid {victim}\) was killed by signal 9", 10), \
            out_path.read_text(errors="replace")
        assert local.poll() is None, "trestle local stopped when one node died"
        # The other two nodes keep serving (node 1 is the seed; it never died).
        write_and_read_back(port, "during")
        restarted = wait_for_output(out_path, r"node 2 restarted: pid (\d+)", 30)
        assert restarted, out_path.read_text(errors="replace")
        new_pid = int(restarted.group(1))
        node_pids.append(new_pid)
        assert new_pid != victim and alive(new_pid)
        # The restarted node recovered its data and serves again.
        deadline = time.monotonic() + START_SECONDS_MAX
        while time.monotonic() < deadline and cluster_state(port + 1) != "ok":
            time.sleep(0.2)
        assert cluster_state(port + 1) == "ok", out_path.read_text(errors="replace")
        write_and_read_back(port + 1, "after")
        write_and_read_back(port + 1, "before")  # the same values again: nothing was lost
        assert local.poll() is None
    finally:
        stop_local(local, node_pids)
    assert not [pid for pid in node_pids if alive(pid)], "nodes still running after trestle local stopped"


@pytest.mark.timeout(120)
def test_restart_never_leaves_a_dead_node_down(cluster_binary, tmp_path):
    local, port, out_path = start_local(cluster_binary, tmp_path, "--restart", "never")
    node_pids = pids_in(out_path.read_text(errors="replace"))
    try:
        os.kill(node_pids[2], signal.SIGKILL)
        assert wait_for_output(out_path, r"node 3 stays down \(--restart never\)", 10), \
            out_path.read_text(errors="replace")
        write_and_read_back(port, "without-3")
        time.sleep(3)  # longer than the first restart backoff
        output = out_path.read_text(errors="replace")
        assert "node 3 restarted" not in output, output
        assert local.poll() is None
    finally:
        stop_local(local, node_pids)
