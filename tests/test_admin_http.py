"""The admin HTTP port (`--admin-port`, issue 14): /health, /ready, /metrics in
Prometheus text format (checked with the prometheus_client parser, the reference
implementation's), /cluster as JSON; on a standalone server and on a 3-node cluster,
where the metrics agree with what the cluster does (one leader per shard, commands
counted) and readiness follows a node's loss."""

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from ports import loopback_port

parser = pytest.importorskip("prometheus_client.parser")


def get(port, path, method="GET"):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def metrics(port):
    status, content_type, text = get(port, "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4"), (status, content_type)
    samples = {}
    for family in parser.text_string_to_metric_families(text):  # raises on malformed text
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def promtool_accepts(port):
    """`promtool check metrics` (Prometheus's own linter) finds nothing to complain about.
    Required in CI (.ci/run installs it); skipped where it is not installed."""
    if shutil.which("promtool") is None:
        if os.environ.get("CI_REQUIRES_PROMTOOL"):
            pytest.fail("promtool is not installed")
        return True
    text = get(port, "/metrics")[2]
    result = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), result.stdout + result.stderr
    return True


def wait_ready(port, seconds=30):
    """Polls /ready until it answers 200: readiness follows elections, and a node that has
    just seen a peer go may report ok until its election timer fires, then not ready until
    the election ends."""
    deadline = time.monotonic() + seconds
    while True:
        status, _, reason = get(port, "/ready")
        if status == 200:
            return
        assert status == 503, (status, reason)
        assert time.monotonic() < deadline, f"/ready still {status} after {seconds} s: {reason}"
        time.sleep(0.2)


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def test_a_standalone_server_reports_health_readiness_metrics_and_layout(server_factory):
    admin = loopback_port()
    server = server_factory("--admin-port", str(admin))
    assert f"http://127.0.0.1:{admin}/metrics" in server.stdout()
    assert get(admin, "/health")[:1] == (200,)
    assert get(admin, "/ready")[0] == 200
    before = value(metrics(admin), "trestle_commands_processed_total")
    client = server.client(decode_responses=True)
    for n in range(25):
        client.set(f"k{n}", n)
    samples = metrics(admin)
    assert value(samples, "trestle_commands_processed_total") >= before + 25
    assert value(samples, "trestle_keys") == 25
    assert value(samples, "trestle_up") == 1 and value(samples, "trestle_ready") == 1
    assert value(samples, "process_resident_memory_bytes") > 1_000_000
    # Latency histograms: 25 writes, each fsynced (fsync always), and the reads below.
    for n in range(10):
        client.get(f"k{n}")
    samples = metrics(admin)
    assert value(samples, "trestle_request_duration_seconds_count", **{"class": "write"}) >= 25
    assert value(samples, "trestle_request_duration_seconds_count", **{"class": "read"}) >= 10
    assert value(samples, "trestle_request_duration_seconds_bucket", **{"class": "read", "le": "+Inf"}) >= 10
    assert value(samples, "trestle_fsync_duration_seconds_count") >= 1
    assert value(samples, "trestle_fsync_duration_seconds_sum") > 0
    assert promtool_accepts(admin)
    # Client bytes: /metrics counts from start; INFO's totals (as Redis's) from RESETSTAT.
    received = value(samples, "trestle_client_received_bytes_total")
    assert received >= 25 * len("*3\r\n$3\r\nSET\r\n$2\r\nk0\r\n$1\r\n0\r\n")
    assert value(samples, "trestle_client_sent_bytes_total") >= 25 * len("+OK\r\n")
    stats = client.info("stats")
    assert stats["total_net_input_bytes"] >= received and stats["total_net_output_bytes"] > 0
    client.config_resetstat()
    assert client.info("stats")["total_net_input_bytes"] < 200
    assert value(metrics(admin), "trestle_client_received_bytes_total") > received
    layout = json.loads(get(admin, "/cluster")[2])
    assert layout["ready"] is True and len(layout["shards"]) == 1
    assert layout["shards"][0]["slots"] == [[0, 16383]]
    nodes = json.loads(get(admin, "/nodes")[2])
    assert [figures["node"] for figures in nodes] == [1]
    assert nodes[0]["rss_bytes"] > 1_000_000 and nodes[0]["keys"] == 25 and nodes[0]["commands"] >= 1  # counted since the RESETSTAT above
    assert get(admin, "/nope")[0] == 404
    assert get(admin, "/metrics", method="POST")[0] == 405
    assert client.ping() is True


@pytest.mark.cluster
@pytest.mark.timeout(180)
def test_a_cluster_reports_one_leader_per_shard_and_readiness_follows_failover(cluster_factory):
    ports = {node_id: loopback_port() for node_id in (1, 2, 3)}
    cluster = cluster_factory(nodes=3, start=False)
    for node_id, port in ports.items():
        cluster.nodes[node_id].extra_node_args = ["--admin-port", str(port)]
    cluster.start()
    for port in ports.values():
        assert get(port, "/ready")[0] == 200
    leaders = {}
    for node_id, port in ports.items():
        samples = metrics(port)
        for (name, labels), sample in samples.items():
            if name == "trestle_raft_is_leader" and sample == 1:
                shard = dict(labels)["shard"]
                assert shard not in leaders, f"shard {shard} led by two nodes"
                leaders[shard] = node_id
        assert value(samples, "trestle_cluster_nodes") == 3
        assert value(samples, "trestle_peer_connected", peer=str(1 if node_id != 1 else 2)) == 1
        assert promtool_accepts(port)
    assert len(leaders) == 17  # 16 data shards and the directory
    layout = json.loads(get(ports[1], "/cluster")[2])
    assert len(layout["nodes"]) == 3 and len(layout["shards"]) == 16
    assert sum(node["leads"] for node in layout["nodes"]) == 16
    assert all(shard["leader"] in (1, 2, 3) and len(shard["replicas"]) == 3 for shard in layout["shards"])

    # /nodes: every node's own figures, asked of it through the node the page talks to.
    before = {figures["node"]: figures for figures in json.loads(get(ports[2], "/nodes")[2])}
    assert sorted(before) == [1, 2, 3]
    assert all(figures["rss_bytes"] > 1_000_000 and figures["cpu_seconds"] > 0 for figures in before.values())
    client = cluster.nodes[1].client()
    for _ in range(50):
        client.ping()
    after = {figures["node"]: figures for figures in json.loads(get(ports[2], "/nodes")[2])}
    assert after[1]["commands"] >= before[1]["commands"] + 50
    assert after[1]["time_ms"] > before[1]["time_ms"]

    # A split is counted once, by the directory leader that committed it.
    writer = cluster.cluster_client()
    for n in range(200):
        writer.set(f"key:{n}", "v" * 20)
    writer.close()
    assert sum(value(metrics(port), "trestle_shard_memory_bytes", shard="1") for port in ports.values()) > 0
    assert client.execute_command("TRESTLE", "SPLIT", "1") == "OK"
    splits = sum(value(metrics(port), "trestle_reshapings_total", kind="split") for port in ports.values())
    assert splits == 1, f"one split committed, {splits} counted"

    cluster.nodes[3].kill()
    cluster.wait_ok(node_ids=[1, 2])
    for port in (ports[1], ports[2]):
        # Until their election timers fire, nodes 1 and 2 may still name node 3 as a leader.
        deadline = time.monotonic() + 30
        while any(shard["leader"] not in (1, 2) for shard in json.loads(get(port, "/cluster")[2])["shards"]):
            assert time.monotonic() < deadline, "a shard is still led by the dead node, or by none"
            time.sleep(0.2)
        wait_ready(port)
        assert value(metrics(port), "trestle_peer_connected", peer="3") == 0
    deadline = time.monotonic() + 15  # the breaker opens after the link is down for 1 s
    while value(metrics(ports[1]), "trestle_peer_breaker_trips_total", peer="3") < 1:
        assert time.monotonic() < deadline, "the link to a dead node never tripped its breaker"
        time.sleep(0.2)
    assert promtool_accepts(ports[1])
    started = time.monotonic()
    assert [figures["node"] for figures in json.loads(get(ports[1], "/nodes")[2])] == [1, 2], "a node down is left out"
    assert time.monotonic() - started < 5, "a node down must not hold up /nodes for long"
