// The script libraries Trestle writes in C (Sources/CLua/msgpack.c and struct.c) under
// AddressSanitizer and UndefinedBehaviorSanitizer: random bytes and formats through every
// entry point, many rounds, under pcall, plus round trips that must hold. Built and run
// by scripts/check-lua-libraries (part of scripts/test); any report fails the run.
#include <lua5.1/lua.h>
#include <lua5.1/lauxlib.h>
#include <lua5.1/lualib.h>
#include <stdio.h>
int trestle_luaopen_cmsgpack(lua_State *L);
int trestle_luaopen_struct(lua_State *L);
static const char *script =
"math.randomseed(11)\n"
"local ROUNDS = tonumber(os.getenv('ROUNDS') or '100000')\n"
"local function bytes(n) local t = {} for i = 1, n do t[i] = string.char(math.random(0, 255)) end return table.concat(t) end\n"
"local options = {'b','B','h','H','l','L','T','i','I','i3','I7','i16','i32','f','d','s','c','c0','c5','x','<','>','!','!2','!8',' ','i33','q','!16','c1'}\n"
"local seeds = {'\\221\\255\\255\\255\\255', '\\223\\127\\255\\255\\255', '\\219\\255\\255\\255\\255ab', '\\145\\145\\145\\1', '\\203\\0\\0'}\n"
"for round = 1, ROUNDS do\n"
"  local data = bytes(math.random(0, 40))\n"
"  if round % 7 == 0 then data = seeds[math.random(1, #seeds)] .. data end\n"
"  pcall(cmsgpack.unpack, data)\n"
"  pcall(cmsgpack.unpack_one, data, math.random(-2, 42))\n"
"  pcall(cmsgpack.unpack_limit, data, math.random(-1, 5), math.random(-1, 42))\n"
"  local format = {} for i = 1, math.random(1, 6) do format[i] = options[math.random(1, #options)] end\n"
"  format = table.concat(format)\n"
"  pcall(struct.unpack, format, data, math.random(-3, 45))\n"
"  pcall(struct.size, format)\n"
"  pcall(struct.pack, format, math.random(-1e6, 1e6), bytes(3), 2^70, -1/0, 0/0, 'zz')\n"
"  pcall(struct.pack, format)\n"
"  local t = {data, {round, {x = data}}, true}\n"
"  local packed = cmsgpack.pack(data, t, round * 0.5, -round)\n"
"  local a, b, c, d = cmsgpack.unpack(packed)\n"
"  assert(a == data and b[1] == data and b[2][1] == round and c == round * 0.5 and d == -round)\n"
"end\n"
"local deep = {} local cur = deep for i = 1, 100 do cur.x = {} cur = cur.x end\n"
"assert(#cmsgpack.pack(deep) > 0)\n"
"print('ok')\n";
int main(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushcfunction(L, trestle_luaopen_cmsgpack); lua_call(L, 0, 1); lua_setglobal(L, "cmsgpack");
  lua_pushcfunction(L, trestle_luaopen_struct); lua_call(L, 0, 1); lua_setglobal(L, "struct");
  if (luaL_dostring(L, script) != 0) { printf("error: %s\n", lua_tostring(L, -1)); return 1; }
  lua_close(L);
  return 0;
}
