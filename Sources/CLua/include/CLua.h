// The Lua 5.1 interpreter Redis uses (Debian's liblua5.1-0-dev), with lua-cjson and
// lua-bitop, `cmsgpack` (msgpack.c) and `struct` (struct.c), plus the few C pieces Swift
// cannot write safely: Lua raises errors with longjmp, which must never cross a Swift
// frame, so every function that may raise a Lua error from native code lives here, in C.
#ifndef TRESTLE_CLUA_H
#define TRESTLE_CLUA_H

#include <stddef.h>
#include <stdint.h>
#include <lua5.1/lua.h>
#include <lua5.1/lauxlib.h>
#include <lua5.1/lualib.h>

/// Called by `redis.call` and friends: reads the arguments from the stack, pushes exactly
/// one result and returns 0, or pushes an error value and returns 1. `kind` is the
/// function's number (see trestle_lua_push_function); it must not raise Lua errors.
typedef int (*trestle_lua_callback)(void *context, lua_State *L, int kind);

/// A new state whose allocations stop at `memory_limit` bytes while the limit is enforced
/// (allocations past it fail, which Lua reports as "not enough memory"; see
/// trestle_lua_enforce_memory_limit), with the base, table, string, math and
/// debug libraries, `cjson`, `bit`, `cmsgpack` and `struct` loaded as globals, and
/// `math.random` / `math.randomseed` replaced by a 48-bit linear congruential generator
/// owned by the state (see trestle_lua_reseed). NULL when the state cannot be created.
lua_State *trestle_lua_open(size_t memory_limit);

/// Closes a state from trestle_lua_open.
void trestle_lua_close(lua_State *L);

/// Bytes currently allocated by the state.
size_t trestle_lua_memory(lua_State *L);

/// Turns the memory limit on (while a script runs inside lua_pcall) or off (everywhere
/// else: an allocation failing outside a protected call would abort the process).
void trestle_lua_enforce_memory_limit(lua_State *L, int enforcing);

/// Resets the state's generator to `seed` (Redis's redisSrand48: same seed, same sequence).
void trestle_lua_reseed(lua_State *L, int32_t seed);

/// Pushes a C function that calls `callback(context, L, kind)`; when the callback returns
/// 1 and `raises` is non-zero, the function raises the pushed value as a Lua error.
void trestle_lua_push_function(lua_State *L, trestle_lua_callback callback, void *context, int kind, int raises);

/// Why a call stopped before its end (0: it did not).
enum {
    TRESTLE_LUA_STOP_NONE = 0,
    TRESTLE_LUA_STOP_BUDGET = 1,   // the instruction budget ran out
    TRESTLE_LUA_STOP_SLICE = 2,    // the time slice (trestle_lua_set_slice) ran out
    TRESTLE_LUA_STOP_KILLED = 3,   // trestle_lua_kill was called (SCRIPT KILL)
    TRESTLE_LUA_STOP_HALTED = 4,   // the host called trestle_lua_halt
};

/// Allows `instructions` more VM instructions (checked every TRESTLE_LUA_HOOK_STEP), after
/// which every further instruction raises "ERR Script exceeded ..." until the call ends.
/// 0 removes the limit. Also clears the slice and the stop reason: call it before every
/// run.
void trestle_lua_set_budget(lua_State *L, int64_t instructions);

/// Stops the coming call once it has run `milliseconds` of monotonic time (0: never).
/// Call after trestle_lua_set_budget. This reads the system clock: hosts that must stay
/// deterministic pass 0.
void trestle_lua_set_slice(lua_State *L, int64_t milliseconds);

/// Stops the coming call with TRESTLE_LUA_STOP_SLICE once it has run `instructions` VM
/// instructions (checked every TRESTLE_LUA_HOOK_STEP; 0: never): the deterministic form of
/// the time slice, for the simulator. Call after trestle_lua_set_budget.
void trestle_lua_set_slice_instructions(lua_State *L, int64_t instructions);

/// Why the last call stopped (a TRESTLE_LUA_STOP_ value).
int trestle_lua_stop_reason(lua_State *L);

/// Where the last call was when the hook stopped it (its chunk's source, "" when not
/// stopped by the hook, and the line).
const char *trestle_lua_stop_source(lua_State *L);
int trestle_lua_stop_line(lua_State *L);

/// Whether the budget ran out during the last call.
int trestle_lua_budget_exhausted(lua_State *L);

/// Stops the running call from a native function it called: once that function returns,
/// every instruction raises, so the script cannot catch it with pcall.
void trestle_lua_halt(lua_State *L);

/// The state's kill switch, stable for its lifetime. trestle_lua_kill may be called on it
/// from any thread while a call runs: the call stops within TRESTLE_LUA_HOOK_STEP
/// instructions with "ERR Script killed by user with SCRIPT KILL...". A kill is for good:
/// every later run of the state stops at once (meant for single-use states).
void *trestle_lua_kill_switch(lua_State *L);
void trestle_lua_kill(void *kill_switch);

/// The error text a script gets once its budget is spent.
extern const char *const trestle_lua_budget_error;
/// The error text a killed script gets.
extern const char *const trestle_lua_killed_error;

/// lua_pop, lua_newtable, lua_tostring and friends are macros Swift cannot see.
static inline void trestle_lua_pop(lua_State *L, int n) { lua_settop(L, -(n) - 1); }
static inline int trestle_lua_upvalue_index(int i) { return lua_upvalueindex(i); }
static inline int trestle_lua_registry_index(void) { return LUA_REGISTRYINDEX; }
static inline int trestle_lua_globals_index(void) { return LUA_GLOBALSINDEX; }

#endif
