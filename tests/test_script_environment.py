"""What Redis 7's scripting tests expect of the environment around a script: math.random
differs from one script to the next unless seeded, and INFO memory reports the Lua state
and the script cache (number_of_cached_scripts follows SCRIPT LOAD and SCRIPT FLUSH)."""


def info_memory(client):
    return client.info("memory")


def test_random_numbers_differ_between_scripts_unless_seeded(r):
    draws = {r.eval("return tostring(math.random())", 0) for _ in range(5)}
    assert len(draws) > 1, f"every script drew the same number: {draws}"
    seeded = {r.eval("math.randomseed(10); return tostring(math.random())", 0) for _ in range(3)}
    assert len(seeded) == 1


def test_info_memory_reports_scripts(r):
    r.script_flush()
    assert info_memory(r)["number_of_cached_scripts"] == 0
    for index in range(20):
        r.script_load(f"return {index}")
    memory = info_memory(r)
    assert memory["number_of_cached_scripts"] == 20
    assert memory["used_memory_lua"] > 0
    assert memory["used_memory_scripts_eval"] > 0
    r.script_flush()
    assert info_memory(r)["number_of_cached_scripts"] == 0
