// The replicated state machine the simulator drives, behind a small protocol so the real
// Keyspace can replace the simulator's own key-value model later.
//
// Invariant: `apply` is a pure function of (state, command): every replica that applies
// the same commands in the same order holds the same state and returns the same outputs.

import Core

/// A deterministic state machine fed committed commands.
public protocol ReplicatedStateMachine: Sendable {
    init()
    /// Applies a committed command; returns its encoded output.
    mutating func apply(_ command: KVCommand) -> KVOutput
    /// Answers a read-only command against the current state.
    func query(_ command: KVCommand) -> KVOutput
    func snapshot() -> [UInt8]
    mutating func restore(_ data: [UInt8])
}

/// The simulator's workload: SET, GET, INCR and compare-and-set on small integer keys.
public enum KVCommand: Sendable, Equatable, CustomStringConvertible {
    case set(key: Int, value: Int64)
    case get(key: Int)
    case increment(key: Int)
    case compareAndSet(key: Int, expected: Int64?, new: Int64)

    public var key: Int {
        switch self {
        case .set(let key, _), .get(let key), .increment(let key), .compareAndSet(let key, _, _): return key
        }
    }

    public var isRead: Bool { if case .get = self { return true } else { return false } }

    public var description: String {
        switch self {
        case let .set(key, value): return "SET k\(key) \(value)"
        case let .get(key): return "GET k\(key)"
        case let .increment(key): return "INCR k\(key)"
        case let .compareAndSet(key, expected, new): return "CAS k\(key) \(expected.map(String.init) ?? "nil") \(new)"
        }
    }
}

public enum KVOutput: Sendable, Equatable, CustomStringConvertible {
    case ok
    case value(Int64?)
    case swapped(Bool)

    public var description: String {
        switch self {
        case .ok: return "OK"
        case .value(let value): return value.map(String.init) ?? "nil"
        case .swapped(let swapped): return swapped ? "swapped" : "not-swapped"
        }
    }
}

/// The simulator's key-value model: a fixed, small array of optional integers.
public struct SimpleKV: ReplicatedStateMachine {
    public static let keyCountMax = 16
    private var values: [Int64?] = Array(repeating: nil, count: SimpleKV.keyCountMax)

    public init() {}

    public mutating func apply(_ command: KVCommand) -> KVOutput {
        let key = command.key
        guard key >= 0, key < values.count else { return .value(nil) }
        switch command {
        case let .set(_, value):
            values[key] = value
            return .ok
        case .get:
            return .value(values[key])
        case .increment:
            let next = (values[key] ?? 0) &+ 1
            values[key] = next
            return .value(next)
        case let .compareAndSet(_, expected, new):
            guard values[key] == expected else { return .swapped(false) }
            values[key] = new
            return .swapped(true)
        }
    }

    public func query(_ command: KVCommand) -> KVOutput {
        guard command.key >= 0, command.key < values.count else { return .value(nil) }
        return .value(values[command.key])
    }

    /// Layout: per key one presence byte and 8 little-endian value bytes.
    public func snapshot() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 9)
        for value in values {
            bytes.append(value == nil ? 0 : 1)
            let raw = UInt64(bitPattern: value ?? 0)
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: raw >> UInt64(shift))) }
        }
        return bytes
    }

    public mutating func restore(_ data: [UInt8]) {
        values = Array(repeating: nil, count: Self.keyCountMax)
        var position = 0
        for key in 0..<Self.keyCountMax {
            guard position + 9 <= data.count else { return }
            var raw: UInt64 = 0
            for byte in 0..<8 { raw |= UInt64(data[position + 1 + byte]) << UInt64(byte * 8) }
            values[key] = data[position] == 0 ? nil : Int64(bitPattern: raw)
            position += 9
        }
    }
}

/// How a command travels inside a log entry: the client and operation it belongs to.
struct CommandEnvelope: Equatable {
    var client: Int
    var operation: Int
    var command: KVCommand

    func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        func put(_ value: UInt64) { for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) } }
        put(UInt64(client))
        put(UInt64(operation))
        switch command {
        case let .set(key, value): bytes.append(0); put(UInt64(key)); put(UInt64(bitPattern: value))
        case let .get(key): bytes.append(1); put(UInt64(key))
        case let .increment(key): bytes.append(2); put(UInt64(key))
        case let .compareAndSet(key, expected, new):
            bytes.append(expected == nil ? 4 : 3); put(UInt64(key)); put(UInt64(bitPattern: expected ?? 0)); put(UInt64(bitPattern: new))
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> CommandEnvelope? {
        var position = 0
        func take() -> UInt64? {
            guard position + 8 <= bytes.count else { return nil }
            var value: UInt64 = 0
            for byte in 0..<8 { value |= UInt64(bytes[position + byte]) << UInt64(byte * 8) }
            position += 8
            return value
        }
        guard let client = take(), let operation = take(), position < bytes.count else { return nil }
        let tag = bytes[position]
        position += 1
        guard let key = take() else { return nil }
        let command: KVCommand
        switch tag {
        case 0: guard let value = take() else { return nil }; command = .set(key: Int(key), value: Int64(bitPattern: value))
        case 1: command = .get(key: Int(key))
        case 2: command = .increment(key: Int(key))
        case 3, 4:
            guard let expected = take(), let new = take() else { return nil }
            command = .compareAndSet(key: Int(key), expected: tag == 4 ? nil : Int64(bitPattern: expected), new: Int64(bitPattern: new))
        default: return nil
        }
        return CommandEnvelope(client: Int(client), operation: Int(operation), command: command)
    }
}

/// Client sessions on top of a state machine (Raft thesis §6.3): each client's latest
/// operation and its output are part of the replicated state, so a command that arrives
/// twice (a client retransmitted it to another leader) takes effect once.
///
/// Invariant: for each client, commands apply in increasing operation order; an older or
/// repeated operation is answered from the session and changes nothing.
struct SessionStateMachine<Machine: ReplicatedStateMachine> {
    var machine = Machine()
    private var sessions: [(operation: Int, output: KVOutput)?] = []

    mutating func apply(_ envelope: CommandEnvelope) -> KVOutput {
        let client = envelope.client
        guard client >= 0, client < 1 << 16 else { return machine.apply(envelope.command) }
        while sessions.count <= client { sessions.append(nil) }
        if let session = sessions[client], session.operation >= envelope.operation {
            return session.operation == envelope.operation ? session.output : .ok
        }
        let output = machine.apply(envelope.command)
        sessions[client] = (envelope.operation, output)
        return output
    }

    func query(_ command: KVCommand) -> KVOutput { machine.query(command) }

    /// Layout: machine length (u64), machine bytes, session count (u64), then per session
    /// a presence byte, the operation (u64), an output tag byte and a value (u64).
    func snapshot() -> [UInt8] {
        var bytes: [UInt8] = []
        func put(_ value: UInt64) { for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) } }
        let image = machine.snapshot()
        put(UInt64(image.count))
        bytes.append(contentsOf: image)
        put(UInt64(sessions.count))
        for session in sessions {
            guard let session else { bytes.append(0); put(0); bytes.append(0); put(0); continue }
            bytes.append(1)
            put(UInt64(session.operation))
            switch session.output {
            case .ok: bytes.append(0); put(0)
            case .value(nil): bytes.append(1); put(0)
            case .value(let value?): bytes.append(2); put(UInt64(bitPattern: value))
            case .swapped(let swapped): bytes.append(3); put(swapped ? 1 : 0)
            }
        }
        return bytes
    }

    mutating func restore(_ data: [UInt8]) {
        var position = 0
        func take() -> UInt64? {
            guard position + 8 <= data.count else { return nil }
            var value: UInt64 = 0
            for byte in 0..<8 { value |= UInt64(data[position + byte]) << UInt64(byte * 8) }
            position += 8
            return value
        }
        machine = Machine()
        sessions = []
        guard let length = take(), position + Int(length) <= data.count else { return }
        machine.restore(Array(data[position..<(position + Int(length))]))
        position += Int(length)
        guard let count = take() else { return }
        for _ in 0..<count {
            guard position < data.count else { return }
            let present = data[position]
            position += 1
            guard let operation = take(), position < data.count else { return }
            let tag = data[position]
            position += 1
            guard let value = take() else { return }
            guard present == 1 else { sessions.append(nil); continue }
            let output: KVOutput
            switch tag {
            case 0: output = .ok
            case 1: output = .value(nil)
            case 2: output = .value(Int64(bitPattern: value))
            default: output = .swapped(value == 1)
            }
            sessions.append((Int(operation), output))
        }
    }
}
