"""Real applications from PyPI against a standalone server: RQ's worker runs jobs end to end
(enqueue through pipelines and transactions, BLPOP for new work, a stream for results,
pub/sub for commands), and redis-py's Lock and Script helpers rely on Lua (issue 11, 12).
RQ is not cluster-aware (its transactions span hash slots), so it runs standalone only."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

rq = pytest.importorskip("rq")

JOBS_MODULE = textwrap.dedent("""
    def add(a, b):
        return a + b

    def fail():
        raise ValueError("planned failure")
""")


@pytest.fixture
def job_module(tmp_path, monkeypatch):
    (tmp_path / "trestle_jobs.py").write_text(JOBS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    return importlib.import_module("trestle_jobs"), tmp_path


def stop_worker(worker):
    """SIGTERM (a warm shutdown), then SIGKILL if the worker is still there after 20 s."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def worker_command(server):
    return [sys.executable, "-m", "rq.cli", "worker", "--url", f"redis://127.0.0.1:{server.port}"]


def wait_for(job, statuses, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh()
        if job.get_status() in statuses:
            return job.get_status()
        time.sleep(0.1)
    return job.get_status()


@pytest.mark.timeout(240)
def test_rq_worker_runs_jobs(server, job_module):
    module, directory = job_module
    connection = server.client()
    queue = rq.Queue(connection=connection)
    done = queue.enqueue(module.add, 2, 3)
    failed = queue.enqueue(module.fail)
    # rq's pub/sub thread waits for messages 60 s at a time; when it reads the UNSUBSCRIBE
    # confirmation before the worker asks it to stop (a race inside rq, seen once in CI
    # on a loaded machine), closing the worker waits out those 60 s. Allow for it.
    burst = subprocess.run(worker_command(server) + ["--burst"], cwd=directory, capture_output=True, text=True, timeout=150,
                           env=dict(os.environ, PYTHONPATH=str(directory)))
    assert burst.returncode == 0, burst.stderr[-2000:]
    done.refresh()
    assert done.get_status() == rq.job.JobStatus.FINISHED and done.return_value() == 5
    failed.refresh()
    assert failed.get_status() == rq.job.JobStatus.FAILED
    assert "planned failure" in (failed.latest_result().exc_string or "")

    # A long-running worker blocks on the queue (BLPOP) and picks up a job enqueued later.
    worker = subprocess.Popen(worker_command(server), cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=str(directory)))
    try:
        time.sleep(2)
        later = queue.enqueue(module.add, 20, 22)
        assert wait_for(later, {rq.job.JobStatus.FINISHED, rq.job.JobStatus.FAILED}) == rq.job.JobStatus.FINISHED
        assert later.return_value() == 42
    finally:
        stop_worker(worker)


def test_redis_py_lock_and_scripts(server):
    client = server.client(decode_responses=True)
    lock = client.lock("resource", timeout=5, blocking_timeout=1)
    assert lock.acquire()
    assert not client.lock("resource", blocking_timeout=0.1).acquire()
    assert lock.extend(2) and lock.reacquire()
    lock.release()
    assert not client.exists("resource")
    counter = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert counter(keys=["hits"], args=[3]) == 3
    client.script_flush()
    assert counter(keys=["hits"], args=[4]) == 7  # NOSCRIPT, then SCRIPT LOAD and retry


CELERY_APP = textwrap.dedent("""
    from celery import Celery
    app = Celery("trestle_tasks", broker="redis://127.0.0.1:{port}/1", backend="redis://127.0.0.1:{port}/2")
    app.conf.broker_connection_retry_on_startup = True

    @app.task
    def add(x, y):
        return x + y
""")


@pytest.mark.timeout(120)
def test_celery_worker_runs_tasks_and_returns_results(server, tmp_path, monkeypatch):
    """Celery's Redis broker (BRPOP on its queues, MULTI, pub/sub) and result backend
    (a transaction that stores the result and PUBLISHes it) end to end, each in its own
    numbered database as Celery deployments often configure them."""
    pytest.importorskip("celery")
    (tmp_path / "trestle_tasks.py").write_text(CELERY_APP.format(port=server.port))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib
    tasks = importlib.import_module("trestle_tasks")
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "trestle_tasks", "worker", "--pool", "solo",
                               "--loglevel", "warning"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    try:
        results = [tasks.add.delay(index, index) for index in range(5)]
        assert [result.get(timeout=30) for result in results] == [0, 2, 4, 6, 8]
        client = server.client(decode_responses=True)
        assert client.dbsize() == 0, "Celery's keys belong in databases 1 and 2"
        client.execute_command("SELECT", 2)
        assert len(client.keys("celery-task-meta-*")) == 5
        client.close()
    finally:
        stop_worker(worker)
        tasks.app.close()


def test_dramatiq_worker_with_results(server):
    """Dramatiq's Redis broker runs its Lua dispatch script (queues, acks, heartbeats)."""
    dramatiq = pytest.importorskip("dramatiq")
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.results import Results
    from dramatiq.results.backends import RedisBackend
    broker = RedisBroker(host="127.0.0.1", port=server.port)
    broker.add_middleware(Results(backend=RedisBackend(host="127.0.0.1", port=server.port)))
    dramatiq.set_broker(broker)

    @dramatiq.actor(store_results=True, broker=broker)
    def multiply(x, y):
        return x * y

    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        messages = [multiply.send(index, 3) for index in range(4)]
        assert [message.get_result(block=True, timeout=20000) for message in messages] == [0, 3, 6, 9]
    finally:
        worker.stop()
        broker.close()


def test_huey_task_and_result(server):
    huey_module = pytest.importorskip("huey")
    huey = huey_module.RedisHuey("trestle-test", host="127.0.0.1", port=server.port)

    @huey.task()
    def add(a, b):
        return a + b

    result = add(2, 5)
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)
    assert result.get(blocking=True, timeout=10) == 7


def test_arq_job_and_result(server):
    arq = pytest.importorskip("arq")
    import asyncio
    from arq.connections import RedisSettings
    from arq.worker import Worker

    async def add(ctx, a, b):
        return a + b

    async def scenario():
        pool = await arq.create_pool(RedisSettings(host="127.0.0.1", port=server.port))
        job = await pool.enqueue_job("add", 20, 22)
        worker = Worker(functions=[arq.worker.func(add, name="add")], redis_pool=pool, burst=True, poll_delay=0.1)
        await worker.main()
        value = await job.result(timeout=10)
        await worker.close()
        return value

    assert asyncio.run(scenario()) == 42
