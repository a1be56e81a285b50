"""A fault-injecting TCP proxy for loopback tests: sits on one link (for Trestle, a peer
link between two nodes) and forwards bytes both ways, or delays, discards or cuts them on
command from the test while it runs.

Directions: "up" is client -> target (the side that dialled us towards the target), "down"
is target -> client. "both" means both.

Faults (all can be changed at any time, from any thread):
- `pass_through()` / `heal()`: forward everything without delay; new connections accepted.
- `delay(ms, direction="both")`: each chunk read in that direction is written `ms` later.
  Order is kept: a chunk never overtakes an earlier one, even if the delay is lowered.
- `blackhole(direction="both")`: bytes read in that direction are discarded. Discarding
  corrupts a framed stream, so every connection that lost bytes is reset (RST, both sides)
  when the blackhole is lifted; the peers then reconnect on clean streams.
- `cut()`: every open connection is reset and new connections are accepted and reset at
  once (the dialler sees a connection reset, as when the peer's host is unreachable and
  keeps failing); `heal()` lifts it.

Invariants:
- Listens and connects on 127.0.0.1 only (other hosts are refused at construction).
- Every queue is bounded (`queuedChunksMax` chunks of at most `chunkBytesMax` bytes per
  direction per connection), so a slow or delayed side backpressures the reader instead of
  buffering without limit.
- Each pump reads one chunk, decides its fate from the faults in force at that moment,
  and only then reads the next, so a fault applies to every byte read after it is set.
- `stop()` closes the listener and every connection and joins the proxy thread; nothing
  outlives it.

In-process: `FaultProxy(target=("127.0.0.1", 7002)).start()`, then `proxy.port`.
As a program: `python3 tests/faultproxy.py --listen 127.0.0.1:27002 --target 127.0.0.1:17002`
reads commands from stdin, one per line: `pass`, `heal`, `delay MS [up|down|both]`,
`blackhole [up|down|both]`, `cut`, `stats`, `quit`.
"""

import argparse
import asyncio
import signal
import socket
import struct
import sys
import threading
import time

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
DIRECTIONS = ("up", "down")
chunkBytesMax = 64 * 1024
queuedChunksMax = 256
controlSecondsMax = 10.0
connectSecondsMax = 5.0
stopSecondsMax = 10.0
delayMillisecondsMax = 60_000


class FaultProxyError(Exception):
    """A proxy was misconfigured or misused (bad address, direction or delay)."""


def _directions(direction):
    if direction == "both":
        return DIRECTIONS
    if direction in DIRECTIONS:
        return (direction,)
    raise FaultProxyError(f"direction must be 'up', 'down' or 'both', not {direction!r}")


def _check_loopback(host):
    if host not in LOOPBACK_HOSTS:
        raise FaultProxyError(f"the fault proxy is loopback only; refusing host {host!r}")


def _reset(writer):
    """Closes a stream with an RST (SO_LINGER 0) instead of a FIN, as a broken link would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class _Connection:
    """One proxied connection: two pumps per direction (reader -> queue -> writer)."""

    def __init__(self, proxy, client_reader, client_writer, target_reader, target_writer):
        self.proxy = proxy
        self.readers = {"up": client_reader, "down": target_reader}
        self.writers = {"up": target_writer, "down": client_writer}
        self.client_writer = client_writer
        self.target_writer = target_writer
        self.lost_bytes = {"up": False, "down": False}
        self.finished = set()
        self.tasks = []
        self.closed = False

    def start(self):
        loop = asyncio.get_running_loop()
        for direction in DIRECTIONS:
            queue = asyncio.Queue(maxsize=queuedChunksMax)
            self.tasks.append(loop.create_task(self._read(direction, queue)))
            self.tasks.append(loop.create_task(self._write(direction, queue)))

    async def _read(self, direction, queue):
        reader = self.readers[direction]
        try:
            while True:
                data = await reader.read(chunkBytesMax)
                if not data:
                    await queue.put(None)  # end of stream: half-close the other side
                    return
                faults = self.proxy._faults
                if direction in faults.blackholed:
                    self.lost_bytes[direction] = True
                    self.proxy._count(direction, dropped=len(data))
                    continue
                due = time.monotonic() + faults.delay_seconds[direction]
                await queue.put((due, data))
        except (ConnectionError, OSError):
            self.reset()
        except asyncio.CancelledError:
            pass

    async def _write(self, direction, queue):
        writer = self.writers[direction]
        try:
            while True:
                item = await queue.get()
                if item is None:
                    if writer.can_write_eof():
                        writer.write_eof()
                    self.finished.add(direction)
                    if len(self.finished) == len(DIRECTIONS):
                        self.close()
                    return
                due, data = item
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
                self.proxy._count(direction, forwarded=len(data))
        except (ConnectionError, OSError):
            self.reset()
        except asyncio.CancelledError:
            pass

    def close(self):
        """Both directions ended cleanly: close both sides and forget the connection."""
        if self.closed:
            return
        self.closed = True
        self.client_writer.close()
        self.target_writer.close()
        self.proxy._connections.discard(self)

    def reset(self):
        """Aborts both sides with RST and stops the pumps; idempotent."""
        if self.closed:
            return
        self.closed = True
        _reset(self.client_writer)
        _reset(self.target_writer)
        for task in self.tasks:
            task.cancel()
        self.proxy._connections.discard(self)
        self.proxy._stats["resets"] += 1


class _Faults:
    """The faults in force; replaced as a whole on every change (readers see one snapshot)."""

    def __init__(self, delay_seconds=None, blackholed=frozenset(), cut=False):
        self.delay_seconds = delay_seconds or {"up": 0.0, "down": 0.0}
        self.blackholed = frozenset(blackholed)
        self.cut = cut

    def replacing(self, **changes):
        values = {"delay_seconds": dict(self.delay_seconds), "blackholed": self.blackholed, "cut": self.cut}
        values.update(changes)
        return _Faults(**values)


class FaultProxy:
    """Forwards TCP connections from `listen` to `target` with faults set at runtime.

    `listen` defaults to 127.0.0.1 port 0 (the kernel picks; read `port` after `start()`).
    All control methods are thread-safe and return once the change is in force.
    """

    def __init__(self, target, listen=("127.0.0.1", 0), name=None):
        _check_loopback(listen[0])
        _check_loopback(target[0])
        self.target = (target[0], int(target[1]))
        self.listen = (listen[0], int(listen[1]))
        self.name = name or f"proxy->{self.target[1]}"
        self.port = None
        self._faults = _Faults()
        self._connections = set()
        self._stats = {"accepted": 0, "refused": 0, "resets": 0, "target_unreachable": 0,
                       "up_bytes": 0, "down_bytes": 0, "up_dropped": 0, "down_dropped": 0}
        self._loop = None
        self._server = None
        self._thread = None

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self):
        """Binds the listener and starts the proxy thread; returns self."""
        assert self._thread is None, "proxy already started"
        bound = threading.Event()
        failure = []

        def run():
            self._loop = asyncio.new_event_loop()
            try:
                self._server = self._loop.run_until_complete(
                    asyncio.start_server(self._accept, self.listen[0], self.listen[1], reuse_address=True))
                self.port = self._server.sockets[0].getsockname()[1]
            except OSError as error:
                failure.append(error)
                bound.set()
                self._loop.close()
                return
            bound.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not bound.wait(controlSecondsMax) or failure:
            raise FaultProxyError(f"{self.name}: cannot listen on {self.listen}: {failure}")
        return self

    def stop(self):
        """Closes the listener and every connection; joins the thread. Idempotent."""
        if self._thread is None or self._loop is None or self._loop.is_closed():
            return

        async def shutdown():
            self._server.close()
            for connection in list(self._connections):
                connection.reset()
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        try:
            self._call(shutdown())
        except FaultProxyError:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(stopSecondsMax)

    def __enter__(self):
        return self.start() if self._thread is None else self

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self):
        return f"{self.listen[0]}:{self.port}"

    # ---- faults -------------------------------------------------------------------------

    def pass_through(self):
        """Lifts every fault (delay, blackhole, cut); connections that lost bytes are reset."""
        self._set(_Faults())

    def heal(self):
        """Same as pass_through(): the link is whole again."""
        self.pass_through()

    def delay(self, ms, direction="both"):
        """Delays each chunk read in `direction` by `ms` milliseconds (0 lifts it)."""
        if not 0 <= ms <= delayMillisecondsMax:
            raise FaultProxyError(f"delay must be within 0...{delayMillisecondsMax} ms, not {ms}")
        delays = dict(self._faults.delay_seconds)
        for one in _directions(direction):
            delays[one] = ms / 1000.0
        self._set(self._faults.replacing(delay_seconds=delays))

    def blackhole(self, direction="both"):
        """Discards every byte read in `direction` until the fault is lifted."""
        holes = set(self._faults.blackholed) | set(_directions(direction))
        self._set(self._faults.replacing(blackholed=holes))

    def unblackhole(self, direction="both"):
        """Lifts the blackhole in `direction`; connections that lost bytes there are reset."""
        holes = set(self._faults.blackholed) - set(_directions(direction))
        self._set(self._faults.replacing(blackholed=holes))

    def cut(self):
        """Resets every connection and resets new ones as soon as they are accepted."""
        self._set(self._faults.replacing(cut=True))

    def stats(self):
        """Counters: accepted, refused, resets, target_unreachable, {up,down}_{bytes,dropped},
        plus `open` (connections now open). A copy, safe to keep."""

        async def snapshot():
            copy = dict(self._stats)
            copy["open"] = len(self._connections)
            return copy

        return self._call(snapshot())

    def describe(self):
        faults = self._faults
        parts = []
        if faults.cut:
            parts.append("cut")
        parts += [f"blackhole {d}" for d in sorted(faults.blackholed)]
        parts += [f"delay {d} {int(s * 1000)}ms" for d, s in sorted(faults.delay_seconds.items()) if s]
        return f"{self.name} {self.address} -> {self.target[0]}:{self.target[1]}: {', '.join(parts) or 'pass'}"

    # ---- inside the proxy thread --------------------------------------------------------

    def _set(self, faults):
        async def apply():
            previous = self._faults
            self._faults = faults
            for connection in list(self._connections):
                lifted = [d for d in previous.blackholed if d not in faults.blackholed]
                if faults.cut or any(connection.lost_bytes[d] for d in lifted):
                    connection.reset()

        self._call(apply())

    def _call(self, coroutine):
        if self._loop is None or self._loop.is_closed():
            coroutine.close()
            raise FaultProxyError(f"{self.name} is not running")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(controlSecondsMax)
        except TimeoutError as error:
            raise FaultProxyError(f"{self.name}: control call timed out") from error

    def _count(self, direction, forwarded=0, dropped=0):
        self._stats[f"{direction}_bytes"] += forwarded
        self._stats[f"{direction}_dropped"] += dropped

    async def _accept(self, client_reader, client_writer):
        if self._faults.cut:
            self._stats["refused"] += 1
            _reset(client_writer)
            return
        try:
            target_reader, target_writer = await asyncio.wait_for(
                asyncio.open_connection(*self.target), connectSecondsMax)
        except (OSError, asyncio.TimeoutError):
            self._stats["target_unreachable"] += 1
            _reset(client_writer)
            return
        if self._faults.cut:  # cut while we were connecting
            self._stats["refused"] += 1
            _reset(client_writer)
            _reset(target_writer)
            return
        self._stats["accepted"] += 1
        connection = _Connection(self, client_reader, client_writer, target_reader, target_writer)
        self._connections.add(connection)
        connection.start()


# ---------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------


def _parse_address(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _apply_command(proxy, words):
    """Runs one stdin command; returns False on quit."""
    verb, args = words[0], words[1:]
    if verb == "quit":
        return False
    if verb in ("pass", "heal"):
        proxy.heal()
    elif verb == "delay" and args:
        proxy.delay(int(args[0]), args[1] if len(args) > 1 else "both")
    elif verb == "blackhole":
        proxy.blackhole(args[0] if args else "both")
    elif verb == "cut":
        proxy.cut()
    elif verb == "stats":
        print(proxy.stats(), flush=True)
        return True
    else:
        raise FaultProxyError(f"unknown command {' '.join(words)!r}")
    print(proxy.describe(), flush=True)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fault-injecting TCP proxy (loopback only).")
    parser.add_argument("--listen", type=_parse_address, required=True, help="HOST:PORT to accept on")
    parser.add_argument("--target", type=_parse_address, required=True, help="HOST:PORT to forward to")
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # before the banner: a caller may signal at once
    try:
        proxy = FaultProxy(options.target, listen=options.listen).start()
    except FaultProxyError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"proxy listening {proxy.address} -> {options.target[0]}:{options.target[1]}", flush=True)
    print("commands: pass | heal | delay MS [up|down|both] | blackhole [up|down|both] | cut | stats | quit",
          flush=True)
    try:
        quitting = False
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            try:
                if not _apply_command(proxy, words):
                    quitting = True
                    break
            except (FaultProxyError, ValueError) as error:
                print(f"error: {error}", flush=True)
        if not quitting:  # stdin closed (run in the background): serve until a signal
            while True:  # short sleeps: a signal caught by the proxy thread is handled here soon
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
