"""Command-level differential fuzzer: random, hostile commands sent to trestle and to a real
redis-server side by side, in the same order, over raw RESP.

Used by `test_fuzz_commands.py`; the pieces:

- `CommandTable`: names, arities, key positions and subcommands from trestle's `COMMAND`.
- `Generator`: seeded command generation. A command is either generic (a name from the
  table, argument count around its arity, pool keys at its key positions, hostile values
  elsewhere), a well-formed template from `TEMPLATES` (builds state: strings, lists, sets,
  sorted sets, hashes and streams on a small key pool, so types collide), or a template with
  1-3 mutations (an argument replaced by a hostile value, an argument inserted, deleted,
  duplicated or swapped, a keyword's case changed). `sanitize` then drops or rewrites what
  would block, end the connection, or change server state in ways that break the run (see
  `EXCLUDED`, `SUBCOMMANDS_ALLOWED`, blocking timeouts forced to 10 ms), and what would make
  redis-server build a huge value or reply (huge negative *RANDMEMBER counts, SETBIT offsets
  that allocate hundreds of MB, LCS of two long strings).
- `Fuzzer.run`: sends each command to both servers (both requests written before either
  reply is read, so time-dependent state stays in step), then checks that trestle's process
  is alive and that a PING on a second connection gets PONG. A dead process, a missing reply
  (10 s), a failed PING or a connection trestle closed is a *crash*: the last commands are
  kept, replayed on fresh servers and shrunk (`minimize`), and trestle is restarted.
- Replies are compared by kind (error or not) for every command, and exactly for `CORE`
  (TTL within 1 s). Mismatches are grouped by command name. Keys a mismatching command
  names are deleted on both servers afterwards (so one difference does not cascade), as are
  keys written by a command whose effect is random (`NONDETERMINISTIC_WRITERS`). Every
  `STATE_CHECK_EVERY` commands the pool keys' contents are compared (a silent divergence
  is reported with the key's recent commands) and resynchronized.

Commands whose *values* legitimately differ (random picks, clocks, ids, server
introspection, encodings, dump payloads, script caches, scan cursors and orders) are only
compared by kind: `VALUE_MAY_DIFFER` documents why.
"""

import collections
import hashlib
import math
import os
import random
import socket
import time

from resp import parse_reply

KEYS = ["k1", "k2", "k3", "k4", "k5", "k6", "{t}a", "{t}b"]
RARE_KEYS = ["", "\x00", "k" * 300, "*", "k1 ", "K1"]
MEMBERS = ["m1", "m2", "m3", "a", "b", "c", "1", "2", "-1", "1.5", "10"]
GROUPS = ["g1", "g2"]
CONSUMERS = ["c1", "c2"]

HOSTILE_INTS = [
    "9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
    "18446744073709551615", "18446744073709551616", "2147483648", "-2147483648", "2147483647",
    "4294967295", "4294967296", "-1", "0", "-0", "+1", "01", "00",
    # seconds -> milliseconds overflow edges, 512 MiB edges, 2^62, not-quite integers
    "9223372036854775", "9223372036854776", "-9223372036854775", "-9223372036854776", "922337203685477581",
    "536870911", "536870912", "4611686018427387904", "-4611686018427387904", "1e3", "1.0", "0x7f",
    "99999999999999999999999999",
]
SMALL_INTS = ["0", "1", "2", "3", "5", "10", "-1", "-2", "-5", "100", "1000"]
HOSTILE_FLOATS = [
    "nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "-Infinity", "1e308", "-1e308", "1.5",
    "-1.5", "1e400", "-1e400", "1e-400", "0x10", " 1", "1 ", "1.", ".5", "0.0", "-0.0", "3e2",
    "1_0", "(1", "(1.5", "(inf", "(-inf", "[a", "(a", "-", "+", "1e", "e1", "0.1", "2.5e-3",
    "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589"
    "55863276687817154045895351438246423056364405547130433210941795301970",
]
RANGE_BOUNDS = ["-inf", "+inf", "(1", "0", "1", "(2", "-", "+", "[a", "(b", "[m1", "(", "[", "1.5", "(nan"]
STREAM_IDS = [
    "*", "$", ">", "+", "-", "0", "0-0", "0-1", "1-0", "1-1", "1", "2", "1-*", "5-5", "100-0",
    "9223372036854775807-0", "18446744073709551615-18446744073709551615",
    "18446744073709551615-18446744073709551614", "0-18446744073709551615", "1-", "-1", "1-a", "(1-1",
]
KEYWORDS = (
    "NX XX GT LT CH INCR EX PX EXAT PXAT KEEPTTL GET LIMIT WITHSCORES WITHSCORE BYSCORE BYLEX REV "
    "COUNT MATCH TYPE STORE ALPHA ASC DESC BY LEFT RIGHT BEFORE AFTER MAXLEN MINID NOMKSTREAM IDLE "
    "TIME RETRYCOUNT FORCE JUSTID LASTID MKSTREAM ENTRIESREAD BLOCK STREAMS NOACK AGGREGATE WEIGHTS "
    "SUM MIN MAX LEN IDX MINMATCHLEN WITHMATCHLEN RANK REPLACE ABSTTL IDLETIME FREQ BIT BYTE AND OR "
    "XOR NOT OVERFLOW WRAP SAT FAIL INCRBY SET PERSIST WITHVALUES GROUP FULL SETNAME ON OFF YES NO "
    "ASYNC SYNC FLUSH LOAD EXISTS string list set zset hash stream ~ = nosort # * weight_* h_*->f"
).split()
STRINGS = [
    "", "v", "abc", "hello world", "\x00", "\x00\x01\xff", "\r\n", "*1\r\n$4\r\nPING\r\n", "-ERR x",
    "\xff\xfe", "é", "h*llo", "h?llo", "[a-z]*", "[^a]", "\\", "[", "*", "?", "**", "[]", "[a-]",
    "a" * 17, "0", "1", "-1", "1.5", "12345678901234567890", "{t}", "%s%n", "\t", " ",
]
SCRIPTS = [
    "return 1",
    "return redis.call('get', KEYS[1])",
    "return redis.call('set', KEYS[1], ARGV[1])",
    "return redis.pcall('incr', KEYS[1])",
    "return {1, 'a', {2, 3}, false}",
    "return redis.error_reply('MYERR boom')",
    "return redis.status_reply('FINE')",
    "return 3.99",
    "error('boom')",
    "return redis.call(ARGV[1], KEYS[1])",
    "return redis.pcall(ARGV[1], KEYS[1], ARGV[2])",
    "return redis.call('lpush', KEYS[1], unpack(ARGV))",
    "return #KEYS + #ARGV",
    "return tostring(tonumber(ARGV[1]))",
    "return redis.call('lrange', KEYS[1], 0, -1)",
    "return redis.sha1hex(ARGV[1])",
    "return redis.call('hgetall', KEYS[1])",
    "return redis.call('zadd', KEYS[1], ARGV[1], 'm1')",
    "return string.rep('x', 10)",
    "return redis.call('ping')",
    "return redis.call('incrbyfloat', KEYS[1], ARGV[1])",
    "return {err='x'}",
    "return {ok='y'}",
    "local n = 0 for i = 1, 1000 do n = n + i end return n",
    "return nil",
    "return redis.call('exists', unpack(KEYS))",
    "return",
    "retrun 1",
    "",
]
SCRIPT_SHAS = [hashlib.sha1(script.encode()).hexdigest() for script in SCRIPTS[:6]]
LONG_SIZES = [1000, 4096, 65536, 100000]

# A template is one command; placeholders are filled per use. {k} pool key, {m} member,
# {v} value, {n} small integer, {f} score/float, {r} range bound, {l} lex bound, {id} stream
# id, {g} group, {c} consumer, {p} glob pattern, {s} script, {sha} script sha, {t} type.
TEMPLATES = """
SET {k} {v}|SET {k} {v} NX|SET {k} {v} XX GET|SET {k} {v} EX 100|SET {k} {v} PX 100000 GET
SET {k} {v} KEEPTTL|SET {k} {n}|SET {k} {v} EXAT 4102444800|GET {k}|GETEX {k} PERSIST|GETEX {k} EX 100
GETDEL {k}|GETSET {k} {v}|MSET {k} {v} {k} {v}|MSETNX {k} {v} {k} {v}|MGET {k} {k} {k}|SETNX {k} {v}
SETEX {k} 100 {v}|PSETEX {k} 100000 {v}|APPEND {k} {v}|STRLEN {k}|INCR {k}|DECR {k}|INCRBY {k} {n}
DECRBY {k} {n}|INCRBYFLOAT {k} {f}|GETRANGE {k} {n} {n}|SUBSTR {k} {n} {n}|SETRANGE {k} {n} {v}
LCS {k} {k}|LCS {k} {k} LEN|LCS {k} {k} IDX MINMATCHLEN {n} WITHMATCHLEN|SETBIT {k} {n} 1
GETBIT {k} {n}|BITCOUNT {k}|BITCOUNT {k} {n} {n} BIT|BITCOUNT {k} 0 -1 BYTE|BITPOS {k} 1
BITPOS {k} 0 {n} {n} BIT|BITOP AND {k} {k} {k}|BITOP NOT {k} {k}|BITOP XOR {k} {k} {k} {k}
LPUSH {k} {m} {m}|RPUSH {k} {m} {m} {m}|LPUSHX {k} {m}|RPUSHX {k} {m}|LPOP {k}|LPOP {k} {n}
RPOP {k} {n}|LRANGE {k} 0 -1|LRANGE {k} {n} {n}|LINDEX {k} {n}|LLEN {k}|LSET {k} {n} {m}
LINSERT {k} BEFORE {m} {m}|LINSERT {k} AFTER {m} {m}|LREM {k} {n} {m}|LTRIM {k} {n} {n}|LPOS {k} {m}
LPOS {k} {m} RANK {n} COUNT {n} MAXLEN {n}|LMOVE {k} {k} LEFT RIGHT|RPOPLPUSH {k} {k}
LMPOP 2 {k} {k} LEFT COUNT {n}|BLPOP {k} {k} 0.01|BRPOP {k} 0.01|BLMOVE {k} {k} RIGHT LEFT 0.01
BRPOPLPUSH {k} {k} 0.01|BLMPOP 0.01 1 {k} RIGHT|SADD {k} {m} {m}|SREM {k} {m}|SCARD {k}
SISMEMBER {k} {m}|SMISMEMBER {k} {m} {m}|SMEMBERS {k}|SPOP {k}|SPOP {k} {n}|SRANDMEMBER {k} {n}
SMOVE {k} {k} {m}|SINTER {k} {k}|SINTERCARD 2 {k} {k} LIMIT {n}|SUNION {k} {k}|SDIFF {k} {k}
SINTERSTORE {k} {k} {k}|SUNIONSTORE {k} {k} {k}|SDIFFSTORE {k} {k} {k}|SSCAN {k} 0 MATCH {p} COUNT {n}
ZADD {k} {f} {m}|ZADD {k} {n} {m} {n} {m}|ZADD {k} NX {f} {m} {f} {m}|ZADD {k} XX CH INCR {f} {m}
ZADD {k} GT CH {f} {m}|ZADD {k} LT {f} {m}|ZINCRBY {k} {f} {m}|ZSCORE {k} {m}|ZMSCORE {k} {m} {m}
ZCARD {k}|ZCOUNT {k} {r} {r}|ZRANK {k} {m}|ZREVRANK {k} {m}|ZRANGE {k} 0 -1 WITHSCORES
ZRANGE {k} {r} {r} BYSCORE LIMIT {n} {n}|ZRANGE {k} {l} {l} BYLEX REV|ZRANGE {k} {n} {n} REV WITHSCORES
ZRANGEBYSCORE {k} -inf +inf WITHSCORES LIMIT 0 {n}|ZREVRANGEBYSCORE {k} +inf -inf|ZRANGEBYLEX {k} - +
ZREVRANGEBYLEX {k} + - LIMIT 0 {n}|ZLEXCOUNT {k} {l} {l}|ZREM {k} {m}|ZREMRANGEBYRANK {k} {n} {n}
ZREMRANGEBYSCORE {k} {r} {r}|ZREMRANGEBYLEX {k} {l} {l}|ZPOPMIN {k} {n}|ZPOPMAX {k}
ZMPOP 1 {k} MIN COUNT {n}|BZPOPMIN {k} 0.01|BZPOPMAX {k} {k} 0.01|BZMPOP 0.01 2 {k} {k} MAX
ZUNIONSTORE {k} 2 {k} {k} WEIGHTS {f} {f} AGGREGATE MAX|ZINTERSTORE {k} 2 {k} {k}
ZDIFFSTORE {k} 2 {k} {k}|ZUNION 2 {k} {k} WITHSCORES|ZINTER 2 {k} {k} AGGREGATE MIN WITHSCORES
ZDIFF 2 {k} {k}|ZINTERCARD 2 {k} {k} LIMIT {n}|ZRANGESTORE {k} {k} 0 -1|ZRANGESTORE {k} {k} {r} {r} BYSCORE
ZRANDMEMBER {k} {n} WITHSCORES|ZSCAN {k} 0|HSET {k} {m} {v}|HSET {k} {m} {v} {m} {v}|HMSET {k} {m} {v}
HSETNX {k} {m} {v}|HGET {k} {m}|HMGET {k} {m} {m}|HDEL {k} {m}|HLEN {k}|HEXISTS {k} {m}|HSTRLEN {k} {m}
HKEYS {k}|HVALS {k}|HGETALL {k}|HINCRBY {k} {m} {n}|HINCRBYFLOAT {k} {m} {f}|HRANDFIELD {k} {n} WITHVALUES
HSCAN {k} 0 COUNT {n}|XADD {k} * {m} {v}|XADD {k} {id} {m} {v}|XADD {k} MAXLEN ~ {n} * f v
XADD {k} NOMKSTREAM MINID {id} * f v|XADD {k} MAXLEN = {n} LIMIT {n} {id} f v|XLEN {k}|XRANGE {k} - +
XRANGE {k} {id} {id} COUNT {n}|XREVRANGE {k} + - COUNT {n}|XDEL {k} {id}|XTRIM {k} MAXLEN {n}
XTRIM {k} MINID ~ {id} LIMIT {n}|XGROUP CREATE {k} {g} $ MKSTREAM|XGROUP CREATE {k} {g} 0 ENTRIESREAD {n}
XGROUP SETID {k} {g} {id}|XGROUP DESTROY {k} {g}|XGROUP CREATECONSUMER {k} {g} {c}
XGROUP DELCONSUMER {k} {g} {c}|XREADGROUP GROUP {g} {c} COUNT {n} STREAMS {k} >
XREADGROUP GROUP {g} {c} NOACK STREAMS {k} 0|XREAD COUNT {n} STREAMS {k} {k} 0 {id}|XREAD BLOCK 10 STREAMS {k} $
XACK {k} {g} {id}|XPENDING {k} {g}|XPENDING {k} {g} IDLE {n} - + {n} {c}
XCLAIM {k} {g} {c} {n} {id} JUSTID FORCE RETRYCOUNT {n} IDLE {n}|XAUTOCLAIM {k} {g} {c} {n} 0 COUNT {n} JUSTID
XINFO STREAM {k}|XINFO STREAM {k} FULL COUNT {n}|XINFO GROUPS {k}|XINFO CONSUMERS {k} {g}
DEL {k} {k}|UNLINK {k}|EXISTS {k} {k}|TYPE {k}|RENAME {k} {k}|RENAMENX {k} {k}|COPY {k} {k} REPLACE
EXPIRE {k} {n}|EXPIRE {k} 100 NX|EXPIRE {k} 200 GT|PEXPIRE {k} 100000 XX|EXPIREAT {k} 4102444800
PEXPIREAT {k} 4102444800000 LT|TTL {k}|PTTL {k}|EXPIRETIME {k}|PEXPIRETIME {k}|PERSIST {k}|TOUCH {k}
OBJECT ENCODING {k}|DUMP {k}|KEYS *|KEYS {p}|SCAN 0 MATCH {p} COUNT {n} TYPE {t}|RANDOMKEY|DBSIZE
SORT {k}|SORT {k} ALPHA DESC LIMIT 0 {n}|SORT {k} BY nosort|SORT {k} STORE {k}|SORT_RO {k} ALPHA
SORT {k} BY {k} GET # GET {p}|MULTI|EXEC|DISCARD|WATCH {k}|UNWATCH|PING|PING {v}|ECHO {v}
EVAL {s} 1 {k} {v}|EVAL {s} 0|EVAL {s} 2 {k} {k} {v} {v}|EVALSHA {sha} 1 {k}|EVAL_RO {s} 1 {k}
SCRIPT LOAD {s}|SCRIPT EXISTS {sha} {sha}|PUBLISH ch {v}|PUBSUB CHANNELS|PUBSUB NUMSUB ch
COMMAND GETKEYS SET a b|COMMAND GETKEYS ZUNIONSTORE d 2 a b|COMMAND INFO get|COMMAND COUNT|HELLO 3|HELLO 2
CLIENT SETNAME n1|CLIENT GETNAME|OBJECT FREQ {k}|MEMORY USAGE {k}|CONFIG GET maxmemory|SELECT 0
"""
TEMPLATES = [line.split() for row in TEMPLATES.strip().splitlines() for line in row.split("|")]

# Never sent: they block, end the connection, stop the server, change replication, cluster,
# users or persistence, or are not Redis commands.
EXCLUDED = {
    "shutdown", "debug", "monitor", "subscribe", "psubscribe", "ssubscribe", "wait", "waitaof",
    "save", "bgsave", "bgrewriteaof", "quit", "reset", "failover", "replicaof", "slaveof",
    "cluster", "acl", "migrate", "sync", "psync", "auth", "trestle", "module", "swapdb", "move",
    "replconf", "latency",
}
# For container commands only these subcommands are sent (unknown words are allowed: both
# must error). CLIENT KILL/PAUSE/UNPAUSE/REPLY/TRACKING/CACHING, CONFIG SET/REWRITE and
# SCRIPT KILL/DEBUG are left out.
SUBCOMMANDS_ALLOWED = {
    "client": ["id", "setname", "getname", "list", "info", "setinfo", "no-evict", "no-touch", "help",
               "getredir", "trackinginfo", "unblock"],
    "config": ["get", "resetstat", "help"],
    "script": ["load", "exists", "flush", "help"],
    "command": ["count", "info", "docs", "getkeys", "getkeysandflags", "list", "help"],
    "pubsub": ["channels", "numpat", "numsub", "shardchannels", "shardnumsub", "help"],
    "object": ["encoding", "freq", "idletime", "refcount", "help"],
    "memory": ["usage", "stats", "doctor", "malloc-stats", "purge", "help"],
    "xgroup": ["create", "setid", "destroy", "createconsumer", "delconsumer", "help"],
    "xinfo": ["stream", "groups", "consumers", "help"],
}
SUBCOMMANDS_REFUSED = {
    "client": {"kill", "pause", "unpause", "reply", "tracking", "caching"},
    "config": {"set", "rewrite"},
    "script": {"kill", "debug"},
}
# Blocking commands: where the timeout argument is (index into the command), and safe values.
TIMEOUT_LAST = {"blpop", "brpop", "brpoplpush", "blmove", "bzpopmin", "bzpopmax"}
TIMEOUT_FIRST = {"blmpop", "bzmpop"}
SAFE_TIMEOUTS = ["0.01", "0.02", "0.001", "-1", "abc", "1e-2"]
SAFE_BLOCK_MS = ["10", "1", "-1", "abc"]

# Replies compared exactly (TTL within one second: the two servers read the clock apart).
CORE = {
    "get", "set", "incr", "incrby", "decrby", "append", "strlen", "getrange", "setrange", "lpush",
    "rpush", "lrange", "lindex", "llen", "sadd", "scard", "zadd", "zscore", "zincrby", "hset", "hget",
    "hincrby", "expire", "ttl",
}

# Commands whose values may legitimately differ; only error-vs-not is compared for them, as
# for every command outside CORE. Kept as documentation and used to tag the report.
VALUE_MAY_DIFFER = {
    "randomkey": "random pick", "spop": "random pick", "srandmember": "random pick",
    "hrandfield": "random pick", "zrandmember": "random pick", "time": "clock",
    "lastsave": "clock", "info": "server introspection", "client": "connection ids, names, stats",
    "hello": "server id, version, connection id", "dbsize": "timing of expiry",
    "object": "encodings, idle times, LFU", "memory": "allocator", "dump": "payload format",
    "restore": "payload format", "command": "command tables differ (7.2 vs 7.0, no hll)",
    "config": "parameter sets differ", "script": "script cache", "eval": "random scripts",
    "evalsha": "script cache", "eval_ro": "random scripts", "evalsha_ro": "script cache",
    "xadd": "time-based ids", "xinfo": "ids, times, encodings", "xpending": "idle times",
    "xclaim": "idle times", "xautoclaim": "idle times", "xreadgroup": "time-based ids",
    "xread": "time-based ids", "xrange": "time-based ids", "xrevrange": "time-based ids",
    "scan": "cursor and order", "sscan": "cursor and order", "hscan": "cursor and order",
    "zscan": "cursor and order", "keys": "order", "smembers": "order", "sinter": "order",
    "sunion": "order", "sdiff": "order", "hkeys": "order", "hvals": "order", "hgetall": "order",
    "pttl": "clock", "expiretime": "clock", "pexpiretime": "clock", "sort": "order of ties",
    "pubsub": "other clients", "publish": "other clients", "exec": "contains the above",
}
# Trestle follows Redis 7.2; these exist only there (the reference is 7.0), so Redis errors.
REDIS_72_ONLY = {
    ("client", "setinfo"), ("client", "no-touch"), ("zrank", "withscore"), ("zrevrank", "withscore"),
}

# Writes whose effect is random or time-dependent: the keys they name are deleted on both
# servers afterwards so later exact comparisons stay meaningful.
NONDETERMINISTIC_WRITERS = {"spop", "sort"}
# A mismatch on these may have touched keys they do not name: FLUSHALL on both afterwards.
GLOBAL_EFFECT = {"flushall", "flushdb", "exec", "eval", "eval_ro", "evalsha", "evalsha_ro"}

FLOAT_REPLIES = {"zscore", "zincrby", "zadd"}
# Commands that may give a key a time to live, and those that carry one to other keys. A
# CORE mismatch on a key that may expire within EXPIRY_SLACK seconds of now is a timing
# race between the two servers (each expires on its own clock), reported but not failed.
TTL_COMMANDS = {"expire", "pexpire", "expireat", "pexpireat", "setex", "psetex", "getex", "set", "restore"}
TTL_WORDS = {b"EX", b"PX", b"EXAT", b"PXAT"}
TTL_CARRIERS = {"rename", "renamenx", "copy"}
EXPIRY_SLACK = 0.25
STATE_CHECK_EVERY = 500
SYNC_CHECK_EVERY = 50
STATE_CHECK_KEYS_MAX = 100
KEY_HISTORY_NAME_MAX = 300
MEMORY_CHECK_EVERY = 250
REDIS_MEMORY_MAX = 300 * 1024 * 1024
REPLY_TIMEOUT = 10.0
PING_TIMEOUT = 5.0
REPLY_BYTES_MAX = 64 * 1024 * 1024
WINDOW = 20


class ConnectionClosed(Exception):
    pass


def encode(args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def as_bytes(arg):
    if isinstance(arg, bytes):
        return arg
    return str(arg).encode("latin-1") if all(ord(ch) < 256 for ch in str(arg)) else str(arg).encode()


class Client:
    """A raw RESP2/RESP3 connection; replies are tagged like tests/resp.py:
    ('+', b'OK') ('-', b'ERR ..') (':', 5) ('$', b'v') ('*', [...]) ('%', [(k, v), ...]) ..."""

    def __init__(self, port, timeout=REPLY_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def settimeout(self, seconds):
        self.sock.settimeout(seconds)

    def send(self, data):
        self.sock.sendall(data)

    def call(self, *args):
        self.send(encode([as_bytes(a) for a in args]))
        return self.read()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk
        if len(self.buf) - self.pos > REPLY_BYTES_MAX:
            raise ConnectionClosed("reply larger than REPLY_BYTES_MAX")

    def _line(self):
        scanned = 0  # bytes after self.pos already searched (less one: CR may end a chunk)
        while True:
            index = self.buf.find(b"\r\n", self.pos + scanned)
            if index >= 0:
                line = bytes(self.buf[self.pos:index])
                self.pos = index + 2
                return line
            scanned = max(0, len(self.buf) - self.pos - 1)
            self._fill()

    def _exact(self, count):
        while len(self.buf) - self.pos < count + 2:
            self._fill()
        data = bytes(self.buf[self.pos:self.pos + count])
        self.pos += count + 2
        return data

    def read(self):
        return parse_reply(self._line, self._exact, error=ConnectionClosed)


# In RESP2 and RESP3 alike these answer once per channel named (once with none), so a
# fence (ECHO of a token) is sent after them and replies are read up to the token.
MANY_REPLIES = {b"unsubscribe", b"punsubscribe", b"sunsubscribe"}
FENCE = b"trestle-fuzz-fence-5f1e"


def fenced(args, in_multi):
    return not in_multi and args[0].lower() in MANY_REPLIES


def request(args, in_multi):
    data = encode(args)
    return data + encode([b"ECHO", FENCE]) if fenced(args, in_multi) else data


def read_reply(client, args, in_multi):
    """The reply to `request(args, in_multi)`; several replies come back as one ('*', [...])."""
    if not fenced(args, in_multi):
        return client.read()
    replies = []
    while True:
        reply = client.read()
        if reply == ("$", FENCE):
            return replies[0] if len(replies) == 1 else ("*", replies)
        replies.append(reply)
        if len(replies) > 1000:
            raise ConnectionClosed("fence never came back")


def is_error(reply):
    return reply[0] in "-!"


def show_arg(arg):
    """An argument as redis-cli would take it: quoted when needed, long ones abbreviated."""
    if len(arg) > 60:
        head = arg[:8]
        if arg == arg[:1] * len(arg):
            return f'"<{len(arg)} x {show_arg(arg[:1]).strip(chr(34))}>"'
        return f'"<{len(arg)} bytes starting {head!r}>"'
    if arg and all(33 <= b < 127 and b not in b'"\'\\' for b in arg):
        return arg.decode()
    out = []
    for b in arg:
        if b == 0x22:
            out.append('\\"')
        elif b == 0x5C:
            out.append("\\\\")
        elif 32 <= b < 127:
            out.append(chr(b))
        elif b == 10:
            out.append("\\n")
        elif b == 13:
            out.append("\\r")
        elif b == 9:
            out.append("\\t")
        else:
            out.append("\\x%02x" % b)
    return '"' + "".join(out) + '"'


def show_command(args):
    return " ".join(show_arg(a) for a in args)


def show_reply(reply, limit=200):
    text = repr(reply)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class CommandTable:
    """Trestle's command table: name -> (arity, first key, last key, step, subcommands)."""

    def __init__(self, reply):
        self.commands = {}
        for entry in reply[1]:
            fields = entry[1]
            name = fields[0][1].decode().lower()
            arity, first, last, step = fields[1][1], fields[3][1], fields[4][1], fields[5][1]
            subcommands = {}
            if len(fields) > 9 and fields[9][1]:
                for sub in fields[9][1]:
                    full = sub[1][0][1].decode().lower()
                    subcommands[full.split("|", 1)[1]] = sub[1][1][1]
            self.commands[name] = (arity, first, last, step, subcommands)

    def names(self):
        return sorted(name for name in self.commands if name not in EXCLUDED)


def command_name(args):
    """The name a mismatch is grouped under: `zadd`, or `client|list` for containers."""
    name = args[0].decode("latin-1").lower() if args else ""
    if name in SUBCOMMANDS_ALLOWED and len(args) > 1:
        sub = args[1].decode("latin-1").lower()
        return f"{name}|{sub if sub in SUBCOMMANDS_ALLOWED[name] else '<unknown>'}"
    return name


class Generator:
    def __init__(self, seed, table):
        self.rng = random.Random(seed)
        self.table = table
        self.names = table.names()
        self.subcommands = {}
        for name in self.names:
            subs = set(table.commands[name][4]) | set(SUBCOMMANDS_ALLOWED.get(name, []))
            allowed = [s for s in sorted(subs) if s not in SUBCOMMANDS_REFUSED.get(name, set())]
            if allowed:
                self.subcommands[name] = allowed

    # -- values --------------------------------------------------------------------------

    def key(self):
        if self.rng.random() < 0.03:
            return self.rng.choice(RARE_KEYS)
        return self.rng.choice(KEYS)

    def long_string(self):
        size = self.rng.choice(LONG_SIZES)
        roll = self.rng.random()
        if roll < 0.5:
            return "x" * size
        if roll < 0.8:
            return bytes(self.rng.getrandbits(8) for _ in range(min(size, 4096))) * (size // 4096 + 1)
        return "".join(self.rng.choice("ab*?[]\\^-") for _ in range(min(size, 4096)))

    def hostile(self):
        rng = self.rng
        roll = rng.random()
        if roll < 0.18:
            return rng.choice(HOSTILE_INTS)
        if roll < 0.33:
            return rng.choice(SMALL_INTS)
        if roll < 0.43:
            return rng.choice(HOSTILE_FLOATS)
        if roll < 0.58:
            word = rng.choice(KEYWORDS)
            return word.lower() if rng.random() < 0.2 else word
        if roll < 0.70:
            return self.key()
        if roll < 0.80:
            return rng.choice(MEMBERS)
        if roll < 0.86:
            return rng.choice(STRINGS)
        if roll < 0.90:
            return rng.choice(STREAM_IDS)
        if roll < 0.93:
            return rng.choice(RANGE_BOUNDS)
        if roll < 0.95:
            return rng.choice(SCRIPTS + SCRIPT_SHAS)
        if roll < 0.985:
            return bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 12)))
        return self.long_string()

    def fill(self, placeholder):
        rng = self.rng
        fillers = {
            "{k}": self.key,
            "{m}": lambda: rng.choice(MEMBERS),
            "{v}": lambda: rng.choice(STRINGS + MEMBERS) if rng.random() < 0.97 else self.long_string(),
            "{n}": lambda: rng.choice(SMALL_INTS) if rng.random() < 0.85 else rng.choice(HOSTILE_INTS),
            "{f}": lambda: rng.choice(SMALL_INTS + ["1.5", "-2.5", "0.1"]) if rng.random() < 0.8
            else rng.choice(HOSTILE_FLOATS),
            "{r}": lambda: rng.choice(RANGE_BOUNDS),
            "{l}": lambda: rng.choice(["-", "+", "[a", "(b", "[m1", "(m2", "[", "a", "[c"]),
            "{id}": lambda: rng.choice(STREAM_IDS),
            "{g}": lambda: rng.choice(GROUPS),
            "{c}": lambda: rng.choice(CONSUMERS),
            "{p}": lambda: rng.choice(["*", "k*", "k?", "*a*", "[k]*", "{t}*", "h*llo", "[^k]*", "\\*", "m*"]),
            "{s}": lambda: rng.choice(SCRIPTS),
            "{sha}": lambda: rng.choice(SCRIPT_SHAS + ["0" * 40, "x"]),
            "{t}": lambda: rng.choice(["string", "list", "set", "zset", "hash", "stream", "none", "x"]),
        }
        return fillers[placeholder]() if placeholder in fillers else placeholder

    # -- commands ------------------------------------------------------------------------

    def template(self):
        return [as_bytes(self.fill(word)) for word in self.rng.choice(TEMPLATES)]

    def mutate(self, args):
        rng = self.rng
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            op = rng.random()
            if op < 0.45 and len(args) > 1:
                args[rng.randrange(1, len(args))] = as_bytes(self.hostile())
            elif op < 0.65:
                args.insert(rng.randrange(1, len(args) + 1), as_bytes(self.hostile()))
            elif op < 0.75 and len(args) > 1:
                del args[rng.randrange(1, len(args))]
            elif op < 0.82 and len(args) > 1:
                index = rng.randrange(1, len(args))
                args.insert(index, args[index])
            elif op < 0.90 and len(args) > 2:
                i, j = rng.randrange(1, len(args)), rng.randrange(1, len(args))
                args[i], args[j] = args[j], args[i]
            elif op < 0.95:
                index = rng.randrange(len(args))
                args[index] = bytes(b ^ 0x20 if 65 <= (b & 0xDF) <= 90 and rng.random() < 0.5 else b
                                    for b in args[index])
            elif len(args) > 2:
                del args[rng.randrange(2, len(args)):]
        return args

    def generic(self):
        rng = self.rng
        name = rng.choice(self.names)
        arity, first, last, step, _ = self.table.commands[name]
        args = [as_bytes(name.upper() if rng.random() < 0.8 else name)]
        sub_arity = None
        if name in self.subcommands and rng.random() < 0.95:
            sub = rng.choice(self.subcommands[name])
            args.append(as_bytes(sub.upper()))
            sub_arity = self.table.commands[name][4].get(sub)
        wanted = abs(sub_arity if sub_arity is not None else arity)
        roll = rng.random()
        if (sub_arity if sub_arity is not None else arity) > 0:
            count = wanted if roll < 0.75 else max(1, wanted + rng.choice([-2, -1, 1, 2]))
        else:
            count = wanted + (0 if roll < 0.3 else int(rng.expovariate(0.3))) if roll > 0.05 else wanted - 1
        count = max(len(args), min(count, 24))
        if arity < 0 and rng.random() < 0.02:
            count = rng.randrange(50, 300)  # many arguments for a variadic command
        keys = set()
        if first > 0 and step > 0:
            end = last if last >= 0 else count + last
            keys = set(range(first, end + 1, step))
        while len(args) < count:
            position = len(args)
            if position in keys or (first == 0 and rng.random() < 0.3):
                args.append(as_bytes(self.key()))
            else:
                args.append(as_bytes(self.hostile()))
        return args

    def junk(self):
        rng = self.rng
        name = rng.choice([b"", b"\x00", b"GET\x00", b"NOSUCHCOMMAND", b"g", b"SETT", b"client|list", b"\xff" * 3])
        return [name] + [as_bytes(self.hostile()) for _ in range(rng.randrange(3))]

    def next(self):
        roll = self.rng.random()
        if roll < 0.35:
            return self.generic()
        if roll < 0.50:
            return self.template()
        if roll < 0.99:
            return self.mutate(self.template())
        return self.junk()


def sanitize(args, rng, in_multi):
    """The command as it may be sent, or None to drop it (see the module docstring)."""
    if not args:
        return None
    name = args[0].decode("latin-1").lower()
    upper = [a.upper() for a in args]
    if name in EXCLUDED:
        return None
    if name in SUBCOMMANDS_REFUSED and len(args) > 1 and args[1].decode("latin-1").lower() in SUBCOMMANDS_REFUSED[name]:
        return None
    if name in ("flushall", "flushdb") and rng.random() < 0.8:
        return None
    if name == "select":
        return [args[0], b"0"]
    if name == "hello" and b"AUTH" in upper:
        return None
    if name in TIMEOUT_LAST and len(args) > 1:
        args[-1] = as_bytes(rng.choice(SAFE_TIMEOUTS))
    if name in TIMEOUT_FIRST and len(args) > 1:
        args[1] = as_bytes(rng.choice(SAFE_TIMEOUTS))
    if name in ("xread", "xreadgroup"):
        for index in range(1, len(args) - 1):
            if upper[index] == b"BLOCK":
                args[index + 1] = as_bytes(rng.choice(SAFE_BLOCK_MS))
    if name in ("srandmember", "hrandfield", "zrandmember") and len(args) > 2:
        try:
            count = int(args[2])
        except ValueError:
            count = 0
        if -(2 ** 63) < count < -1000:
            args[2] = b"-3"
    if name == "setbit" and len(args) > 2:
        try:
            offset = int(args[2])
        except ValueError:
            offset = 0
        if 8_000_000 < offset < 2 ** 32:
            args[2] = b"4294967296"
    if name == "setrange" and len(args) > 2:
        try:
            offset = int(args[2])
        except ValueError:
            offset = 0
        if 1_000_000 < offset < 600_000_000:
            args[2] = b"536870912"
    if name == "lcs" and in_multi:
        return None
    if name in ("unsubscribe", "punsubscribe", "sunsubscribe") and in_multi:
        # Redis 7.0 writes one reply per channel inside the EXEC array, which then no longer
        # pairs up with its length: keep such transactions to one channel.
        del args[2:]
    if name in ("eval", "eval_ro", "evalsha", "evalsha_ro") and in_multi and rng.random() < 0.5:
        return None
    return args


def arg_keys(args):
    """Every distinct argument: any of them may name a key (mutations put values at key
    positions), and deleting a name that is no key is harmless."""
    found = []
    for arg in args[1:]:
        if arg not in found:
            found.append(arg)
    return found


def state_commands(key):
    return [("TYPE", key), ("GET", key), ("LRANGE", key, "0", "-1"), ("SMEMBERS", key),
            ("ZRANGE", key, "0", "-1", "WITHSCORES"), ("HGETALL", key), ("XLEN", key), ("PTTL", key)]


def canonical_state(replies):
    """A key's contents from the replies to `state_commands`, in comparable form."""
    kind = replies[0][1]
    by_type = {b"string": 1, b"list": 2, b"set": 3, b"zset": 4, b"hash": 5, b"stream": 6}
    if kind not in by_type:
        return (kind,)
    value = replies[by_type[kind]]
    if kind == b"set":
        value = sorted(item[1] for item in value[1])
    elif kind == b"hash":
        items = [item[1] for item in value[1]]
        value = sorted(zip(items[0::2], items[1::2]))
    elif kind == b"zset":
        items = [item[1] for item in value[1]]
        value = [(member, float(score)) for member, score in zip(items[0::2], items[1::2])]
    ttl = replies[7][1]
    return (kind, value, "no ttl" if ttl == -1 else "ttl")


class Crash:
    def __init__(self, kind, detail, window, command, stderr_tail, returncode):
        self.kind = kind  # died | unresponsive | no-reply | closed
        self.detail = detail
        self.window = window
        self.command = command
        self.stderr_tail = stderr_tail
        self.returncode = returncode
        self.minimized = None
        self.minimized_outcome = None
        self.occurrences = 1

    def signature(self):
        return (self.kind, command_name(self.command))


class Fuzzer:
    """One fuzz run. `start_trestle()` returns a started TrestleServer (conftest.py);
    `redis` is a started RedisReference."""

    def __init__(self, start_trestle, redis, seed, commands, seconds, minimize_seconds=120.0,
                 log=print):
        self.start_trestle = start_trestle
        self.redis = redis
        self.seed = seed
        self.commands_max = commands
        self.seconds = seconds
        self.minimize_seconds = minimize_seconds
        self.log = log
        self.executed = 0
        self.crashes = []
        self.redis_crashes = []
        self.mismatches = collections.OrderedDict()  # name -> [count, examples]
        self.core_mismatches = []  # CORE replies with different values (or kinds)
        self.core_error_texts = []  # CORE errors on both servers, with different texts
        self.core_timing = []  # CORE mismatches on keys that may have expired just then
        self.expiries = {}  # key -> times (monotonic) at which it may expire
        self.divergences = []
        self.history = []
        self.key_history = collections.defaultdict(lambda: collections.deque(maxlen=6))
        self.elapsed = 0.0
        self.trestle = None
        self.in_multi = [False, False]
        self.desyncs = []
        self.sync_every = SYNC_CHECK_EVERY

    # -- connections ---------------------------------------------------------------------

    def connect(self):
        for name in ("r_main", "r_probe", "t_main", "t_probe"):
            old = getattr(self, name, None)
            if old is not None:
                old.close()
        self.r_main = Client(self.redis.port)
        self.r_probe = Client(self.redis.port)
        self.t_main = Client(self.trestle.port)
        self.t_probe = Client(self.trestle.port, timeout=PING_TIMEOUT)
        self.in_multi = [False, False]

    def restart_trestle(self):
        if self.trestle is not None:
            self.trestle.kill()
        self.trestle = self.start_trestle()
        self.history = []
        self.expiries.clear()
        self.key_history.clear()
        self.ensure_redis()
        Client(self.redis.port).call("FLUSHALL")
        self.connect()

    def ensure_redis(self):
        if self.redis.process is not None and self.redis.process.poll() is None:
            return
        os.makedirs(self.redis.dir, exist_ok=True)
        self.redis.start()

    # -- checks --------------------------------------------------------------------------

    def trestle_answers(self):
        """None when trestle is alive and PINGs back, else (kind, detail)."""
        if not self.trestle.running():
            return ("died", f"exit status {self.trestle.process.returncode}")
        try:
            try:
                reply = self.t_probe.call("PING")
            except (ConnectionClosed, ConnectionError):
                self.t_probe.close()  # the probe connection itself was closed: once more
                self.t_probe = Client(self.trestle.port, timeout=PING_TIMEOUT)
                reply = self.t_probe.call("PING")
        except (socket.timeout, TimeoutError):
            if not self.trestle.running():
                return ("died", f"exit status {self.trestle.process.returncode}")
            return ("unresponsive", f"PING on a second connection: no reply in {PING_TIMEOUT} s")
        except (ConnectionClosed, OSError) as error:
            time.sleep(0.2)
            if not self.trestle.running():
                return ("died", f"exit status {self.trestle.process.returncode}")
            return ("unresponsive", f"PING on a second connection: {error!r}")
        if reply != ("+", b"PONG"):
            return ("unresponsive", f"PING answered {reply!r}")
        return None

    def stderr_tail(self, server, lines=15):
        text = (server.stderr() + "\n" + server.stdout()).strip().splitlines()
        return "\n".join(text[-lines:])

    # -- one command ---------------------------------------------------------------------

    def exchange(self, args):
        """Sends args to both servers; returns (redis reply, trestle reply or a Crash-kind
        tuple ('crash', kind, detail))."""
        redis_reply = None
        try:
            self.r_main.send(request(args, self.in_multi[0]))
        except OSError as error:
            redis_reply = ("redis-lost", repr(error))
        try:
            self.t_main.send(request(args, self.in_multi[1]))
            trestle_failure = None
        except (socket.timeout, TimeoutError):
            trestle_failure = ("no-reply", "request could not be written in time")
        except OSError as error:
            trestle_failure = ("closed", f"writing the request: {error!r}")
        if redis_reply is None:
            try:
                redis_reply = read_reply(self.r_main, args, self.in_multi[0])
            except (socket.timeout, TimeoutError, ConnectionClosed, OSError) as error:
                redis_reply = ("redis-lost", repr(error))
        if trestle_failure is not None:
            return redis_reply, ("crash",) + trestle_failure
        try:
            return redis_reply, read_reply(self.t_main, args, self.in_multi[1])
        except (socket.timeout, TimeoutError):
            return redis_reply, ("crash", "no-reply", f"no reply in {REPLY_TIMEOUT} s")
        except (ConnectionClosed, OSError) as error:
            return redis_reply, ("crash", "closed", f"connection closed: {error!r}")

    def side_send(self, args):
        """A resynchronizing command on both main connections, part of the history."""
        args = [as_bytes(a) for a in args]
        self.history.append(args)
        redis_reply, trestle_reply = self.exchange(args)
        if trestle_reply[0] == "crash":
            self.handle_crash(args, trestle_reply[1], trestle_reply[2])
        return redis_reply, trestle_reply

    def probe_multi(self):
        """Whether each connection is inside MULTI: an ECHO is queued there (+QUEUED), else
        echoed. (An EXEC with extra arguments, say, does not end the transaction.) When the
        two disagree, DISCARD on both."""
        replies = self.side_send([b"ECHO", FENCE])
        if replies[1][0] == "crash":
            return
        self.in_multi = [reply == ("+", b"QUEUED") for reply in replies]
        if self.in_multi[0] != self.in_multi[1]:
            self.side_send(["DISCARD"])
            self.in_multi = [False, False]

    def record_mismatch(self, args, redis_reply, trestle_reply):
        name = command_name(args)
        entry = self.mismatches.setdefault(name, [0, []])
        entry[0] += 1
        if len(entry[1]) < 2:
            entry[1].append((show_command(args), show_reply(redis_reply), show_reply(trestle_reply)))

    def core_equal(self, name, redis_reply, trestle_reply):
        if redis_reply == trestle_reply:
            return True
        if name == "ttl" and redis_reply[0] == trestle_reply[0] == ":":
            return abs(redis_reply[1] - trestle_reply[1]) <= 1 and min(redis_reply[1], trestle_reply[1]) >= 0
        if name in FLOAT_REPLIES and redis_reply[0] == trestle_reply[0] and redis_reply[0] in "$,":
            # Redis 7.0 formats scores with %.17g, 7.2 (which trestle follows) the shortest
            # round-tripping form: 0.10000000000000001 vs 0.1.
            try:
                return float(redis_reply[1]) == float(trestle_reply[1])
            except (TypeError, ValueError):
                return False
        return False

    def handle_crash(self, args, kind, detail):
        tail = self.stderr_tail(self.trestle)
        if kind in ("closed", "no-reply"):
            status = self.trestle_answers()
            if status is not None:
                kind, detail = status[0], f"{detail}; then {status[1]}"
                tail = self.stderr_tail(self.trestle)
        if not self.trestle.running():
            tail = self.stderr_tail(self.trestle)
        crash = Crash(kind, detail, list(self.history[-WINDOW:]), args, tail,
                      self.trestle.process.returncode if not self.trestle.running() else None)
        crash.full_history = list(self.history)
        for known in self.crashes:
            if known.signature() == crash.signature():
                known.occurrences += 1
                break
        else:
            self.crashes.append(crash)
            self.log(f"CRASH ({kind}: {detail}) after: {show_command(args)}")
        if kind in ("died", "unresponsive", "no-reply"):
            self.restart_trestle()
        else:
            self.connect()  # trestle closed the connection: reconnect both, keep the data

    def note_expiries(self, name, args):
        now = time.monotonic()
        keys = arg_keys(args)
        if name in TTL_COMMANDS or any(arg.upper() in TTL_WORDS for arg in args[1:]):
            times = []
            for arg in args[1:]:
                try:
                    value = int(arg)
                except ValueError:
                    continue
                if 0 <= value <= 1000:  # as seconds or as milliseconds
                    times += [now + value, now + value / 1000]
            for key in keys if times else ():
                self.expiries[key] = (self.expiries.get(key, []) + times)[-40:]
        elif name in TTL_CARRIERS:
            carried = [t for key in keys for t in self.expiries.get(key, ())]
            for key in keys if carried else ():
                self.expiries[key] = carried[-40:]

    def near_expiry(self, args):
        now = time.monotonic()
        return any(abs(t - now) < EXPIRY_SLACK for key in arg_keys(args) for t in self.expiries.get(key, ()))

    def step(self, args):
        name = args[0].decode("latin-1").lower()
        self.note_expiries(name, args)
        self.history.append(args)
        for key in arg_keys(args):
            if len(key) <= KEY_HISTORY_NAME_MAX:
                self.key_history[key].append(show_command(args))
        redis_reply, trestle_reply = self.exchange(args)
        self.executed += 1
        if redis_reply[0] == "redis-lost":
            self.redis_crashes.append((show_command(args), redis_reply[1],
                                       [show_command(a) for a in self.history[-WINDOW:]]))
            self.redis.stop()
            self.ensure_redis()
            self.restart_trestle()
            return
        if trestle_reply[0] == "crash":
            self.handle_crash(args, trestle_reply[1], trestle_reply[2])
            return
        status = self.trestle_answers()
        if status is not None:
            self.handle_crash(args, *status)
            return
        if name in ("multi", "exec", "discard"):
            self.probe_multi()
        mismatch = is_error(redis_reply) != is_error(trestle_reply)
        if mismatch:
            self.record_mismatch(args, redis_reply, trestle_reply)
        elif name in CORE and not self.in_multi[0] and not self.core_equal(name, redis_reply, trestle_reply):
            keys = [key for key in arg_keys(args) if len(self.key_history.get(key, ())) > 1]
            found = (self.core_error_texts if is_error(redis_reply) else
                     self.core_timing if self.near_expiry(args) else self.core_mismatches)
            found.append((show_command(args), show_reply(redis_reply), show_reply(trestle_reply),
                          {show_arg(key): list(self.key_history[key])[:-1] for key in keys}))
            mismatch = True
        if self.in_multi[0] != self.in_multi[1]:
            self.side_send(["DISCARD"])
            self.in_multi = [False, False]
        if mismatch and name in GLOBAL_EFFECT:
            if self.in_multi[0]:
                self.side_send(["DISCARD"])
                self.in_multi = [False, False]
            self.side_send(["FLUSHALL"])
        elif mismatch or name in NONDETERMINISTIC_WRITERS:
            keys = arg_keys(args)
            if keys:
                if self.in_multi[0]:
                    self.side_send(["DISCARD"])
                    self.in_multi = [False, False]
                self.side_send(["DEL", *keys])

    # -- periodic checks -----------------------------------------------------------------

    def redis_memory(self):
        info = self.r_probe.call("INFO", "memory")[1]
        for line in info.splitlines():
            if line.startswith(b"used_memory:"):
                return int(line.split(b":")[1])
        return 0

    def check_sync(self):
        """Replies still pair up with requests: an ECHO comes back as itself on both. If a
        command made a server answer more or fewer times than read, report it and
        reconnect both (FLUSHALL: what ran since is not known to match)."""
        token = b"sync-%d" % self.executed
        replies = self.side_send([b"ECHO", token])
        if replies[1][0] == "crash":
            return
        if replies[0] != ("$", token) or replies[1] != ("$", token):
            self.desyncs.append(([show_command(a) for a in self.history[-WINDOW:]],
                                 show_reply(replies[0]), show_reply(replies[1])))
            self.connect()
            self.side_send(["FLUSHALL"])

    def check_state(self):
        self.r_probe.send(encode([b"KEYS", b"*"]))
        self.t_probe.send(encode([b"KEYS", b"*"]))
        names = {item[1] for item in self.r_probe.read()[1]} | {item[1] for item in self.t_probe.read()[1]}
        for key in sorted(names)[:STATE_CHECK_KEYS_MAX]:
            commands = state_commands(key)
            data = b"".join(encode([as_bytes(a) for a in c]) for c in commands)
            self.r_probe.send(data)
            self.t_probe.send(data)
            theirs = [self.r_probe.read() for _ in commands]
            mine = [self.t_probe.read() for _ in commands]
            try:
                same = canonical_state(theirs) == canonical_state(mine)
            except (TypeError, ValueError, IndexError):
                same = False
            if not same:
                self.divergences.append((show_arg(key), show_reply(canonical_state_safe(theirs), 300),
                                         show_reply(canonical_state_safe(mine), 300),
                                         list(self.key_history.get(key, []))))
                self.side_send(["DEL", key])

    # -- the run -------------------------------------------------------------------------

    def run(self):
        started = time.monotonic()
        deadline = started + self.seconds
        self.trestle = self.start_trestle()
        self.ensure_redis()
        Client(self.redis.port).call("FLUSHALL")
        self.connect()
        table = CommandTable(self.t_probe.call("COMMAND"))
        generator = Generator(self.seed, table)
        while self.executed < self.commands_max and time.monotonic() < deadline:
            args = sanitize(generator.next(), generator.rng, self.in_multi[0])
            if args is None:
                continue
            if args[0].lower() == b"lcs" and not self.lcs_is_small(args):
                continue
            self.step(args)
            if self.executed % self.sync_every == 0 and not any(self.in_multi):
                self.check_sync()
            if self.executed % STATE_CHECK_EVERY == 0 and not any(self.in_multi):
                self.check_state()
            if self.executed % MEMORY_CHECK_EVERY == 0 and self.redis_memory() > REDIS_MEMORY_MAX:
                self.side_send(["FLUSHALL"])
        self.elapsed = time.monotonic() - started
        minimize_deadline = time.monotonic() + self.minimize_seconds
        for crash in self.crashes:
            if time.monotonic() < minimize_deadline:
                minimize(crash, self.start_trestle, minimize_deadline, self.log)
        self.trestle.stop()
        for client in (self.r_main, self.r_probe, self.t_main, self.t_probe):
            client.close()
        try:
            Client(self.redis.port).call("FLUSHALL")
        except (OSError, ConnectionClosed):
            pass
        return self

    def lcs_is_small(self, args):
        lengths = []
        for key in args[1:3]:
            reply = self.r_probe.call("STRLEN", key)
            lengths.append(reply[1] if reply[0] == ":" else 0)
        return len(lengths) == 2 and (lengths[0] + 1) * (lengths[1] + 1) <= 4_000_000

    # -- report --------------------------------------------------------------------------

    def mismatch_total(self):
        return sum(count for count, _ in self.mismatches.values())

    def report(self):
        rate = self.executed / self.elapsed if self.elapsed else 0.0
        lines = [f"command fuzz: seed {self.seed} (TRESTLE_FUZZ_SEED), {self.executed} commands in "
                 f"{self.elapsed:.1f} s ({rate:.0f}/s)"]
        for crash in self.crashes:
            lines.append(f"CRASH {crash.kind} ({crash.detail}), seen {crash.occurrences}x, exit status "
                         f"{crash.returncode}; last command: {show_command(crash.command)}")
            if crash.stderr_tail:
                lines += ["  server output: " + line for line in crash.stderr_tail.splitlines()[-6:]]
            if crash.minimized:
                lines.append(f"  minimal reproducer ({crash.minimized_outcome}):")
                lines += ["    " + show_command(c) for c in crash.minimized]
            else:
                lines.append(f"  not reproduced on a fresh server ({crash.minimized_outcome}); last commands:")
                lines += ["    " + show_command(c) for c in crash.window]
        for command, detail, window in self.redis_crashes:
            lines.append(f"REDIS lost ({detail}) on {command}; last commands:")
            lines += ["    " + line for line in window]
        lines.append(f"error-vs-reply mismatches: {self.mismatch_total()} in {len(self.mismatches)} commands")
        for name, (count, examples) in sorted(self.mismatches.items(), key=lambda item: -item[1][0]):
            tag = " [7.2-only]" if tuple(name.split("|")) in REDIS_72_ONLY else ""
            tag += f" [values may differ: {VALUE_MAY_DIFFER[name.split('|')[0]]}]" if name.split("|")[0] in VALUE_MAY_DIFFER else ""
            lines.append(f"  {name}: {count}{tag}")
            for command, theirs, mine in examples:
                lines.append(f"    {command}\n      redis   {theirs}\n      trestle {mine}")
        lines.append(f"core exact-reply mismatches: {len(self.core_mismatches)}")
        for command, theirs, mine, history in self.core_mismatches[:20]:
            lines.append(f"  {command}\n    redis   {theirs}\n    trestle {mine}")
            for key, commands in history.items():
                lines.append(f"    earlier on {key}: " + " ; ".join(commands[-4:]))
        lines.append(f"core mismatches on keys expiring just then (timing, not failed): {len(self.core_timing)}")
        for command, theirs, mine, history in self.core_timing[:5]:
            lines.append(f"  {command}\n    redis   {theirs}\n    trestle {mine}")
        lines.append(f"core error-text differences (both errors, texts differ): {len(self.core_error_texts)}")
        for command, theirs, mine, history in self.core_error_texts[:10]:
            lines.append(f"  {command}\n    redis   {theirs}\n    trestle {mine}")
        lines.append(f"reply streams out of step (ECHO check every {self.sync_every}): {len(self.desyncs)}")
        for window, theirs, mine in self.desyncs[:3]:
            lines.append(f"  redis {theirs}, trestle {mine}; last commands:")
            lines += ["    " + line for line in window[-8:]]
        lines.append(f"state divergences found by the periodic check: {len(self.divergences)}")
        for key, theirs, mine, history in self.divergences[:10]:
            lines.append(f"  {key}: redis {theirs}\n       trestle {mine}\n       recent: " + " ; ".join(history))
        return "\n".join(lines)


def canonical_state_safe(replies):
    try:
        return canonical_state(replies)
    except (TypeError, ValueError, IndexError):
        return replies


# ---------------------------------------------------------------------------------------
# Replay and shrinking
# ---------------------------------------------------------------------------------------


def replay(commands, start_trestle, expected_kind=None):
    """Runs commands on a fresh trestle, classifying a failure as the fuzzer does: the
    failure kind (died, unresponsive, no-reply, closed) or None, and how many commands
    were sent."""
    server = start_trestle()
    outcome = None
    main = probe = None
    sent = 0
    try:
        main = Client(server.port, timeout=REPLY_TIMEOUT)
        probe = Client(server.port, timeout=PING_TIMEOUT)
        in_multi = False
        for args in commands:
            sent += 1
            try:
                main.send(request(args, in_multi))
                reply = read_reply(main, args, in_multi)
                if args == [b"ECHO", FENCE]:
                    in_multi = reply == ("+", b"QUEUED")
                elif args[0].lower() == b"discard" and len(args) == 1:
                    in_multi = False
            except (socket.timeout, TimeoutError):
                outcome = "no-reply"
            except (ConnectionClosed, OSError):
                outcome = "closed"
            if not server.running():
                outcome = "died"
                break
            try:
                try:
                    pong = probe.call("PING")
                except (ConnectionClosed, ConnectionError):
                    probe.close()
                    probe = Client(server.port, timeout=PING_TIMEOUT)
                    pong = probe.call("PING")
                if pong != ("+", b"PONG"):
                    outcome = "unresponsive"
            except (socket.timeout, TimeoutError, ConnectionClosed, OSError):
                time.sleep(0.2)
                outcome = "died" if not server.running() else "unresponsive"
            if outcome is not None:
                break
    except (ConnectionClosed, OSError):
        outcome = outcome or ("died" if not server.running() else "unresponsive")
    finally:
        for client in (main, probe):
            if client is not None:
                client.close()
        server.kill()
    return outcome, sent


def minimize(crash, start_trestle, deadline, log=print):
    """Finds a short command sequence that makes a fresh trestle fail the same way: the
    last commands, else more history; cut after the failing command; then delta debugging
    (drop chunks of halving size while the failure stays)."""
    candidates = [crash.window, crash.full_history[-200:], crash.full_history]
    base = None
    for candidate in candidates:
        if time.monotonic() > deadline:
            break
        outcome, sent = replay(candidate, start_trestle)
        if outcome == crash.kind:
            base = list(candidate[:sent])
            break
        crash.minimized_outcome = f"replay of {len(candidate)} commands: {outcome}"
    if base is None:
        return
    chunk = max(1, len(base) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        index = 0
        while index < len(base) and time.monotonic() < deadline:
            trial = base[:index] + base[index + chunk:]
            outcome, sent = replay(trial, start_trestle) if trial else (None, 0)
            if outcome == crash.kind:
                base = trial[:sent]
            else:
                index += chunk
        chunk //= 2
    crash.minimized = base
    crash.minimized_outcome = crash.kind
    log(f"minimized to {len(base)} commands")
