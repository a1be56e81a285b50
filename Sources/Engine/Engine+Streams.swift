// Stream commands: XADD XLEN XRANGE XREVRANGE XDEL XTRIM XREAD (Redis 7 replies and error
// texts). XREAD BLOCK waits like the blocking pops (Node+Blocking.swift). Consumer groups
// (XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO are not built yet.
import Core
import Keyspace
import Wire

extension Engine {
    func runStreamCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors {
            do {
                return try runStreamCommandThrowing(id, arguments, session, now: now)
            } catch let error as StreamError {
                switch error {
                case .idNotGreater: throw CommandError.message("ERR The ID specified in XADD is equal or smaller than the target stream top item")
                case .idZero: throw CommandError.message("ERR The ID specified in XADD must be greater than 0-0")
                }
            }
        }
    }

    static let invalidStreamID = CommandError.message("ERR Invalid stream ID specified as stream command argument")

    private func runStreamCommandThrowing(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        let key = arguments[1]
        switch id {
        case .xadd: return try streamAdd(arguments, now: now)
        case .xlen: return .integer(try keyspace.streamValue(key, now: now)?.entries.count ?? 0)
        case .xrange, .xrevrange:
            let reverse = id == .xrevrange
            let (low, high) = reverse ? (arguments[3], arguments[2]) : (arguments[2], arguments[3])
            let start = try Self.rangeBound(low, start: true), end = try Self.rangeBound(high, start: false)
            var count: Int? = nil
            if arguments.count > 4 {
                guard arguments.count == 6, Arguments.isKeyword(arguments[4], "count") else { throw CommandError.syntax }
                let value = try Arguments.integer(arguments[5])
                count = value < 0 ? nil : Int(clamping: value)
                if count == 0 {  // as Redis 7.0: nil, after the type check
                    _ = try keyspace.streamValue(key, now: now)
                    return .nullArray
                }
            }
            let entries = try keyspace.streamRange(key, start: start, end: end, count: count, reverse: reverse, now: now)
            return .array(entries.map(Self.entryReply))
        case .xdel:
            let ids = try arguments[2...].map { bytes throws -> StreamID in
                guard let parsed = Self.parseID(bytes, missingSequence: 0) else { throw Self.invalidStreamID }
                return parsed
            }
            return .integer(try keyspace.streamDelete(key, ids: ids, now: now))
        case .xtrim:
            guard let (trim, next) = try Self.parseTrim(arguments, at: 2), next == arguments.count else { throw CommandError.syntax }
            return .integer(try keyspace.streamTrim(key, trim, nodeLimits: settings.streamNodeLimits, now: now))
        case .xsetid:
            return try streamSetID(arguments, now: now)
        default:
            return try streamRead(arguments, session, now: now)
        }
    }

    /// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id], with Redis 7's checks in
    /// Redis's order: the options, the key, the stream's largest deleted ID, then its top
    /// item and length (an empty stream takes any ID at or past its largest deleted one).
    private func streamSetID(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        guard let id = Self.parseID(arguments[2], missingSequence: 0) else { throw Self.invalidStreamID }
        var entriesAdded: UInt64? = nil
        var maxDeletedID: StreamID? = nil
        var index = 3
        while index < arguments.count {
            let hasValue = index + 1 < arguments.count
            if hasValue, Arguments.isKeyword(arguments[index], "entriesadded") {
                let value = try Arguments.integer(arguments[index + 1])
                guard value >= 0 else { throw CommandError.message("ERR entries_added must be positive") }
                entriesAdded = UInt64(value)
            } else if hasValue, Arguments.isKeyword(arguments[index], "maxdeletedid") {
                guard let parsed = Self.parseID(arguments[index + 1], missingSequence: 0) else { throw Self.invalidStreamID }
                guard id >= parsed else {
                    throw CommandError.message("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
                }
                maxDeletedID = parsed
            } else {
                throw CommandError.syntax
            }
            index += 2
        }
        let key = arguments[1]
        guard let stream = try keyspace.streamValue(key, now: now) else { throw CommandError.message("ERR no such key") }
        guard id >= stream.maxDeletedID else {
            throw CommandError.message("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
        }
        if let top = stream.entries.last?.id {
            guard id >= top else { throw CommandError.message("ERR The ID specified in XSETID is smaller than the target stream top item") }
            if let entriesAdded, UInt64(stream.entries.count) > entriesAdded {
                throw CommandError.message("ERR The entries_added specified in XSETID is smaller than the target stream length")
            }
        }
        _ = try keyspace.streamSetID(key, lastID: id, entriesAdded: entriesAdded, maxDeletedID: maxDeletedID, now: now)
        return .ok
    }

    static func entryReply(_ entry: StreamEntry) -> RESPValue {
        .array([.bulk(entry.id.description), .array(entry.fields.map(RESPValue.bulk))])
    }

    /// `ms-seq`, or `ms` with `missingSequence`; nil when malformed.
    static func parseID(_ bytes: Bytes, missingSequence: UInt64) -> StreamID? {
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let milliseconds = UInt64(first), !first.hasPrefix("+") else { return nil }
        guard parts.count == 2 else { return StreamID(milliseconds, missingSequence) }
        guard let sequence = UInt64(parts[1]), !parts[1].hasPrefix("+") else { return nil }
        return StreamID(milliseconds, sequence)
    }

    /// An XRANGE bound: `-`, `+`, an ID (a start's missing sequence is 0, an end's the
    /// maximum), or `(ID` exclusive; an exclusive bound with nothing past it (a start at
    /// the maximum ID, an end at 0-0) is Redis's "invalid start/end ID for the interval".
    static func rangeBound(_ bytes: Bytes, start: Bool) throws(CommandError) -> StreamID {
        if bytes == Array("-".utf8) { return .zero }
        if bytes == Array("+".utf8) { return .max }
        if bytes.count > 1, bytes.first == UInt8(ascii: "(") {
            guard let id = parseID(Array(bytes.dropFirst()), missingSequence: start ? 0 : .max) else { throw invalidStreamID }
            guard let bound = start ? id.successor : id.predecessor else {
                throw .message("ERR invalid \(start ? "start" : "end") ID for the interval")
            }
            return bound
        }
        guard let id = parseID(bytes, missingSequence: start ? 0 : .max) else { throw invalidStreamID }
        return id
    }

    /// MAXLEN|MINID [=|~] threshold [LIMIT count] at `index`; nil when no trim option is there.
    static func parseTrim(_ arguments: [Bytes], at index: Int) throws(CommandError) -> (StreamTrim, Int)? {
        guard index < arguments.count else { return nil }
        let isMaxLength = Arguments.isKeyword(arguments[index], "maxlen")
        guard isMaxLength || Arguments.isKeyword(arguments[index], "minid") else { return nil }
        var position = index + 1
        var approximate = false
        if position < arguments.count, arguments[position] == Array("~".utf8) || arguments[position] == Array("=".utf8) {
            approximate = arguments[position] == Array("~".utf8)
            position += 1
        }
        guard position < arguments.count else { throw .syntax }
        let strategy: StreamTrim.Strategy
        if isMaxLength {
            let length = try Arguments.integer(arguments[position])
            guard length >= 0 else { throw .message("ERR The MAXLEN argument must be >= 0.") }
            strategy = .maxLength(UInt64(length))
        } else {
            guard let id = parseID(arguments[position], missingSequence: 0) else { throw invalidStreamID }
            strategy = .minimumID(id)
        }
        position += 1
        var limit: Int? = nil
        if position + 1 < arguments.count, Arguments.isKeyword(arguments[position], "limit") {
            let value = try Arguments.integer(arguments[position + 1])
            guard value >= 0 else { throw .message("ERR The LIMIT argument must be >= 0.") }
            guard approximate else { throw .message("ERR syntax error, LIMIT cannot be used without the special ~ option") }
            limit = Int(clamping: value)
            position += 2
        }
        return (StreamTrim(strategy: strategy, approximate: approximate, limit: limit), position)
    }

    private func streamAdd(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        var index = 2
        var createIfMissing = true
        var trim: StreamTrim? = nil
        while index < arguments.count {
            if Arguments.isKeyword(arguments[index], "nomkstream") {
                createIfMissing = false
                index += 1
            } else if let (parsed, next) = try Self.parseTrim(arguments, at: index) {
                trim = parsed
                index = next
            } else {
                break
            }
        }
        guard index < arguments.count else { throw CommandError.wrongArity(command: "xadd") }
        let idArgument = arguments[index]
        let fields = Array(arguments[(index + 1)...])
        guard !fields.isEmpty, fields.count % 2 == 0 else { throw CommandError.wrongArity(command: "xadd") }
        let request: StreamIDRequest
        if idArgument == Array("*".utf8) {
            request = .automatic
        } else if idArgument.count > 2, idArgument.suffix(2) == Array("-*".utf8) {
            guard let milliseconds = UInt64(String(decoding: idArgument.dropLast(2), as: UTF8.self)) else { throw Self.invalidStreamID }
            request = .sequenceAutomatic(milliseconds)
        } else {
            guard let id = Self.parseID(idArgument, missingSequence: 0) else { throw Self.invalidStreamID }
            request = .explicit(id)
        }
        let notifying = trim != nil && keyspace.changeJournal != nil
        let lengthBefore = notifying ? (try keyspace.streamValue(arguments[1], now: now))?.entries.count ?? 0 : 0
        guard let id = try keyspace.streamAdd(arguments[1], id: request, fields: fields, trim: trim, createIfMissing: createIfMissing,
                                              nodeLimits: settings.streamNodeLimits, now: now) else { return .null }
        if notifying, let stream = try keyspace.streamValue(arguments[1], now: now), stream.entries.count <= lengthBefore {
            laterNotifications.append((.stream, "xtrim", arguments[1]))  // the add trimmed entries
        }
        return .bulk(id.description)
    }

    /// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key... id...: entries after each ID;
    /// `$` means the stream's last ID, `+` its last entry (Redis 7.4). A null reply when nothing is there.
    private func streamRead(_ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        let request = try Self.parseRead(arguments)
        var results: [(Bytes, [StreamEntry])] = []
        for (key, after) in zip(request.keys, request.ids) {
            let stream = try keyspace.streamValue(key, now: now)
            let from: StreamID
            if after == Array("$".utf8) {
                continue  // only entries added from now on: none yet
            } else if after == Array("+".utf8) {
                // Redis 7.4: the stream's last entry.
                guard stream != nil,
                      let last = try keyspace.streamRange(key, start: .zero, end: .max, count: 1, reverse: true, now: now).first else { continue }
                results.append((key, [last]))
                continue
            } else {
                guard let id = Self.parseID(after, missingSequence: 0) else { throw Self.invalidStreamID }
                guard let next = id.successor else { continue }
                from = next
            }
            guard stream != nil else { continue }
            let entries = try keyspace.streamRange(key, start: from, end: .max, count: request.count, reverse: false, now: now)
            if !entries.isEmpty { results.append((key, entries)) }
        }
        guard !results.isEmpty else { return .nullArray }
        if session.protocolVersion == .resp3 {
            return .map(results.map { RESPPair(.bulk($0.0), .array($0.1.map(Self.entryReply))) })
        }
        return .array(results.map { .array([.bulk($0.0), .array($0.1.map(Self.entryReply))]) })
    }

    public struct StreamReadRequest {
        public var count: Int?
        /// Milliseconds to block; nil without BLOCK.
        public var block: Int64?
        /// XREADGROUP's NOACK.
        public var noAck = false
        public var keys: [Bytes]
        public var ids: [Bytes]
        /// Index of the first key.
        public var keysStart: Int
    }

    public static func parseRead(_ arguments: [Bytes]) throws(CommandError) -> StreamReadRequest {
        try parseStreamRead(arguments, from: 1, command: "xread", idHint: "ID, '+', or '$'")
    }

    /// The longest BLOCK accepted (about 292 million years): a deadline of now plus this
    /// cannot overflow.
    static let blockMillisecondsMax = Int64.max / 4

    /// The options and STREAMS part shared by XREAD and XREADGROUP, from `index` on:
    /// [COUNT n] [BLOCK ms] [NOACK (XREADGROUP only)] STREAMS key... id...
    static func parseStreamRead(_ arguments: [Bytes], from start: Int, command: String, idHint: String) throws(CommandError) -> StreamReadRequest {
        var index = start
        var request = StreamReadRequest(count: nil, block: nil, keys: [], ids: [], keysStart: 0)
        while index < arguments.count {
            if Arguments.isKeyword(arguments[index], "count"), index + 1 < arguments.count {
                let value = try Arguments.integer(arguments[index + 1])
                request.count = value <= 0 ? nil : Int(clamping: value)
                index += 2
            } else if Arguments.isKeyword(arguments[index], "block"), index + 1 < arguments.count {
                let value = try Arguments.integer(arguments[index + 1])
                guard value >= 0 else { throw .message("ERR timeout is negative") }
                guard value <= Self.blockMillisecondsMax else { throw .message("ERR timeout is out of range") }
                request.block = value
                index += 2
            } else if command == "xreadgroup", Arguments.isKeyword(arguments[index], "noack") {
                request.noAck = true
                index += 1
            } else if Arguments.isKeyword(arguments[index], "streams") {
                index += 1
                break
            } else {
                throw .syntax
            }
        }
        let rest = arguments.count - index
        guard rest > 0, rest % 2 == 0 else {
            // Redis 8.0's text (7.x said "Unbalanced XREAD list ... an ID or '$'").
            throw .message("ERR Unbalanced '\(command)' list of streams: for each stream key an \(idHint) must be specified.")
        }
        let half = rest / 2
        request.keys = Array(arguments[index..<(index + half)])
        request.ids = Array(arguments[(index + half)...])
        request.keysStart = index
        return request
    }
}
