// C support for Sources/Scripting (see include/CLua.h for the contracts).
#include "CLua.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int luaopen_cjson(lua_State *L);
int luaopen_bit(lua_State *L);
int trestle_luaopen_cmsgpack(lua_State *L);
int trestle_luaopen_struct(lua_State *L);

/// Instructions between two budget checks.
#define TRESTLE_LUA_HOOK_STEP 10000

const char *const trestle_lua_budget_error =
    "ERR Script exceeded its instruction budget (lua-time-limit) and was stopped";
const char *const trestle_lua_killed_error = "ERR Script killed by user with SCRIPT KILL...";

/// Per-state bookkeeping, reachable from any lua_State through lua_getallocf.
typedef struct {
    size_t used;
    size_t limit;
    int64_t budget_left;   // instructions; INT64_MAX when unlimited
    int64_t deadline_ns;   // CLOCK_MONOTONIC; 0 when the call has no time slice
    int64_t slice_left;    // instructions of the slice; INT64_MAX when none
    int stop;              // a TRESTLE_LUA_STOP_ value: set, every instruction raises
    atomic_int kill;       // set by trestle_lua_kill, from any thread
    char stop_source[64];  // where the script was when it was stopped ("@user_script")
    int stop_line;
    int enforcing;         // the memory limit applies only while a script runs
    uint64_t rand48;       // the generator's 48-bit state
    int64_t executed;      // instructions the running script has executed, in hook steps
} trestle_lua_ud;

static trestle_lua_ud *ud_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (trestle_lua_ud *)ud;
}

static void *limited_alloc(void *opaque, void *ptr, size_t osize, size_t nsize) {
    trestle_lua_ud *ud = (trestle_lua_ud *)opaque;
    if (nsize == 0) {
        free(ptr);
        ud->used -= osize;
        return NULL;
    }
    if (ud->enforcing && nsize > osize && ud->used + (nsize - osize) > ud->limit) return NULL;
    void *grown = realloc(ptr, nsize);
    if (grown == NULL) return NULL;
    ud->used = ud->used - osize + nsize;
    return grown;
}

// MARK: - A 48-bit linear congruential generator (the rand48 family's constants)

static int32_t next_rand48(trestle_lua_ud *ud) {
    ud->rand48 = (ud->rand48 * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);
    return (int32_t)(ud->rand48 >> 17);  // the top 31 bits
}

void trestle_lua_reseed(lua_State *L, int32_t seed) {
    ud_of(L)->rand48 = (((uint64_t)(uint32_t)seed) << 16) | 0x330EULL;
}

static int math_random(lua_State *L) {
    const int32_t range = 0x7fffffff;
    lua_Number r = (lua_Number)(next_rand48(ud_of(L)) % range) / (lua_Number)range;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int upper = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= upper, 1, "interval is empty");
        lua_pushnumber(L, floor(r * upper) + 1);
        break;
    }
    case 2: {
        int lower = luaL_checkint(L, 1);
        int upper = luaL_checkint(L, 2);
        luaL_argcheck(L, lower <= upper, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (upper - lower + 1)) + lower);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int math_randomseed(lua_State *L) {
    trestle_lua_reseed(L, (int32_t)luaL_checkint(L, 1));
    return 0;
}

// MARK: - Instruction budget

static int64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void raise_stop(lua_State *L, trestle_lua_ud *ud) {
    lua_pushstring(L, ud->stop == TRESTLE_LUA_STOP_KILLED ? trestle_lua_killed_error
                      : ud->stop == TRESTLE_LUA_STOP_BUDGET ? trestle_lua_budget_error
                      : "ERR script stopped by the server");
    lua_error(L);
}

static void stop_hook(lua_State *L, lua_Debug *ar) {
    trestle_lua_ud *ud = ud_of(L);
    ud->executed += TRESTLE_LUA_HOOK_STEP;
    if (ud->stop != TRESTLE_LUA_STOP_NONE) {
        raise_stop(L, ud);
        return;
    }
    if (atomic_load_explicit(&ud->kill, memory_order_relaxed)) {
        ud->stop = TRESTLE_LUA_STOP_KILLED;
    } else if (ud->budget_left != INT64_MAX && (ud->budget_left -= TRESTLE_LUA_HOOK_STEP) < 0) {
        ud->stop = TRESTLE_LUA_STOP_BUDGET;
    } else if (ud->slice_left != INT64_MAX && (ud->slice_left -= TRESTLE_LUA_HOOK_STEP) < 0) {
        ud->stop = TRESTLE_LUA_STOP_SLICE;
    } else if (ud->deadline_ns != 0 && monotonic_ns() >= ud->deadline_ns) {
        ud->stop = TRESTLE_LUA_STOP_SLICE;
    } else {
        return;
    }
    if (lua_getinfo(L, "Sl", ar) != 0) {
        snprintf(ud->stop_source, sizeof ud->stop_source, "%s", ar->source != NULL ? ar->source : "?");
        ud->stop_line = ar->currentline;
    }
    // From now on every instruction raises, so a pcall in the script cannot hold on.
    lua_sethook(L, stop_hook, LUA_MASKCOUNT, 1);
    raise_stop(L, ud);
}

void trestle_lua_set_budget(lua_State *L, int64_t instructions) {
    trestle_lua_ud *ud = ud_of(L);
    ud->stop = TRESTLE_LUA_STOP_NONE;
    ud->stop_source[0] = 0;
    ud->stop_line = 0;
    ud->deadline_ns = 0;
    ud->slice_left = INT64_MAX;
    ud->budget_left = instructions <= 0 ? INT64_MAX : instructions;
    ud->executed = 0;
    // Always hooked while a script may run: a kill request must be seen.
    lua_sethook(L, stop_hook, LUA_MASKCOUNT, TRESTLE_LUA_HOOK_STEP);
}

void trestle_lua_set_slice(lua_State *L, int64_t milliseconds) {
    ud_of(L)->deadline_ns = milliseconds > 0 ? monotonic_ns() + milliseconds * 1000000 : 0;
}

void trestle_lua_set_slice_instructions(lua_State *L, int64_t instructions) {
    ud_of(L)->slice_left = instructions > 0 ? instructions : INT64_MAX;
}

int trestle_lua_stop_reason(lua_State *L) { return ud_of(L)->stop; }

const char *trestle_lua_stop_source(lua_State *L) { return ud_of(L)->stop_source; }

int trestle_lua_stop_line(lua_State *L) { return ud_of(L)->stop_line; }

int trestle_lua_budget_exhausted(lua_State *L) { return ud_of(L)->stop == TRESTLE_LUA_STOP_BUDGET; }

void trestle_lua_halt(lua_State *L) {
    trestle_lua_ud *ud = ud_of(L);
    if (ud->stop == TRESTLE_LUA_STOP_NONE) ud->stop = TRESTLE_LUA_STOP_HALTED;
    lua_sethook(L, stop_hook, LUA_MASKCOUNT, 1);
}

void *trestle_lua_kill_switch(lua_State *L) { return &ud_of(L)->kill; }

void trestle_lua_kill(void *kill_switch) { atomic_store((atomic_int *)kill_switch, 1); }

// MARK: - Functions implemented in Swift

static int call_swift(lua_State *L) {
    trestle_lua_callback callback = (trestle_lua_callback)lua_touserdata(L, lua_upvalueindex(1));
    void *context = lua_touserdata(L, lua_upvalueindex(2));
    int kind = (int)lua_tointeger(L, lua_upvalueindex(3));
    int raises = lua_toboolean(L, lua_upvalueindex(4));
    // Swift frames must never be unwound by a Lua error: while Swift runs, allocations
    // cannot fail (the limit resumes when the script does).
    trestle_lua_ud *ud = ud_of(L);
    int enforcing = ud->enforcing;
    ud->enforcing = 0;
    int failed = callback(context, L, kind);
    ud->enforcing = enforcing;
    if (failed && raises) return lua_error(L);
    return 1;
}

void trestle_lua_push_function(lua_State *L, trestle_lua_callback callback, void *context, int kind, int raises) {
    lua_pushlightuserdata(L, (void *)callback);
    lua_pushlightuserdata(L, context);
    lua_pushinteger(L, kind);
    lua_pushboolean(L, raises);
    lua_pushcclosure(L, call_swift, 4);
}

// MARK: - os.clock

/// Instructions os.clock counts as one second.
#define TRESTLE_LUA_CLOCK_RATE 100000000.0

/// os.clock(), the one function of Redis's `os` table: the running script's time counted
/// in VM instructions at a fixed rate (to within a hook step), not the CPU clock Redis
/// reads, so that every replica re-running the script sees the same values.
static int deterministic_clock(lua_State *L) {
    lua_pushnumber(L, (lua_Number)ud_of(L)->executed / TRESTLE_LUA_CLOCK_RATE);
    return 1;
}

// MARK: - State

static void open_library(lua_State *L, lua_CFunction open, const char *name) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static int open_all(lua_State *L) {
    open_library(L, luaopen_base, "");
    open_library(L, luaopen_table, LUA_TABLIBNAME);
    open_library(L, luaopen_string, LUA_STRLIBNAME);
    open_library(L, luaopen_math, LUA_MATHLIBNAME);
    open_library(L, luaopen_debug, LUA_DBLIBNAME);
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    lua_pushcfunction(L, luaopen_bit);
    lua_call(L, 0, 1);
    lua_setglobal(L, "bit");
    lua_pushcfunction(L, trestle_luaopen_cmsgpack);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cmsgpack");
    lua_pushcfunction(L, trestle_luaopen_struct);
    lua_call(L, 0, 1);
    lua_setglobal(L, "struct");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, deterministic_clock);
    lua_setfield(L, -2, "clock");
    lua_setglobal(L, "os");
    lua_getglobal(L, LUA_MATHLIBNAME);
    lua_pushcfunction(L, math_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, math_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    return 0;
}

lua_State *trestle_lua_open(size_t memory_limit) {
    trestle_lua_ud *ud = calloc(1, sizeof(trestle_lua_ud));
    if (ud == NULL) return NULL;
    ud->limit = memory_limit;
    ud->budget_left = INT64_MAX;
    lua_State *L = lua_newstate(limited_alloc, ud);
    if (L == NULL) {
        free(ud);
        return NULL;
    }
    if (lua_cpcall(L, open_all, NULL) != 0) {
        trestle_lua_close(L);
        return NULL;
    }
    trestle_lua_reseed(L, 0);
    return L;
}

void trestle_lua_close(lua_State *L) {
    trestle_lua_ud *ud = ud_of(L);
    lua_close(L);
    free(ud);
}

size_t trestle_lua_memory(lua_State *L) { return ud_of(L)->used; }

void trestle_lua_enforce_memory_limit(lua_State *L, int enforcing) { ud_of(L)->enforcing = enforcing; }
