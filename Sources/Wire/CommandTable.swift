// The command table: every command's arity, flags and key positions, as data. Dispatch
// checks arity from it, COMMAND / COMMAND DOCS render it, and slot routing reads the key
// positions from it. Arity follows Redis: positive means exact, negative means "at least".

/// Every command Trestle implements.
public enum CommandID: String, CaseIterable, Sendable {
    // connection and server
    case ping, echo, hello, auth, select, quit, reset, client, command, info, dbsize, flushdb, flushall, config, time, acl
    case lastsave, bgsave, bgrewriteaof, save
    case slowlog, latency, role, lolwut, shutdown, debug, module, replicaof, slaveof
    // strings
    case get, set, setnx, setex, psetex, getset, getdel, getex, mget, mset, msetnx, append, strlen
    case getrange, substr, setrange, incr, decr, incrby, decrby, incrbyfloat
    case setbit, getbit, bitcount, bitpos, bitop, bitfield, bitfield_ro, lcs
    // hyperloglog
    case pfadd, pfcount, pfmerge, pfdebug, pfselftest
    // keys
    case del, unlink, exists, type, keys, scan, rename, renamenx, randomkey, copy, touch
    case expire, pexpire, expireat, pexpireat, ttl, pttl, expiretime, pexpiretime, persist
    case dump, restore, migrate, object, memory, sort, sort_ro, move, swapdb
    // hashes
    case hset, hsetnx, hget, hmget, hmset, hdel, hgetdel, hsetex, hgetex, hlen, hexists, hkeys, hvals, hgetall
    case hexpire, hpexpire, hexpireat, hpexpireat, httl, hpttl, hexpiretime, hpexpiretime, hpersist
    case hincrby, hincrbyfloat, hstrlen, hscan, hrandfield
    // lists
    case lpush, rpush, lpushx, rpushx, lpop, rpop, llen, lrange, lindex, lset, linsert, lrem, ltrim, lpos
    case lmove, rpoplpush, lmpop
    case blpop, brpop, brpoplpush, blmove, blmpop
    // sets
    case sadd, srem, smembers, sismember, smismember, scard, spop, srandmember, smove
    case sinter, sintercard, sinterstore, sunion, sunionstore, sdiff, sdiffstore, sscan
    // sorted sets
    case zadd, zincrby, zrem, zcard, zscore, zmscore, zrank, zrevrank, zcount, zlexcount
    case zrange, zrangestore, zrevrange, zrangebyscore, zrevrangebyscore, zrangebylex, zrevrangebylex
    case zremrangebyrank, zremrangebyscore, zremrangebylex, zpopmin, zpopmax, zscan
    case zunion, zunionstore, zinter, zinterstore, zintercard, zdiff, zdiffstore, zmpop, zrandmember
    case bzpopmin, bzpopmax, bzmpop
    // geospatial indexes (sorted sets scored by geohash)
    case geoadd, geodist, geohash, geopos, georadius, georadius_ro, georadiusbymember, georadiusbymember_ro
    case geosearch, geosearchstore
    // transactions
    case multi, exec, discard, watch, unwatch
    // scripting
    case eval, evalsha, eval_ro, evalsha_ro, script, fcall, fcall_ro, function
    // streams
    case xadd, xlen, xrange, xrevrange, xdel, xtrim, xread, xsetid
    case xgroup, xreadgroup, xack, xpending, xclaim, xautoclaim, xinfo
    // replication and debugging
    case wait, waitaof, monitor, sync, psync, replconf
    // pub/sub
    case subscribe, unsubscribe, psubscribe, punsubscribe, publish, pubsub, ssubscribe, sunsubscribe, spublish
    // cluster
    case cluster, readonly, readwrite, asking, trestle
}

extension CommandID {
    /// The case's position in the declaration. Equality and hashing use it: a String raw
    /// value would otherwise be compared and hashed as text (RawRepresentable's defaults),
    /// and sets of command ids are consulted on every request.
    @inline(__always) public var ordinal: Int {
        switch MemoryLayout<CommandID>.size {
        case 1: return Int(unsafeBitCast(self, to: UInt8.self))
        default: return Int(unsafeBitCast(self, to: UInt16.self))
        }
    }

    @inline(__always) public static func == (lhs: CommandID, rhs: CommandID) -> Bool { lhs.ordinal == rhs.ordinal }

    @inline(__always) public func hash(into hasher: inout Hasher) { hasher.combine(ordinal) }
}

/// Metadata of one command or subcommand.
public final class CommandSpec: Sendable {
    public let id: CommandID?
    public let name: String
    public let arity: Int
    public let flags: [String]
    public let firstKey: Int
    public let lastKey: Int
    public let step: Int
    /// For commands whose keys follow a count (LMPOP, SINTERCARD: Redis's "keynum" key
    /// spec), the index of that count; 0 otherwise. Such commands have no fixed key range,
    /// except a destination key before the count (ZUNIONSTORE: `firstKey` 1, count at 2).
    public let keyCountIndex: Int
    public let group: String
    public let summary: String
    public let since: String
    public let complexity: String
    public let subcommands: [CommandSpec]

    /// Whether the command may change the keyspace (flag `write`, or `may_replicate` for
    /// scripts, which go through the shard's log).
    public let isWrite: Bool
    /// Whether scripts may call the command (no flag `noscript`).
    public let allowedInScripts: Bool
    /// Whether the command may wait for data (flag `blocking`: BLPOP and friends).
    public let isBlocking: Bool
    /// Whether the command runs before authentication (flag `no_auth`).
    public let allowedWithoutAuth: Bool
    /// Whether the command only reads data (flag `readonly`).
    public let isReadOnly: Bool
    /// `[firstKey]` for a command with exactly one key at a fixed position (GET, SET...):
    /// built once, so routing such a request allocates no positions array.
    private let singleKeyPosition: [Int]
    /// `[keyCountIndex + 1]`: the one key of a command with a key count (EVAL, EVALSHA,
    /// FCALL...) called with one key, built once for the same reason.
    private let singleCountedKeyPosition: [Int]

    public init(id: CommandID?, name: String, arity: Int, flags: [String], firstKey: Int, lastKey: Int, step: Int,
                group: String, summary: String, since: String, complexity: String, subcommands: [CommandSpec],
                keyCountIndex: Int = 0) {
        self.id = id
        self.keyCountIndex = keyCountIndex
        self.name = name
        self.arity = arity
        self.flags = flags
        self.firstKey = firstKey
        self.lastKey = lastKey
        self.step = step
        self.group = group
        self.summary = summary
        self.since = since
        self.complexity = complexity
        self.subcommands = subcommands
        self.isWrite = flags.contains("write") || flags.contains("may_replicate")
        self.allowedInScripts = !flags.contains("noscript")
        self.isBlocking = flags.contains("blocking")
        self.allowedWithoutAuth = flags.contains("no_auth")
        self.isReadOnly = flags.contains("readonly")
        self.singleKeyPosition = [firstKey]
        self.singleCountedKeyPosition = [keyCountIndex + 1]
    }

    /// Whether `argumentCount` (including the command name) satisfies the arity.
    public func accepts(argumentCount: Int) -> Bool {
        arity >= 0 ? argumentCount == arity : argumentCount >= -arity
    }

    /// The positions of the key arguments of `arguments` (index 0 is the command name).
    /// Routing must use this form: for a command with a key count (`keyCountIndex`) the
    /// positions depend on the count's value. A count that is not a positive integer or
    /// names more keys than there are arguments gives no keys (the command itself then
    /// answers with its error).
    public func keyPositions(in arguments: [[UInt8]]) -> [Int] {
        if id == .xread || id == .xreadgroup { return Self.keysAfterStreams(arguments) }
        if id == .migrate { return Self.migrateKeys(arguments) }
        if id == .sort, arguments.count > 1 { return Self.keysWithStore(arguments, optionsFrom: 2, keywords: ["store"]) }
        if id == .georadius, arguments.count > 1 { return Self.keysWithStore(arguments, optionsFrom: 6, keywords: ["store", "storedist"]) }
        if id == .georadiusbymember, arguments.count > 1 {
            return Self.keysWithStore(arguments, optionsFrom: 5, keywords: ["store", "storedist"])
        }
        guard keyCountIndex > 0 else { return keyPositions(argumentCount: arguments.count) }
        guard keyCountIndex < arguments.count, let count = Self.smallCount(arguments[keyCountIndex]),
              count <= arguments.count - keyCountIndex - 1 else { return [] }
        let counted = (keyCountIndex + 1)..<(keyCountIndex + 1 + count)
        guard firstKey > 0 && firstKey < keyCountIndex else { return count == 1 ? singleCountedKeyPosition : Array(counted) }
        return [firstKey] + counted
    }

    /// MIGRATE's keys: the key at 3, or, when it is empty, every argument after the KEYS
    /// option (AUTH's and AUTH2's arguments skipped while looking for it), as Redis's
    /// migrateGetKeys.
    static func migrateKeys(_ arguments: [[UInt8]]) -> [Int] {
        guard arguments.count > 3 else { return [] }
        var index = 6
        while index < arguments.count {
            switch CommandName(arguments[index]) {
            case CommandName(Array("auth".utf8)): index += 2
            case CommandName(Array("auth2".utf8)): index += 3
            case CommandName(Array("keys".utf8)):
                guard arguments[3].isEmpty else { return [] }
                return Array((index + 1)..<arguments.count)
            default: index += 1
            }
        }
        return arguments[3].isEmpty ? [] : [3]
    }

    /// The source key at 1, then for each of `keywords` (SORT's STORE, GEORADIUS's STORE
    /// and STOREDIST) the argument after its last occurrence among the options from
    /// `optionsFrom`, keyword by keyword as Redis's key specs list them.
    static func keysWithStore(_ arguments: [[UInt8]], optionsFrom: Int, keywords: [String]) -> [Int] {
        // As Redis's key specs (keyword searched from the end): each keyword's last
        // occurrence names a key; earlier ones are overridden.
        var positions = [1]
        for keyword in keywords.map({ CommandName(Array($0.utf8)) }) {
            let last = (optionsFrom..<max(optionsFrom, arguments.count)).last { index in
                index + 1 < arguments.count && CommandName(arguments[index]) == keyword
            }
            if let last { positions.append(last + 1) }
        }
        return positions
    }

    /// XREAD's keys: the first half of what follows the STREAMS keyword.
    static func keysAfterStreams(_ arguments: [[UInt8]]) -> [Int] {
        guard let streams = arguments.indices.dropFirst().first(where: { CommandName(arguments[$0]) == CommandName(Array("streams".utf8)) }) else {
            return []
        }
        let rest = arguments.count - streams - 1
        guard rest > 0, rest % 2 == 0 else { return [] }
        return Array((streams + 1)...(streams + rest / 2))
    }

    /// A positive decimal count of at most 9 digits (no sign, no leading zero), else nil.
    static func smallCount(_ bytes: [UInt8]) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 9, bytes[0] != UInt8(ascii: "0") else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The positions of key arguments for a command with fixed key positions (index 0 is
    /// the command name); empty for a command with a key count (see `keyPositions(in:)`).
    public func keyPositions(argumentCount: Int) -> [Int] {
        guard firstKey > 0, step > 0 else { return [] }
        if lastKey == firstKey { return firstKey < argumentCount ? singleKeyPosition : [] }
        let last = lastKey < 0 ? argumentCount + lastKey : lastKey
        guard last >= firstKey else { return [] }
        return Array(stride(from: firstKey, through: min(last, argumentCount - 1), by: step))
    }
}

extension CommandSpec {
    /// The subcommand spec of a container command (`CLIENT ID`, `SCRIPT LOAD`), or nil.
    public func subcommand(_ name: [UInt8]) -> CommandSpec? {
        guard !subcommands.isEmpty else { return nil }
        let wanted = CommandName(Array((self.name + "|").utf8) + name)
        return subcommands.first { CommandName(Array($0.name.utf8)) == wanted }
    }

    /// The known subcommand `arguments` name when it refuses their count (Redis checks a
    /// subcommand's own arity: `XGROUP HELP x` is "wrong number of arguments for
    /// 'xgroup|help' command"), or nil.
    public func subcommandRefusingArity(_ arguments: [[UInt8]]) -> CommandSpec? {
        guard !subcommands.isEmpty, arguments.count >= 2, let sub = subcommand(arguments[1]),
              !sub.accepts(argumentCount: arguments.count) else { return nil }
        return sub
    }
}

/// A command name compared without regard to ASCII case, so lookups need no lowercasing.
public struct CommandName: Hashable, Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public static func == (lhs: CommandName, rhs: CommandName) -> Bool {
        guard lhs.bytes.count == rhs.bytes.count else { return false }
        for index in lhs.bytes.indices where lhs.bytes[index] | 0x20 != rhs.bytes[index] | 0x20 { return false }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Combined once: cheaper than one combine per byte.
        hasher.combine(foldedHash)
    }

    /// FNV-1a over the case-folded bytes (equal names, in any case, hash alike).
    public var foldedHash: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte | 0x20)) &* 0x0000_0100_0000_01B3 }
        return hash
    }
}

public enum CommandTable {
    /// Every top-level command, sorted by name.
    public static let all: [CommandSpec] = makeTable().sorted { $0.name < $1.name }

    /// Every command by name, in an open-addressing table over `CommandName.foldedHash`
    /// (looked up once per request: a Dictionary would run SipHash over the name's hash).
    private static let byName = CommandNameTable(all)

    /// Looks a command up by name, in any case.
    public static func lookup(_ name: [UInt8]) -> CommandSpec? { byName.lookup(name) }

    static func spec(_ id: CommandID, _ arity: Int, _ flags: String, keys: (Int, Int, Int) = (0, 0, 0),
                             _ group: String, _ summary: String, since: String = "1.0.0", complexity: String = "O(1)",
                             subcommands: [CommandSpec] = []) -> CommandSpec {
        CommandSpec(id: id, name: id.rawValue, arity: arity, flags: flags.split(separator: " ").map(String.init),
                    firstKey: keys.0, lastKey: keys.1, step: keys.2, group: group, summary: summary, since: since,
                    complexity: complexity, subcommands: subcommands)
    }

    /// A command whose keys follow a count at `countIndex` (Redis's movablekeys commands),
    /// after a destination key at 1 when `destination`.
    private static func counted(_ id: CommandID, _ arity: Int, _ flags: String, countIndex: Int, destination: Bool = false,
                                _ group: String, _ summary: String, since: String, complexity: String) -> CommandSpec {
        let fixed = destination ? 1 : 0
        return CommandSpec(id: id, name: id.rawValue, arity: arity, flags: (flags + " movablekeys").split(separator: " ").map(String.init),
                    firstKey: fixed, lastKey: fixed, step: fixed, group: group, summary: summary, since: since,
                    complexity: complexity, subcommands: [], keyCountIndex: countIndex)
    }

    static func sub(_ parent: String, _ name: String, _ arity: Int, _ flags: String, keys: (Int, Int, Int) = (0, 0, 0),
                            _ summary: String) -> CommandSpec {
        CommandSpec(id: nil, name: "\(parent)|\(name)", arity: arity, flags: flags.split(separator: " ").map(String.init),
                    firstKey: keys.0, lastKey: keys.1, step: keys.2, group: Self.subcommandGroups[parent] ?? "connection",
                    summary: summary, since: "2.0.0", complexity: "O(1)", subcommands: [])
    }

    private static let subcommandGroups = ["config": "server", "command": "server", "slowlog": "server", "latency": "server", "module": "server", "script": "scripting", "pubsub": "pubsub", "acl": "server",
                                           "function": "scripting", "object": "generic", "memory": "server", "xgroup": "stream", "xinfo": "stream",
                                           "cluster": "cluster"]

    private static func makeTable() -> [CommandSpec] {
        let one = (1, 1, 1), all = (1, -1, 1), pairs = (1, -1, 2), two = (1, 2, 1)
        return connectionAndServer() + lists() + sets() + sortedSets() + geo() + scripting() + pubSub() + blocking() + streams() + [
            spec(.get, 2, "readonly fast", keys: one, "string", "Returns the string value of a key."),
            spec(.set, -3, "write denyoom", keys: one, "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
            spec(.setnx, 3, "write denyoom fast", keys: one, "string", "Set the string value of a key only when the key doesn't exist."),
            spec(.setex, 4, "write denyoom", keys: one, "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", since: "2.0.0"),
            spec(.psetex, 4, "write denyoom", keys: one, "string", "Sets both string value and expiration time in milliseconds of a key.", since: "2.6.0"),
            spec(.getset, 3, "write denyoom fast", keys: one, "string", "Returns the previous string value of a key after setting it to a new value."),
            spec(.getdel, 2, "write fast", keys: one, "string", "Returns the string value of a key after deleting the key.", since: "6.2.0"),
            spec(.getex, -2, "write fast", keys: one, "string", "Returns the string value of a key after setting its expiration time.", since: "6.2.0"),
            spec(.mget, -2, "readonly fast", keys: all, "string", "Atomically returns the string values of one or more keys.", complexity: "O(N)"),
            spec(.mset, -3, "write denyoom", keys: pairs, "string", "Atomically creates or modifies the string values of one or more keys.", since: "1.0.1", complexity: "O(N)"),
            spec(.msetnx, -3, "write denyoom", keys: pairs, "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", since: "1.0.1", complexity: "O(N)"),
            spec(.append, 3, "write denyoom fast", keys: one, "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", since: "2.0.0"),
            spec(.strlen, 2, "readonly fast", keys: one, "string", "Returns the length of a string value.", since: "2.2.0"),
            spec(.getrange, 4, "readonly", keys: one, "string", "Returns a substring of the string stored at a key.", since: "2.4.0", complexity: "O(N)"),
            spec(.substr, 4, "readonly", keys: one, "string", "Returns a substring from a string value.", complexity: "O(N)"),
            spec(.setrange, 4, "write denyoom", keys: one, "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", since: "2.2.0"),
            spec(.incr, 2, "write denyoom fast", keys: one, "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
            spec(.decr, 2, "write denyoom fast", keys: one, "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
            spec(.incrby, 3, "write denyoom fast", keys: one, "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
            spec(.decrby, 3, "write denyoom fast", keys: one, "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
            spec(.lcs, -3, "readonly", keys: (1, 2, 1), "string", "Finds the longest common substring.", since: "7.0.0", complexity: "O(N*M)"),
            spec(.setbit, 4, "write denyoom", keys: one, "bitmap", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", since: "2.2.0"),
            spec(.getbit, 3, "readonly fast", keys: one, "bitmap", "Returns a bit value by offset.", since: "2.2.0"),
            spec(.bitcount, -2, "readonly", keys: one, "bitmap", "Counts the number of set bits (population counting) in a string.", since: "2.6.0", complexity: "O(N)"),
            spec(.bitpos, -3, "readonly", keys: one, "bitmap", "Finds the first set (1) or clear (0) bit in a string.", since: "2.8.7", complexity: "O(N)"),
            spec(.bitfield, -2, "write denyoom", keys: one, "bitmap", "Performs arbitrary bitfield integer operations on strings.", since: "3.2.0"),
            spec(.bitfield_ro, -2, "readonly fast", keys: one, "bitmap", "Performs arbitrary read-only bitfield integer operations on strings.", since: "6.0.0"),
            spec(.bitop, -4, "write denyoom", keys: (2, -1, 1), "bitmap", "Performs bitwise operations on multiple strings, and stores the result.", since: "2.6.0", complexity: "O(N)"),
            spec(.pfadd, -2, "write denyoom fast", keys: one, "hyperloglog", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", since: "2.8.9", complexity: "O(1) to add every element."),
            spec(.pfcount, -2, "readonly may_replicate", keys: all, "hyperloglog", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", since: "2.8.9",
                 complexity: "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys."),
            spec(.pfmerge, -2, "write denyoom", keys: all, "hyperloglog", "Merges one or more HyperLogLog values into a single key.", since: "2.8.9", complexity: "O(N) to merge N HyperLogLogs, but with high constant times."),
            spec(.pfdebug, 3, "write denyoom admin", keys: (2, 2, 1), "hyperloglog", "Internal commands for debugging HyperLogLog values.", since: "2.8.9", complexity: "N/A"),
            spec(.pfselftest, 1, "admin", "hyperloglog", "An internal command for testing HyperLogLog values.", since: "2.8.9", complexity: "N/A"),
            spec(.incrbyfloat, 3, "write denyoom fast", keys: one, "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", since: "2.6.0"),

            spec(.cluster, -2, "noscript loading stale", "cluster", "A container for Redis Cluster commands.", since: "3.0.0", subcommands: [
                sub("cluster", "help", 2, "loading stale", "Returns helpful text about the different subcommands."),
                sub("cluster", "info", 2, "loading stale", "Returns information about the state of a node."),
                sub("cluster", "myid", 2, "loading stale", "Returns the ID of a node."),
                sub("cluster", "slots", 2, "loading stale", "Returns the mapping of cluster slots to nodes."),
                sub("cluster", "shards", 2, "loading stale", "Returns the mapping of cluster slots to shards."),
                sub("cluster", "nodes", 2, "loading stale", "Returns the cluster configuration for a node."),
                sub("cluster", "keyslot", 3, "stale", "Returns the hash slot for a key."),
                sub("cluster", "countkeysinslot", 3, "stale", "Returns the number of keys in a hash slot."),
                sub("cluster", "getkeysinslot", 4, "stale", "Returns the key names in a hash slot."),
            ]),
            spec(.readonly, 1, "noscript loading stale fast", "cluster", "Enables read-only queries for a connection to a Redis Cluster replica node.", since: "3.0.0"),
            spec(.readwrite, 1, "noscript loading stale fast", "cluster", "Enables read-write queries for a connection to a Redis Cluster replica node.", since: "3.0.0"),
            spec(.asking, 1, "noscript fast", "cluster", "Signals that a cluster client is following an -ASK redirect.", since: "3.0.0"),
            spec(.trestle, -2, "admin noscript", "cluster", "Trestle cluster administration: STATUS, ADDNODE, REMOVENODE, REBALANCE.", since: "1.0.0"),

            spec(.del, -2, "write", keys: all, "generic", "Deletes one or more keys.", complexity: "O(N)"),
            spec(.unlink, -2, "write fast", keys: all, "generic", "Asynchronously deletes one or more keys.", since: "4.0.0", complexity: "O(N)"),
            spec(.exists, -2, "readonly fast", keys: all, "generic", "Determines whether one or more keys exist.", complexity: "O(N)"),
            spec(.type, 2, "readonly fast", keys: one, "generic", "Determines the type of value stored at a key."),
            spec(.keys, 2, "readonly", "generic", "Returns all key names that match a pattern.", complexity: "O(N)"),
            spec(.scan, -2, "readonly", "generic", "Iterates over the key names in the database.", since: "2.8.0"),
            spec(.rename, 3, "write", keys: two, "generic", "Renames a key and overwrites the destination."),
            spec(.renamenx, 3, "write fast", keys: two, "generic", "Renames a key only when the target key name doesn't exist."),
            spec(.randomkey, 1, "readonly", "generic", "Returns a random key name from the database."),
            spec(.move, 3, "write fast", keys: one, "generic", "Moves a key to another database."),
            spec(.swapdb, 3, "write fast", "server", "Swaps two Redis databases.", since: "4.0.0",
                 complexity: "O(N) where N is the count of clients watching or blocking on keys from both databases."),
            spec(.copy, -3, "write denyoom", keys: two, "generic", "Copies the value of a key to a new key.", since: "6.2.0", complexity: "O(N)"),
            spec(.touch, -2, "readonly fast", keys: all, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", since: "3.2.1", complexity: "O(N)"),
            spec(.expire, -3, "write fast", keys: one, "generic", "Sets the expiration time of a key in seconds."),
            spec(.pexpire, -3, "write fast", keys: one, "generic", "Sets the expiration time of a key in milliseconds.", since: "2.6.0"),
            spec(.expireat, -3, "write fast", keys: one, "generic", "Sets the expiration time of a key to a Unix timestamp.", since: "1.2.0"),
            spec(.pexpireat, -3, "write fast", keys: one, "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", since: "2.6.0"),
            spec(.ttl, 2, "readonly fast", keys: one, "generic", "Returns the expiration time in seconds of a key."),
            spec(.pttl, 2, "readonly fast", keys: one, "generic", "Returns the expiration time in milliseconds of a key.", since: "2.6.0"),
            spec(.expiretime, 2, "readonly fast", keys: one, "generic", "Returns the expiration time of a key as a Unix timestamp.", since: "7.0.0"),
            spec(.pexpiretime, 2, "readonly fast", keys: one, "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", since: "7.0.0"),
            spec(.persist, 2, "write fast", keys: one, "generic", "Removes the expiration time of a key.", since: "2.2.0"),
            CommandSpec(id: .sort, name: "sort", arity: -2, flags: ["write", "denyoom", "movablekeys"], firstKey: 1, lastKey: 1, step: 1,
                        group: "generic", summary: "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
                        since: "1.0.0", complexity: "O(N+M*log(M))", subcommands: []),
            spec(.sort_ro, -2, "readonly movablekeys", keys: one, "generic", "Returns the sorted elements of a list, a set, or a sorted set.", since: "7.0.0", complexity: "O(N+M*log(M))"),
            spec(.dump, 2, "readonly", keys: one, "generic", "Returns a serialized representation of the value stored at a key.", since: "2.6.0"),
            spec(.restore, -4, "write denyoom", keys: one, "generic", "Creates a key from the serialized representation of a value.", since: "2.6.0"),
            spec(.migrate, -6, "write movablekeys", keys: (3, 3, 1), "generic", "Atomically transfers a key from one Redis instance to another.",
                 since: "2.6.0", complexity: "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed."),
            spec(.object, -2, "readonly", keys: (2, 2, 1), "generic", "A container for object introspection commands.", since: "2.2.3", subcommands: [
                sub("object", "encoding", 3, "readonly", keys: (2, 2, 1), "Returns the internal encoding of a Redis object."),
                sub("object", "freq", 3, "readonly", keys: (2, 2, 1), "Returns the logarithmic access frequency counter of a Redis object."),
                sub("object", "idletime", 3, "readonly", keys: (2, 2, 1), "Returns the time since the last access to a Redis object."),
                sub("object", "refcount", 3, "readonly", keys: (2, 2, 1), "Returns the reference count of a value of a key."),
                sub("object", "help", 2, "loading stale", "Returns helpful text about the different subcommands."),
            ]),
            spec(.memory, -2, "readonly", keys: (2, 2, 1), "server", "A container for memory diagnostics commands.", since: "4.0.0", subcommands: [
                sub("memory", "doctor", 2, "", "Outputs a memory problems report."),
                sub("memory", "malloc-stats", 2, "", "Returns the allocator statistics."),
                sub("memory", "purge", 2, "", "Asks the allocator to release memory."),
                sub("memory", "stats", 2, "", "Returns details about memory usage."),
                sub("memory", "usage", -3, "readonly", keys: (2, 2, 1), "Estimates the memory usage of a key."),
                sub("memory", "help", 2, "loading stale", "Returns helpful text about the different subcommands."),
            ]),

            spec(.hset, -4, "write denyoom fast", keys: one, "hash", "Creates or modifies the value of a field in a hash.", since: "2.0.0"),
            spec(.hsetnx, 4, "write denyoom fast", keys: one, "hash", "Sets the value of a field in a hash only when the field doesn't exist.", since: "2.0.0"),
            spec(.hget, 3, "readonly fast", keys: one, "hash", "Returns the value of a field in a hash.", since: "2.0.0"),
            spec(.hmget, -3, "readonly fast", keys: one, "hash", "Returns the values of all fields in a hash.", since: "2.0.0", complexity: "O(N)"),
            spec(.hmset, -4, "write denyoom fast", keys: one, "hash", "Sets the values of multiple fields.", since: "2.0.0", complexity: "O(N)"),
            spec(.hdel, -3, "write fast", keys: one, "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", since: "2.0.0", complexity: "O(N)"),
            spec(.hgetdel, -5, "write fast", keys: one, "hash", "Returns the value of a field and deletes it from the hash.", since: "8.0.0", complexity: "O(N)"),
            spec(.hsetex, -6, "write denyoom fast", keys: one, "hash", "Set the value of one or more fields of a given hash key, and optionally set their expiration.", since: "8.0.0", complexity: "O(N)"),
            spec(.hgetex, -5, "write fast", keys: one, "hash", "Get the value of one or more fields of a given hash key, and optionally set their expiration.", since: "8.0.0", complexity: "O(N)"),
            spec(.hlen, 2, "readonly fast", keys: one, "hash", "Returns the number of fields in a hash.", since: "2.0.0"),
            spec(.hexists, 3, "readonly fast", keys: one, "hash", "Determines whether a field exists in a hash.", since: "2.0.0"),
            spec(.hkeys, 2, "readonly", keys: one, "hash", "Returns all fields in a hash.", since: "2.0.0", complexity: "O(N)"),
            spec(.hvals, 2, "readonly", keys: one, "hash", "Returns all values in a hash.", since: "2.0.0", complexity: "O(N)"),
            spec(.hgetall, 2, "readonly", keys: one, "hash", "Returns all fields and values in a hash.", since: "2.0.0", complexity: "O(N)"),
            spec(.hincrby, 4, "write denyoom fast", keys: one, "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", since: "2.0.0"),
            spec(.hincrbyfloat, 4, "write denyoom fast", keys: one, "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", since: "2.6.0"),
            spec(.hstrlen, 3, "readonly fast", keys: one, "hash", "Returns the length of the value of a field.", since: "3.2.0"),
            spec(.hscan, -3, "readonly", keys: one, "hash", "Iterates over fields and values of a hash.", since: "2.8.0"),
            spec(.hrandfield, -2, "readonly", keys: one, "hash", "Returns one or more random fields from a hash.", since: "6.2.0", complexity: "O(N)"),
            spec(.hexpire, -6, "write denyoom fast", keys: one, "hash", "Set expiry for hash field using relative time to expire (seconds)", since: "7.4.0", complexity: "O(N)"),
            spec(.hpexpire, -6, "write denyoom fast", keys: one, "hash", "Set expiry for hash field using relative time to expire (milliseconds)", since: "7.4.0", complexity: "O(N)"),
            spec(.hexpireat, -6, "write denyoom fast", keys: one, "hash", "Set expiry for hash field using an absolute Unix timestamp (seconds)", since: "7.4.0", complexity: "O(N)"),
            spec(.hpexpireat, -6, "write denyoom fast", keys: one, "hash", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", since: "7.4.0", complexity: "O(N)"),
            spec(.httl, -5, "readonly fast", keys: one, "hash", "Returns the TTL in seconds of a hash field.", since: "7.4.0", complexity: "O(N)"),
            spec(.hpttl, -5, "readonly fast", keys: one, "hash", "Returns the TTL in milliseconds of a hash field.", since: "7.4.0", complexity: "O(N)"),
            spec(.hexpiretime, -5, "readonly fast", keys: one, "hash", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", since: "7.4.0", complexity: "O(N)"),
            spec(.hpexpiretime, -5, "readonly fast", keys: one, "hash", "Returns the expiration time of a hash field as a Unix timestamp, in msec.", since: "7.4.0", complexity: "O(N)"),
            spec(.hpersist, -5, "write fast", keys: one, "hash", "Removes the expiration time for each specified field", since: "7.4.0", complexity: "O(N)"),

            spec(.multi, 1, "noscript loading stale fast allow_busy", "transactions", "Starts a transaction.", since: "1.2.0"),
            spec(.exec, 1, "noscript loading stale skip_slowlog", "transactions", "Executes all commands in a transaction.", since: "1.2.0", complexity: "Depends on commands in the transaction"),
            spec(.discard, 1, "noscript loading stale fast allow_busy", "transactions", "Discards a transaction.", since: "2.0.0", complexity: "O(N)"),
            spec(.watch, -2, "noscript loading stale fast allow_busy", keys: all, "transactions", "Monitors changes to keys to determine the execution of a transaction.", since: "2.2.0"),
            spec(.unwatch, 1, "noscript loading stale fast allow_busy", "transactions", "Forgets about watched keys of a transaction.", since: "2.2.0"),
        ]
    }

    private static func lists() -> [CommandSpec] {
        let one = (1, 1, 1), two = (1, 2, 1)
        return [
            spec(.lpush, -3, "write denyoom fast", keys: one, "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
            spec(.rpush, -3, "write denyoom fast", keys: one, "list", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
            spec(.lpushx, -3, "write denyoom fast", keys: one, "list", "Prepends one or more elements to a list only when the list exists.", since: "2.2.0"),
            spec(.rpushx, -3, "write denyoom fast", keys: one, "list", "Appends an element to a list only when the list exists.", since: "2.2.0"),
            spec(.lpop, -2, "write fast", keys: one, "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", complexity: "O(N)"),
            spec(.rpop, -2, "write fast", keys: one, "list", "Returns and removes the last elements of the list. Deletes the list if the last element was popped.", complexity: "O(N)"),
            spec(.llen, 2, "readonly fast", keys: one, "list", "Returns the length of a list."),
            spec(.lrange, 4, "readonly", keys: one, "list", "Returns a range of elements from a list.", complexity: "O(S+N)"),
            spec(.lindex, 3, "readonly", keys: one, "list", "Returns an element from a list by its index.", complexity: "O(N)"),
            spec(.lset, 4, "write denyoom", keys: one, "list", "Sets the value of an element in a list by its index.", complexity: "O(N)"),
            spec(.linsert, 5, "write denyoom", keys: one, "list", "Inserts an element before or after another element in a list.", since: "2.2.0", complexity: "O(N)"),
            spec(.lrem, 4, "write", keys: one, "list", "Removes elements from a list. Deletes the list if the last element was removed.", complexity: "O(N+M)"),
            spec(.ltrim, 4, "write", keys: one, "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", complexity: "O(N)"),
            spec(.lpos, -3, "readonly", keys: one, "list", "Returns the index of matching elements in a list.", since: "6.0.6", complexity: "O(N)"),
            spec(.lmove, 5, "write denyoom", keys: two, "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", since: "6.2.0"),
            spec(.rpoplpush, 3, "write denyoom", keys: two, "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", since: "1.2.0"),
            counted(.lmpop, -4, "write", countIndex: 1, "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", since: "7.0.0", complexity: "O(N+M)"),
        ]
    }

    private static func sets() -> [CommandSpec] {
        let one = (1, 1, 1), all = (1, -1, 1), two = (1, 2, 1)
        return [
            spec(.sadd, -3, "write denyoom fast", keys: one, "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", complexity: "O(N)"),
            spec(.srem, -3, "write fast", keys: one, "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", complexity: "O(N)"),
            spec(.smembers, 2, "readonly", keys: one, "set", "Returns all members of a set.", complexity: "O(N)"),
            spec(.sismember, 3, "readonly fast", keys: one, "set", "Determines whether a member belongs to a set."),
            spec(.smismember, -3, "readonly fast", keys: one, "set", "Determines whether multiple members belong to a set.", since: "6.2.0", complexity: "O(N)"),
            spec(.scard, 2, "readonly fast", keys: one, "set", "Returns the number of members in a set."),
            spec(.spop, -2, "write fast", keys: one, "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", complexity: "O(N)"),
            spec(.srandmember, -2, "readonly", keys: one, "set", "Get one or multiple random members from a set", complexity: "O(N)"),
            spec(.smove, 4, "write fast", keys: two, "set", "Moves a member from one set to another."),
            spec(.sinter, -2, "readonly", keys: all, "set", "Returns the intersect of multiple sets.", complexity: "O(N*M)"),
            counted(.sintercard, -3, "readonly", countIndex: 1, "set", "Returns the number of members of the intersect of multiple sets.", since: "7.0.0", complexity: "O(N*M)"),
            spec(.sinterstore, -3, "write denyoom", keys: all, "set", "Stores the intersect of multiple sets in a key.", complexity: "O(N*M)"),
            spec(.sunion, -2, "readonly", keys: all, "set", "Returns the union of multiple sets.", complexity: "O(N)"),
            spec(.sunionstore, -3, "write denyoom", keys: all, "set", "Stores the union of multiple sets in a key.", complexity: "O(N)"),
            spec(.sdiff, -2, "readonly", keys: all, "set", "Returns the difference of multiple sets.", complexity: "O(N)"),
            spec(.sdiffstore, -3, "write denyoom", keys: all, "set", "Stores the difference of multiple sets in a key.", complexity: "O(N)"),
            spec(.sscan, -3, "readonly", keys: one, "set", "Iterates over members of a set.", since: "2.8.0"),
        ]
    }

    private static func sortedSets() -> [CommandSpec] {
        let one = (1, 1, 1), two = (1, 2, 1)
        let logN = "O(log(N))", range = "O(log(N)+M)"
        return [
            spec(.zadd, -4, "write denyoom fast", keys: one, "sorted_set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", since: "1.2.0", complexity: logN),
            spec(.zincrby, 4, "write denyoom fast", keys: one, "sorted_set", "Increments the score of a member in a sorted set.", since: "1.2.0", complexity: logN),
            spec(.zrem, -3, "write fast", keys: one, "sorted_set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", since: "1.2.0", complexity: "O(M*log(N))"),
            spec(.zcard, 2, "readonly fast", keys: one, "sorted_set", "Returns the number of members in a sorted set.", since: "1.2.0"),
            spec(.zscore, 3, "readonly fast", keys: one, "sorted_set", "Returns the score of a member in a sorted set.", since: "1.2.0"),
            spec(.zmscore, -3, "readonly fast", keys: one, "sorted_set", "Returns the score of one or more members in a sorted set.", since: "6.2.0", complexity: "O(N)"),
            spec(.zrank, -3, "readonly fast", keys: one, "sorted_set", "Returns the index of a member in a sorted set ordered by ascending scores.", since: "2.0.0", complexity: logN),
            spec(.zrevrank, -3, "readonly fast", keys: one, "sorted_set", "Returns the index of a member in a sorted set ordered by descending scores.", since: "2.0.0", complexity: logN),
            spec(.zcount, 4, "readonly fast", keys: one, "sorted_set", "Returns the count of members in a sorted set that have scores within a range.", since: "2.0.0", complexity: logN),
            spec(.zlexcount, 4, "readonly fast", keys: one, "sorted_set", "Returns the number of members in a sorted set within a lexicographical range.", since: "2.8.9", complexity: logN),
            spec(.zrange, -4, "readonly", keys: one, "sorted_set", "Returns members in a sorted set within a range of indexes.", since: "1.2.0", complexity: range),
            spec(.zrangestore, -5, "write denyoom", keys: two, "sorted_set", "Stores a range of members from sorted set in a key.", since: "6.2.0", complexity: range),
            spec(.zrevrange, -4, "readonly", keys: one, "sorted_set", "Returns members in a sorted set within a range of indexes in reverse order.", since: "1.2.0", complexity: range),
            spec(.zrangebyscore, -4, "readonly", keys: one, "sorted_set", "Returns members in a sorted set within a range of scores.", since: "1.0.5", complexity: range),
            spec(.zrevrangebyscore, -4, "readonly", keys: one, "sorted_set", "Returns members in a sorted set within a range of scores in reverse order.", since: "2.2.0", complexity: range),
            spec(.zrangebylex, -4, "readonly", keys: one, "sorted_set", "Returns members in a sorted set within a lexicographical range.", since: "2.8.9", complexity: range),
            spec(.zrevrangebylex, -4, "readonly", keys: one, "sorted_set", "Returns members in a sorted set within a lexicographical range in reverse order.", since: "2.8.9", complexity: range),
            spec(.zremrangebyrank, 4, "write", keys: one, "sorted_set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", since: "2.0.0", complexity: range),
            spec(.zremrangebyscore, 4, "write", keys: one, "sorted_set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", since: "1.2.0", complexity: range),
            spec(.zremrangebylex, 4, "write", keys: one, "sorted_set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", since: "2.8.9", complexity: range),
            spec(.zpopmin, -2, "write fast", keys: one, "sorted_set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", since: "5.0.0", complexity: "O(log(N)*M)"),
            spec(.zpopmax, -2, "write fast", keys: one, "sorted_set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", since: "5.0.0", complexity: "O(log(N)*M)"),
            spec(.zscan, -3, "readonly", keys: one, "sorted_set", "Iterates over members and scores of a sorted set.", since: "2.8.0"),
            counted(.zunion, -3, "readonly", countIndex: 1, "sorted_set", "Returns the union of multiple sorted sets.", since: "6.2.0", complexity: "O(N)+O(M*log(M))"),
            counted(.zunionstore, -4, "write denyoom", countIndex: 2, destination: true, "sorted_set", "Stores the union of multiple sorted sets in a key.", since: "2.0.0", complexity: "O(N)+O(M*log(M))"),
            counted(.zinter, -3, "readonly", countIndex: 1, "sorted_set", "Returns the intersect of multiple sorted sets.", since: "6.2.0", complexity: "O(N*K)+O(M*log(M))"),
            counted(.zinterstore, -4, "write denyoom", countIndex: 2, destination: true, "sorted_set", "Stores the intersect of multiple sorted sets in a key.", since: "2.0.0", complexity: "O(N*K)+O(M*log(M))"),
            counted(.zintercard, -3, "readonly", countIndex: 1, "sorted_set", "Returns the number of members of the intersect of multiple sorted sets.", since: "7.0.0", complexity: "O(N*K)"),
            counted(.zdiff, -3, "readonly", countIndex: 1, "sorted_set", "Returns the difference between multiple sorted sets.", since: "6.2.0", complexity: "O(L + (N-K)log(N))"),
            counted(.zdiffstore, -4, "write denyoom", countIndex: 2, destination: true, "sorted_set", "Stores the difference of multiple sorted sets in a key.", since: "6.2.0", complexity: "O(L + (N-K)log(N))"),
            counted(.zmpop, -4, "write", countIndex: 1, "sorted_set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", since: "7.0.0", complexity: "O(K) + O(M*log(N))"),
            spec(.zrandmember, -2, "readonly", keys: one, "sorted_set", "Returns one or more random members from a sorted set.", since: "6.2.0", complexity: "O(N)"),
        ]
    }

    private static func streams() -> [CommandSpec] {
        let one = (1, 1, 1)
        return [
            spec(.xadd, -5, "write denyoom fast", keys: one, "stream", "Appends a new message to a stream. Creates the key if it doesn't exist.", since: "5.0.0"),
            spec(.xlen, 2, "readonly fast", keys: one, "stream", "Return the number of messages in a stream.", since: "5.0.0"),
            spec(.xrange, -4, "readonly", keys: one, "stream", "Returns the messages from a stream within a range of IDs.", since: "5.0.0", complexity: "O(N)"),
            spec(.xrevrange, -4, "readonly", keys: one, "stream", "Returns the messages from a stream within a range of IDs in reverse order.", since: "5.0.0", complexity: "O(N)"),
            spec(.xdel, -3, "write fast", keys: one, "stream", "Returns the number of messages after removing them from a stream.", since: "5.0.0", complexity: "O(N)"),
            spec(.xtrim, -4, "write", keys: one, "stream", "Deletes messages from the beginning of a stream.", since: "5.0.0", complexity: "O(N)"),
            spec(.xsetid, -3, "write denyoom fast", keys: one, "stream", "An internal command for replicating stream values.", since: "5.0.0"),
            spec(.xgroup, -2, "write denyoom", keys: (2, 2, 1), "stream", "A container for consumer groups commands.", since: "5.0.0", subcommands: [
                sub("xgroup", "create", -5, "write denyoom", keys: (2, 2, 1), "Creates a consumer group."),
                sub("xgroup", "createconsumer", 5, "write denyoom", keys: (2, 2, 1), "Creates a consumer in a consumer group."),
                sub("xgroup", "delconsumer", 5, "write", keys: (2, 2, 1), "Deletes a consumer from a consumer group."),
                sub("xgroup", "destroy", 4, "write", keys: (2, 2, 1), "Destroys a consumer group."),
                sub("xgroup", "setid", -5, "write", keys: (2, 2, 1), "Sets the last-delivered ID of a consumer group."),
                sub("xgroup", "help", 2, "loading stale", "Returns helpful text about the different subcommands."),
            ]),
            spec(.xack, -4, "write fast", keys: one, "stream", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", since: "5.0.0"),
            spec(.xpending, -3, "readonly", keys: one, "stream", "Returns the information and entries from a stream consumer group's pending entries list.", since: "5.0.0"),
            spec(.xclaim, -6, "write fast", keys: one, "stream", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", since: "5.0.0"),
            spec(.xautoclaim, -6, "write fast", keys: one, "stream", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", since: "6.2.0"),
            spec(.xinfo, -2, "readonly", keys: (2, 2, 1), "stream", "A container for stream introspection commands.", since: "5.0.0", subcommands: [
                sub("xinfo", "consumers", 4, "readonly", keys: (2, 2, 1), "Returns a list of the consumers in a consumer group."),
                sub("xinfo", "groups", 3, "readonly", keys: (2, 2, 1), "Returns a list of the consumer groups of a stream."),
                sub("xinfo", "stream", -3, "readonly", keys: (2, 2, 1), "Returns information about a stream."),
                sub("xinfo", "help", 2, "loading stale", "Returns helpful text about the different subcommands."),
            ]),
            CommandSpec(id: .xreadgroup, name: "xreadgroup", arity: -7, flags: ["write", "blocking", "movablekeys"], firstKey: 0, lastKey: 0, step: 0,
                        group: "stream", summary: "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
                        since: "5.0.0", complexity: "O(M)", subcommands: []),
            // Keys follow STREAMS: see keyPositions(in:).
            CommandSpec(id: .xread, name: "xread", arity: -4, flags: ["readonly", "blocking", "movablekeys"], firstKey: 0, lastKey: 0, step: 0,
                        group: "stream", summary: "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
                        since: "5.0.0", complexity: "O(N)", subcommands: []),
        ]
    }

    /// Blocking pops: the keys end one before the timeout (or follow a count after it).
    private static func blocking() -> [CommandSpec] {
        let beforeTimeout = (1, -2, 1), two = (1, 2, 1)
        return [
            spec(.blpop, -3, "write blocking", keys: beforeTimeout, "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", since: "2.0.0", complexity: "O(N)"),
            spec(.brpop, -3, "write blocking", keys: beforeTimeout, "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", since: "2.0.0", complexity: "O(N)"),
            spec(.brpoplpush, 4, "write denyoom blocking", keys: two, "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", since: "2.2.0"),
            spec(.blmove, 6, "write denyoom blocking", keys: two, "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", since: "6.2.0"),
            counted(.blmpop, -5, "write blocking", countIndex: 2, "list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", since: "7.0.0", complexity: "O(N+M)"),
            spec(.bzpopmin, -3, "write blocking fast", keys: beforeTimeout, "sorted_set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", since: "5.0.0", complexity: "O(log(N))"),
            spec(.bzpopmax, -3, "write blocking fast", keys: beforeTimeout, "sorted_set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.", since: "5.0.0", complexity: "O(log(N))"),
            counted(.bzmpop, -5, "write blocking", countIndex: 2, "sorted_set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last member was popped.", since: "7.0.0", complexity: "O(K) + O(M*log(N))"),
        ]
    }

    /// PUBLISH and SPUBLISH may run in scripts, as in Redis: every replica of a shard runs a
    /// script, so the engine only records the message and the node that proposed the
    /// script's entry sends it, once (Engine.scriptPublishes, Node.publishOwed).
    /// The GEO commands. GEORADIUS and GEORADIUSBYMEMBER are write commands (their STORE
    /// option), as in Redis, with the destination found after STORE / STOREDIST.
    private static func geo() -> [CommandSpec] {
        let one = (1, 1, 1)
        let search = "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."
        let searchArea = "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape"
        func storing(_ id: CommandID, _ arity: Int, _ summary: String) -> CommandSpec {
            CommandSpec(id: id, name: id.rawValue, arity: arity, flags: ["write", "denyoom", "movablekeys"], firstKey: 1, lastKey: 1, step: 1,
                        group: "geo", summary: summary, since: "3.2.0", complexity: search, subcommands: [])
        }
        return [
            spec(.geoadd, -5, "write denyoom", keys: one, "geo", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
                 since: "3.2.0", complexity: "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
            spec(.geodist, -4, "readonly", keys: one, "geo", "Returns the distance between two members of a geospatial index.", since: "3.2.0", complexity: "O(log(N))"),
            spec(.geohash, -2, "readonly", keys: one, "geo", "Returns members from a geospatial index as geohash strings.", since: "3.2.0",
                 complexity: "O(log(N)) for each member requested, where N is the number of elements in the sorted set."),
            spec(.geopos, -2, "readonly", keys: one, "geo", "Returns the longitude and latitude of members from a geospatial index.", since: "3.2.0",
                 complexity: "O(N) where N is the number of members requested."),
            storing(.georadius, -6, "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result."),
            spec(.georadius_ro, -6, "readonly", keys: one, "geo", "Returns members from a geospatial index that are within a distance from a coordinate.",
                 since: "3.2.10", complexity: search),
            storing(.georadiusbymember, -5, "Queries a geospatial index for members within a distance from a member, optionally stores the result."),
            spec(.georadiusbymember_ro, -5, "readonly", keys: one, "geo", "Returns members from a geospatial index that are within a distance from a member.",
                 since: "3.2.10", complexity: search),
            spec(.geosearch, -7, "readonly", keys: one, "geo", "Queries a geospatial index for members inside an area of a box or a circle.",
                 since: "6.2.0", complexity: searchArea),
            spec(.geosearchstore, -8, "write denyoom", keys: (1, 2, 1), "geo",
                 "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", since: "6.2.0", complexity: searchArea),
        ]
    }

    private static func pubSub() -> [CommandSpec] {
        let all = (1, -1, 1), one = (1, 1, 1)
        return [
            spec(.subscribe, -2, "pubsub noscript loading stale", "pubsub", "Listens for messages published to channels.", since: "2.0.0", complexity: "O(N)"),
            spec(.unsubscribe, -1, "pubsub noscript loading stale", "pubsub", "Stops listening to messages posted to channels.", since: "2.0.0", complexity: "O(N)"),
            spec(.psubscribe, -2, "pubsub noscript loading stale", "pubsub", "Listens for messages published to channels that match one or more patterns.", since: "2.0.0", complexity: "O(N)"),
            spec(.punsubscribe, -1, "pubsub noscript loading stale", "pubsub", "Stops listening to messages published to channels that match one or more patterns.", since: "2.0.0", complexity: "O(N)"),
            spec(.publish, 3, "pubsub loading stale fast", "pubsub", "Posts a message to a channel.", since: "2.0.0", complexity: "O(N+M)"),
            spec(.pubsub, -2, "", "pubsub", "A container for Pub/Sub commands.", since: "2.8.0", subcommands: [
                sub("pubsub", "channels", -2, "pubsub loading stale", "Returns the active channels."),
                sub("pubsub", "numpat", 2, "pubsub loading stale", "Returns a count of unique pattern subscriptions."),
                sub("pubsub", "numsub", -2, "pubsub loading stale", "Returns a count of subscribers to channels."),
                sub("pubsub", "shardchannels", -2, "pubsub loading stale", "Returns the active shard channels."),
                sub("pubsub", "shardnumsub", -2, "pubsub loading stale", "Returns the count of subscribers of shard channels."),
                sub("pubsub", "help", 2, "loading stale", "Returns helpful text about the different subcommands."),
            ]),
            spec(.ssubscribe, -2, "pubsub noscript loading stale", keys: all, "pubsub", "Listens for messages published to shard channels.", since: "7.0.0", complexity: "O(N)"),
            spec(.sunsubscribe, -1, "pubsub noscript loading stale", keys: all, "pubsub", "Stops listening to messages posted to shard channels.", since: "7.0.0", complexity: "O(N)"),
            spec(.spublish, 3, "pubsub loading stale fast", keys: one, "pubsub", "Post a message to a shard channel", since: "7.0.0", complexity: "O(N)"),
        ]
    }

    private static func scripting() -> [CommandSpec] {
        let runs = "Depends on the script that is executed."
        return [
            counted(.eval, -3, "noscript stale skip_monitor may_replicate no_mandatory_keys", countIndex: 2, "scripting",
                    "Executes a server-side Lua script.", since: "2.6.0", complexity: runs),
            counted(.evalsha, -3, "noscript stale skip_monitor may_replicate no_mandatory_keys", countIndex: 2, "scripting",
                    "Executes a server-side Lua script by SHA1 digest.", since: "2.6.0", complexity: runs),
            counted(.eval_ro, -3, "readonly noscript stale skip_monitor no_mandatory_keys", countIndex: 2, "scripting",
                    "Executes a read-only server-side Lua script.", since: "7.0.0", complexity: runs),
            counted(.evalsha_ro, -3, "readonly noscript stale skip_monitor no_mandatory_keys", countIndex: 2, "scripting",
                    "Executes a read-only server-side Lua script by SHA1 digest.", since: "7.0.0", complexity: runs),
            counted(.fcall, -3, "noscript stale skip_monitor may_replicate no_mandatory_keys", countIndex: 2, "scripting",
                    "Invokes a function.", since: "7.0.0", complexity: "Depends on the function that is executed."),
            counted(.fcall_ro, -3, "readonly noscript stale skip_monitor no_mandatory_keys", countIndex: 2, "scripting",
                    "Invokes a read-only function.", since: "7.0.0", complexity: "Depends on the function that is executed."),
            spec(.function, -2, "", "scripting", "A container for function commands.", since: "7.0.0", subcommands: [
                sub("function", "delete", 3, "noscript write", "Deletes a library and its functions."),
                sub("function", "dump", 2, "noscript", "Dumps all libraries into a serialized binary payload."),
                sub("function", "flush", -2, "noscript write", "Deletes all libraries and functions."),
                sub("function", "help", 2, "loading stale", "Returns helpful text about the different subcommands."),
                sub("function", "kill", 2, "noscript allow_busy", "Terminates a function during execution."),
                sub("function", "list", -2, "noscript", "Returns information about all libraries."),
                sub("function", "load", -3, "noscript write denyoom", "Creates a library."),
                sub("function", "restore", -3, "noscript write denyoom", "Restores all libraries from a payload."),
                sub("function", "stats", 2, "noscript allow_busy", "Returns information about a function during execution."),
            ]),
            spec(.acl, -2, "", "server", "A container for Access List Control commands.", since: "6.0.0", subcommands: [
                sub("acl", "cat", -2, "noscript loading stale", "Lists the ACL categories, or the commands inside a category."),
                sub("acl", "deluser", -3, "admin noscript loading stale", "Deletes ACL users, and terminates their connections."),
                sub("acl", "dryrun", -4, "admin noscript loading stale", "Simulates the execution of a command by a user, without executing the command."),
                sub("acl", "genpass", -2, "noscript loading stale", "Generates a pseudorandom, secure password that can be used to identify ACL users."),
                sub("acl", "getuser", 3, "admin noscript loading stale", "Lists the ACL rules of a user."),
                sub("acl", "list", 2, "admin noscript loading stale", "Dumps the effective rules in ACL file format."),
                sub("acl", "load", 2, "admin noscript loading stale", "Reloads the rules from the configured ACL file."),
                sub("acl", "log", -2, "admin noscript loading stale", "Lists recent security events generated due to ACL rules."),
                sub("acl", "save", 2, "admin noscript loading stale", "Saves the effective ACL rules in the configured ACL file."),
                sub("acl", "setuser", -3, "admin noscript loading stale", "Creates and modifies an ACL user and its rules."),
                sub("acl", "users", 2, "admin noscript loading stale", "Lists all ACL users."),
                sub("acl", "whoami", 2, "noscript loading stale", "Returns the authenticated username of the current connection."),
                sub("acl", "help", 2, "loading stale", "Returns helpful text about the different subcommands."),
            ]),
            spec(.script, -2, "", "scripting", "A container for Lua scripts management commands.", since: "2.6.0", subcommands: [
                sub("script", "load", 3, "noscript stale", "Loads a server-side Lua script to the script cache."),
                sub("script", "exists", -3, "noscript", "Determines whether server-side Lua scripts exist in the script cache."),
                sub("script", "flush", -2, "noscript", "Removes all server-side Lua scripts from the script cache."),
                sub("script", "kill", 2, "noscript allow_busy", "Terminates a server-side Lua script during execution."),
                sub("script", "help", 2, "loading stale", "Returns helpful text about the different subcommands."),
            ]),
        ]
    }
}
