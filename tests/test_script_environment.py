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


def test_used_memory_lua_follows_the_state_that_runs_scripts(r):
    """used_memory_lua is the Lua state EVAL runs in (Redis's used_memory_vm_eval): it
    grows when a script holding a large constant is cached there and falls when SCRIPT
    FLUSH drops it (Trestle reported an idle state's figure, which never moved)."""
    r.eval("return 1", 0)
    before = info_memory(r)["used_memory_lua"]
    assert r.eval("local s = '" + "x" * 300_000 + "' return #s", 0) == 300_000
    grown = info_memory(r)
    assert grown["used_memory_lua"] > before + 250_000
    assert grown["used_memory_vm_total"] >= grown["used_memory_lua"]
    r.script_flush()
    assert info_memory(r)["used_memory_lua"] < before + 100_000
