"""Fixtures of the cluster's real-process tests (tests/test_cluster_*.py), loaded as a
pytest plugin from tests/conftest.py (`pytest_plugins`).

- `cluster_binary`: the trestle binary (same lookup as tests/conftest.py), provided it has
  the `node` subcommand. Without it the real-cluster tests are skipped with that reason,
  unless TRESTLE_CLUSTER_REQUIRED=1 (CI once the cluster is merged), which fails them.
- `cluster_factory(**options)`: builds and starts a `Cluster` (see cluster_harness.py) in
  the test's temporary directory; at teardown prints every node's log tail and the fault
  proxies' state if the test failed, then stops every process and proxy it started.
"""

import os
import subprocess

import pytest

from cluster_harness import Cluster, find_trestle_binary

CLUSTER_REQUIRED = os.environ.get("TRESTLE_CLUSTER_REQUIRED") == "1"


def _has_node_subcommand(binary):
    """`trestle node --help` describes the node's own flags (an older binary answers an
    unknown subcommand's --help with the top-level help, exit 0)."""
    try:
        done = subprocess.run([binary, "node", "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "--bootstrap" in done.stdout and "--peer-route" in done.stdout


@pytest.fixture(scope="session")
def cluster_binary():
    binary = find_trestle_binary()
    if binary is None:
        pytest.exit("no trestle binary: run `swift build` or set TRESTLE_BIN", returncode=2)
    if not _has_node_subcommand(binary):
        message = f"{binary} has no `node` subcommand yet (the cluster is not merged)"
        if CLUSTER_REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _failed(request):
    return any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
               for when in ("setup", "call"))


@pytest.fixture
def cluster_factory(request, tmp_path):
    """`cluster_factory(binary=None, **Cluster options)` -> a started Cluster."""
    clusters = []

    def make(binary=None, start=True, **options):
        if binary is None:
            binary = request.getfixturevalue("cluster_binary")
        cluster = Cluster(binary, tmp_path / f"cluster{len(clusters) + 1}", **options)
        clusters.append(cluster)
        if start:
            cluster.start()
        return cluster

    yield make
    for cluster in clusters:
        if _failed(request):
            print(f"\n===== cluster logs ({cluster.base_dir}) =====\n{cluster.logs()}")
        cluster.stop()


# ---------------------------------------------------------------------------------------
# Measurements (failover time, rebalance time, ...) printed at the end of every run
# ---------------------------------------------------------------------------------------

_MEASUREMENTS = []


@pytest.fixture
def measure(request):
    """`measure(name, value, unit)` records a number shown in the run's final summary."""

    def record(name, value, unit=""):
        line = f"{request.node.name}: {name} = {value:.3f} {unit}".rstrip()
        _MEASUREMENTS.append(line)
        print(line)

    return record


def pytest_terminal_summary(terminalreporter):
    if _MEASUREMENTS:
        terminalreporter.section("cluster measurements")
        for line in _MEASUREMENTS:
            terminalreporter.write_line(line)


@pytest.fixture
def assert_linearizable(tmp_path):
    """`assert_linearizable(workload, binary)` dumps the workload's history next to the test
    and asserts the checker accepts it (the checker's text is printed either way)."""

    def check(workload, binary):
        path = str(tmp_path / "history.jsonl")
        workload.recorder.dump(path)
        ok, text = workload.recorder.check(binary)
        print(f"history ({len(workload.recorder)} operations, {path}): {text.strip()[:2000]}")
        assert ok, f"history is not linearizable ({path}):\n{text[:4000]}"

    return check
