// Values between Lua and RESP, as Redis converts them: redis.call's arguments, the
// replies pushed back to the script, and a script's result read off the stack.
//
// Contract: every function works on the interpreter's state at the top of its stack,
// leaves the stack as documented (a push adds one value; a read leaves it unchanged), and
// nests tables at most `conversionDepthMax` deep.
import CLua
import Core
import Wire

extension LuaInterpreter {

    /// A redis.call argument. A number is written as Redis writes it (not as Lua's
    /// tostring, whose 14 digits lose precision: 9007199254740991 would become
    /// 9.007199254741e+15): an integral value within ±2^62 in decimal, any other the
    /// shortest text that reads back as the same double.
    func argument(at index: Int32) -> Bytes? {
        guard lua_type(state, index) == LUA_TNUMBER else { return bytes(at: index) }
        return Array(Self.numberText(lua_tonumber(state, index)).utf8)
    }

    static func numberText(_ number: Double) -> String {
        let limit = Double(Int64.max / 2)
        if number >= -limit, number <= limit, let integer = Int64(exactly: number) { return String(integer) }
        if number.isNaN { return "nan" }
        if number.isInfinite { return number > 0 ? "inf" : "-inf" }
        return "\(number)"
    }

    func bytes(at index: Int32) -> Bytes? {
        var length = 0
        guard let pointer = lua_tolstring(state, index, &length) else { return nil }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    func string(at index: Int32) -> String? {
        bytes(at: index).map { String(decoding: $0, as: UTF8.self) }
    }

    func push(_ bytes: Bytes) {
        bytes.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress {
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { lua_pushlstring(state, $0, buffer.count) }
            } else {
                lua_pushlstring(state, "", 0)
            }
        }
    }

    /// Pushes a command's reply as a script sees it (Redis's RESP-to-Lua rules for the
    /// script's RESP version).
    func push(_ value: RESPValue, depth: Int) {
        let resp3 = scriptVersion == .resp3
        guard depth < Self.conversionDepthMax, lua_checkstack(state, 4) != 0 else {
            lua_pushboolean(state, 0)
            return
        }
        switch value {
        case .attributed(_, let reply): push(reply, depth: depth)  // a script sees no attributes
        case .simple(let text): pushSingleField("ok") { push(Array(text.utf8)) }
        case .error(let text): pushSingleField("err") { push(Array(text.utf8)) }
        case .integer(let number): lua_pushnumber(state, lua_Number(number))
        case .bulk(let bytes): push(bytes)
        case .null, .nullArray:
            if resp3 { lua_pushnil(state) } else { lua_pushboolean(state, 0) }
        case .array(let elements), .push(let elements):
            pushList(elements, depth: depth)
        case .set(let elements):
            guard resp3 else { return pushList(elements, depth: depth) }
            pushSingleField("set") {
                lua_createtable(state, 0, Int32(clamping: elements.count))
                for element in elements {
                    push(element, depth: depth + 1)
                    lua_pushboolean(state, 1)
                    lua_rawset(state, -3)
                }
            }
        case .map(let pairs):
            guard resp3 else { return pushList(pairs.flatMap { [$0.key, $0.value] }, depth: depth) }
            pushSingleField("map") {
                lua_createtable(state, 0, Int32(clamping: pairs.count))
                for pair in pairs {
                    push(pair.key, depth: depth + 1)
                    push(pair.value, depth: depth + 1)
                    lua_rawset(state, -3)
                }
            }
        case .double(let number):
            if resp3 { pushSingleField("double") { lua_pushnumber(state, number) } } else { lua_pushstring(state, RESPEncoder.formatDouble(number)) }
        case .humanDouble(let text):
            if resp3 { pushSingleField("double") { lua_pushnumber(state, Double(text) ?? 0) } } else { lua_pushstring(state, text) }
        case .boolean(let flag):
            if resp3 { lua_pushboolean(state, flag ? 1 : 0) } else { lua_pushnumber(state, flag ? 1 : 0) }
        case .verbatim(let format, let text):
            guard resp3 else { return push(Array(text.utf8)) }
            pushSingleField("verbatim_string") {
                lua_createtable(state, 0, 2)
                lua_pushstring(state, format)
                lua_setfield(state, -2, "format")
                lua_pushstring(state, text)
                lua_setfield(state, -2, "string")
            }
        case .bigNumber(let digits):
            if resp3 { pushSingleField("big_number") { lua_pushstring(state, digits) } } else { lua_pushstring(state, digits) }
        case .raw(let bytes):
            push(bytes)  // never a command's reply; a string if it were
        }
    }

    func pushList(_ elements: [RESPValue], depth: Int) {
        lua_createtable(state, Int32(clamping: elements.count), 0)
        for (index, element) in elements.enumerated() {
            push(element, depth: depth + 1)
            lua_rawseti(state, -2, Int32(clamping: index + 1))
        }
    }

    func pushSingleField(_ name: String, _ value: () -> Void) {
        lua_createtable(state, 0, 1)
        value()
        lua_setfield(state, -2, name)
    }

    /// The Lua value at `index` as a reply (Redis's Lua-to-RESP rules).
    func toRESP(at index: Int32, depth: Int) -> RESPValue {
        switch lua_type(state, index) {
        case LUA_TSTRING:
            return .bulk(bytes(at: index) ?? [])
        case LUA_TNUMBER:
            return .integer(Self.truncated(lua_tonumber(state, index)))
        case LUA_TBOOLEAN:
            let flag = lua_toboolean(state, index) != 0
            if scriptVersion == .resp3 { return .boolean(flag) }
            return flag ? .integer(1) : .null
        case LUA_TTABLE:
            guard depth < Self.conversionDepthMax, lua_checkstack(state, 4) != 0 else {
                return .error("ERR reached lua stack limit")
            }
            return tableToRESP(at: index, depth: depth)
        default:
            return .null
        }
    }

    func tableToRESP(at index: Int32, depth: Int) -> RESPValue {
        if let text = rawStringField("err", of: index) { return .error(text) }
        if let text = rawStringField("ok", of: index) { return .simple(text) }
        // As Redis: CR and LF in a big number become spaces (each one), so the reply's
        // framing cannot be broken from a script.
        if let digits = rawStringField("big_number", of: index) { return .bigNumber(Self.spacingLineBreaks(digits)) }
        lua_pushstring(state, "double")
        lua_rawget(state, index)
        if lua_type(state, -1) == LUA_TNUMBER {
            let number = lua_tonumber(state, -1)
            trestle_lua_pop(state, 1)
            return .double(number)
        }
        trestle_lua_pop(state, 1)
        if let pairs = rawTableField("map", of: index, depth: depth, { key, value in RESPPair(key, value) }) {
            return .map(pairs)
        }
        if let members = rawTableField("set", of: index, depth: depth, { key, _ in key }) {
            return .set(members)
        }
        if let verbatim = verbatimField(of: index) { return verbatim }
        var elements: [RESPValue] = []
        var position: Int32 = 1
        while true {
            lua_rawgeti(state, index, position)
            if lua_type(state, -1) == LUA_TNIL {
                trestle_lua_pop(state, 1)
                break
            }
            elements.append(toRESP(at: lua_gettop(state), depth: depth + 1))
            trestle_lua_pop(state, 1)
            position += 1
        }
        return .array(elements)
    }

    func rawStringField(_ name: String, of index: Int32) -> String? {
        lua_pushstring(state, name)
        lua_rawget(state, index)
        defer { trestle_lua_pop(state, 1) }
        guard lua_type(state, -1) == LUA_TSTRING else { return nil }
        return string(at: -1)
    }

    /// `{verbatim_string = {format = 'txt', string = '...'}}` as a verbatim string (Redis 7):
    /// the format is cut or padded with spaces to 3 characters, as Redis writes it. Nil when
    /// the field, its format or its string is missing.
    func verbatimField(of index: Int32) -> RESPValue? {
        lua_pushstring(state, "verbatim_string")
        lua_rawget(state, index)
        defer { trestle_lua_pop(state, 1) }
        guard lua_type(state, -1) == LUA_TTABLE else { return nil }
        let table = lua_gettop(state)
        guard let format = rawStringField("format", of: table), let text = rawStringField("string", of: table) else { return nil }
        var threeBytes = Array(format.utf8.prefix(3))
        while threeBytes.count < 3 { threeBytes.append(32) }
        return .verbatim(format: String(decoding: threeBytes, as: UTF8.self), text: text)
    }

    /// `text` with every CR and LF byte replaced by a space.
    static func spacingLineBreaks(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 13 || $0 == 10 }) else { return text }
        return String(decoding: text.utf8.map { $0 == 13 || $0 == 10 ? 32 : $0 }, as: UTF8.self)
    }

    /// Converts every (key, value) of the table in field `name`, or nil when there is none.
    func rawTableField<T>(_ name: String, of index: Int32, depth: Int, _ make: (RESPValue, RESPValue) -> T) -> [T]? {
        lua_pushstring(state, name)
        lua_rawget(state, index)
        defer { trestle_lua_pop(state, 1) }
        guard lua_type(state, -1) == LUA_TTABLE else { return nil }
        let table = lua_gettop(state)
        var result: [T] = []
        lua_pushnil(state)
        while lua_next(state, table) != 0 {
            let key = toRESP(at: lua_gettop(state) - 1, depth: depth + 1)
            let value = toRESP(at: lua_gettop(state), depth: depth + 1)
            result.append(make(key, value))
            trestle_lua_pop(state, 1)
        }
        return result
    }

    /// A Lua number as Redis converts it (C's truncating cast); out-of-range values, which
    /// are undefined in C, become the nearest bound here instead of trapping.
    static func truncated(_ number: lua_Number) -> Int64 {
        guard number.isFinite else { return number.isNaN ? 0 : (number > 0 ? .max : .min) }
        if number >= 9.223372036854775807e18 { return .max }
        if number <= -9.223372036854775808e18 { return .min }
        return Int64(number)
    }
}
