// The classes of keyspace notifications (`notify-keyspace-events`), parsed from and
// printed as Redis's class characters: K keyspace channel, E keyevent channel, g generic,
// $ string, l list, s set, h hash, z sorted set, x expired, e evicted, t stream,
// m key miss, d module, n new key, A for "g$lshzxetd".

/// Which keyspace notifications are published; empty (the default) publishes none.
public struct KeyspaceEvents: OptionSet, Sendable, Equatable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let keyspace = KeyspaceEvents(rawValue: 1 << 0)
    public static let keyevent = KeyspaceEvents(rawValue: 1 << 1)
    public static let generic = KeyspaceEvents(rawValue: 1 << 2)
    public static let string = KeyspaceEvents(rawValue: 1 << 3)
    public static let list = KeyspaceEvents(rawValue: 1 << 4)
    public static let set = KeyspaceEvents(rawValue: 1 << 5)
    public static let hash = KeyspaceEvents(rawValue: 1 << 6)
    public static let zset = KeyspaceEvents(rawValue: 1 << 7)
    public static let expired = KeyspaceEvents(rawValue: 1 << 8)
    public static let evicted = KeyspaceEvents(rawValue: 1 << 9)
    public static let stream = KeyspaceEvents(rawValue: 1 << 10)
    public static let keyMiss = KeyspaceEvents(rawValue: 1 << 11)
    public static let module = KeyspaceEvents(rawValue: 1 << 12)
    public static let newKey = KeyspaceEvents(rawValue: 1 << 13)
    /// `A`: every class but key misses and new keys.
    public static let all: KeyspaceEvents = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module]

    /// Class characters in the order Redis prints them (after `A` or the classes).
    private static let classCharacters: [(Character, KeyspaceEvents)] = [
        ("g", .generic), ("$", .string), ("l", .list), ("s", .set), ("h", .hash), ("z", .zset), ("x", .expired),
        ("e", .evicted), ("t", .stream), ("d", .module), ("n", .newKey),
    ]

    /// Parses Redis's class characters; nil when one is not a class.
    public init?(parsing text: String) {
        var events: KeyspaceEvents = []
        for character in text {
            switch character {
            case "A": events.formUnion(.all)
            case "K": events.insert(.keyspace)
            case "E": events.insert(.keyevent)
            case "m": events.insert(.keyMiss)
            default:
                guard let match = Self.classCharacters.first(where: { $0.0 == character }) else { return nil }
                events.insert(match.1)
            }
        }
        self = events
    }

    /// The setting as CONFIG GET shows it (Redis's keyspaceEventsFlagsToString).
    public var configText: String {
        var text = ""
        if isSuperset(of: .all) {
            text = "A"  // as Redis: `n` is not shown beside `A` (though it stays on)
        } else {
            for (character, event) in Self.classCharacters where contains(event) { text.append(character) }
        }
        if contains(.keyspace) { text += "K" }
        if contains(.keyevent) { text += "E" }
        if contains(.keyMiss) { text += "m" }
        return text
    }

    /// Whether anything can be published: a channel kind and at least one class.
    public var publishesAnything: Bool {
        !intersection([.keyspace, .keyevent]).isEmpty && !subtracting([.keyspace, .keyevent]).isEmpty
    }
}
