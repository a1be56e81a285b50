"""Numbers chosen to overflow (issue 13): each class of trap found by reading the code
gets the input that used to kill the server, and the server must answer Redis's error
(or a correct reply) and keep serving every client."""

import pytest
import redis

from resp import RawConnection, encode_command

INT64_MAX = "9223372036854775807"


def still_serving(server):
    assert server.client().ping() is True


def test_a_huge_entries_read_saturates_instead_of_overflowing(r, server):
    r.execute_command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM", "ENTRIESREAD", INT64_MAX)
    r.xadd("s", {"f": "v"})
    assert len(r.xreadgroup("g", "c", {"s": ">"})[0][1]) == 1
    with pytest.raises(redis.ResponseError, match="ENTRIESREAD must be positive or -1"):
        r.execute_command("XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", "-2")
    still_serving(server)


def test_blocking_timeouts_that_would_overflow_are_out_of_range(r, server):
    with pytest.raises(redis.ResponseError, match="timeout is out of range"):
        r.execute_command("XREAD", "BLOCK", INT64_MAX, "STREAMS", "s", "$")
    with pytest.raises(redis.ResponseError, match="timeout is out of range"):  # Redis 7.2+ (7.0 said "negative")
        r.execute_command("BLPOP", "list", "1e300")
    with pytest.raises(redis.ResponseError, match="timeout is out of range"):  # Redis's unit/type/list
        r.execute_command("BLPOP", "list", "0x7FFFFFFFFFFFFF")
    with pytest.raises(redis.ResponseError, match="timeout is out of range"):
        r.execute_command("BLPOP", "list", "inf")
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.execute_command("BLPOP", "list", "-1e300")
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.execute_command("BLPOP", "list", "-1")
    still_serving(server)


def test_client_kill_without_a_filter_is_refused_and_kills_nobody(r, server):
    other = server.client()
    assert other.ping() is True
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'client|kill' command"):
        r.execute_command("CLIENT", "KILL")
    assert other.ping() is True


def test_flush_with_extra_arguments_is_a_syntax_error_and_flushes_nothing(r):
    r.set("kept", "1")
    for command in (("FLUSHALL", "k1", "k5"), ("FLUSHDB", "-2"), ("FLUSHALL", "NOW")):
        with pytest.raises(redis.ResponseError, match="syntax error"):
            r.execute_command(*command)
    assert r.get("kept") == "1"


def test_xrevrange_count_zero_still_checks_the_type(r):
    r.set("str", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.execute_command("XREVRANGE", "str", "+", "-", "COUNT", "0")


def test_geo_commands_answer_every_extreme_number(r, server):
    r.execute_command("GEOADD", "g", "13.361389", "38.115556", "Palermo", "180", "85.05112878", "ne",
                      "-180", "-85.05112878", "sw")
    r.zadd("g", {"odd-inf": float("inf"), "odd-neg": -2, "odd-huge": 1e300})
    numbers = ["nan", "inf", "-inf", "1e308", "-1e308", "1e400", "5e-324", "-0", "0x7fffffffffffffff", INT64_MAX,
               "-9223372036854775808", "180", "-180", "85.05112878", "-85.05112878", "abc", ""]
    for value in numbers:
        for command in (("GEOADD", "h", value, "0", "m"), ("GEOADD", "h", "0", value, "m"),
                        ("GEOSEARCH", "g", "FROMLONLAT", value, "0", "BYRADIUS", "1", "km"),
                        ("GEOSEARCH", "g", "FROMLONLAT", "0", value, "BYBOX", "1", "1", "km"),
                        ("GEOSEARCH", "g", "FROMMEMBER", "ne", "BYRADIUS", value, "m", "WITHDIST", "WITHHASH", "WITHCOORD"),
                        ("GEOSEARCH", "g", "FROMMEMBER", "sw", "BYBOX", value, value, "mi", "DESC"),
                        ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "inf", "m", "COUNT", value),
                        ("GEOSEARCH", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "inf", "m", "COUNT", value, "ANY"),
                        ("GEORADIUS", "g", value, value, value, "km", "STORE", "d"),
                        ("GEORADIUSBYMEMBER", "g", "odd-huge", value, "ft", "STOREDIST", "d"),
                        ("GEOSEARCHSTORE", "d", "g", "FROMMEMBER", "odd-neg", "BYBOX", value, "1", "m", "STOREDIST")):
            try:
                r.execute_command(*command)
            except redis.ResponseError:
                pass
    assert r.execute_command("GEOPOS", "g", "odd-inf", "odd-neg", "odd-huge")[0] is not None
    assert r.execute_command("GEODIST", "g", "ne", "odd-inf") is not None
    still_serving(server)
