"""A recorded read/write workload for cluster tests: several threads, each with its own
client, write and read string keys until stopped; every operation is recorded in a
HistoryRecorder, successes are counted per second, and at the end every acknowledged
write is checked to be readable.

Invariants:
- Each writer thread owns its keys (`PREFIX:tT:N`), so its writes to a key are sequential
  and "the last acknowledged value" is well defined; reads go to any thread's keys, so the
  history still has concurrent readers for the linearizability check.
- Every value is unique in a run (`tT-SEQ`), so a read names exactly one write.
- A write that fails with an error is recorded as `info` (it may still take effect later:
  a timeout, a lost connection, TRYAGAIN while the outcome is pending) unless the error
  proves it was never executed (MOVED, ASK, CROSSSLOT); it then counts as a possible later
  value of its key. A failed read is recorded as `fail`.
- `stop()` is bounded: threads are daemons checked every operation, joined with a timeout.
"""

import random
import threading
import time
from collections import Counter

import redis

from history import HistoryRecorder

joinSecondsMax = 30.0
clusterUnreachablePauseSeconds = 0.1
verifyBatchKeysMax = 200
verifyAttemptsMax = 20
VERIFY_CLIENT_ID = 1000  # client ids in the history: writer threads are 0..threads-1
NEVER_EXECUTED_CODES = ("MOVED", "ASK", "CROSSSLOT")
# redis-py turns these replies into their own exception types and strips the code from the
# message (`MovedError("3999 127.0.0.1:7002")`), so the code is recovered from the type.
_CODE_BY_TYPE = ((redis.exceptions.MovedError, "MOVED"), (redis.exceptions.AskError, "ASK"),
                 (redis.exceptions.TryAgainError, "TRYAGAIN"), (redis.exceptions.ClusterDownError, "CLUSTERDOWN"),
                 (redis.exceptions.ClusterCrossSlotError, "CROSSSLOT"))


def reply_error_code(error):
    """The RESP error code of a server error reply (MOVED, TRYAGAIN, ERR, ...), else None."""
    for error_type, code in _CODE_BY_TYPE:
        if isinstance(error, error_type):
            return code
    if isinstance(error, redis.exceptions.ResponseError):
        words = str(error).split(" ", 1)
        return words[0] if words and words[0].isupper() else "ERR"
    return None


def _never_executed(error):
    return reply_error_code(error) in NEVER_EXECUTED_CODES


def error_name(error):
    """`TypeName` for client-side failures, `TypeName:CODE` for server error replies."""
    code = reply_error_code(error)
    return f"{type(error).__name__}{':' + code if code else ''}"


class KeyState:
    """What a key may hold: its last acknowledged value, then values of later unknown writes."""

    __slots__ = ("acked", "maybe", "written")

    def __init__(self):
        self.acked = None
        self.maybe = []
        self.written = False

    def acceptable(self):
        values = set(self.maybe)
        values.add(self.acked)  # None (absent) only while nothing was acknowledged
        return values


class Workload:
    """Threads of set/get on their own keys; `start()`, `stop()`, then `verify(client)`."""

    def __init__(self, make_client, threads=4, keys_per_thread=250, read_ratio=0.3, prefix=None,
                 recorder=None, seed=None):
        self.make_client = make_client
        self.thread_count = threads
        self.keys_per_thread = keys_per_thread
        self.read_ratio = read_ratio
        self.prefix = prefix or f"w{random.randrange(1 << 30):x}"
        self.recorder = recorder or HistoryRecorder()
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.states = {}
        for t in range(threads):
            for n in range(keys_per_thread):
                self.states[self.key(t, n)] = KeyState()
        self.all_keys = list(self.states)
        self._lock = threading.Lock()
        self.successes_by_second = Counter()
        self.errors = Counter()
        self.started_at = None
        self._stop = threading.Event()
        self._threads = []
        self.thread_failures = []

    def key(self, thread, n):
        return f"{self.prefix}:t{thread}:{n}"

    # ---- running ------------------------------------------------------------------------

    def start(self):
        self.started_at = time.monotonic()
        for t in range(self.thread_count):
            thread = threading.Thread(target=self._run, args=(t,), name=f"workload-{t}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self):
        self._stop.set()
        deadline = time.monotonic() + joinSecondsMax
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        assert not alive, (f"workload threads stuck in one client call for over {joinSecondsMax} s: {alive}; "
                           f"{self.summary()}")
        assert not self.thread_failures, f"workload threads crashed: {self.thread_failures}"

    def _run(self, t):
        rng = random.Random(self.seed * 1000 + t)
        client = None
        sequence = 0
        try:
            client = self.make_client()
            while not self._stop.is_set():
                sequence += 1
                if sequence > self.keys_per_thread and rng.random() < self.read_ratio:
                    self._get(client, t, rng.choice(self.all_keys))
                else:
                    n = sequence - 1 if sequence <= self.keys_per_thread else rng.randrange(self.keys_per_thread)
                    self._set(client, t, self.key(t, n), f"t{t}-{sequence}")
        except Exception as error:  # a bug in the workload itself, not a server error
            self.thread_failures.append(f"thread {t}: {error!r}")
        finally:
            if client is not None:
                client.close()

    def _set(self, client, t, key, value):
        state = self.states[key]
        start = time.monotonic_ns()
        try:
            client.set(key, value)
            outcome = "ok"
        except redis.exceptions.RedisError as error:
            outcome = "fail" if _never_executed(error) else "info"
            self._count_error(error)
        except redis.exceptions.RedisClusterException as error:
            # redis-py gives up on the whole cluster (every node unreachable, e.g. all
            # restarting): the write may or may not have been sent.
            outcome = "info"
            self._count_error(error)
            time.sleep(clusterUnreachablePauseSeconds)
        end = time.monotonic_ns()
        self.recorder.record(t, key, "set", value, start, end, outcome)
        if outcome == "ok":
            state.acked, state.maybe, state.written = value, [], True
            self._count_success(end)
        elif outcome == "info":
            state.maybe.append(value)
            state.written = True

    def _get(self, client, t, key):
        start = time.monotonic_ns()
        try:
            value = client.get(key)
            outcome = "ok"
        except redis.exceptions.RedisError as error:
            value, outcome = None, "fail"
            self._count_error(error)
        except redis.exceptions.RedisClusterException as error:
            value, outcome = None, "fail"
            self._count_error(error)
            time.sleep(clusterUnreachablePauseSeconds)
        end = time.monotonic_ns()
        self.recorder.record(t, key, "get", value, start, end, outcome)
        if outcome == "ok":
            self._count_success(end)

    def _count_success(self, end_ns):
        second = int(end_ns / 1e9 - self.started_at)
        with self._lock:
            self.successes_by_second[second] += 1

    def _count_error(self, error):
        with self._lock:
            self.errors[error_name(error)] += 1

    # ---- results ------------------------------------------------------------------------

    def per_second(self):
        """Successful operations in each whole second since start, zeros included."""
        if not self.successes_by_second:
            return []
        last = max(self.successes_by_second)
        return [self.successes_by_second.get(second, 0) for second in range(last + 1)]

    def longest_stall_seconds(self, since=0, until=None):
        """The longest run of consecutive seconds with no successful operation."""
        counts = self.per_second()[since:until]
        longest = current = 0
        for count in counts:
            current = current + 1 if count == 0 else 0
            longest = max(longest, current)
        return longest

    def successes(self):
        """Successful operations so far."""
        with self._lock:
            return sum(self.successes_by_second.values())

    def keys_written(self):
        """Keys with at least one write attempted (acknowledged or not)."""
        return sum(1 for state in self.states.values() if state.written)

    def total_acknowledged(self):
        return sum(1 for state in self.states.values() if state.acked is not None)

    def summary(self):
        return (f"{len(self.recorder)} ops, {self.total_acknowledged()} keys with an acked write, "
                f"per second {self.per_second()}, errors {dict(self.errors)}")

    def verify(self, client, client_id=VERIFY_CLIENT_ID):
        """Reads every written key (pipelined, retried on errors, recorded as `get`s).
        Returns a list of problems; empty means every acknowledged write is readable with its
        last acknowledged value or a later unacknowledged one."""
        written = [key for key, state in self.states.items() if state.written]
        problems = []
        for first in range(0, len(written), verifyBatchKeysMax):
            batch = written[first:first + verifyBatchKeysMax]
            values = self._read_batch(client, batch, client_id)
            for key, value in zip(batch, values):
                if value not in self.states[key].acceptable():
                    state = self.states[key]
                    problems.append(f"{key}: read {value!r}, acked {state.acked!r}, later unknown {state.maybe!r}")
        return problems

    def _read_batch(self, client, keys, client_id):
        last_error = None
        for attempt in range(verifyAttemptsMax):
            start = time.monotonic_ns()
            try:
                pipe = client.pipeline(transaction=False)
                for key in keys:
                    pipe.get(key)
                values = pipe.execute()
            except redis.exceptions.RedisError as error:
                last_error = error
                time.sleep(min(0.1 * (attempt + 1), 1.0))
                continue
            end = time.monotonic_ns()
            for key, value in zip(keys, values):
                self.recorder.record(client_id, key, "get", value, start, end, "ok")
            return values
        raise AssertionError(f"cannot read back {len(keys)} keys after {verifyAttemptsMax} attempts: {last_error!r}")
