// `cmsgpack` for scripts: MessagePack encoding of Lua values with the API Redis scripts
// use (cmsgpack.pack, cmsgpack.unpack, cmsgpack.unpack_one, cmsgpack.unpack_limit),
// written here from the MessagePack specification (github.com/msgpack/msgpack, spec.md)
// and Redis's documentation of the library's behaviour.
//
// Packing (what Redis's scripts see): a number equal to an integer in int64's range is
// packed as the smallest integer format; any other number as a float32 when that is
// exact, else as a float64. Strings are str (fixstr/str8/str16/str32). A table whose keys
// are exactly 1..n is an array (an empty table too), any other table a map. Tables nested
// deeper than MSGPACK_NESTING_MAX levels, functions and other values are packed as nil.
// Unpacking accepts what Redis's cmsgpack accepts (not bin nor ext): strings, integers
// and floats as numbers, arrays as tables indexed from 1. Bounds: declared lengths are checked against the
// bytes left before anything is allocated, and nesting is limited to
// MSGPACK_UNPACK_DEPTH_MAX, so no input makes this code read out of bounds, allocate
// without limit or recurse without limit.
#include "CLua.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/// Tables deeper than this are packed as nil (Redis's cmsgpack limit: circular references
/// become a bounded deep copy).
#define MSGPACK_NESTING_MAX 16
/// Arrays and maps nested deeper than this are refused when unpacking.
#define MSGPACK_UNPACK_DEPTH_MAX 256

static const char *const msgpack_missing_bytes = "Missing bytes in input.";
static const char *const msgpack_bad_format = "Bad data format in input.";

// MARK: - Output buffer

/// Bytes being packed, held in a Lua userdata at stack slot `slot` (so that a Lua error,
/// out of memory included, frees it with the rest of the stack).
typedef struct {
    lua_State *L;
    int slot;
    unsigned char *bytes;
    size_t count;
    size_t capacity;
} msgpack_out;

static void out_init(lua_State *L, msgpack_out *out) {
    out->L = L;
    out->capacity = 64;
    out->count = 0;
    out->bytes = lua_newuserdata(L, out->capacity);
    out->slot = lua_gettop(L);
}

static void out_reserve(msgpack_out *out, size_t more) {
    if (out->capacity - out->count >= more) return;
    size_t capacity = out->capacity;
    while (capacity - out->count < more) {
        if (capacity > ((size_t)-1) / 2) luaL_error(out->L, "MessagePack output too large");
        capacity *= 2;
    }
    unsigned char *grown = lua_newuserdata(out->L, capacity);
    memcpy(grown, out->bytes, out->count);
    lua_replace(out->L, out->slot);
    out->bytes = grown;
    out->capacity = capacity;
}

static void out_bytes(msgpack_out *out, const void *bytes, size_t count) {
    out_reserve(out, count);
    memcpy(out->bytes + out->count, bytes, count);
    out->count += count;
}

static void out_byte(msgpack_out *out, unsigned char byte) { out_bytes(out, &byte, 1); }

/// Writes `tag` and then `value` in `width` bytes, big-endian.
static void out_tagged(msgpack_out *out, unsigned char tag, uint64_t value, int width) {
    unsigned char bytes[9];
    bytes[0] = tag;
    for (int i = 0; i < width; i++) bytes[width - i] = (unsigned char)(value >> (8 * i));
    out_bytes(out, bytes, (size_t)width + 1);
}

// MARK: - Packing

static void pack_integer(msgpack_out *out, int64_t n) {
    if (n >= 0) {
        uint64_t u = (uint64_t)n;
        if (u <= 0x7f) out_byte(out, (unsigned char)u);
        else if (u <= 0xff) out_tagged(out, 0xcc, u, 1);
        else if (u <= 0xffff) out_tagged(out, 0xcd, u, 2);
        else if (u <= 0xffffffffULL) out_tagged(out, 0xce, u, 4);
        else out_tagged(out, 0xcf, u, 8);
    } else {
        uint64_t u = (uint64_t)n;
        if (n >= -32) out_byte(out, (unsigned char)(0xe0 | (u & 0x1f)));
        else if (n >= -128) out_tagged(out, 0xd0, u & 0xff, 1);
        else if (n >= -32768) out_tagged(out, 0xd1, u & 0xffff, 2);
        else if (n >= -2147483648LL) out_tagged(out, 0xd2, u & 0xffffffffULL, 4);
        else out_tagged(out, 0xd3, u, 8);
    }
}

static void pack_number(msgpack_out *out, lua_Number n) {
    // [-2^63, 2^63): the range in which converting to int64 is defined.
    if (n >= -9223372036854775808.0 && n < 9223372036854775808.0 && floor(n) == n) {
        pack_integer(out, (int64_t)n);
        return;
    }
    float narrow = (float)n;
    if ((lua_Number)narrow == n) {
        uint32_t bits;
        memcpy(&bits, &narrow, sizeof bits);
        out_tagged(out, 0xca, bits, 4);
    } else {
        double wide = (double)n;
        uint64_t bits;
        memcpy(&bits, &wide, sizeof bits);
        out_tagged(out, 0xcb, bits, 8);
    }
}

static void pack_string(msgpack_out *out, const char *s, size_t length) {
    if (length < 32) out_byte(out, (unsigned char)(0xa0 | length));
    else if (length <= 0xff) out_tagged(out, 0xd9, length, 1);
    else if (length <= 0xffff) out_tagged(out, 0xda, length, 2);
    else if (length <= 0xffffffffULL) out_tagged(out, 0xdb, length, 4);
    else luaL_error(out->L, "MessagePack cannot pack a string longer than 4 GiB");
    out_bytes(out, s, length);
}

/// The length n if the table at `index` has exactly the keys 1..n (0 for an empty table),
/// else -1.
static long long array_length(lua_State *L, int index) {
    long long count = 0, largest = 0;
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return -1;
        }
        lua_Number key = lua_tonumber(L, -1);
        if (!(key >= 1 && key <= 9007199254740992.0) || floor(key) != key) {
            lua_pop(L, 1);
            return -1;
        }
        count++;
        if ((long long)key > largest) largest = (long long)key;
    }
    return count == largest ? count : -1;
}

static void pack_value(msgpack_out *out, int index, int level);

static void pack_table(msgpack_out *out, int index, int level) {
    lua_State *L = out->L;
    luaL_checkstack(L, 4, "MessagePack: too many nested tables");
    long long length = array_length(L, index);
    if (length >= 0) {
        if (length < 16) out_byte(out, (unsigned char)(0x90 | length));
        else if (length <= 0xffff) out_tagged(out, 0xdc, (uint64_t)length, 2);
        else out_tagged(out, 0xdd, (uint64_t)length, 4);
        for (long long i = 1; i <= length; i++) {
            lua_rawgeti(L, index, (int)i);
            pack_value(out, lua_gettop(L), level + 1);
            lua_pop(L, 1);
        }
        return;
    }
    uint64_t pairs = 0;
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
        lua_pop(L, 1);
        pairs++;
    }
    if (pairs < 16) out_byte(out, (unsigned char)(0x80 | pairs));
    else if (pairs <= 0xffff) out_tagged(out, 0xde, pairs, 2);
    else out_tagged(out, 0xdf, pairs, 4);
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
        int value = lua_gettop(L);
        pack_value(out, value - 1, level + 1);
        pack_value(out, value, level + 1);
        lua_pop(L, 1);
    }
}

static void pack_value(msgpack_out *out, int index, int level) {
    lua_State *L = out->L;
    switch (lua_type(L, index)) {
    case LUA_TNUMBER:
        pack_number(out, lua_tonumber(L, index));
        break;
    case LUA_TSTRING: {
        size_t length = 0;
        const char *s = lua_tolstring(L, index, &length);
        pack_string(out, s, length);
        break;
    }
    case LUA_TBOOLEAN:
        out_byte(out, lua_toboolean(L, index) ? 0xc3 : 0xc2);
        break;
    case LUA_TTABLE:
        if (level >= MSGPACK_NESTING_MAX) out_byte(out, 0xc0);
        else pack_table(out, index, level);
        break;
    default:
        out_byte(out, 0xc0);
        break;
    }
}

/// cmsgpack.pack(v1, v2, ...): the values packed one after the other.
static int msgpack_pack(lua_State *L) {
    int count = lua_gettop(L);
    if (count == 0) return luaL_argerror(L, 0, "MessagePack pack needs input.");
    msgpack_out out;
    out_init(L, &out);
    for (int i = 1; i <= count; i++) pack_value(&out, i, 0);
    lua_pushlstring(L, (const char *)out.bytes, out.count);
    return 1;
}

// MARK: - Unpacking

typedef struct {
    const unsigned char *p;
    size_t left;
} msgpack_in;

static void need(lua_State *L, msgpack_in *in, size_t count) {
    if (in->left < count) luaL_error(L, "%s", msgpack_missing_bytes);
}

static uint64_t read_big_endian(lua_State *L, msgpack_in *in, int width) {
    need(L, in, (size_t)width);
    uint64_t value = 0;
    for (int i = 0; i < width; i++) value = (value << 8) | in->p[i];
    in->p += width;
    in->left -= (size_t)width;
    return value;
}

static int64_t sign_extend(uint64_t value, int width) {
    if (width == 8) return (int64_t)value;
    uint64_t sign = 1ULL << (8 * width - 1);
    return (int64_t)((value ^ sign) - sign);
}

static void unpack_value(lua_State *L, msgpack_in *in, int depth);

static void unpack_bytes(lua_State *L, msgpack_in *in, uint64_t length) {
    need(L, in, (size_t)length);
    lua_pushlstring(L, (const char *)in->p, (size_t)length);
    in->p += length;
    in->left -= (size_t)length;
}

static void unpack_array(lua_State *L, msgpack_in *in, uint64_t count, int depth) {
    // Every element takes at least one byte: a longer count cannot be real.
    need(L, in, (size_t)count);
    lua_createtable(L, count > INT_MAX ? 0 : (int)count, 0);
    for (uint64_t i = 1; i <= count; i++) {
        unpack_value(L, in, depth + 1);
        lua_rawseti(L, -2, (int)i);
    }
}

static void unpack_map(lua_State *L, msgpack_in *in, uint64_t count, int depth) {
    if (count > in->left / 2) luaL_error(L, "%s", msgpack_missing_bytes);
    lua_createtable(L, 0, (int)count);
    for (uint64_t i = 0; i < count; i++) {
        unpack_value(L, in, depth + 1);
        unpack_value(L, in, depth + 1);
        lua_settable(L, -3);
    }
}

static void unpack_value(lua_State *L, msgpack_in *in, int depth) {
    if (depth > MSGPACK_UNPACK_DEPTH_MAX) luaL_error(L, "%s", msgpack_bad_format);
    luaL_checkstack(L, 3, "MessagePack: too many nested values");
    need(L, in, 1);
    unsigned char tag = *in->p;
    in->p++;
    in->left--;
    if (tag <= 0x7f) { lua_pushnumber(L, tag); return; }
    if (tag >= 0xe0) { lua_pushnumber(L, (lua_Number)(int8_t)tag); return; }
    if (tag >= 0x80 && tag <= 0x8f) { unpack_map(L, in, tag & 0x0f, depth); return; }
    if (tag >= 0x90 && tag <= 0x9f) { unpack_array(L, in, tag & 0x0f, depth); return; }
    if (tag >= 0xa0 && tag <= 0xbf) { unpack_bytes(L, in, tag & 0x1f); return; }
    switch (tag) {
    case 0xc0: lua_pushnil(L); return;
    case 0xc2: lua_pushboolean(L, 0); return;
    case 0xc3: lua_pushboolean(L, 1); return;
    case 0xd9: unpack_bytes(L, in, read_big_endian(L, in, 1)); return;
    case 0xda: unpack_bytes(L, in, read_big_endian(L, in, 2)); return;
    case 0xdb: unpack_bytes(L, in, read_big_endian(L, in, 4)); return;
    case 0xca: {
        uint32_t bits = (uint32_t)read_big_endian(L, in, 4);
        float value;
        memcpy(&value, &bits, sizeof value);
        lua_pushnumber(L, (lua_Number)value);
        return;
    }
    case 0xcb: {
        uint64_t bits = read_big_endian(L, in, 8);
        double value;
        memcpy(&value, &bits, sizeof value);
        lua_pushnumber(L, (lua_Number)value);
        return;
    }
    case 0xcc: lua_pushnumber(L, (lua_Number)read_big_endian(L, in, 1)); return;
    case 0xcd: lua_pushnumber(L, (lua_Number)read_big_endian(L, in, 2)); return;
    case 0xce: lua_pushnumber(L, (lua_Number)read_big_endian(L, in, 4)); return;
    case 0xcf: lua_pushnumber(L, (lua_Number)read_big_endian(L, in, 8)); return;
    case 0xd0: lua_pushnumber(L, (lua_Number)sign_extend(read_big_endian(L, in, 1), 1)); return;
    case 0xd1: lua_pushnumber(L, (lua_Number)sign_extend(read_big_endian(L, in, 2), 2)); return;
    case 0xd2: lua_pushnumber(L, (lua_Number)sign_extend(read_big_endian(L, in, 4), 4)); return;
    case 0xd3: lua_pushnumber(L, (lua_Number)sign_extend(read_big_endian(L, in, 8), 8)); return;
    case 0xdc: unpack_array(L, in, read_big_endian(L, in, 2), depth); return;
    case 0xdd: unpack_array(L, in, read_big_endian(L, in, 4), depth); return;
    case 0xde: unpack_map(L, in, read_big_endian(L, in, 2), depth); return;
    case 0xdf: unpack_map(L, in, read_big_endian(L, in, 4), depth); return;
    default: luaL_error(L, "%s", msgpack_bad_format);  // 0xc1, bin, ext and fixext, as Redis's cmsgpack
    }
}

/// Unpacks up to `limit` values (all when `all`) of argument 1 from byte `offset`. Pushes
/// the values, preceded (unless `all`) by the offset after them, or -1 when the input is
/// used up. Returns the number pushed.
static int unpack_from(lua_State *L, int all, lua_Integer limit, lua_Integer offset) {
    size_t length = 0;
    const char *s = luaL_checklstring(L, 1, &length);
    if (offset < 0 || limit < 0)  // Redis's cmsgpack prints the input's length as the limit
        return luaL_error(L, "Invalid request to unpack with offset of %d and limit of %d.", (int)offset, (int)length);
    if ((size_t)offset > length)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)offset, (int)length);
    msgpack_in in = { (const unsigned char *)s + offset, length - (size_t)offset };
    int base = lua_gettop(L);
    lua_Integer done = 0;
    while (in.left > 0 && (all || done < limit)) {
        luaL_checkstack(L, 2, "too many values to unpack");
        unpack_value(L, &in, 0);
        done++;
    }
    if (all) return lua_gettop(L) - base;
    lua_pushinteger(L, in.left == 0 ? -1 : (lua_Integer)(length - in.left));
    lua_insert(L, base + 1);
    return lua_gettop(L) - base;
}

/// cmsgpack.unpack(s): every value packed in `s`.
static int msgpack_unpack(lua_State *L) { return unpack_from(L, 1, 0, 0); }

/// cmsgpack.unpack_one(s [, offset]): the offset after the first value (-1 at the end) and
/// the value.
static int msgpack_unpack_one(lua_State *L) {
    lua_Integer offset = luaL_optinteger(L, 2, 0);
    lua_settop(L, 1);
    return unpack_from(L, 0, 1, offset);
}

/// cmsgpack.unpack_limit(s, limit [, offset]): the offset after the values (-1 at the end)
/// and at most `limit` values (all of them, without the offset, for limit 0 from 0).
static int msgpack_unpack_limit(lua_State *L) {
    lua_Integer limit = luaL_checkinteger(L, 2);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    lua_settop(L, 1);
    return unpack_from(L, limit == 0 && offset == 0, limit, offset);
}

static const luaL_Reg msgpack_functions[] = {
    {"pack", msgpack_pack},
    {"unpack", msgpack_unpack},
    {"unpack_one", msgpack_unpack_one},
    {"unpack_limit", msgpack_unpack_limit},
    {NULL, NULL},
};

int trestle_luaopen_cmsgpack(lua_State *L) {
    lua_newtable(L);
    luaL_register(L, NULL, msgpack_functions);
    lua_pushliteral(L, "cmsgpack");
    lua_setfield(L, -2, "_NAME");
    lua_pushliteral(L, "lua-cmsgpack 0.4.0");
    lua_setfield(L, -2, "_VERSION");
    lua_pushliteral(L, "MessagePack C implementation for Lua");
    lua_setfield(L, -2, "_DESCRIPTION");
    return 1;
}
