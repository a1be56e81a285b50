"""Tests of the cluster harness and its fault proxies against fake nodes
(cluster_fake_node.py: heartbeat links only, no database), so they run before the real
cluster exists: routes through proxies, isolation, one-way drops, kill -9 and restart,
log capture, teardown."""

import os
import time
from pathlib import Path

import pytest

from cluster_harness import Cluster, ClusterError

pytestmark = pytest.mark.cluster

FAKE = str(Path(__file__).with_name("cluster_fake_node.py"))
STATE_CHANGE_SECONDS_MAX = 10.0


def state(node):
    return node.cluster_info().get("cluster_state")


def wait_state(cluster, node_ids, expected):
    return cluster.wait_until(lambda: all(state(cluster.nodes[i]) == expected for i in node_ids),
                              STATE_CHANGE_SECONDS_MAX, f"nodes {node_ids} in state {expected}")


def peers(node):
    return node.command_reply("TRESTLE", "PEERS").split()


@pytest.fixture
def fake_cluster(cluster_factory):
    return cluster_factory(binary=FAKE, nodes=3, fault_proxies=True)


def test_nodes_start_and_every_peer_link_goes_through_its_proxy(fake_cluster):
    assert sorted(fake_cluster.links) == [(1, 2), (1, 3), (2, 3)]
    for (i, j), proxy in fake_cluster.links.items():
        stats = proxy.stats()
        assert stats["accepted"] >= 1 and stats["up_bytes"] > 0 and stats["down_bytes"] > 0, ((i, j), stats)
    node1 = fake_cluster.nodes[1]
    assert "--peer-route" in node1.command() and f"2={fake_cluster.link(1, 2).address}" in node1.command()
    assert "--peer-route" not in fake_cluster.nodes[3].command()  # node 3 dials nobody
    assert node1.command_reply("CLUSTER", "MYID") == "1"


def test_isolating_a_node_breaks_its_links_and_heal_restores_them(fake_cluster):
    fake_cluster.isolate(3)
    wait_state(fake_cluster, [1, 2, 3], "fail")
    assert peers(fake_cluster.nodes[3]) == []
    assert peers(fake_cluster.nodes[1]) == ["2"]
    assert fake_cluster.link(1, 2).stats()["refused"] == 0  # the 1-2 link was left alone
    fake_cluster.heal()
    fake_cluster.wait_ok(seconds=STATE_CHANGE_SECONDS_MAX)


def test_dropping_one_direction_silences_the_node_and_heal_resets_streams(fake_cluster):
    fake_cluster.drop_outgoing(1)
    wait_state(fake_cluster, [2, 3], "fail")
    assert peers(fake_cluster.nodes[2]) == ["3"]
    assert fake_cluster.link(1, 2).stats()["up_dropped"] > 0
    assert fake_cluster.link(1, 2).stats()["down_dropped"] == 0
    fake_cluster.heal()
    fake_cluster.wait_ok(seconds=STATE_CHANGE_SECONDS_MAX)
    assert fake_cluster.link(1, 2).stats()["resets"] >= 1  # the stream that lost bytes was reset


def test_delay_slows_links_without_breaking_them(fake_cluster):
    fake_cluster.delay_links_of(2, 150)
    time.sleep(1.5)
    fake_cluster.wait_ok(seconds=STATE_CHANGE_SECONDS_MAX)
    assert "delay" in fake_cluster.link(1, 2).describe()
    fake_cluster.heal()


def test_kill_and_restart_keep_ports_and_change_pid(fake_cluster):
    node = fake_cluster.nodes[2]
    old_pid = node.pid
    node.kill()
    assert not node.running()
    wait_state(fake_cluster, [1, 3], "fail")
    node.restart()
    assert node.pid != old_pid and node.runs == 2
    fake_cluster.wait_ok(seconds=STATE_CHANGE_SECONDS_MAX)
    assert node.command_reply("CLUSTER", "MYID") == "2"


def test_slot_table_maps_ports_back_to_node_ids(fake_cluster):
    assert fake_cluster.slot_table(via=fake_cluster.nodes[2]) == [(0, 16383, 1, [2, 3])]
    leader, slots = fake_cluster.busiest_leader(via=fake_cluster.nodes[3])
    assert leader.id == 1 and len(slots) == 16384


def test_stop_ends_every_process_and_proxy(tmp_path):
    cluster = Cluster(FAKE, tmp_path / "c", nodes=3, fault_proxies=True).start()
    pids = [node.pid for node in cluster.nodes.values()]
    proxy_ports = [proxy.port for proxy in cluster.links.values()]
    cluster.stop()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for port in proxy_ports:
        with pytest.raises(OSError):
            __import__("socket").create_connection(("127.0.0.1", port), timeout=1).close()
    cluster.stop()  # twice is harmless


def test_a_node_that_cannot_start_reports_its_output(cluster_factory):
    with pytest.raises(ClusterError) as failure:
        cluster_factory(binary=FAKE, nodes=2, extra_args=["--no-such-flag"])
    assert "exited" in str(failure.value) and "unrecognized arguments" in str(failure.value)


def test_waits_are_bounded_and_include_logs(cluster_factory):
    cluster = cluster_factory(binary=FAKE, nodes=2, fault_proxies=True, start=False)
    cluster.start(wait_ok=False)
    cluster.isolate(2)
    wait_state(cluster, [1, 2], "fail")
    started = time.monotonic()
    with pytest.raises(ClusterError) as failure:
        cluster.wait_ok(seconds=2.0)
    assert time.monotonic() - started < 5.0
    assert "fake node 2 starting" in str(failure.value)  # node stderr is in the message


def test_a_paused_node_goes_silent_and_still_stops_promptly(fake_cluster):
    node = fake_cluster.nodes[2]
    node.pause()
    wait_state(fake_cluster, [1, 3], "fail")
    started = time.monotonic()
    assert node.stop() == 0  # SIGTERM is delivered once the harness resumes it
    assert time.monotonic() - started < 5.0
