// `struct` for scripts: conversion between Lua values and C structs packed in strings,
// with the API Redis scripts use (struct.pack, struct.unpack, struct.size), written here
// from the library's documented format language:
//
//   >  big endian            <  little endian          !n  align to n (default: native)
//   x  one padding byte      b/B  signed/unsigned char h/H  short      l/L  long
//   T  size_t                i/I[n]  int of n bytes (default 4, at most 32)
//   f  float                 d  double                 s  zero-terminated string
//   c[n]  fixed string of n bytes; c0 packs the whole string, and unpacks as many bytes
//         as the number unpacked just before it      ' '  ignored
//
// Every read is checked against the data's length and every size against its limit, so
// no format or data makes this code read out of bounds or overflow a size; numbers out of
// an integer's range are converted without undefined behaviour.
#include "CLua.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/// Largest integer size a format may ask for (i32, I32).
#define STRUCT_INT_SIZE_MAX 32

/// The platform's largest alignment, used by a bare '!'.
#define STRUCT_NATIVE_ALIGN (offsetof(struct { char c; union { double d; void *p; lua_Number n; } u; }, u))

typedef struct {
    int little;
    size_t align;
} struct_header;

static int host_is_little(void) {
    const uint16_t probe = 1;
    return *(const unsigned char *)&probe == 1;
}

/// Reads the number after an option (like the 4 in i4), or `fallback` when there is none.
static size_t read_count(lua_State *L, const char **format, size_t fallback) {
    if (!isdigit((unsigned char)**format)) return fallback;
    size_t value = 0;
    do {
        size_t digit = (size_t)(**format - '0');
        if (value > (INT_MAX - digit) / 10) luaL_error(L, "integral size overflow");
        value = value * 10 + digit;
        (*format)++;
    } while (isdigit((unsigned char)**format));
    return value;
}

/// The size in bytes of `option` (0 for options that are not items or have no fixed size).
static size_t option_size(lua_State *L, int option, const char **format) {
    switch (option) {
    case 'b': case 'B': case 'x': return 1;
    case 'h': case 'H': return sizeof(short);
    case 'l': case 'L': return sizeof(long);
    case 'T': return sizeof(size_t);
    case 'f': return sizeof(float);
    case 'd': return sizeof(double);
    case 'c': return read_count(L, format, 1);
    case 'i': case 'I': {
        size_t size = read_count(L, format, sizeof(int));
        if (size > STRUCT_INT_SIZE_MAX)
            luaL_error(L, "integral size %d is larger than limit of %d", (int)size, STRUCT_INT_SIZE_MAX);
        return size;
    }
    default: return 0;
    }
}

/// Padding needed before an item of `size` at offset `length`.
static size_t padding(lua_State *L, size_t length, const struct_header *header, int option, size_t size) {
    if (size <= 1 || option == 'c' || option == 's') return 0;
    size_t align = size < header->align ? size : header->align;
    if (align <= 1) return 0;
    // Items are at most 32 bytes and alignments powers of 2 (control checks '!'), so
    // `align` is one too.
    if ((align & (align - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", (int)align);
    return (align - (length & (align - 1))) & (align - 1);
}

/// Applies a control option; raises for unknown options.
static void control(lua_State *L, int option, const char **format, struct_header *header) {
    switch (option) {
    case ' ': break;
    case '>': header->little = 0; break;
    case '<': header->little = 1; break;
    case '!': {
        size_t align = read_count(L, format, STRUCT_NATIVE_ALIGN);
        if (align == 0 || (align & (align - 1)) != 0) luaL_error(L, "alignment %d is not a power of 2", (int)align);
        header->align = align;
        break;
    }
    default: luaL_argerror(L, 1, lua_pushfstring(L, "invalid format option '%c'", option));
    }
}

static int is_item(int option) {
    return strchr("bBhHlLTiIfdcsx", option) != NULL && option != '\0';
}

/// A Lua number as the two's-complement bits of a 64-bit integer: truncated toward zero,
/// saturated outside the range, 0 for NaN (C leaves out-of-range conversions undefined).
static uint64_t integer_bits(lua_Number n) {
    if (n != n) return 0;
    if (n < 0) {
        if (n <= -9223372036854775808.0) return (uint64_t)INT64_MIN;
        return (uint64_t)(int64_t)n;
    }
    if (n >= 18446744073709551616.0) return UINT64_MAX;
    return (uint64_t)n;
}

static void put_integer(luaL_Buffer *buffer, lua_Number n, int little, size_t size) {
    uint64_t value = integer_bits(n);
    unsigned char fill = (value >> 63) != 0 ? 0xff : 0x00;
    unsigned char bytes[STRUCT_INT_SIZE_MAX];
    for (size_t i = 0; i < size; i++) {
        unsigned char byte = i < 8 ? (unsigned char)(value >> (8 * i)) : fill;
        bytes[little ? i : size - 1 - i] = byte;
    }
    luaL_addlstring(buffer, (const char *)bytes, size);
}

static void put_float(luaL_Buffer *buffer, const void *native, size_t size, int little) {
    unsigned char bytes[sizeof(double)];
    memcpy(bytes, native, size);
    if (little != host_is_little()) {
        for (size_t i = 0; i < size / 2; i++) {
            unsigned char swap = bytes[i];
            bytes[i] = bytes[size - 1 - i];
            bytes[size - 1 - i] = swap;
        }
    }
    luaL_addlstring(buffer, (const char *)bytes, size);
}

/// The stack index of the next value to pack; raises when the caller passed too few (the
/// buffer's own strings sit above the arguments and must never be taken for one). The
/// message is the one Redis's struct gives, which reads the nil it keeps above them.
static int next_argument(lua_State *L, int *argument, int count, const char *expected) {
    int at = (*argument)++;
    if (at > count) luaL_argerror(L, at, lua_pushfstring(L, "%s expected, got nil", expected));
    return at;
}

/// struct.pack(format, v1, v2, ...): the values packed as `format` says.
static int struct_pack(lua_State *L) {
    const char *format = luaL_checkstring(L, 1);
    struct_header header = { host_is_little(), 1 };
    const int count = lua_gettop(L);
    int argument = 2;
    size_t total = 0;
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    while (*format != '\0') {
        int option = *format++;
        size_t size = option_size(L, option, &format);
        size_t pad = padding(L, total, &header, option, size);
        for (size_t i = 0; i < pad; i++) luaL_addchar(&buffer, '\0');
        total += pad;
        switch (option) {
        case 'b': case 'B': case 'h': case 'H': case 'l': case 'L': case 'T': case 'i': case 'I':
            put_integer(&buffer, luaL_checknumber(L, next_argument(L, &argument, count, "number")), header.little, size);
            break;
        case 'x':
            luaL_addchar(&buffer, '\0');
            break;
        case 'f': {
            float value = (float)luaL_checknumber(L, next_argument(L, &argument, count, "number"));
            put_float(&buffer, &value, sizeof value, header.little);
            break;
        }
        case 'd': {
            double value = (double)luaL_checknumber(L, next_argument(L, &argument, count, "number"));
            put_float(&buffer, &value, sizeof value, header.little);
            break;
        }
        case 'c': case 's': {
            size_t length = 0;
            int at = next_argument(L, &argument, count, "string");
            const char *s = luaL_checklstring(L, at, &length);
            if (option == 's') {
                size = length + 1;  // with the terminating zero
            } else {
                if (size == 0) size = length;
                // Redis's struct names the argument after the string; so does this.
                luaL_argcheck(L, length >= size, at + 1, "string too short");
            }
            luaL_addlstring(&buffer, s, size);
            break;
        }
        default:
            control(L, option, &format, &header);
            break;
        }
        if (total > ((size_t)-1) - size) luaL_error(L, "format result too large");
        total += size;
    }
    luaL_pushresult(&buffer);
    return 1;
}

static lua_Number get_integer(const unsigned char *bytes, int little, int is_signed, size_t size) {
    uint64_t value = 0;
    size_t used = size < 8 ? size : 8;  // the low 8 bytes; wider integers keep those
    for (size_t i = 0; i < used; i++) {
        size_t at = little ? used - 1 - i : size - used + i;
        value = (value << 8) | bytes[at];
    }
    if (is_signed) {
        if (used < 8) {
            uint64_t sign = 1ULL << (8 * used - 1);
            return (lua_Number)(int64_t)((value ^ sign) - sign);
        }
        return (lua_Number)(int64_t)value;
    }
    return (lua_Number)value;
}

static lua_Number get_float(const unsigned char *data, size_t size, int little) {
    unsigned char bytes[sizeof(double)];
    memcpy(bytes, data, size);
    if (little != host_is_little()) {
        for (size_t i = 0; i < size / 2; i++) {
            unsigned char swap = bytes[i];
            bytes[i] = bytes[size - 1 - i];
            bytes[size - 1 - i] = swap;
        }
    }
    if (size == sizeof(float)) {
        float value;
        memcpy(&value, bytes, sizeof value);
        return (lua_Number)value;
    }
    double value;
    memcpy(&value, bytes, sizeof value);
    return (lua_Number)value;
}

/// struct.unpack(format, data [, position]): the values read from `data` from 1-based
/// `position`, followed by the position after them.
static int struct_unpack(lua_State *L) {
    const char *format = luaL_checkstring(L, 1);
    size_t length = 0;
    const unsigned char *data = (const unsigned char *)luaL_checklstring(L, 2, &length);
    lua_Integer start = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, start >= 1 && (size_t)(start - 1) <= length, 3, "offset out of range");
    size_t position = (size_t)(start - 1);
    struct_header header = { host_is_little(), 1 };
    lua_settop(L, 2);
    int pushed = 0;
    while (*format != '\0') {
        int option = *format++;
        size_t size = option_size(L, option, &format);
        size_t pad = padding(L, position, &header, option, size);
        luaL_argcheck(L, pad <= length - position, 2, "data string too short");
        position += pad;
        luaL_argcheck(L, size <= length - position, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (option) {
        case 'b': case 'h': case 'l': case 'i':
            lua_pushnumber(L, get_integer(data + position, header.little, 1, size));
            pushed++;
            break;
        case 'B': case 'H': case 'L': case 'T': case 'I':
            lua_pushnumber(L, get_integer(data + position, header.little, 0, size));
            pushed++;
            break;
        case 'x':
            break;
        case 'f': case 'd':
            lua_pushnumber(L, get_float(data + position, size, header.little));
            pushed++;
            break;
        case 'c': {
            if (size == 0) {
                if (pushed == 0 || !lua_isnumber(L, -1)) luaL_error(L, "format 'c0' needs a previous size");
                lua_Number wanted = lua_tonumber(L, -1);
                lua_pop(L, 1);
                pushed--;
                luaL_argcheck(L, wanted >= 0 && wanted <= (lua_Number)(length - position), 2, "data string too short");
                size = (size_t)wanted;
            }
            lua_pushlstring(L, (const char *)data + position, size);
            pushed++;
            break;
        }
        case 's': {
            const unsigned char *end = memchr(data + position, '\0', length - position);
            if (end == NULL) luaL_error(L, "unfinished string in data");
            size = (size_t)(end - (data + position)) + 1;
            lua_pushlstring(L, (const char *)data + position, size - 1);
            pushed++;
            break;
        }
        default:
            control(L, option, &format, &header);
            break;
        }
        position += size;
    }
    lua_pushinteger(L, (lua_Integer)position + 1);
    return pushed + 1;
}

/// struct.size(format): the size of a struct laid out as `format` says.
static int struct_size(lua_State *L) {
    const char *format = luaL_checkstring(L, 1);
    struct_header header = { host_is_little(), 1 };
    size_t total = 0;
    while (*format != '\0') {
        int option = *format++;
        size_t size = option_size(L, option, &format);
        if (option == 's') luaL_argerror(L, 1, "option 's' has no fixed size");
        if (option == 'c' && size == 0) luaL_argerror(L, 1, "option 'c0' has no fixed size");
        if (!is_item(option)) control(L, option, &format, &header);
        size_t pad = padding(L, total, &header, option, size);
        if (total > ((size_t)-1) - pad - size) luaL_error(L, "format result too large");
        total += pad + size;
    }
    lua_pushinteger(L, (lua_Integer)total);
    return 1;
}

static const luaL_Reg struct_functions[] = {
    {"pack", struct_pack},
    {"unpack", struct_unpack},
    {"size", struct_size},
    {NULL, NULL},
};

int trestle_luaopen_struct(lua_State *L) {
    lua_newtable(L);
    luaL_register(L, NULL, struct_functions);
    return 1;
}
