// CONFIG GET, SET, RESETSTAT, REWRITE and HELP.
//
// Three kinds of parameters:
// - fixed: reported, set from flags at start (port, dir, databases...); CONFIG SET answers
//   Redis's "can't set immutable config";
// - live: CONFIG SET changes what Trestle does (requirepass, timeout, the encoding limits
//   OBJECT ENCODING follows, maxmemory...);
// - inert: tuning of Redis's own persistence, allocator, replication and eviction
//   internals (`save`, `activedefrag`, `lazyfree-*`, `repl-*`...). CONFIG SET checks the
//   value as Redis does and stores it, CONFIG GET reports it, and nothing else changes:
//   Trestle has no RDB child, no jemalloc defragmenter and no Redis replication. Tools and
//   test suites that set them keep working; README lists them.
import Core
import Keyspace
import Wire

extension Engine {
    /// How a parameter's value is written and checked.
    enum ConfigKind: Sendable {
        /// An integer in the range (Redis's numeric configs).
        case integer(ClosedRange<Int>)
        /// A byte count with an optional unit (1gb, 64mb...), in the range.
        case memory(ClosedRange<Int>)
        /// A byte count as `.memory`, or a percentage up to 100 (`10%`).
        case memoryOrPercent
        /// yes or no.
        case boolean
        /// One of the words, case-insensitive.
        case choice([String])
        /// Any text that `valid` accepts; `reason` is Redis's complaint otherwise (nil: its
        /// generic one).
        case text(valid: @Sendable (String) -> Bool, reason: String? = nil)
    }

    /// One CONFIG parameter: its canonical name, the older names Redis still accepts, and
    /// how to read and change it. `set` is nil for a fixed parameter.
    struct ConfigParameter: Sendable {
        let name: String
        var aliases: [String] = []
        let kind: ConfigKind
        let get: @Sendable (Settings) -> String
        let set: (@Sendable (inout Settings, String) -> Void)?
    }

    static let integerMax = Int(Int32.max)

    /// Parameters Trestle takes from its flags at start.
    private static let fixedParameters: [ConfigParameter] = [
        fixed("port") { String($0.port) }, fixed("bind") { $0.bind }, fixed("dir") { $0.directory },
        fixed("databases") { String($0.databases) }, fixed("cluster-enabled") { $0.clusterEnabled ? "yes" : "no" },
        fixed("io-threads") { _ in "1" }, fixed("daemonize") { _ in "no" }, fixed("supervised") { _ in "no" },
        fixed("appendfilename") { _ in "appendonly.aof" }, fixed("appenddirname") { _ in "appendonlydir" },
        fixed("dbfilename") { _ in "dump.rdb" }, fixed("logfile") { _ in "" },
        fixed("enable-debug-command") { _ in "yes" }, fixed("enable-protected-configs") { _ in "no" },
        fixed("enable-module-command") { _ in "no" },
        // A standalone server follows a Redis master only by REPLICAOF, which is not kept
        // across restarts: the parameter is empty.
        fixed("replicaof", alias: "slaveof") { _ in "" },
    ]

    private static func fixed(_ name: String, alias: String? = nil, _ get: @escaping @Sendable (Settings) -> String) -> ConfigParameter {
        ConfigParameter(name: name, aliases: alias.map { [$0] } ?? [], kind: .text(valid: { _ in true }), get: get, set: nil)
    }

    /// Parameters CONFIG GET gives only when named exactly, never for a pattern (Redis's
    /// hidden configs: test knobs).
    static let hiddenParameters: Set<String> = ["key-load-delay", "rdb-key-save-delay"]

    /// Where the server listens, fixed at start (the shell bound its socket then), with
    /// Redis's words for a listener it could not open. Redis moves its listener on CONFIG
    /// SET; Trestle accepts only the value it has (tools that set every parameter to its
    /// own value keep working) and refuses another with those words, plus why.
    static let listenerRefusals = ["port": "Unable to listen on this port", "bind": "Failed to bind to specified addresses."]

    /// Parameters CONFIG SET changes and Trestle acts on.
    private static let liveParameters: [ConfigParameter] = [
        ConfigParameter(name: "requirepass", kind: .text(valid: { _ in true }), get: { $0.requirePassword }, set: { $0.requirePassword = $1 }),
        ConfigParameter(name: "protected-mode", kind: .boolean, get: { yesNo($0.protectedMode) }, set: { $0.protectedMode = $1 == "yes" }),
        ConfigParameter(name: "maxclients", kind: .integer(1...Int.max), get: { String($0.maxClients) }, set: { $0.maxClients = Int($1)! }),
        ConfigParameter(name: "proto-max-bulk-len", kind: .memory(1024 * 1024...Int.max), get: { String($0.limits.bulkLengthBytesMax) },
                        set: { $0.limits.bulkLengthBytesMax = parseMemory($1)! }),
        ConfigParameter(name: "client-query-buffer-limit", kind: .memory(1024 * 1024...Int.max), get: { String($0.limits.queryBufferBytesMax) },
                        set: { $0.limits.queryBufferBytesMax = parseMemory($1)! }),
        // Redis accepts any non-negative hz and clamps it to 1...500.
        ConfigParameter(name: "min-replicas-to-write", aliases: ["min-slaves-to-write"], kind: .integer(0...integerMax),
                        get: { String($0.minReplicasToWrite) }, set: { $0.minReplicasToWrite = Int($1)! }),
        ConfigParameter(name: "hz", kind: .integer(0...integerMax), get: { String($0.hz) }, set: { $0.hz = min(max(Int($1)!, 1), 500) }),
        ConfigParameter(name: "timeout", kind: .integer(0...integerMax), get: { String($0.idleTimeoutSeconds) },
                        set: { $0.idleTimeoutSeconds = Int($1)! }),
        ConfigParameter(name: "maxmemory", kind: .memory(0...Int.max), get: { String($0.maxMemoryBytes) }, set: { $0.maxMemoryBytes = parseMemory($1)! }),
        ConfigParameter(name: "maxmemory-policy", kind: .choice(["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
                                                                 "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]),
                        get: { $0.maxMemoryPolicy }, set: { $0.maxMemoryPolicy = $1 }),
        ConfigParameter(name: "lfu-log-factor", kind: .integer(0...integerMax), get: { String($0.lfuLogFactor) },
                        set: { $0.lfuLogFactor = Int($1)! }),
        ConfigParameter(name: "lfu-decay-time", kind: .integer(0...integerMax), get: { String($0.lfuDecayMinutes) },
                        set: { $0.lfuDecayMinutes = Int($1)! }),
        // Trestle's log is always on (appendonly) and its fsync policy is the --fsync flag;
        // setting them is accepted and GET reports what the node does.
        ConfigParameter(name: "appendonly", kind: .boolean, get: { _ in "yes" }, set: { _, _ in }),
        ConfigParameter(name: "appendfsync", kind: .choice(["always", "everysec", "no"]), get: { $0.fsync }, set: { _, _ in }),
        ConfigParameter(name: "notify-keyspace-events",
                        kind: .text(valid: { KeyspaceEvents(parsing: $0) != nil }, reason: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
                        get: { $0.notifyKeyspaceEvents.configText }, set: { $0.notifyKeyspaceEvents = KeyspaceEvents(parsing: $1)! }),
        // Redis's AOF rewrite rule, applied to when a standalone server compacts its log.
        ConfigParameter(name: "auto-aof-rewrite-percentage", kind: .integer(0...integerMax),
                        get: { String($0.autoSnapshotPercentage) }, set: { $0.autoSnapshotPercentage = Int($1)! }),
        ConfigParameter(name: "auto-aof-rewrite-min-size", kind: .memory(0...Int.max),
                        get: { String($0.autoSnapshotMinBytes) }, set: { $0.autoSnapshotMinBytes = parseMemory($1)! }),
        ConfigParameter(name: "busy-reply-threshold", aliases: ["lua-time-limit"], kind: .integer(0...Int.max),
                        get: { String($0.busyReplyThresholdMilliseconds) }, set: { $0.busyReplyThresholdMilliseconds = Int($1)! }),
        ConfigParameter(name: "slowlog-log-slower-than", kind: .integer(-1...Int.max), get: { String($0.slowlogLogSlowerThanMicroseconds) },
                        set: { $0.slowlogLogSlowerThanMicroseconds = Int64($1)! }),
        ConfigParameter(name: "slowlog-max-len", kind: .integer(0...Int.max), get: { String($0.slowlogMaxLength) }, set: { $0.slowlogMaxLength = Int($1)! }),
        ConfigParameter(name: "latency-tracking", kind: .boolean, get: { $0.latencyTracking ? "yes" : "no" },
                        set: { $0.latencyTracking = $1 == "yes" }),
        ConfigParameter(name: "latency-tracking-info-percentiles", kind: .text(valid: isPercentileList),
                        get: { $0.latencyPercentiles.map(percentileText).joined(separator: " ") },
                        set: { $0.latencyPercentiles = $1.split(separator: " ").compactMap { Double($0) } }),
        ConfigParameter(name: "acllog-max-len", kind: .integer(0...Int.max), get: { String($0.aclLogMaxLength) }, set: { $0.aclLogMaxLength = Int($1)! }),
        ConfigParameter(name: "tracking-table-max-keys", kind: .integer(0...Int.max), get: { String($0.trackingTableMaxKeys) },
                        set: { $0.trackingTableMaxKeys = Int($1)! }),
        ConfigParameter(name: "latency-monitor-threshold", kind: .integer(0...Int.max), get: { String($0.latencyMonitorThresholdMilliseconds) },
                        set: { $0.latencyMonitorThresholdMilliseconds = Int($1)! }),
        ConfigParameter(name: "stream-node-max-entries", kind: .integer(0...Int.max), get: { String($0.streamNodeLimits.entries) },
                        set: { $0.streamNodeLimits.entries = Int($1)! }),
        ConfigParameter(name: "stream-node-max-bytes", kind: .memory(0...Int.max), get: { String($0.streamNodeLimits.bytes) },
                        set: { $0.streamNodeLimits.bytes = parseMemory($1)! }),
        ConfigParameter(name: "hll-sparse-max-bytes", kind: .memory(0...Int.max), get: { String($0.hllSparseMaxBytes) },
                        set: { $0.hllSparseMaxBytes = parseMemory($1)! }),
        limit("hash-max-listpack-entries", alias: "hash-max-ziplist-entries", \.hashMaxListpackEntries),
        limit("hash-max-listpack-value", alias: "hash-max-ziplist-value", \.hashMaxListpackValue),
        limit("set-max-intset-entries", alias: nil, \.setMaxIntsetEntries, range: 0...(1 << 30)),
        limit("set-max-listpack-entries", alias: nil, \.setMaxListpackEntries),
        limit("set-max-listpack-value", alias: nil, \.setMaxListpackValue),
        limit("zset-max-listpack-entries", alias: "zset-max-ziplist-entries", \.zsetMaxListpackEntries),
        limit("zset-max-listpack-value", alias: "zset-max-ziplist-value", \.zsetMaxListpackValue),
        limit("list-max-listpack-size", alias: "list-max-ziplist-size", \.listMaxListpackSize, range: Int(Int32.min)...integerMax, memory: false),
        limit("list-compress-depth", alias: nil, \.listCompressDepth, range: 0...integerMax, memory: false),
    ]

    private static func limit(_ name: String, alias: String?, _ field: WritableKeyPath<EncodingLimits, Int> & Sendable,
                              range: ClosedRange<Int> = 0...Int.max, memory: Bool = true) -> ConfigParameter {
        ConfigParameter(name: name, aliases: alias.map { [$0] } ?? [], kind: memory ? .memory(range) : .integer(range),
                        get: { String($0.encodingLimits[keyPath: field]) },
                        set: { $0.encodingLimits[keyPath: field] = memory ? parseMemory($1)! : Int($1)! })
    }

    /// Redis parameters Trestle accepts, checks and reports, with Redis 7.2's defaults,
    /// mostly without acting on them (the file comment says why). The node reads a few
    /// from `inertParameters`: repl-ping-replica-period and repl-timeout, and while it
    /// follows a Redis master or counts its replicas, min-replicas-max-lag,
    /// replica-serve-stale-data, replica-read-only, masterauth and masteruser
    /// (Node+Replication.swift, Node+MasterLink.swift).
    private static let inertParameters: [ConfigParameter] = [
        // Empty by default: Trestle writes no RDB files on a schedule (its log and snapshots
        // keep the data).
        inert("save", "", .text(valid: isSaveSchedule, reason: "Invalid save parameters")),
        inert("stop-writes-on-bgsave-error", "yes", .boolean), inert("rdbcompression", "yes", .boolean),
        inert("rdbchecksum", "yes", .boolean), inert("rdb-key-save-delay", "0", .integer(Int(Int32.min)...integerMax)),
        inert("key-load-delay", "0", .integer(Int(Int32.min)...integerMax)),
        inert("aof-use-rdb-preamble", "yes", .boolean), inert("aof-rewrite-incremental-fsync", "yes", .boolean),
        inert("aof-timestamp-enabled", "no", .boolean), inert("no-appendfsync-on-rewrite", "no", .boolean),
        inert("activerehashing", "yes", .boolean), inert("dynamic-hz", "yes", .boolean),
        inert("active-defrag-cycle-min", "1", .integer(1...99)), inert("active-defrag-cycle-max", "25", .integer(1...99)),
        inert("active-defrag-threshold-lower", "10", .integer(0...1000)), inert("active-defrag-threshold-upper", "100", .integer(0...1000)),
        inert("active-defrag-ignore-bytes", "104857600", .memory(1...Int.max)),
        inert("active-defrag-max-scan-fields", "1000", .integer(1...Int.max)),
        inert("lazyfree-lazy-eviction", "no", .boolean), inert("lazyfree-lazy-expire", "no", .boolean),
        inert("lazyfree-lazy-server-del", "no", .boolean), inert("lazyfree-lazy-user-del", "no", .boolean),
        inert("lazyfree-lazy-user-flush", "no", .boolean), inert("replica-lazy-flush", "no", .boolean),
        inert("maxmemory-samples", "5", .integer(1...64)), inert("maxmemory-eviction-tenacity", "10", .integer(0...100)),
        inert("maxmemory-clients", "0", .memoryOrPercent),
        inert("oom-score-adj", "no", .choice(["no", "yes", "relative", "absolute"])),
        inert("oom-score-adj-values", "0 200 800", .text(valid: isOOMScoreTriple)),
        inert("client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
              .text(valid: isOutputBufferLimits)),
        inert("loglevel", "notice", .choice(["debug", "verbose", "notice", "warning", "nothing"])),
        inert("repl-ping-replica-period", "10", .integer(1...integerMax), alias: "repl-ping-slave-period"),
        inert("repl-timeout", "60", .integer(1...integerMax)), inert("repl-backlog-size", "1048576", .memory(1...Int.max)),
        inert("repl-backlog-ttl", "3600", .integer(0...integerMax)), inert("repl-diskless-sync", "yes", .boolean),
        inert("repl-diskless-sync-delay", "5", .integer(0...integerMax)),
        inert("min-replicas-max-lag", "10", .integer(0...integerMax), alias: "min-slaves-max-lag"),
        inert("replica-serve-stale-data", "yes", .boolean, alias: "slave-serve-stale-data"),
        inert("replica-read-only", "yes", .boolean, alias: "slave-read-only"),
        inert("masterauth", "", .text(valid: { _ in true })), inert("masteruser", "", .text(valid: { _ in true })),
        inert("shutdown-on-sigterm", "default", .text(valid: isShutdownFlags)),
        inert("shutdown-on-sigint", "default", .text(valid: isShutdownFlags)),
        inert("shutdown-timeout", "10", .integer(0...integerMax)),
        inert("propagation-error-behavior", "ignore", .choice(["ignore", "panic", "panic-on-replicas"])),
        inert("sanitize-dump-payload", "no", .choice(["no", "yes", "clients"])),
        inert("lua-replicate-commands", "yes", .boolean), inert("set-proc-title", "yes", .boolean),
        inert("jemalloc-bg-thread", "yes", .boolean), inert("crash-log-enabled", "yes", .boolean),
        inert("busy-reply-grace-period", "0", .integer(0...integerMax)),
        inert("tcp-keepalive", "300", .integer(0...integerMax)),
        // Passwords of encrypted TLS key files: Trestle's TLS keys (--tls-key-file) are read
        // unencrypted at start-up.
        inert("tls-key-file-pass", "", .text(valid: { _ in true })),
        inert("tls-client-key-file-pass", "", .text(valid: { _ in true })),
    ]

    private static func inert(_ name: String, _ defaultValue: String, _ kind: ConfigKind, alias: String? = nil) -> ConfigParameter {
        ConfigParameter(name: name, aliases: alias.map { [$0] } ?? [], kind: kind,
                        get: { $0.inertParameters[name] ?? defaultValue }, set: { $0.inertParameters[name] = $1 })
    }

    /// `activedefrag`: Redis refuses `yes` when it was built without its own jemalloc, which
    /// is Trestle's case (there is no defragmenter).
    private static let activeDefrag = ConfigParameter(name: "activedefrag", kind: .boolean, get: { _ in "no" }, set: { _, _ in })

    static let configParameters: [ConfigParameter] = fixedParameters + liveParameters + inertParameters + [activeDefrag]

    /// Every name (canonical and alias) to its parameter.
    static let configParametersByName: [String: ConfigParameter] = {
        var byName: [String: ConfigParameter] = [:]
        for parameter in configParameters {
            for name in [parameter.name] + parameter.aliases where byName[name] == nil { byName[name] = parameter }
        }
        return byName
    }()

    // MARK: - The command

    func config(_ arguments: [Bytes]) throws(CommandError) -> RESPValue {
        let subcommand = Arguments.lowercased(arguments[1])
        switch subcommand {
        case "get":
            guard arguments.count >= 3 else { throw .wrongArity(command: "config|get") }
            return .map(configGet(arguments.dropFirst(2).map { Arguments.lowercased($0) }))
        case "set":
            guard arguments.count >= 4, arguments.count % 2 == 0 else { throw .wrongArity(command: "config|set") }
            try configSet(stride(from: 2, to: arguments.count, by: 2).map { (Arguments.lowercased(arguments[$0]), Arguments.string(arguments[$0 + 1])) })
            return .ok
        case "resetstat":
            guard arguments.count == 2 else { throw .wrongArity(command: "config|resetstat") }
            stats = Stats()
            hooks.statsReset()
            return .ok
        case "rewrite":
            // Trestle takes its settings from flags: there is no file to rewrite (Redis's
            // answer when it was started without one).
            guard arguments.count == 2 else { throw .wrongArity(command: "config|rewrite") }
            throw .message("ERR The server is running without a config file")
        case "help":
            return .array(["CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                           "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
                           "RESETSTAT", "    Reset statistics reported by the INFO command.",
                           "REWRITE", "    Rewrite the configuration file.",
                           "HELP", "    Print this help."].map { .simple($0) })
        default:
            throw .unknownSubcommand(command: "config", subcommand: Arguments.string(arguments[1]))
        }
    }

    /// Redis 7's CONFIG GET: a name without glob characters is looked up as given (an alias
    /// answers under the alias); a pattern matches canonical names and aliases (each
    /// answering under its own name), never a hidden parameter. Each name appears once.
    private func configGet(_ patterns: [String]) -> [RESPPair] {
        var pairs: [RESPPair] = []
        var reported = Set<String>()
        for pattern in patterns {
            if !pattern.contains(where: { "*?[".contains($0) }) {
                if let parameter = Self.configParametersByName[pattern], reported.insert(pattern).inserted {
                    pairs.append(RESPPair(pattern, .bulk(parameter.get(settings))))
                }
                continue
            }
            let glob = Array(pattern.utf8)
            for parameter in Self.configParameters where !Self.hiddenParameters.contains(parameter.name) {
                for name in [parameter.name] + parameter.aliases
                where Glob.matches(pattern: glob, Array(name.utf8), ignoringCase: true) && reported.insert(name).inserted {
                    pairs.append(RESPPair(name, .bulk(parameter.get(settings))))
                }
            }
        }
        return pairs
    }

    /// Redis 7's CONFIG SET: every pair is checked before any is applied, so either all
    /// change or none does.
    private func configSet(_ pairs: [(name: String, value: String)]) throws(CommandError) {
        var updated = settings
        var seen = Set<String>()
        for (name, value) in pairs {
            guard let parameter = Self.configParametersByName[name] else {
                throw .message("ERR Unknown option or number of arguments for CONFIG SET - '\(name)'")
            }
            func failure(_ reason: String) -> CommandError {
                .message("ERR CONFIG SET failed (possibly related to argument '\(name)') - \(reason)")
            }
            guard seen.insert(parameter.name).inserted else { throw failure("duplicate parameter") }
            guard let set = parameter.set else {
                guard let refusal = Self.listenerRefusals[parameter.name] else { throw failure("can't set immutable config") }
                if value == parameter.get(settings) { continue }
                throw failure(refusal + ": Trestle listens where it started (restart it with --\(parameter.name))")
            }
            let normalized = try Self.checked(value, parameter.kind, failure: failure)
            if parameter.name == "maxclients", let clients = Int(normalized), clients > settings.maxClientsCeiling {
                throw failure("The operating system is not able to handle the specified number of clients, try with \(settings.maxClientsCeiling)")
            }
            if parameter.name == "activedefrag", normalized == "yes" {
                throw failure("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc "
                              + "like the one shipped by default with the Redis source distribution")
            }
            set(&updated, normalized)
        }
        if updated.requirePassword != settings.requirePassword { acl.setDefaultPassword(updated.requirePassword) }
        settings = updated
        applyAccessSettings()
        hooks.settingsChanged(settings)
    }

    /// `value` checked against `kind` as Redis checks it, in the form it is stored
    /// (choices and booleans lowercased).
    private static func checked(_ value: String, _ kind: ConfigKind,
                                failure: (String) -> CommandError) throws(CommandError) -> String {
        switch kind {
        case .integer(let range), .memory(let range):
            let isMemory: Bool
            if case .memory = kind { isMemory = true } else { isMemory = false }
            let parsed = isMemory ? parseMemory(value) : Int(value)
            guard let parsed else {
                throw failure(isMemory ? "argument must be a memory value" : "argument couldn't be parsed into an integer")
            }
            guard range.contains(parsed) else {
                throw failure("argument must be between \(range.lowerBound) and \(range.upperBound) inclusive")
            }
            return value
        case .memoryOrPercent:
            if value.hasSuffix("%"), let percent = Int(value.dropLast()), percent >= 0 {
                guard percent <= 100 else { throw failure("percentage argument must be less or equal to 100") }
                return value
            }
            guard let bytes = parseMemory(value), bytes >= 0 else { throw failure("argument must be a memory or percent value") }
            return value
        case .boolean:
            let lowered = value.lowercased()
            guard lowered == "yes" || lowered == "no" else { throw failure("argument must be 'yes' or 'no'") }
            return lowered
        case .choice(let words):
            let lowered = value.lowercased()
            guard words.contains(lowered) else { throw failure("argument(s) must be one of the following: \(words.joined(separator: ", "))") }
            return lowered
        case .text(let valid, let reason):
            guard valid(value) else { throw failure(reason ?? "Invalid argument '\(value)'") }
            return value
        }
    }

    // MARK: - Value checks of text parameters

    /// `save`: empty, or pairs of seconds and changes.
    private static func isSaveSchedule(_ text: String) -> Bool {
        let words = text.split(separator: " ")
        return words.count % 2 == 0 && words.allSatisfy { Int($0).map { $0 >= 0 } ?? false }
    }

    private static func isOOMScoreTriple(_ text: String) -> Bool {
        let words = text.split(separator: " ")
        return words.count == 3 && words.allSatisfy { Int($0).map { (-2000...2000).contains($0) } ?? false }
    }

    /// `client-output-buffer-limit`: groups of class, hard limit, soft limit, soft seconds.
    private static func isOutputBufferLimits(_ text: String) -> Bool {
        let words = text.split(separator: " ").map(String.init)
        guard !words.isEmpty, words.count % 4 == 0 else { return false }
        return stride(from: 0, to: words.count, by: 4).allSatisfy { index in
            ["normal", "slave", "replica", "pubsub"].contains(words[index].lowercased())
                && parseMemory(words[index + 1]) != nil && parseMemory(words[index + 2]) != nil
                && (Int(words[index + 3]).map { $0 >= 0 } ?? false)
        }
    }

    /// A percentile as Redis prints it: `%f` without trailing zeros (50, 99.9).
    public static func percentileText(_ value: Double) -> String {
        var text = String(format: "%f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    private static func isPercentileList(_ text: String) -> Bool {
        text.split(separator: " ").allSatisfy { Double($0).map { (0...100).contains($0) } ?? false }
    }

    private static func isShutdownFlags(_ text: String) -> Bool {
        let words = text.lowercased().split(separator: " ")
        return !words.isEmpty && words.allSatisfy { ["default", "save", "nosave", "now", "force"].contains(String($0)) }
    }

    static func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }

    /// Redis's memtoull: a non-negative integer with an optional unit b, k, kb, m, mb, g,
    /// gb (k = 1000, kb = 1024), case-insensitive.
    public static func parseMemory(_ text: String) -> Int? {
        let lowered = text.lowercased()
        let units: [(String, Int)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)]
        var digits = Substring(lowered), multiplier = 1
        for (suffix, factor) in units where lowered.hasSuffix(suffix) {
            digits = lowered.dropLast(suffix.count)
            multiplier = factor
            break
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let number = Int(digits) else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }
}
