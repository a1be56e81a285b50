// The real Keyspace as the simulator's replicated state machine, so the simulated
// clusters exercise the same command semantics the server runs. Keys are "k<number>",
// values decimal strings, exactly as a Redis client would store counters.
//
// Determinism: commands run at a fixed time (the workload uses no expiry), and the
// snapshot sorts its records by bytes, because the keyspace's dictionaries iterate in a
// per-instance order.
import Core
import Keyspace

public struct KeyspaceStateMachine: ReplicatedStateMachine {
    /// The workload touches a handful of keys: a few partitions keep copies cheap.
    private static let partitionCount = 16
    private var keyspace = Keyspace(partitionCount: partitionCount)
    private static let time: Int64 = 0

    public init() {}

    static func key(_ number: Int) -> Bytes { Array("k\(number)".utf8) }

    private mutating func current(_ number: Int) -> Int64? {
        guard let bytes = try? keyspace.getString(Self.key(number), now: Self.time) else { return nil }
        return Numbers.parseInteger(bytes)
    }

    public mutating func apply(_ command: KVCommand) -> KVOutput {
        let key = Self.key(command.key)
        switch command {
        case let .set(_, value):
            _ = try? keyspace.set(key, Numbers.formatInteger(value), now: Self.time)
            return .ok
        case let .get(number):
            return .value(current(number))
        case .increment:
            return .value(try? keyspace.increment(key, by: 1, now: Self.time))
        case let .compareAndSet(number, expected, new):
            guard current(number) == expected else { return .swapped(false) }
            _ = try? keyspace.set(key, Numbers.formatInteger(new), now: Self.time)
            return .swapped(true)
        }
    }

    public func query(_ command: KVCommand) -> KVOutput {
        guard case .string(let bytes)? = keyspace.peek(Self.key(command.key), now: Self.time)?.value else { return .value(nil) }
        return .value(Numbers.parseInteger(bytes))
    }

    /// Layout: a sequence of (u32 length, entry record) in ascending byte order of records.
    public func snapshot() -> [UInt8] {
        var records: [[UInt8]] = []
        _ = keyspace.scan(cursor: 0, count: Int.max, now: Self.time) { key, entry in
            records.append(EntryCodec.encode(key: key, entry: entry))
        }
        records.sort { $0.lexicographicallyPrecedes($1) }
        var writer = ByteWriter()
        for record in records { writer.writeBlob(record) }
        return writer.bytes
    }

    public mutating func restore(_ data: [UInt8]) {
        keyspace = Keyspace(partitionCount: Self.partitionCount)
        var reader = ByteReader(data)
        while !reader.isAtEnd {
            guard let record = try? reader.readBlob() else { return }
            try? keyspace.load(record: record)
        }
    }
}
