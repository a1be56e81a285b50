"""The admin port's dashboard (GET /) rendered in headless Chromium against a running
3-node cluster under load: the page, with no fetches beyond its own node, shows the live
numbers (3 nodes, 16 shards, a non-zero request rate, memory), a slot map with one block
per slot range, and a non-blank screenshot. Required in CI (.ci/run installs chromium);
skipped where chromium is missing."""

import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from ports import loopback_port

pytestmark = pytest.mark.cluster


def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI_REQUIRES_CHROMIUM"):
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed")
    return path


def render(url, *extra):
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", *extra, url],
                          capture_output=True, text=True, timeout=90)


@pytest.mark.timeout(180)
def test_dashboard_shows_the_live_cluster(cluster_factory, tmp_path):
    browser = chromium()
    assert browser
    ports = {node_id: loopback_port() for node_id in (1, 2, 3)}
    cluster = cluster_factory(nodes=3, start=False)
    for node_id, port in ports.items():
        cluster.nodes[node_id].extra_node_args = ["--admin-port", str(port)]
    cluster.start()
    stop = threading.Event()

    def load():
        client = cluster.nodes[1].client()
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            client.ping()

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        time.sleep(1)
        url = f"http://127.0.0.1:{ports[1]}/"
        dom = render(url, "--dump-dom").stdout
        screenshot = tmp_path / "dashboard.png"
        render(url, f"--screenshot={screenshot}", "--window-size=1200,1000")
    finally:
        stop.set()
        worker.join(timeout=10)

    def shown(element):
        match = re.search(rf'id="{element}"[^>]*>([^<]*)<', dom)
        assert match, f"#{element} missing from the rendered page"
        return match.group(1)

    assert shown("node-id") == "1"
    assert shown("ready-state") == "ready"
    assert shown("node-count") == "3"
    assert shown("shard-count") == "16"
    assert int(shown("ops")) > 0, "no request rate shown while the node served requests"
    assert shown("memory").endswith("MiB") and int(shown("memory").split()[0]) > 1
    assert dom.count('title="s') == 16, "the slot map should have one block per shard's range"
    # Every node's row carries its own figures (asked of it through node 1's /nodes).
    for node_id in (1, 2, 3):
        match = re.search(rf'<tr id="node-row-{node_id}">((?:<td>[^<]*</td>)+)</tr>', dom)
        assert match, f"no row for node {node_id}"
        cells = re.findall(r"<td>([^<]*)</td>", match.group(1))
        assert cells[0] == f"n{node_id}"
        assert cells[6].endswith("%"), f"node {node_id} shows no CPU: {cells}"
        assert cells[7].endswith("MiB") and int(cells[7].split()[0]) > 1, f"node {node_id} shows no memory: {cells}"
        if node_id == 1:
            assert int(cells[5]) > 0, "node 1 served requests but shows no rate"
    assert int(shown("cluster-ops")) > 0, "no cluster-wide request rate shown"
    assert "watching node 1: 3 nodes, 16 shards" in dom
    assert "http://" not in dom.split("<script", 1)[1].split("</script>", 1)[0], "the page fetches nothing external"
    size = screenshot.stat().st_size
    assert size > 20_000, f"screenshot is {size} bytes: blank?"
