// The Lua code that turns a fresh state into Redis's script environment. It runs once per
// state, with the real globals, and returns what the interpreter keeps in the registry.
//
// What a script sees (Redis 7's rules): the base, table, string and math libraries, cjson,
// cmsgpack, struct, bit, redis and an `os` table holding only `clock` (Redis 8's), which
// counts the script's VM instructions (100 million a second) instead of reading the CPU
// clock, so replicas re-running a script agree; reading a global that does not exist and assigning any global raise
// "Script attempted to access nonexistent global variable 'x'" and "Attempt to modify a
// readonly table"; library tables are read-only. Gone: dofile, loadfile, print, require,
// module, getfenv, setfenv, the io and debug libraries, the rest of os, and collectgarbage and gcinfo
// (their answers depend on the state's history, which differs between replicas).
// `math.random` restarts every script from the seed the engine passes (made of the log
// entry's index and time), so every replica draws the same numbers.

enum Sandbox {
    static let setup = """
    local G = _G
    local error, rawget, setmetatable, type, tostring, pairs = error, rawget, setmetatable, type, tostring, pairs
    local getinfo = debug.getinfo
    local setfenv_raw = setfenv

    for _, name in pairs({'dofile', 'loadfile', 'print', 'require', 'module', 'getfenv', 'setfenv',
                          'collectgarbage', 'gcinfo', 'debug', 'io', 'package', 'newproxy'}) do
      G[name] = nil
    end

    -- Debian's lua-bitop reads past its buffer in bit.tohex(x, n) when n converts to
    -- -2^31 (Redis patched its own copy): n is clamped to what tohex can use (its sign
    -- and at most 8 digits) before it reaches the C function.
    local tohex, tonumber_raw, select = G.bit.tohex, tonumber, select
    G.bit.tohex = function(...)
      local count, x, n = select('#', ...), ...
      if count < 2 then return tohex(...) end
      local v = tonumber_raw(n)
      if v ~= nil and (v >= 2147483647.5 or v <= -2147483647.5) then n = v > 0 and 8 or -8 end
      return tohex(x, n)
    end

    -- As Redis 7: an error table caught by pcall reaches the script as its text.
    local pcall_raw = pcall
    local function caught(ok, ...)
      if ok then return ok, ... end
      local err = ...
      if type(err) == 'table' and type(rawget(err, 'err')) == 'string' then err = rawget(err, 'err') end
      return false, err
    end
    G.pcall = function(...) return caught(pcall_raw(...)) end

    -- Each read-only proxy's table, so pairs, next and ipairs walk the library itself
    -- (as on Redis, whose tables are read-only in place): `for k in pairs(os)` finds clock.
    local originals = setmetatable({}, {__mode = 'k'})
    -- The read-only tables (the proxies and the globals): setmetatable and rawset refuse
    -- them as Redis's read-only tables do, and getmetatable gives a read-only table.
    local protected = setmetatable({}, {__mode = 'k'})
    local function refuse() error('Attempt to modify a readonly table', 2) end
    local sealed = setmetatable({}, {__newindex = refuse, __metatable = false})
    protected[sealed] = true
    local function readonly(t)
      local proxy = setmetatable({}, {__index = t, __newindex = refuse, __metatable = sealed})
      originals[proxy] = t
      protected[proxy] = true
      return proxy
    end
    local setmetatable_raw, rawset_raw = setmetatable, rawset
    G.setmetatable = function(t, mt)
      if protected[t] then error('Attempt to modify a readonly table', 0) end
      return setmetatable_raw(t, mt)
    end
    G.rawset = function(t, k, v)
      if protected[t] then error('Attempt to modify a readonly table', 0) end
      return rawset_raw(t, k, v)
    end

    -- Precompiled chunks are refused (Redis's Lua loads source only): hand-made bytecode
    -- can break out of the sandbox. loadstring gives nil and a message, as for a syntax
    -- error; load reads its pieces first and does the same.
    local loadstring_raw, concat, byte = loadstring, table.concat, string.byte
    local function loadsource(text, name)
      if type(text) == 'string' and byte(text, 1) == 27 then return nil, 'binary chunks are not allowed' end
      return loadstring_raw(text, name)
    end
    G.loadstring = loadsource
    G.load = function(reader, name)
      if type(reader) ~= 'function' then error("bad argument #1 to 'load' (function expected, got " .. type(reader) .. ")", 2) end
      local pieces = {}
      while true do
        local piece = reader()
        if piece == nil or piece == '' then break end
        if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
        pieces[#pieces + 1] = piece
      end
      return loadsource(concat(pieces), name or '=(load)')
    end
    local next_raw, ipairs_raw = next, ipairs
    local function next_through(t, k) return next_raw(originals[t] or t, k) end
    G.next = next_through
    G.pairs = function(t)
      if type(t) ~= 'table' then error("bad argument #1 to 'pairs' (table expected, got " .. type(t) .. ")", 2) end
      return next_through, t, nil
    end
    G.ipairs = function(t)
      if type(t) ~= 'table' then error("bad argument #1 to 'ipairs' (table expected, got " .. type(t) .. ")", 2) end
      return ipairs_raw(originals[t] or t)
    end

    local visible = {}
    for name, value in pairs(G) do
      if type(value) == 'table' and name ~= '_G' then visible[name] = readonly(value) else visible[name] = value end
    end

    -- KEYS and ARGV of the script being run; the interpreter replaces them for every call.
    local current = {}
    local env = setmetatable({}, {
      __index = function(_, name)
        local value = current[name]
        if value ~= nil then return value end
        value = visible[name]
        if value == nil then
          error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
        end
        return value
      end,
      __newindex = refuse,
      __metatable = sealed,
    })
    protected[env] = true
    visible._G = env

    -- A FUNCTION library's code (Engine+Functions.swift) runs through this: `body` (the
    -- code as a function) first sees Redis's load environment, where the only global is
    -- `redis`, the load API given; once it returned, the functions it made see the script
    -- globals through the same environment, as Redis swaps its globals' metatable after a
    -- load. Globals stay read-only in both. `body` can only get what a script has.
    visible.__trestle_library = function(body, api)
      if type(body) ~= 'function' then error('a library is a function', 2) end
      local loading = function(_, name)
        if name == 'redis' then return api end
        error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
      end
      local meta = {__index = loading, __newindex = refuse, __metatable = sealed}
      local library = setmetatable({}, meta)
      protected[library] = true
      setfenv_raw(body, library)
      body()
      meta.__index = env
    end

    -- Every error leaves a script as a table {err = text, source = ..., line = ...}.
    local function handler(err)
      -- The position is the script's: skip native functions and the sandbox's own.
      local level, frame = 2, nil
      repeat
        frame = getinfo(level, 'Sl')
        level = level + 1
      until frame == nil or (frame.what ~= 'C' and frame.source ~= '=sandbox')
      if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
      if frame and rawget(err, 'line') == nil then
        err.source = frame.source
        err.line = frame.currentline
      end
      return err
    end

    return env, current, handler
    """

    /// Functions of the `redis` table written in Lua (the rest are native: see LuaInterpreter).
    static let redisHelpers = """
    local redis, type, error = ...
    local find, sub, gsub = ('').find, ('').sub, ('').gsub
    -- As Redis's luaPushErrorBuff: "-CODE msg" or "CODE msg" keeps its code, a text
    -- without a space gets ERR ("x" is "ERR x", "" is "ERR "); line breaks at either end go.
    redis.error_reply = function(text)
      if type(text) ~= 'string' then error('wrong number or type of arguments', 2) end
      if sub(text, 1, 1) ~= '-' then text = '-' .. text end
      local space = find(text, ' ', 1, true)
      local code, message = 'ERR', sub(text, 2)
      if space then code, message = sub(text, 2, space - 1), sub(text, space + 1) end
      message = gsub(gsub(message, '^[\\r\\n]+', ''), '[\\r\\n]+$', '')
      return {err = code .. ' ' .. message}
    end
    redis.status_reply = function(text)
      if type(text) ~= 'string' then error('wrong number or type of arguments', 2) end
      return {ok = text}
    end
    redis.set_repl = function() end
    redis.replicate_commands = function() return true end
    redis.breakpoint = function() return false end
    redis.debug = function() end
    redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
    redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
    """
}
