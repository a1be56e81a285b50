// Consumer-group commands: XGROUP (CREATE SETID DESTROY CREATECONSUMER DELCONSUMER),
// XREADGROUP (BLOCK waits like XREAD), XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO GROUPS.
// XINFO STREAM (FULL too) and CONSUMERS answer Redis 7.2's fields; the radix-tree figures are estimates.
import Core
import Keyspace
import Wire

extension Engine {
    /// ENTRIESREAD: a count, or -1 for unknown (Redis's check and text).
    static func entriesRead(_ argument: Bytes) throws(CommandError) -> Int64 {
        let value = try Arguments.integer(argument)
        guard value >= -1 else { throw .message("ERR value for ENTRIESREAD must be positive or -1") }
        return value
    }

    func runStreamGroupCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors {
            do {
                return try runStreamGroupCommandThrowing(id, arguments, session, now: now)
            } catch let error as StreamGroupError {
                throw Self.groupError(error, id: id, arguments: arguments)
            }
        }
    }

    private static func groupError(_ error: StreamGroupError, id: CommandID, arguments: [Bytes]) -> CommandError {
        let text = { (index: Int) in index < arguments.count ? Arguments.string(arguments[index]) : "" }
        switch error {
        case .noKey:
            return .message("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")
        case .groupExists:
            return .message("BUSYGROUP Consumer Group name already exists")
        case .noGroup:
            switch id {
            case .xgroup: return .message("NOGROUP No such consumer group '\(text(3))' for key name '\(text(2))'")
            default: return .message("NOGROUP No such key '\(text(1))' or consumer group '\(text(2))'")
            }
        }
    }

    private static func groupStartID(_ bytes: Bytes) throws(CommandError) -> StreamID? {
        if bytes == Array("$".utf8) { return nil }
        // Redis's generic ID parsing: `-` is the smallest ID, `+` the largest.
        if bytes == Array("-".utf8) { return .zero }
        if bytes == Array("+".utf8) { return .max }
        guard let id = parseID(bytes, missingSequence: 0) else { throw invalidStreamID }
        return id
    }

    private func runStreamGroupCommandThrowing(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        switch id {
        case .xgroup: return try xgroup(arguments, now: now)
        case .xreadgroup: return try readGroup(arguments, session, now: now)
        case .xack:
            let ids = try arguments[3...].map { bytes throws -> StreamID in
                guard let parsed = Self.parseID(bytes, missingSequence: 0) else { throw Self.invalidStreamID }
                return parsed
            }
            return .integer(try keyspace.groupAcknowledge(arguments[1], group: arguments[2], ids: ids, now: now))
        case .xpending: return try pending(arguments, now: now)
        case .xclaim: return try claim(arguments, now: now)
        case .xautoclaim: return try autoclaim(arguments, now: now)
        default: return try info(arguments, session, now: now)
        }
    }

    private func xgroup(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let subcommand = Arguments.lowercased(arguments[1])
        func need(_ count: ClosedRange<Int>) throws {
            guard count.contains(arguments.count) else { throw CommandError.wrongArity(command: "xgroup|\(subcommand)") }
        }
        switch subcommand {
        case "create":
            try need(5...8)
            var makeStream = false
            var entriesRead: Int64? = nil
            var index = 5
            while index < arguments.count {
                if Arguments.isKeyword(arguments[index], "mkstream") {
                    makeStream = true
                    index += 1
                } else if Arguments.isKeyword(arguments[index], "entriesread"), index + 1 < arguments.count {
                    entriesRead = try Self.entriesRead(arguments[index + 1])
                    index += 2
                } else {
                    throw CommandError.syntax
                }
            }
            try keyspace.groupCreate(arguments[2], group: arguments[3], id: try Self.groupStartID(arguments[4]),
                                     makeStream: makeStream, entriesRead: entriesRead, now: now)
            return .ok
        case "setid":
            try need(5...7)
            var entriesRead: Int64? = nil
            if arguments.count == 7 {
                guard Arguments.isKeyword(arguments[5], "entriesread") else { throw CommandError.syntax }
                entriesRead = try Self.entriesRead(arguments[6])
            } else if arguments.count == 6 {
                throw CommandError.syntax
            }
            try keyspace.groupSetID(arguments[2], group: arguments[3], id: try Self.groupStartID(arguments[4]), entriesRead: entriesRead, now: now)
            return .ok
        case "destroy":
            try need(4...4)
            return .integer(try keyspace.groupDestroy(arguments[2], group: arguments[3], now: now) ? 1 : 0)
        case "createconsumer":
            try need(5...5)
            return .integer(try keyspace.groupCreateConsumer(arguments[2], group: arguments[3], consumer: arguments[4], now: now) ? 1 : 0)
        case "delconsumer":
            try need(5...5)
            return .integer(try keyspace.groupDeleteConsumer(arguments[2], group: arguments[3], consumer: arguments[4], now: now))
        case "help":
            return .array(["XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "CREATE <key> <groupname> <id|$> [option]", "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                           "DESTROY <key> <groupname>", "CREATECONSUMER <key> <groupname> <consumer>",
                           "DELCONSUMER <key> <groupname> <consumername>", "HELP"].map { RESPValue.simple($0) })
        default:
            throw CommandError.unknownSubcommand(command: "xgroup", subcommand: Arguments.string(arguments[1]))
        }
    }

    private static func entryReply(_ item: (id: StreamID, fields: [Bytes]?)) -> RESPValue {
        .array([.bulk(item.id.description), item.fields.map { .array($0.map(RESPValue.bulk)) } ?? .nullArray])
    }

    /// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...
    private func readGroup(_ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        let request = try Self.parseReadGroup(arguments)
        var results: [(Bytes, [RESPValue])] = []
        for (key, after) in zip(request.keys, request.ids) {
            let startAfter: StreamID?
            if after == Array(">".utf8) {
                startAfter = nil
            } else {
                guard let id = Self.parseID(after, missingSequence: 0) else { throw Self.invalidStreamID }
                startAfter = id
            }
            let missing = CommandError.message("NOGROUP No such key '\(Arguments.string(key))' or consumer group '\(Arguments.string(request.group))' in XREADGROUP with GROUP option")
            guard try keyspace.streamValue(key, now: now)?.groupIndex(request.group) != nil else { throw missing }
            let known = try hasConsumer(key, group: request.group, consumer: request.consumer, now: now)
            let items = try keyspace.groupRead(key, group: request.group, consumer: request.consumer, after: startAfter,
                                               count: request.count, noAck: request.noAck, now: now)
            if !known { laterNotifications.append((.stream, "xgroup-createconsumer", key)) }
            // New entries: only streams that had some. History: every stream, even empty.
            if startAfter == nil, items.isEmpty { continue }
            results.append((key, items.map(Self.entryReply)))
        }
        guard !results.isEmpty else { return .nullArray }
        if session.protocolVersion == .resp3 {
            return .map(results.map { RESPPair(.bulk($0.0), .array($0.1)) })
        }
        return .array(results.map { .array([.bulk($0.0), .array($0.1)]) })
    }

    public struct ReadGroupRequest {
        public var group: Bytes
        public var consumer: Bytes
        public var count: Int?
        public var block: Int64?
        public var noAck: Bool
        public var keys: [Bytes]
        public var ids: [Bytes]
    }

    public static func parseReadGroup(_ arguments: [Bytes]) throws(CommandError) -> ReadGroupRequest {
        guard arguments.count >= 7, Arguments.isKeyword(arguments[1], "group") else {
            throw .message("ERR Missing GROUP option for XREADGROUP")
        }
        let read = try parseStreamRead(arguments, from: 4, command: "xreadgroup", idHint: "ID or '>'")
        return ReadGroupRequest(group: arguments[2], consumer: arguments[3], count: read.count, block: read.block, noAck: read.noAck,
                                keys: read.keys, ids: read.ids)
    }

    /// XPENDING key group [[IDLE min-idle] start end count [consumer]]
    private func pending(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let group = try keyspace.group(arguments[1], arguments[2], now: now)
        guard arguments.count > 3 else {
            guard let first = group.pending.first, let last = group.pending.last else {
                return .array([.integer(0), .null, .null, .nullArray])
            }
            var perConsumer: [(Bytes, Int)] = []
            for consumer in group.consumers {
                let count = group.pendingCount(of: consumer.name)
                if count > 0 { perConsumer.append((consumer.name, count)) }
            }
            return .array([.integer(group.pending.count), .bulk(first.id.description), .bulk(last.id.description),
                           .array(perConsumer.map { .array([.bulk($0.0), .bulk(String($0.1))]) })])
        }
        var index = 3
        var minIdle: Int64 = 0
        if Arguments.isKeyword(arguments[index], "idle") {
            guard index + 1 < arguments.count else { throw CommandError.syntax }
            minIdle = try Arguments.integer(arguments[index + 1])
            index += 2
        }
        guard arguments.count - index == 3 || arguments.count - index == 4 else { throw CommandError.syntax }
        let start = try Self.rangeBound(arguments[index], start: true), end = try Self.rangeBound(arguments[index + 1], start: false)
        let count = try Arguments.integer(arguments[index + 2])
        let consumer = arguments.count - index == 4 ? arguments[index + 3] : nil
        guard count > 0 else { return .array([]) }
        var rows: [RESPValue] = []
        for item in group.pending where item.id >= start && item.id <= end {
            guard rows.count < count else { break }
            if let consumer, item.entry.consumer != consumer { continue }
            let idle = max(0, now &- item.entry.deliveredAt)
            guard idle >= minIdle else { continue }
            rows.append(.array([.bulk(item.id.description), .bulk(item.entry.consumer), .integer(idle),
                                .integer(Int64(clamping: item.entry.deliveries))]))
        }
        return .array(rows)
    }

    /// XCLAIM key group consumer min-idle-time id... [JUSTID] (IDLE, TIME, RETRYCOUNT, FORCE
    /// and LASTID are accepted and ignored).
    private func claim(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let minIdle = try Arguments.integer(arguments[4])
        var ids: [StreamID] = []
        var index = 5
        while index < arguments.count, let id = Self.parseID(arguments[index], missingSequence: 0) {
            ids.append(id)
            index += 1
        }
        guard !ids.isEmpty else { throw Self.invalidStreamID }
        var justIDs = false
        while index < arguments.count {
            if Arguments.isKeyword(arguments[index], "justid") || Arguments.isKeyword(arguments[index], "force") {
                justIDs = justIDs || Arguments.isKeyword(arguments[index], "justid")
                index += 1
            } else if ["idle", "time", "retrycount", "lastid"].contains(Arguments.lowercased(arguments[index])), index + 1 < arguments.count {
                index += 2
            } else {
                throw CommandError.message("ERR Unrecognized XCLAIM option '\(Arguments.string(arguments[index]))'")
            }
        }
        let known = try hasConsumer(arguments[1], group: arguments[2], consumer: arguments[3], now: now)
        let result = try keyspace.groupClaim(arguments[1], group: arguments[2], consumer: arguments[3], minIdle: max(0, minIdle),
                                             ids: ids, justIDs: justIDs, now: now)
        if !known { laterNotifications.append((.stream, "xgroup-createconsumer", arguments[1])) }
        return .array(result.claimed.map { justIDs ? .bulk($0.id.description) : Self.entryReply($0) })
    }

    /// XAUTOCLAIM scans up to this many pending entries per entry it may claim (Redis's
    /// attempts factor).
    static let autoclaimAttemptsFactor: Int64 = 10

    /// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
    private func autoclaim(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let minIdle = try Arguments.integer(arguments[4])
        let start = try Self.rangeBound(arguments[5], start: true)
        var count = 100
        var justIDs = false
        var index = 6
        while index < arguments.count {
            if Arguments.isKeyword(arguments[index], "count"), index + 1 < arguments.count {
                let value = try Arguments.integer(arguments[index + 1])
                // As Redis: a count whose scan budget (count × 10 entries) would overflow is refused too.
                guard value >= 1, value <= Int64.max / Self.autoclaimAttemptsFactor else {
                    throw CommandError.message("ERR COUNT must be > 0")
                }
                count = Int(clamping: value)
                index += 2
            } else if Arguments.isKeyword(arguments[index], "justid") {
                justIDs = true
                index += 1
            } else {
                throw CommandError.syntax
            }
        }
        let group = try keyspace.group(arguments[1], arguments[2], now: now)
        let candidates = group.pending.filter { $0.id >= start && now &- $0.entry.deliveredAt >= minIdle }
        let batch = Array(candidates.prefix(count))
        let next = candidates.count > count ? candidates[count].id.description : "0-0"
        let known = try hasConsumer(arguments[1], group: arguments[2], consumer: arguments[3], now: now)
        let result = try keyspace.groupClaim(arguments[1], group: arguments[2], consumer: arguments[3], minIdle: max(0, minIdle),
                                             ids: batch.map(\.id), justIDs: justIDs, now: now)
        if !known { laterNotifications.append((.stream, "xgroup-createconsumer", arguments[1])) }
        let claimed: [RESPValue] = result.claimed.map { justIDs ? .bulk($0.id.description) : Self.entryReply($0) }
        return .array([.bulk(next), .array(claimed), .array(result.deleted.map { .bulk($0.description) })])
    }

    /// XINFO STREAM key [FULL [COUNT n]], with Redis 7.2's fields in its order. The radix
    /// tree's figures are estimated as Redis would lay the entries out (100 per node).
    private static func streamInfo(_ stream: Stream, options: [Bytes], subcommand: String) throws -> RESPValue {
        var full = false, count = 10
        // Redis's addReplySubcommandSyntaxError text.
        let misuse = CommandError.message("ERR unknown subcommand or wrong number of arguments for '\(subcommand)'. Try XINFO HELP.")
        if !options.isEmpty {
            guard Arguments.lowercased(options[0]) == "full" else { throw misuse }
            full = true
            if options.count > 1 {
                guard options.count == 3, Arguments.lowercased(options[1]) == "count" else { throw misuse }
                count = max(0, Int(clamping: try Arguments.integer(options[2])))
            }
        }
        let limit = count == 0 ? Int.max : count
        let treeKeys = (stream.entries.count + 99) / 100
        var fields: [RESPPair] = [RESPPair("length", .integer(stream.entries.count)),
                                  RESPPair("radix-tree-keys", .integer(treeKeys)),
                                  RESPPair("radix-tree-nodes", .integer(treeKeys + 1)),
                                  RESPPair("last-generated-id", .bulk(stream.lastID.description)),
                                  RESPPair("max-deleted-entry-id", .bulk(stream.maxDeletedID.description)),
                                  RESPPair("entries-added", .integer(Int64(clamping: stream.entriesAdded))),
                                  RESPPair("recorded-first-entry-id", .bulk((stream.entries.first?.id ?? .zero).description))]
        guard full else {
            fields.append(RESPPair("groups", .integer(stream.groups.count)))
            fields.append(RESPPair("first-entry", stream.entries.first.map(entryReply) ?? .null))
            fields.append(RESPPair("last-entry", stream.entries.last.map(entryReply) ?? .null))
            return .map(fields)
        }
        fields.append(RESPPair("entries", .array(stream.entries.prefix(limit).map(entryReply))))
        fields.append(RESPPair("groups", .array(stream.groups.map { fullGroupInfo($0, stream, limit: limit) })))
        return .map(fields)
    }

    /// One group of XINFO STREAM FULL: its PEL and its consumers' PELs, `limit` entries each.
    private static func fullGroupInfo(_ group: ConsumerGroup, _ stream: Stream, limit: Int) -> RESPValue {
        let lag: RESPValue = stream.groupIndex(group.name).flatMap(stream.lag(ofGroup:)).map(RESPValue.integer) ?? .null
        let pending: [RESPValue] = group.pending.prefix(limit).map { item in
            .array([.bulk(item.id.description), .bulk(item.entry.consumer), .integer(item.entry.deliveredAt),
                    .integer(Int64(clamping: item.entry.deliveries))])
        }
        let consumers: [RESPValue] = group.consumers.map { consumer in
            let owned = group.pending.lazy.filter { $0.entry.consumer == consumer.name }
            let listed: [RESPValue] = owned.prefix(limit).map { item in
                .array([.bulk(item.id.description), .integer(item.entry.deliveredAt), .integer(Int64(clamping: item.entry.deliveries))])
            }
            return .map([RESPPair("name", .bulk(consumer.name)), RESPPair("seen-time", .integer(consumer.seenAt)),
                         RESPPair("active-time", .integer(consumer.activeAt)),
                         RESPPair("pel-count", .integer(group.pendingCount(of: consumer.name))),
                         RESPPair("pending", .array(listed))])
        }
        return .map([RESPPair("name", .bulk(group.name)), RESPPair("last-delivered-id", .bulk(group.lastDeliveredID.description)),
                     RESPPair("entries-read", group.entriesRead >= 0 ? .integer(group.entriesRead) : .null),
                     RESPPair("lag", lag), RESPPair("pel-count", .integer(group.pending.count)),
                     RESPPair("pending", .array(pending)), RESPPair("consumers", .array(consumers))])
    }

    /// XINFO GROUPS key | CONSUMERS key group | STREAM key [FULL [COUNT n]].
    private func info(_ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        let subcommand = Arguments.lowercased(arguments[1])
        guard subcommand != "help" else {
            return .array(["XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", "CONSUMERS <key> <groupname>",
                           "GROUPS <key>", "STREAM <key> [FULL [COUNT <count>]", "HELP"].map { RESPValue.simple($0) })
        }
        guard arguments.count >= 3 else { throw CommandError.wrongArity(command: "xinfo|\(subcommand)") }
        guard let stream = try keyspace.streamValue(arguments[2], now: now) else { throw CommandError.message("ERR no such key") }
        switch subcommand {
        case "groups":
            return .array(stream.groups.indices.map { index in
                let group = stream.groups[index]
                let lag: RESPValue = stream.lag(ofGroup: index).map(RESPValue.integer) ?? .null
                return .map([RESPPair("name", .bulk(group.name)), RESPPair("consumers", .integer(group.consumers.count)),
                             RESPPair("pending", .integer(group.pending.count)),
                             RESPPair("last-delivered-id", .bulk(group.lastDeliveredID.description)),
                             RESPPair("entries-read", group.entriesRead >= 0 ? .integer(group.entriesRead) : .null),
                             RESPPair("lag", lag)])
            })
        case "consumers":
            guard arguments.count == 4 else { throw CommandError.wrongArity(command: "xinfo|consumers") }
            guard let index = stream.groupIndex(arguments[3]) else {
                throw CommandError.message("NOGROUP No such consumer group '\(Arguments.string(arguments[3]))' for key name '\(Arguments.string(arguments[2]))'")
            }
            let group = stream.groups[index]
            return .array(group.consumers.map { consumer in
                .map([RESPPair("name", .bulk(consumer.name)), RESPPair("pending", .integer(group.pendingCount(of: consumer.name))),
                      RESPPair("idle", .integer(max(0, now &- consumer.seenAt))),
                      RESPPair("inactive", .integer(consumer.activeAt < 0 ? -1 : max(0, now &- consumer.activeAt)))])
            })
        case "stream":
            return try Self.streamInfo(stream, options: Array(arguments[3...]), subcommand: Arguments.string(arguments[1]))
        default:
            throw CommandError.unknownSubcommand(command: "xinfo", subcommand: Arguments.string(arguments[1]))
        }
    }

    /// Whether the group of the stream at `key` knows `consumer` (XREADGROUP, XCLAIM and
    /// XAUTOCLAIM create one they name, and publish `xgroup-createconsumer` as Redis does).
    /// Always true while no notification is journaled (nothing to publish).
    private func hasConsumer(_ key: Bytes, group: Bytes, consumer: Bytes, now: Int64) throws -> Bool {
        guard keyspace.changeJournal != nil, let stream = try keyspace.streamValue(key, now: now), let index = stream.groupIndex(group) else { return true }
        return stream.groups[index].consumers.contains { $0.name == consumer }
    }
}
