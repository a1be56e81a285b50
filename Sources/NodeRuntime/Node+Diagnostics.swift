// What the node learns from each answered request (command stats, the slow log, the
// latency monitor) and the commands that show it: SLOWLOG, LATENCY, plus ROLE and LOLWUT.
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// The name INFO commandstats and LATENCY HISTOGRAM count a request under: a container
    /// command's known subcommand as `config|resetstat`, as Redis 7.
    static func statsName(_ spec: CommandSpec, _ request: [Bytes]) -> String {
        guard !spec.subcommands.isEmpty, request.count >= 2, let subcommand = spec.subcommand(request[1]) else { return spec.name }
        return subcommand.name
    }

    /// Counts one answered request that started at `startedMicroseconds` (the node's
    /// monotonic clock). `later`: answered after the request's turn (a write once its entry
    /// applied, a script once it ran), never by the checks before a command runs.
    /// A command queued by MULTI is not counted here: as Redis, it counts when EXEC runs
    /// it (`countingTransactionCalls`).
    func finished(_ request: [Bytes], spec: CommandSpec?, session: Session, reply: RESPValue, startedMicroseconds: Int64,
                  later: Bool = false) {
        guard reply != .queued else { return }
        let elapsed = max(0, monotonicClock.monotonicMicroseconds() - startedMicroseconds)
        commandStats.record(spec, request: request, reply: reply, microseconds: elapsed, ran: later,
                            tracksLatency: front.settings.latencyTracking)
        noteDuration(request, spec: spec, session: session, microseconds: elapsed)
    }

    /// Puts a request that took `elapsed` microseconds in the slow log and the latency
    /// monitor when it was over their thresholds.
    func noteDuration(_ request: [Bytes], spec: CommandSpec?, session: Session, microseconds elapsed: Int64) {
        // Most requests stop here: only one over a threshold costs a clock read and a flags search.
        let slowlogThreshold = front.settings.slowlogLogSlowerThanMicroseconds
        let latencyThreshold = Int64(front.settings.latencyMonitorThresholdMilliseconds)
        let logs = slowlogThreshold >= 0 && elapsed >= slowlogThreshold
        let spikes = latencyThreshold > 0 && elapsed / 1000 >= latencyThreshold
        guard logs || spikes, let spec, spec.accepts(argumentCount: request.count), !spec.flags.contains("skip_slowlog") else { return }
        let seconds = now() / 1000
        if logs {
            slowLog.record(request, microseconds: elapsed, unixSeconds: seconds, address: session.address,
                           clientName: String(decoding: session.name, as: UTF8.self),
                           threshold: slowlogThreshold, lengthMax: front.settings.slowlogMaxLength)
        }
        if spikes {
            latencyMonitor.record(spec.flags.contains("fast") ? "fast-command" : "command", milliseconds: elapsed / 1000, unixSeconds: seconds)
        }
    }

    /// `reply` for EXEC of `commands`: when the transaction ran (its reply is an array of
    /// theirs), each command counts in INFO commandstats and errorstats with its own reply,
    /// as Redis counts the calls EXEC makes (with no time of their own: EXEC's covers them).
    func countingTransactionCalls(_ commands: [[Bytes]], reply: @escaping ReplySink) -> ReplySink {
        { [self] value in
            if case .array(let replies) = value, replies.count == commands.count {
                for (command, answer) in zip(commands, replies) {
                    commandStats.record(CommandTable.lookup(command[0]), request: command, reply: answer, microseconds: 0,
                                        rejectedBeforeRunning: false)
                }
            }
            reply(value)
        }
    }

    /// Counts the commands scripts called on `engine` since the last drain (INFO
    /// commandstats, as Redis 7 counts them).
    /// MONITOR shows them too, as Redis does (`[0 lua] "set" ...`).
    func countScriptCalls(_ engine: Engine) {
        engine.drainScriptCalls { call in
            commandStats.record(call.spec, request: call.arguments, reply: call.reply, microseconds: 0, countsError: call.countsError,
                                rejectedBeforeRunning: call.rejected)
            if !monitors.isEmpty { feedMonitors(call.arguments, spec: call.spec, database: call.database, address: "lua", from: nil) }
        }
    }

    /// SLOWLOG, LATENCY, ROLE, LOLWUT, SHUTDOWN and DEBUG: node-local, never routed.
    /// Commands the node answers itself that a transaction may hold (SLOWLOG, LATENCY,
    /// ROLE, LOLWUT, CLIENT PAUSE/UNPAUSE): the shard's engine cannot, so the node runs
    /// them when the transaction's result arrives and puts their replies in their places
    /// (a pause so starts once the transaction is done, as in Redis).
    static let nodeCommandsInTransactions: CommandIDSet = [.slowlog, .latency, .role, .lolwut, .replicaof, .slaveof]
    /// Pub/sub commands a transaction may hold (as Redis): the node runs them for the
    /// client once the transaction committed, in their place in EXEC's reply.
    static let pubSubInTransactions: CommandIDSet = [.subscribe, .unsubscribe, .psubscribe, .punsubscribe, .pubsub]

    func answeringNodeCommands(_ commands: [[Bytes]], session: Session, reply: @escaping ReplySink) -> ReplySink {
        let positions = commands.indices.filter { index in
            Self.isClientPause(commands[index])
                || CommandTable.lookup(commands[index][0])?.id.map {
                    Self.nodeCommandsInTransactions.contains($0) || Self.pubSubInTransactions.contains($0)
                } ?? false
        }
        guard !positions.isEmpty else { return reply }
        return { [self] value in
            guard case .array(var replies) = value, replies.count == commands.count else { return reply(value) }
            for index in positions {
                if Self.isClientPause(commands[index]) {
                    if let answer = clientPauseCommand(commands[index]) { replies[index] = answer }
                    continue
                }
                guard let id = CommandTable.lookup(commands[index][0])?.id else { continue }
                if id == .replicaof || id == .slaveof {
                    // Its place in the entry held the engine's placeholder.
                    if configuration.standalone { replies[index] = replicaOf(commands[index], session: session) }
                    continue
                }
                if Self.pubSubInTransactions.contains(id) {
                    if case .some(.some(let outcome)) = servePubSub(id, commands[index], session: session, forwarded: false, reply: { _ in }) {
                        replies[index] = outcome.reply
                    }
                    continue
                }
                guard let outcome = serveDiagnostics(id, commands[index], session: session, reply: { _ in }) else { continue }
                replies[index] = outcome.reply
            }
            reply(.array(replies))
        }
    }

    /// DEBUG SLEEP inside a transaction: as on Redis, where EXEC sleeps through it, the
    /// client gets EXEC's reply once the sleeps' total passed (the node goes on serving
    /// others), and each sleep goes in SLOWLOG as its own command (EXEC never does).
    func sleepingThroughTransaction(_ commands: [[Bytes]], session: Session, reply: @escaping ReplySink) -> ReplySink {
        let sleeps = commands.compactMap { command in Engine.debugSleepMilliseconds(of: command).map { (command, $0) } }
        let total = min(Engine.debugSleepMillisecondsMax, sleeps.reduce(0) { $0 + $1.1 })
        guard total > 0 else { return reply }
        let held = holding(reply, milliseconds: total)
        return { [self] value in
            guard case .array = value else { return reply(value) }
            let spec = CommandTable.lookup(Array("debug".utf8))
            for (command, milliseconds) in sleeps { noteDuration(command, spec: spec, session: session, microseconds: milliseconds * 1000) }
            held(value)
        }
    }

    /// CLIENT PAUSE or CLIENT UNPAUSE (the node's own commands).
    static func isClientPause(_ arguments: [Bytes]) -> Bool {
        guard arguments.count >= 2, CommandTable.lookup(arguments[0])?.id == .client else { return false }
        let sub = String(decoding: arguments[1], as: UTF8.self).lowercased()
        return sub == "pause" || sub == "unpause"
    }

    func serveDiagnostics(_ id: CommandID, _ arguments: [Bytes], session: Session, reply: @escaping ReplySink) -> Outcome? {
        switch id {
        case .slowlog: return Outcome(reply: slowlogCommand(arguments))
        case .latency: return Outcome(reply: latencyCommand(arguments))
        case .role: return Outcome(reply: roleReply)
        case .lolwut: return Outcome(reply: lolwut(arguments))
        case .shutdown: return shutdown(arguments)
        case .debug: return debugCommand(arguments, session: session, reply: reply)
        default:
            assertionFailure("\(id) is not a diagnostics command")
            return Outcome(reply: .error("ERR unknown command"))
        }
    }

    /// SLOWLOG GET|LEN|RESET|HELP.
    func slowlogCommand(_ arguments: [Bytes]) -> RESPValue {
        let sub = String(decoding: arguments[1], as: UTF8.self).lowercased()
        if let wrong = Self.subcommandArityError("slowlog", sub, count: arguments.count) { return wrong }
        switch (sub, arguments.count) {
        case ("get", 2), ("get", 3):
            var count = SlowLog.defaultCount
            if arguments.count == 3 {
                guard let parsed = Int(String(decoding: arguments[2], as: UTF8.self)), parsed >= -1 else {
                    return .error("ERR count should be greater than or equal to -1")
                }
                count = parsed
            }
            return slowLog.reply(count: count)
        case ("len", 2): return .integer(Int64(slowLog.entries.count))
        case ("reset", 2):
            slowLog.reset()
            return .ok
        case ("help", 2):
            return .array(["SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                           "    Entries are made of:", "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                           "    client name", "LEN", "    Return the length of the slowlog.", "RESET", "    Reset the slowlog.",
                           "HELP", "    Prints this help."].map { .simple($0) })
        default:
            return Self.subcommandError("slowlog", arguments[1], known: ["get", "len", "reset", "help"].contains(sub))
        }
    }

    /// LATENCY DOCTOR|GRAPH|HISTORY|LATEST|RESET|HISTOGRAM|HELP.
    func latencyCommand(_ arguments: [Bytes]) -> RESPValue {
        let sub = String(decoding: arguments[1], as: UTF8.self).lowercased()
        if let wrong = Self.subcommandArityError("latency", sub, count: arguments.count) { return wrong }
        let names = arguments.dropFirst(2).map { String(decoding: $0, as: UTF8.self) }
        switch (sub, arguments.count) {
        case ("doctor", 2): return .verbatim(format: "txt", text: latencyMonitor.doctor(threshold: front.settings.latencyMonitorThresholdMilliseconds))
        case ("graph", 3):
            guard let graph = latencyMonitor.graph(names[0]) else {
                return .error("ERR No samples available for event '\(names[0])'")
            }
            return .verbatim(format: "txt", text: graph)
        case ("history", 3): return latencyMonitor.history(names[0])
        case ("latest", 2): return latencyMonitor.latest
        case ("reset", _): return .integer(Int64(latencyMonitor.reset(names)))
        case ("histogram", _): return commandStats.histogram(names)
        case ("help", 2):
            return .array(["LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "DOCTOR", "    Return a human readable latency analysis report.",
                           "GRAPH <event>", "    Return an ASCII latency graph for the <event> class.",
                           "HISTORY <event>", "    Return time-latency samples for the <event> class.",
                           "LATEST", "    Return the latest latency samples for all events.",
                           "RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
                           "    (default: reset all data for all event classes)",
                           "HISTOGRAM [COMMAND ...]",
                           "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
                           "    If no commands are specified then all histograms are replied.",
                           "HELP", "    Prints this help."].map { .simple($0) })
        default:
            return Self.subcommandError("latency", arguments[1], known: ["doctor", "graph", "history", "latest", "help"].contains(sub))
        }
    }

    /// Redis's arity error for a known subcommand given a count its table entry refuses.
    static func subcommandArityError(_ command: String, _ sub: String, count: Int) -> RESPValue? {
        let name = "\(command)|\(sub)"
        guard let spec = CommandTable.lookup(Array(command.utf8))?.subcommands.first(where: { $0.name == name }),
              !spec.accepts(argumentCount: count) else { return nil }
        return CommandError.wrongArity(command: name).reply
    }

    /// Redis's reply to an unknown subcommand, or to a known one given the wrong arguments.
    static func subcommandError(_ command: String, _ subcommand: Bytes, known: Bool) -> RESPValue {
        let name = String(decoding: subcommand, as: UTF8.self)
        guard known else { return CommandError.unknownSubcommand(command: command, subcommand: name).reply }
        return .error("ERR unknown subcommand or wrong number of arguments for '\(name)'. Try \(command.uppercased()) HELP.")
    }

    /// ROLE: every Trestle node answers as a primary with no Redis replicas (its shards'
    /// copies are Raft replicas, not Redis replication).

    /// LOLWUT [VERSION v]: no art, the version line.
    func lolwut(_ arguments: [Bytes]) -> RESPValue {
        // Clients look for Redis's closing words, "Redis ver. <version>".
        .verbatim(format: "txt", text: "Trestle, a Redis-compatible store. Redis ver. \(Engine.compatibleRedisVersion)\n")
    }
}

extension Node {
    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: the shell stops the process as on
    /// SIGTERM; the client gets no reply (its connection closes), as with Redis. Every
    /// acknowledged write is already in the fsynced log, so SAVE and NOSAVE stop alike.
    func shutdown(_ arguments: [Bytes]) -> Outcome? {
        let options = arguments.dropFirst().map { String(decoding: $0, as: UTF8.self).lowercased() }
        guard options.allSatisfy({ ["nosave", "save", "now", "force", "abort"].contains($0) }),
              !(options.contains("save") && options.contains("nosave")) else {
            return Outcome(reply: CommandError.syntax.reply)
        }
        if options.contains("abort") {
            return Outcome(reply: options.count == 1 ? .error("ERR No shutdown in progress.") : CommandError.syntax.reply)
        }
        logger.notice("SHUTDOWN asked by a client", metadata: ["options": "\(options.joined(separator: " "))"])
        emit(.shutdown)
        return nil
    }
}
