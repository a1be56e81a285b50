"""Libraries from PyPI that applications put on top of Redis, run against a standalone
server as their users would call them (issue 12's list): `limits` (rate limiting with Lua
scripts, three strategies), python-redis-lock (Lua-scripted locks with renewal), walrus
(containers, cache, rate limit, autocomplete, lock, Bloom filter, graph), aiocache (the
asyncio client), django-redis (Django's cache with locks, patterns and TTLs), BullMQ (job
queues run by Lua scripts) and channels_redis (Django Channels' layers). Each test is
skipped when its library is not installed; `.ci/run` installs them all."""

import asyncio

import pytest


def url(server):
    return f"redis://127.0.0.1:{server.port}"


@pytest.mark.timeout(60)
def test_limits_rate_limiters(server):
    limits = pytest.importorskip("limits")
    from limits import strategies
    storage = limits.storage.RedisStorage(url(server))
    rate = limits.parse("5/minute")
    for strategy in (strategies.MovingWindowRateLimiter, strategies.FixedWindowRateLimiter,
                     strategies.SlidingWindowCounterRateLimiter):
        limiter = strategy(storage)
        hits = [limiter.hit(rate, "user", strategy.__name__) for _ in range(7)]
        assert hits == [True] * 5 + [False] * 2, f"{strategy.__name__}: {hits}"
        stats = limiter.get_window_stats(rate, "user", strategy.__name__)
        assert stats.remaining == 0, f"{strategy.__name__}: {stats}"
        limiter.clear(rate, "user", strategy.__name__)
        assert limiter.test(rate, "user", strategy.__name__), f"{strategy.__name__} was not cleared"


@pytest.mark.timeout(60)
def test_python_redis_lock(server):
    redis_lock = pytest.importorskip("redis_lock")
    client = server.client()
    first = redis_lock.Lock(client, "resource", expire=5, auto_renewal=True)
    assert first.acquire(blocking=False)
    second = redis_lock.Lock(client, "resource")
    assert not second.acquire(blocking=False), "two holders of one lock"
    first.extend(10)
    assert 5 < client.ttl("lock:resource") <= 10
    first.release()
    assert second.acquire(blocking=False), "a released lock could not be taken"
    second.release()
    redis_lock.reset_all(client)
    assert client.keys("lock:*") == []


@pytest.mark.timeout(60)
def test_walrus_containers_and_helpers(server):
    walrus = pytest.importorskip("walrus")
    db = walrus.Database(port=server.port)
    fields = db.Hash("h")
    fields.update(a="1", b="2")
    assert fields["a"] == b"1" and len(fields) == 2
    items = db.List("l")
    items.extend(["x", "y"])
    assert list(items) == [b"x", b"y"]
    ranking = db.ZSet("z")
    ranking.add({"a": 1, "b": 2})
    assert ranking.rank("b") == 1
    cache = db.cache()
    cache.set("k", "v", 10)
    assert cache.get("k") == "v"
    limiter = db.rate_limit("rl", limit=2, per=60)
    assert [limiter.limit("user") for _ in range(3)] == [False, False, True]
    completion = db.autocomplete()
    completion.store("trestle database")
    assert [hit for hit in completion.search("tres")] == ["trestle database"]
    lock = db.lock("lk")
    assert lock.acquire(block=False)
    lock.release()
    bloom = db.bloom_filter("bf")
    bloom.add("x")
    assert "x" in bloom
    graph = db.graph("g")
    graph.store("alice", "knows", "bob")
    assert list(graph.query(s="alice")) == [{"s": "alice", "p": "knows", "o": "bob"}]


@pytest.mark.timeout(60)
def test_aiocache_redis_backend(server):
    aiocache = pytest.importorskip("aiocache")

    async def scenario():
        cache = aiocache.RedisCache(endpoint="127.0.0.1", port=server.port, namespace="ns")
        try:
            await cache.set("k", "v", ttl=10)
            assert await cache.get("k") == "v"
            await cache.multi_set([("a", 1), ("b", 2)])
            assert await cache.multi_get(["a", "b"]) == [1, 2]
            assert await cache.add("new", 1)
            await cache.increment("counter", 2)
            assert await cache.exists("counter")
            assert await cache.expire("k", 5)
            assert await cache.delete("k") == 1
            assert await cache.clear()
            assert await cache.get("a") is None
        finally:
            await cache.close()

    asyncio.run(scenario())


@pytest.mark.timeout(60)
def test_django_redis_cache(server):
    django = pytest.importorskip("django")
    pytest.importorskip("django_redis")
    from django.conf import settings
    location = f"{url(server)}/1"  # a cache in its own numbered database, as deployments often put it
    if not settings.configured:
        settings.configure(CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location}})
        django.setup()
    from django_redis.cache import RedisCache
    cache = RedisCache(location, {})
    cache.set("k", {"a": 1}, 30)
    assert cache.get("k") == {"a": 1}
    cache.set_many({"x": 1, "y": 2})
    assert cache.get_many(["x", "y"]) == {"x": 1, "y": 2}
    assert cache.incr("x") == 2
    assert cache.ttl("nothing") == 0
    cache.set("t", 1, 100)
    assert 0 < cache.ttl("t") <= 100
    assert cache.touch("t", 50)
    assert sorted(cache.iter_keys("*")) == ["k", "t", "x", "y"]
    with cache.lock("l", timeout=5):
        pass
    assert server.client().dbsize() == 0, "the cache's keys belong in database 1"
    assert cache.delete_pattern("*") == 4
    assert cache.get("y") is None


@pytest.mark.timeout(60)
def test_bullmq_queue_worker_retries_delays_and_pause(server):
    """BullMQ (Python port of the Node.js queue): every queue operation is a Lua script over
    lists, sorted sets, hashes and streams, the most demanding scripts of the lot."""
    bullmq = pytest.importorskip("bullmq")

    async def scenario():
        connection = {"connection": url(server)}
        queue = bullmq.Queue("jobs", connection)
        processed = []
        all_done = asyncio.Event()

        async def process(job, token):
            processed.append(job.name)
            if job.name == "fails":
                raise ValueError("boom")
            if len(processed) == 4:
                all_done.set()
            return job.data["x"] * 2

        worker = bullmq.Worker("jobs", process, connection)
        try:
            doubled = await queue.add("doubles", {"x": 21})
            failing = await queue.add("fails", {"x": 0}, {"attempts": 1})
            await queue.add("later", {"x": 1}, {"delay": 300})
            await queue.add("urgent", {"x": 2}, {"priority": 1})
            await asyncio.wait_for(all_done.wait(), 20)
            deadline = asyncio.get_running_loop().time() + 10
            while (await queue.getJobCounts("completed"))["completed"] < 3:
                assert asyncio.get_running_loop().time() < deadline, await queue.getJobCounts()
                await asyncio.sleep(0.1)
            counts = await queue.getJobCounts("completed", "failed", "delayed", "waiting", "active")
            assert counts == {"completed": 3, "failed": 1, "delayed": 0, "waiting": 0, "active": 0}
            job = await bullmq.Job.fromId(queue, doubled.id)
            assert job.returnvalue == 42 and await job.getState() == "completed"
            job = await bullmq.Job.fromId(queue, failing.id)
            assert job.failedReason == "boom" and await job.getState() == "failed"
            await queue.pause()
            assert await queue.isPaused()
            await queue.resume()
            assert not await queue.isPaused()
            await queue.obliterate({"force": True})
            assert await queue.getJobCounts("completed", "failed") == {"completed": 0, "failed": 0}
        finally:
            await worker.close()
            await queue.close()

    asyncio.run(scenario())


@pytest.mark.timeout(60)
def test_channels_redis_layers(server):
    """Django Channels' Redis layers: the core layer (Lua-scripted channel lists with a
    capacity, groups in sorted sets) and the pub/sub layer."""
    pytest.importorskip("channels_redis")
    from channels.exceptions import ChannelFull
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    async def scenario():
        layer = RedisChannelLayer(hosts=[("127.0.0.1", server.port)], expiry=10, capacity=3)
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "hello", "n": 1})
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "hello", "n": 1}
        await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "to.group", "n": 2})
        assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "to.group", "n": 2}
        with pytest.raises(ChannelFull):
            for n in range(4):
                await layer.send("specific.full!x", {"type": "fill", "n": n})
        await layer.group_discard("room", channel)
        await layer.flush()

        pubsub = RedisPubSubChannelLayer(hosts=[url(server)])
        try:
            listener = await pubsub.new_channel()
            await pubsub.group_add("lobby", listener)
            await asyncio.sleep(0.2)  # the subscription is made in the background
            await pubsub.group_send("lobby", {"type": "published", "n": 3})
            assert await asyncio.wait_for(pubsub.receive(listener), 5) == {"type": "published", "n": 3}
        finally:
            await pubsub.flush()

    asyncio.run(scenario())
