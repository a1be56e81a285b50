// SLOWLOG: the node's most recent requests that took at least `slowlog-log-slower-than`
// microseconds, newest first, at most `slowlog-max-len` of them (Redis's defaults: 10 ms,
// 128 entries). A request's time is measured on the node from its start to its reply, so
// a write's includes its replication and fsync (Redis measures execution only).
import Core
import Engine
import Keyspace
import Wire

struct SlowLog {
    struct Entry {
        let id: Int64
        let unixSeconds: Int64
        let microseconds: Int64
        let arguments: [Bytes]
        let address: String
        let clientName: String
    }

    /// Arguments an entry keeps (Redis's SLOWLOG_ENTRY_MAX_ARGC): the last kept one says how
    /// many more there were.
    static let argumentsMax = 32
    /// Bytes an argument keeps (Redis's SLOWLOG_ENTRY_MAX_STRING).
    static let argumentBytesMax = 128
    /// What GET returns without a count.
    static let defaultCount = 10

    private(set) var entries: [Entry] = []  // oldest first
    private var nextID: Int64 = 0

    /// Logs a request that took `microseconds` when the threshold says so; trims to `lengthMax`.
    mutating func record(_ arguments: [Bytes], microseconds: Int64, unixSeconds: Int64, address: String, clientName: String,
                         threshold: Int64, lengthMax: Int) {
        guard threshold >= 0, microseconds >= threshold else { return }
        entries.append(Entry(id: nextID, unixSeconds: unixSeconds, microseconds: microseconds,
                             arguments: Self.trimmed(Self.redacted(arguments)), address: address, clientName: clientName))
        nextID += 1
        if entries.count > lengthMax { entries.removeFirst(entries.count - max(0, lengthMax)) }
    }

    mutating func reset() { entries.removeAll() }

    /// SLOWLOG GET's reply: the newest `count` entries (all for -1).
    func reply(count: Int) -> RESPValue {
        let newest = entries.reversed().prefix(count < 0 ? entries.count : count)
        return .array(newest.map { entry in
            .array([.integer(entry.id), .integer(entry.unixSeconds), .integer(entry.microseconds),
                    .array(entry.arguments.map { .bulk($0) }), .bulk(entry.address), .bulk(entry.clientName)])
        })
    }

    /// As Redis: passwords never reach the log or MONITOR (AUTH, HELLO's AUTH pair, CONFIG
    /// SET of a password, ACL SETUSER's name and rules, GETUSER's and DELUSER's names,
    /// MIGRATE's AUTH and AUTH2).
    /// Settings whose values CONFIG SET must not show (Redis's sensitive configs).
    static let secretSettings: Set<String> = ["requirepass", "masterauth", "masteruser", "tls-key-file-pass", "tls-client-key-file-pass"]

    static func redacted(_ arguments: [Bytes]) -> [Bytes] {
        guard let first = arguments.first else { return arguments }
        let hidden = Array("(redacted)".utf8)
        var result = arguments
        func hide(_ range: Range<Int>) { for index in range where index < result.count { result[index] = hidden } }
        switch String(decoding: first, as: UTF8.self).lowercased() {
        case "auth": hide(1..<result.count)
        case "hello":
            if let auth = arguments.firstIndex(where: { String(decoding: $0, as: UTF8.self).lowercased() == "auth" }) { hide(auth + 1..<auth + 3) }
        case "config" where arguments.count >= 2 && String(decoding: arguments[1], as: UTF8.self).lowercased() == "set":
            for index in stride(from: 2, to: arguments.count - 1, by: 2)
            where Self.secretSettings.contains(String(decoding: arguments[index], as: UTF8.self).lowercased()) {
                hide(index + 1..<index + 2)
            }
        case "acl" where arguments.count >= 2
            && ["setuser", "getuser", "deluser"].contains(String(decoding: arguments[1], as: UTF8.self).lowercased()):
            hide(2..<result.count)
        case "migrate":
            var index = 6
            while index < arguments.count {
                switch String(decoding: arguments[index], as: UTF8.self).lowercased() {
                case "auth": hide(index + 1..<index + 2); index += 2
                case "auth2": hide(index + 1..<index + 3); index += 3
                case "keys": index = arguments.count
                default: index += 1
                }
            }
        default: break
        }
        return result
    }

    /// Keeps `argumentsMax` arguments of `argumentBytesMax` bytes at most, saying what was cut.
    static func trimmed(_ arguments: [Bytes]) -> [Bytes] {
        var kept = arguments.count > argumentsMax ? Array(arguments.prefix(argumentsMax - 1)) : arguments
        if arguments.count > argumentsMax {
            kept.append(Array("... (\(arguments.count - argumentsMax + 1) more arguments)".utf8))
        }
        return kept.map { argument in
            argument.count <= argumentBytesMax ? argument
                : Array(argument.prefix(argumentBytesMax)) + Array("... (\(argument.count - argumentBytesMax) more bytes)".utf8)
        }
    }
}
