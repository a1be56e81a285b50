// Checks a recorded string-register history (`RegisterOperation`) for linearizability with
// the simulator's checker (`LinearizabilityChecker.checkKey`, Wing–Gong with memoisation),
// one key at a time (linearizability is compositional).
//
// Mapping onto the integer model, per key:
// - every distinct value string (written or read) is interned to a positive Int64; a read of
//   a string no operation wrote gets an id no write produces, so the search rejects it;
// - `ok` set -> SET with output OK; `info` set -> SET with no output (may take effect at any
//   time after its invocation, or never); `fail` set -> dropped (it was not applied);
// - `ok` get -> GET with output value(id) or value(nil) for null; `info`/`fail` get -> dropped
//   (a read with no result constrains nothing).
//
// Invariants: `.illegal` is returned only when the search proves no linearization exists for
// that key; a key whose search runs out of budget makes the answer `.unknown` unless another
// key is illegal. The counterexample is a subset of the key's operations that is itself not
// linearizable, shrunk only by removals that cannot hide the violation (see
// `CounterexampleShrinker`).

/// The verdict on a whole history.
public enum RegisterCheckVerdict: Sendable, Equatable {
    case linearizable
    /// `key` has no linearization; `counterexample` is a small non-linearizable subset of its
    /// operations (sorted by start), `operations` all of its checked operations.
    case illegal(key: String, counterexample: [RegisterOperation], operations: [RegisterOperation])
    /// The search exceeded its budget on these keys (and no key was found illegal).
    case unknown(keys: [String])
}

/// The verdict with the numbers worth printing.
public struct RegisterCheckReport: Sendable, Equatable {
    public var verdict: RegisterCheckVerdict
    /// Operations in the input.
    public var operationCount: Int
    /// Operations given to the search (after dropping `fail` ops and `info`/`fail` reads).
    public var checkedOperationCount: Int
    /// Distinct keys in the input.
    public var keyCount: Int
}

public enum RegisterHistoryChecker {
    /// Checks `history`. `exploredStatesMax` bounds the search per key.
    public static func check(_ history: [RegisterOperation],
                             exploredStatesMax: Int = LinearizabilityChecker.exploredStatesMax) -> RegisterCheckReport {
        var keyOrder: [String] = []
        var operationsByKey: [String: [RegisterOperation]] = [:]
        for operation in history {
            if operationsByKey[operation.key] == nil { keyOrder.append(operation.key) }
            operationsByKey[operation.key, default: []].append(operation)
        }
        var checkedCount = 0
        var unknownKeys: [String] = []
        var firstIllegal: RegisterCheckVerdict?
        for key in keyOrder {
            let kept = (operationsByKey[key] ?? []).filter(isChecked).sorted { ($0.start, $0.end) < ($1.start, $1.end) }
            checkedCount += kept.count
            guard firstIllegal == nil else { continue }
            let mapped = RegisterModelMapping(kept).operations
            switch LinearizabilityChecker.checkKey(mapped, exploredStatesMax: exploredStatesMax) {
            case .some(true):
                continue
            case .some(false):
                let indices = CounterexampleShrinker.shrink(mapped)
                firstIllegal = .illegal(key: key, counterexample: indices.map { kept[$0] }, operations: kept)
            case .none:
                unknownKeys.append(key)
            }
        }
        let verdict = firstIllegal ?? (unknownKeys.isEmpty ? .linearizable : .unknown(keys: unknownKeys))
        return RegisterCheckReport(verdict: verdict, operationCount: history.count,
                                   checkedOperationCount: checkedCount, keyCount: keyOrder.count)
    }

    /// Whether an operation constrains the search at all.
    static func isChecked(_ operation: RegisterOperation) -> Bool {
        switch (operation.kind, operation.outcome) {
        case (_, .fail): return false
        case (.get, .info): return false
        case (.set, .ok), (.set, .info), (.get, .ok): return true
        }
    }
}

/// The operations of one key in the checker's integer model, index for index.
struct RegisterModelMapping {
    private(set) var operations: [HistoryOperation] = []
    private var ids: [String: Int64] = [:]

    /// `kept` must hold only checked operations (see `RegisterHistoryChecker.isChecked`).
    init(_ kept: [RegisterOperation]) {
        operations.reserveCapacity(kept.count)
        for operation in kept {
            let command: KVCommand
            let output: KVOutput?
            switch operation.kind {
            case .set:
                command = .set(key: 0, value: intern(operation.value ?? ""))
                output = operation.outcome == .ok ? .ok : nil
            case .get:
                command = .get(key: 0)
                output = .value(operation.value.map { intern($0) })
            }
            operations.append(HistoryOperation(client: operation.client, command: command, output: output,
                                               invocation: operation.start, completion: operation.end))
        }
    }

    private mutating func intern(_ value: String) -> Int64 {
        if let id = ids[value] { return id }
        let id = Int64(ids.count + 1)
        ids[value] = id
        return id
    }
}
