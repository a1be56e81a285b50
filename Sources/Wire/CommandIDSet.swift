// Sets of command ids and tables keyed by them, for the request path: a request asks
// several such questions (is it a script? cluster-only? does it count key lookups?), and a
// Set or Dictionary would hash the id each time. Both index by `CommandID.ordinal`.

/// A set of command ids as a bitset: membership is one bit test.
public struct CommandIDSet: ExpressibleByArrayLiteral, Sendable {
    /// Ids the bitset can hold (four 64-bit words).
    public static let capacity = 256
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init(arrayLiteral elements: CommandID...) {
        for element in elements { insert(element) }
    }

    public init<Ids: Sequence>(_ elements: Ids) where Ids.Element == CommandID {
        for element in elements { insert(element) }
    }

    public mutating func insert(_ id: CommandID) {
        let ordinal = id.ordinal
        precondition(ordinal < Self.capacity, "CommandIDSet holds \(Self.capacity) ids; grow its words")
        let bit = UInt64(1) << UInt64(ordinal & 63)
        switch ordinal >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    @inline(__always) public func contains(_ id: CommandID) -> Bool {
        let ordinal = id.ordinal
        let word: UInt64
        switch ordinal >> 6 {
        case 0: word = words.0
        case 1: word = words.1
        case 2: word = words.2
        default: word = words.3
        }
        return word & (UInt64(1) << UInt64(ordinal & 63)) != 0
    }
}

/// A table from command ids to values, as an array indexed by ordinal.
public struct CommandIDTable<Value: Sendable>: Sendable {
    private var values: [Value?]

    public init(_ entries: [CommandID: Value]) {
        values = [Value?](repeating: nil, count: CommandID.allCases.count)
        for (id, value) in entries { values[id.ordinal] = value }
    }

    @inline(__always) public subscript(id: CommandID) -> Value? { values[id.ordinal] }
}
