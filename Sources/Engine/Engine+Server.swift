// Server commands: COMMAND, INFO, DBSIZE, FLUSHDB/FLUSHALL, CONFIG, TIME, LASTSAVE,
// BGSAVE/BGREWRITEAOF/SAVE.
import Core
import Keyspace
import Wire

extension Engine {
    func runServerCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> Outcome {
        switch id {
        case .command: return Outcome(reply: try command(arguments))
        case .info: return Outcome(reply: .verbatim(format: "txt", text: info(arguments, now: now)))
        case .dbsize: return Outcome(reply: .integer(keyspace.keyCount))
        case .flushdb, .flushall:
            guard arguments.count <= 2 else { throw .syntax }
            if arguments.count == 2, !Arguments.isKeyword(arguments[1], "async"), !Arguments.isKeyword(arguments[1], "sync") {
                throw .syntax
            }
            // As Redis, an ASYNC flush counts its keys as lazily freed objects, and so does a
            // client's SYNC one (Redis 7.4+ runs it as a blocking ASYNC flush) unless MULTI
            // or a script ran it.
            if arguments.count == 2 && Arguments.isKeyword(arguments[1], "async") || session === applySession && !applyingTransaction {
                stats.lazyfreedObjects += id == .flushall ? parkedDatabases.values.reduce(keyspace.keyCount) { $0 + $1.keyCount } : keyspace.keyCount
            }
            if id == .flushall { flushAllDatabases(now: now) } else { keyspace.removeAll(now: now) }
            return Outcome(reply: .ok)
        case .config: return Outcome(reply: try config(arguments))
        case .module: return Outcome(reply: try module(arguments))
        case .replicaof, .slaveof: return Outcome(reply: try replicaOf(arguments, command: id.rawValue))
        case .time:
            return Outcome(reply: .array([.bulk(String(now / 1000)), .bulk(String((now % 1000) * 1000))]))
        case .lastsave: return Outcome(reply: .integer(hooks.lastSnapshotTime()))
        case .bgsave, .bgrewriteaof, .save:
            guard hooks.startSnapshot() else { throw .message("ERR Background save already in progress") }
            switch id {
            case .bgsave: return Outcome(reply: .simple("Background saving started"))
            case .bgrewriteaof: return Outcome(reply: .simple("Background append only file rewriting started"))
            default: return Outcome(reply: .ok)
            }
        default: throw .syntax
        }
    }

    // MARK: - COMMAND

    /// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: every
    /// command's name and every subcommand's `container|sub` name, as Redis 7 lists them.
    /// No module is loaded here, and an unknown category matches nothing (as Redis).
    private func commandList(_ arguments: [Bytes]) throws(CommandError) -> RESPValue {
        var filter: ((CommandSpec) -> Bool)? = nil
        if arguments.count > 2 {
            guard arguments.count == 5, Arguments.lowercased(arguments[2]) == "filterby" else { throw .syntax }
            let value = arguments[4]
            switch Arguments.lowercased(arguments[3]) {
            case "module": filter = { _ in false }
            case "aclcat":
                let category = Arguments.lowercased(value)
                filter = { ACLCategories.of($0).contains(category) }
            case "pattern": filter = { Glob.matches(pattern: value, Array($0.name.utf8), ignoringCase: true) }
            default: throw .syntax
            }
        }
        let every = CommandTable.all.flatMap { [$0] + $0.subcommands }
        return .array(every.filter { filter?($0) ?? true }.map { .bulk($0.name) })
    }

    /// A command by name, or a subcommand by its `container|sub` name (COMMAND INFO and
    /// DOCS accept both, as Redis 7).
    static func commandOrSubcommand(_ name: Bytes) -> CommandSpec? {
        if let spec = CommandTable.lookup(name) { return spec }
        guard let bar = name.firstIndex(of: UInt8(ascii: "|")), let container = CommandTable.lookup(Array(name[..<bar])) else { return nil }
        return container.subcommand(Array(name[(bar + 1)...]))
    }

    private func command(_ arguments: [Bytes]) throws(CommandError) -> RESPValue {
        guard arguments.count >= 2 else { return .array(CommandTable.all.map(Self.commandInfo)) }
        let subcommand = Arguments.lowercased(arguments[1])
        switch subcommand {
        case "count": return .integer(CommandTable.all.count)
        case "list": return try commandList(arguments)
        case "info":
            if arguments.count == 2 { return .array(CommandTable.all.map(Self.commandInfo)) }
            return .array(arguments.dropFirst(2).map { Self.commandOrSubcommand($0).map(Self.commandInfo) ?? .nullArray })
        case "docs":
            let specs = arguments.count == 2 ? CommandTable.all : arguments.dropFirst(2).compactMap { Self.commandOrSubcommand($0) }
            return .map(specs.map { RESPPair(.bulk($0.name), Self.commandDocs($0)) })
        case "getkeys":
            let (target, _, positions) = try Self.keysOfCommand(arguments, subcommand: "getkeys")
            return .array(positions.map { .bulk(target[$0]) })
        case "getkeysandflags":
            let (target, spec, positions) = try Self.keysOfCommand(arguments, subcommand: "getkeysandflags")
            let flags = KeySpecFlags.flags(of: spec, target, positions: positions)
            return .array(zip(positions, flags).map { .array([.bulk(target[$0.0]), .set($0.1.map { .simple($0) })]) })
        case "help":
            return .array(["COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "(no subcommand)", "    Return details about all commands.",
                           "COUNT", "    Return the total number of commands.",
                           "LIST", "    Return a list of all commands.",
                           "INFO [<command-name> ...]", "    Return details about the specified commands.",
                           "DOCS [<command-name> ...]", "    Return documentation details about the specified commands.",
                           "GETKEYS <full-command>", "    Return the keys from a full command.",
                           "GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full command.",
                           "HELP", "    Print this help."].map { .simple($0) })
        default:
            throw .unknownSubcommand(command: "command", subcommand: Arguments.string(arguments[1]))
        }
    }

    /// COMMAND GETKEYS[ANDFLAGS]'s request: the full command after the subcommand, its spec,
    /// and the positions of its keys, with Redis's errors for an unknown command, a wrong
    /// number of arguments and a command that names no keys (a key count of 0 gives none).
    private static func keysOfCommand(_ arguments: [Bytes], subcommand: String) throws(CommandError)
        -> (target: [Bytes], spec: CommandSpec, positions: [Int]) {
        guard arguments.count >= 3 else { throw .wrongArity(command: "command|\(subcommand)") }
        let target = Array(arguments.dropFirst(2))
        guard let spec = CommandTable.lookup(target[0]) else { throw .message("ERR Invalid command specified") }
        guard spec.accepts(argumentCount: target.count) else { throw .message("ERR Invalid number of arguments specified for command") }
        let positions = spec.keyPositions(in: target)
        guard !positions.isEmpty || namesNoKeys(spec, target) else { throw noKeysError(spec) }
        return (target, spec, positions)
    }

    /// Whether a command with a key count (EVAL, ZUNION...) was given a count of 0: no
    /// keys, which COMMAND GETKEYS answers with an empty list, as Redis 7.
    private static func namesNoKeys(_ spec: CommandSpec, _ target: [Bytes]) -> Bool {
        spec.keyCountIndex > 0 && spec.keyCountIndex < target.count && Numbers.parseInteger(target[spec.keyCountIndex]) == 0
    }

    /// COMMAND GETKEYS with no key found: a command that takes keys was given arguments
    /// that name none (a key count past the end), or the command takes none.
    private static func noKeysError(_ spec: CommandSpec) -> CommandError {
        .message(spec.firstKey > 0 || spec.keyCountIndex > 0 ? "ERR Invalid arguments specified for command" : "ERR The command has no key arguments")
    }

    static func commandInfo(_ spec: CommandSpec) -> RESPValue {
        let keySpecs: [RESPValue] = spec.firstKey > 0 ? [.map([
            RESPPair("flags", .set([.simple(spec.isWrite ? "RW" : "RO")])),
            RESPPair("begin_search", .map([RESPPair("type", .bulk("index")), RESPPair("spec", .map([RESPPair("index", .integer(Int64(spec.firstKey)))]))])),
            RESPPair("find_keys", .map([RESPPair("type", .bulk("range")), RESPPair("spec", .map([
                RESPPair("lastkey", .integer(Int64(spec.lastKey < 0 ? spec.lastKey : spec.lastKey - spec.firstKey))),
                RESPPair("keystep", .integer(Int64(spec.step))), RESPPair("limit", .integer(0))]))])),
        ])] : []
        return .array([
            .bulk(spec.name), .integer(Int64(spec.arity)), .set(spec.flags.map { .simple($0) }),
            .integer(Int64(spec.firstKey)), .integer(Int64(spec.lastKey)), .integer(Int64(spec.step)),
            .set([.simple("@" + spec.group)]), .array([]), .array(keySpecs),
            .array(spec.subcommands.map(commandInfo)),
        ])
    }

    static func commandDocs(_ spec: CommandSpec) -> RESPValue {
        var pairs = [
            RESPPair("summary", .bulk(spec.summary)), RESPPair("since", .bulk(spec.since)),
            RESPPair("group", .bulk(spec.group)), RESPPair("complexity", .bulk(spec.complexity)),
        ]
        if !spec.subcommands.isEmpty {
            pairs.append(RESPPair("subcommands", .map(spec.subcommands.map { RESPPair(.bulk($0.name), commandDocs($0)) })))
        }
        return .map(pairs)
    }

    // MARK: - INFO

    static let defaultInfoSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "cluster", "keyspace",
                                      "keysizes"]
    /// Sections shown only when asked for by name (or with `everything`): a cluster node's
    /// `hotspots` (the busiest slots and sampled keys of the shards it leads).
    static let namedInfoSections = ["hotspots"]
    /// Sections in `all` and `everything` but not in the default INFO, as Redis's.
    static let allInfoSections = ["commandstats", "errorstats", "latencystats"]

    func info(_ arguments: [Bytes], now: Int64) -> String {
        var requested = arguments.dropFirst().map(Arguments.lowercased)
        if requested.contains("everything") { requested += Self.namedInfoSections }
        if requested.isEmpty || requested.contains("all") || requested.contains("everything") || requested.contains("default") {
            requested += Self.defaultInfoSections
        }
        if requested.contains("all") || requested.contains("everything") { requested += Self.allInfoSections }
        var text = ""
        let order = Self.defaultInfoSections.prefix(7) + Self.allInfoSections + Self.defaultInfoSections.dropFirst(7) + Self.namedInfoSections
        for section in order where requested.contains(section) {
            if !text.isEmpty { text += "\r\n" }
            text += "# \(section.prefix(1).uppercased() + section.dropFirst())\r\n"
            for (name, value) in infoFields(section, now: now) { text += "\(name):\(value)\r\n" }
        }
        return text
    }

    /// INFO replication's `master_replid`: 40 hex digits, fixed (Trestle has no Redis
    /// replication history to name).
    public static let replicationID = String(repeating: "0", count: 39) + "1"

    private func infoFields(_ section: String, now: Int64) -> [(String, String)] {
        var fields: [(String, String)]
        switch section {
        case "server":
            // Redis's fields in Redis's order (clients and test suites read `arch_bits`,
            // `run_id`...); the process adds what only it knows.
            fields = [("redis_version", Self.compatibleRedisVersion), ("redis_git_sha1", "00000000"), ("redis_git_dirty", "0"),
                      ("redis_mode", settings.clusterEnabled ? "cluster" : "standalone"),
                      ("arch_bits", String(MemoryLayout<Int>.size * 8)),
                      ("tcp_port", String(settings.port)), ("server_time_usec", String(now &* 1000)),
                      ("uptime_in_seconds", String((now - startTime) / 1000)),
                      ("uptime_in_days", String((now - startTime) / 86_400_000)), ("hz", String(settings.hz)),
                      ("configured_hz", String(settings.hz)), ("lru_clock", String((now / 1000) & ((1 << 24) - 1)))]
        case "clients":
            fields = [("connected_clients", String(sessions.count)), ("maxclients", String(settings.maxClients)),
                      ("blocked_clients", String(hooks.blockedClients()))]
        case "persistence":
            // A node's hooks know its shards' changes and snapshots: their fields replace these.
            let base = [("loading", "0"), ("rdb_changes_since_last_save", String(keyspace.changeCount)),
                        ("aof_enabled", "1"), ("appendfsync", settings.fsync)]
            let overrides = hooks.infoFields(section)
            return base.map { field in overrides.first { $0.0 == field.0 } ?? field }
                + overrides.filter { field in !base.contains { $0.0 == field.0 } }
        case "stats":
            let nodeStats = hooks.nodeStats?()
            let stats = nodeStats ?? stats
            let expired = nodeStats == nil ? keyspace.expiredKeyCount : stats.expiredKeys
            let expiredFields = nodeStats == nil ? keyspace.expiredFieldCount : stats.expiredSubkeys
            fields = [("total_connections_received", String(stats.connectionsReceived)),
                      ("total_commands_processed", String(stats.commandsProcessed)),
                      ("rejected_connections", String(stats.rejectedConnections)),
                      ("expired_subkeys", String(expiredFields)), ("expired_keys", String(expired)), ("evicted_keys", String(stats.evictedKeys)),
                      ("keyspace_hits", String(stats.keyspaceHits)), ("keyspace_misses", String(stats.keyspaceMisses)),
                      ("total_error_replies", String(stats.errorReplies)),
                      ("protocol_errors", String(stats.protocolErrors)),
                      ("acl_access_denied_auth", String(stats.aclDeniedAuth)),
                      ("acl_access_denied_cmd", String(stats.aclDeniedCommand)),
                      ("acl_access_denied_key", String(stats.aclDeniedKey)),
                      ("acl_access_denied_channel", String(stats.aclDeniedChannel)),
                      // MIGRATE opens a connection per call and closes it: none is cached.
                      ("migrate_cached_sockets", "0")]
        case "replication":
            // Redis's fields of a master with no Redis replicas (a shard's copies are Raft
            // replicas, reported by CLUSTER and TRESTLE commands); no backlog is kept.
            // The node overrides connected_slaves and master_repl_offset while Redis replicas
            // follow a standalone server (SYNC/PSYNC), and role while it follows a master.
            let base = [("role", "master"), ("connected_slaves", "0"), ("master_failover_state", "no-failover"),
                        ("master_replid", Self.replicationID), ("master_replid2", String(repeating: "0", count: 40)),
                        ("master_repl_offset", "0"), ("second_repl_offset", "-1"), ("repl_backlog_active", "0"),
                        ("repl_backlog_size", "1048576"), ("repl_backlog_first_byte_offset", "0"), ("repl_backlog_histlen", "0")]
            // A replica's fields (master_host...) come after `role`, as Redis lists them.
            let overrides = hooks.infoFields(section)
            let merged = base.map { field in overrides.first { $0.0 == field.0 } ?? field }
            let added = overrides.filter { field in !base.contains { $0.0 == field.0 } }
            return merged.prefix(1) + added + merged.dropFirst()
        case "cluster":
            fields = [("cluster_enabled", settings.clusterEnabled ? "1" : "0")]
        case "memory":
            // After the process's used_memory fields (hooks), as Redis orders them.
            let limits = [("maxmemory", String(settings.maxMemoryBytes)), ("maxmemory_human", redisHumanBytes(settings.maxMemoryBytes)),
                          ("maxmemory_policy", settings.maxMemoryPolicy)]
            // Values are freed when their command runs (no background freeing): nothing pends.
            return hooks.infoFields(section).filter { !$0.0.hasPrefix("maxmemory") } + limits + scriptMemoryFields()
                + [("lazyfree_pending_objects", "0"), ("lazyfreed_objects", String((hooks.nodeStats?() ?? stats).lazyfreedObjects))]
        case "keyspace" where hooks.nodeStats != nil:
            fields = []  // the keys live in a node's shards: the node reports them through its hooks
        case "keyspace":
            fields = keyspaceInfoFields().map {
                ("db\($0.index)", Self.keyspaceInfoLine(keys: $0.keys, expires: $0.expires, subexpiry: $0.subexpiry))
            }
        case "keysizes" where hooks.nodeStats != nil:
            fields = []
        case "keysizes":
            fields = Self.keySizesInfoFields(keySizesByDatabase())
        default:
            fields = []
        }
        return fields + hooks.infoFields(section)
    }

    /// INFO memory's scripting fields (Redis 7's names): the Lua state, the script cache
    /// and the function libraries of this engine.
    private func scriptMemoryFields() -> [(String, String)] {
        let (lua, total) = hooks.luaMemory?() ?? (luaMemoryUsed, luaMemoryUsed)
        let scripts = scriptBodies.values.reduce(0) { $0 + $1.count }
        let functions = libraries.values.reduce(0) { $0 + $1.code.count }
        return [("used_memory_lua", String(lua)), ("used_memory_vm_eval", String(lua)),
                ("used_memory_lua_human", redisHumanBytes(lua)), ("used_memory_scripts_eval", String(scripts)),
                ("number_of_cached_scripts", String(scriptBodies.count)),
                ("number_of_functions", String(functionLibraries.count)), ("number_of_libraries", String(libraries.count)),
                ("used_memory_vm_functions", "0"), ("used_memory_vm_total", String(total)),
                ("used_memory_vm_total_human", redisHumanBytes(total)), ("used_memory_functions", String(functions)),
                ("used_memory_scripts", String(scripts + functions)),
                ("used_memory_scripts_human", redisHumanBytes(scripts + functions))]
    }

}

extension Engine {
    /// MODULE LIST|LOAD|LOADEX|UNLOAD|HELP: Trestle loads no Redis modules (they are C
    /// libraries for Redis's own process), so the list is empty and loading and unloading
    /// are refused with the text of a Redis whose `enable-module-command` is `no` (its default).
    func module(_ arguments: [Bytes]) throws(CommandError) -> RESPValue {
        switch (Arguments.lowercased(arguments[1]), arguments.count) {
        case ("list", 2): return .array([])
        case ("load", 3...), ("loadex", 3...), ("unload", 3):
            throw .message("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", "
                           + "you can run it from a local connection, otherwise you need to set this option in the "
                           + "configuration file, and then restart the server.")
        case ("help", 2):
            return .array(["MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "LIST", "    Return a list of loaded modules.",
                           "LOAD <path> [<arg> ...]", "    Load a module library from <path>, passing to it any optional arguments.",
                           "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
                           "    Load a module library from <path>, while passing it module configurations and optional arguments.",
                           "UNLOAD <name>", "    Unload a module.",
                           "HELP", "    Print this help."].map { .simple($0) })
        default:
            throw .unknownSubcommand(command: "module", subcommand: Arguments.string(arguments[1]))
        }
    }

    /// REPLICAOF / SLAVEOF: refused on a cluster node (its shards replicate with Raft), as
    /// Redis Cluster refuses it. A standalone server's node follows the master
    /// (Node+MasterLink.swift); inside a transaction, the node's reply replaces this one.
    func replicaOf(_ arguments: [Bytes], command: String) throws(CommandError) -> RESPValue {
        if settings.clusterEnabled { throw .message("ERR \(command.uppercased()) not allowed in cluster mode.") }
        guard Arguments.isKeyword(arguments[1], "no") && Arguments.isKeyword(arguments[2], "one")
                || Numbers.parseInteger(arguments[2]).map({ (0...65_535).contains($0) }) == true else {
            throw .message("ERR Invalid master port")
        }
        return .ok
    }
}

