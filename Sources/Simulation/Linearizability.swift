// A linearizability checker for the key-value history: the Wing–Gong search with Lowe's
// improvements and memoisation of (set of linearized operations, model state), as Knossos
// and Porcupine do. The history is split per key first (linearizability is compositional).
//
// Timed-out operations are "possibly applied": they may take effect at any point after
// their invocation, or never. They are given a completion time of infinity, and the search
// succeeds as soon as every operation with a known outcome has been linearized.
//
// Invariant: `check` returns `.illegal` only if no linearization exists; if the search
// exceeds its state budget it answers `.unknown`, never a false violation.

import Core

/// One client operation as observed by the client.
public struct HistoryOperation: Sendable, Equatable, CustomStringConvertible {
    public var client: Int
    public var command: KVCommand
    /// nil if the client gave up waiting (the operation may or may not have happened).
    public var output: KVOutput?
    public var invocation: Int64
    /// Int64.max when `output` is nil.
    public var completion: Int64

    public init(client: Int, command: KVCommand, output: KVOutput?, invocation: Int64, completion: Int64) {
        self.client = client
        self.command = command
        self.output = output
        self.invocation = invocation
        self.completion = output == nil ? Int64.max : completion
    }

    public var description: String {
        let end = output == nil ? "?" : "\(completion)"
        return "c\(client) \(command) -> \(output?.description ?? "timeout") [\(invocation), \(end)]"
    }
}

public enum LinearizabilityResult: Sendable, Equatable {
    case linearizable
    case illegal(key: Int)
    case unknown(key: Int)
}

public enum LinearizabilityChecker {
    /// Most (subset, state) pairs explored per key before giving up with `.unknown`.
    public static let exploredStatesMax = 300_000

    public static func check(_ history: [HistoryOperation]) -> LinearizabilityResult {
        var keys: [Int] = []
        for operation in history where !keys.contains(operation.command.key) { keys.append(operation.command.key) }
        var unknown: Int?
        for key in keys.sorted() {
            let operations = history.filter { $0.command.key == key && !($0.command.isRead && $0.output == nil) }
            switch checkKey(operations) {
            case .some(true): continue
            case .some(false): return .illegal(key: key)
            case .none: unknown = unknown ?? key
            }
        }
        return unknown.map { .unknown(key: $0) } ?? .linearizable
    }

    /// The model: a single optional integer. Returns the next state, or nil if the
    /// operation's observed output is impossible in `state`.
    static func step(_ state: Int64?, _ operation: HistoryOperation) -> Int64?? {
        switch operation.command {
        case let .set(_, value):
            return .some(value)
        case .get:
            guard case let .value(observed)? = operation.output else { return .some(state) }
            return observed == state ? .some(state) : nil
        case .increment:
            let next = (state ?? 0) &+ 1
            guard let output = operation.output else { return .some(next) }
            return output == .value(next) ? .some(next) : nil
        case let .compareAndSet(_, expected, new):
            let swaps = state == expected
            guard let output = operation.output else { return .some(swaps ? new : state) }
            guard output == .swapped(swaps) else { return nil }
            return .some(swaps ? new : state)
        }
    }

    private struct CacheKey: Hashable {
        var linearized: [UInt64]
        var state: Int64?
    }

    /// true: linearizable; false: not; nil: more than `budget` (subset, state) pairs were
    /// explored without an answer. All operations must be on one key.
    static func checkKey(_ operations: [HistoryOperation], exploredStatesMax budget: Int = exploredStatesMax) -> Bool? {
        let count = operations.count
        guard count > 0 else { return true }
        // Entries 0..<2n: call of op i is 2i, return is 2i+1. Sentinel head is 2n.
        var order: [(time: Int64, isReturn: Bool, entry: Int)] = []
        for (index, operation) in operations.enumerated() {
            order.append((operation.invocation, false, 2 * index))
            order.append((operation.completion, true, 2 * index + 1))
        }
        // Calls before returns at equal times: concurrent, the permissive reading.
        order.sort { ($0.time, $0.isReturn ? 1 : 0, $0.entry) < ($1.time, $1.isReturn ? 1 : 0, $1.entry) }
        let head = 2 * count
        var next = Array(repeating: -1, count: 2 * count + 1)
        var previous = Array(repeating: -1, count: 2 * count + 1)
        var last = head
        for item in order {
            next[last] = item.entry
            previous[item.entry] = last
            last = item.entry
        }
        func lift(_ op: Int) {
            for entry in [2 * op, 2 * op + 1] {
                let before = previous[entry], after = next[entry]
                next[before] = after
                if after >= 0 { previous[after] = before }
            }
        }
        func unlift(_ op: Int) {
            for entry in [2 * op + 1, 2 * op] {
                let before = previous[entry], after = next[entry]
                next[before] = entry
                if after >= 0 { previous[after] = entry }
            }
        }
        let definiteCount = operations.filter { $0.output != nil }.count
        var definiteDone = 0
        var linearized = Array(repeating: UInt64(0), count: (count + 63) / 64)
        var state: Int64? = nil
        var stack: [(op: Int, previousState: Int64?)] = []
        var cache = Set<CacheKey>()
        var entry = next[head]
        while true {
            if definiteDone == definiteCount { return true }
            guard entry >= 0 else { return false }
            let op = entry / 2
            if entry % 2 == 0 {
                if let newState = step(state, operations[op]) {
                    linearized[op / 64] |= 1 << UInt64(op % 64)
                    if cache.insert(CacheKey(linearized: linearized, state: newState)).inserted {
                        if cache.count > budget { return nil }
                        stack.append((op, state))
                        state = newState
                        lift(op)
                        if operations[op].output != nil { definiteDone += 1 }
                        entry = next[head]
                        continue
                    }
                    linearized[op / 64] &= ~(1 << UInt64(op % 64))
                }
                entry = next[entry]
            } else {
                guard let top = stack.popLast() else { return false }
                state = top.previousState
                linearized[top.op / 64] &= ~(1 << UInt64(top.op % 64))
                unlift(top.op)
                if operations[top.op].output != nil { definiteDone -= 1 }
                entry = next[2 * top.op]
            }
        }
    }
}
