"""Job queues that are not cluster-aware, on a 3-node cluster through proxy mode: their
transactions name keys of many slots, which a proxy accepts when one shard holds them all,
so a cluster created with one shard (three Raft replicas: high availability without write
scaling) runs RQ and Celery unchanged. With more shards their transactions get CROSSSLOT,
as on Redis Cluster."""

import os
import subprocess
import sys

import pytest
import redis

from test_apps import CELERY_APP, JOBS_MODULE, stop_worker

pytestmark = pytest.mark.cluster


@pytest.mark.timeout(180)
def test_rq_and_celery_through_a_proxy_node(cluster_factory, tmp_path, monkeypatch):
    rq = pytest.importorskip("rq")
    pytest.importorskip("celery")
    cluster = cluster_factory(nodes=3, shards=1, proxy_mode=True)
    entry = cluster.nodes[2]
    (tmp_path / "trestle_jobs.py").write_text(JOBS_MODULE)
    # Its own module names: test_apps imported trestle_tasks for another server already.
    # A cluster has database 0 only (test_apps puts broker and results in 1 and 2).
    module = CELERY_APP.format(port=entry.port).replace('"trestle_tasks"', '"trestle_cluster_tasks"')
    module = module.replace(f"{entry.port}/1", f"{entry.port}/0").replace(f"{entry.port}/2", f"{entry.port}/0")
    (tmp_path / "trestle_cluster_tasks.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    jobs = importlib.import_module("trestle_jobs")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))

    queue = rq.Queue(connection=redis.Redis(port=entry.port))
    job = queue.enqueue(jobs.add, 2, 3)
    burst = subprocess.run([sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", f"redis://127.0.0.1:{entry.port}"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=90, env=env)
    assert burst.returncode == 0, burst.stderr[-2000:]
    job.refresh()
    assert job.get_status() == rq.job.JobStatus.FINISHED and job.return_value() == 5

    tasks = importlib.import_module("trestle_cluster_tasks")
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "trestle_cluster_tasks", "worker", "--pool", "solo",
                               "--loglevel", "warning"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        results = [tasks.add.delay(index, 1) for index in range(3)]
        assert [result.get(timeout=45) for result in results] == [1, 2, 3]
    finally:
        stop_worker(worker)
        tasks.app.close()


@pytest.mark.timeout(60)
def test_a_proxy_accepts_keys_of_one_shard_in_one_command(cluster_factory):
    cluster = cluster_factory(nodes=3, shards=1, proxy_mode=True)
    client = cluster.nodes[1].client()
    client.mset({"alpha": "1", "beta": "2", "gamma": "3"})
    with client.pipeline(transaction=True) as pipe:
        pipe.incr("alpha").incr("beta").rename("gamma", "delta")
        assert pipe.execute() == [2, 3, True]
    assert client.mget("alpha", "beta", "delta") == ["2", "3", "3"]
