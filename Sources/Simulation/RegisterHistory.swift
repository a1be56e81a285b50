// A history recorded by real clients against real processes: string registers (SET and GET
// on string keys with string values), each operation with its client, monotonic invocation
// and completion times in nanoseconds, and an outcome in Jepsen's terms (ok, fail, info).
//
// This file holds the data model only; `RegisterHistoryChecker` maps it onto the
// simulator's integer model and runs the same Wing–Gong search (`LinearizabilityChecker`).
//
// Invariants: a `set` always carries a value; an `ok` operation completes no earlier than it
// was invoked (the reader enforces both for input from files).

/// What the client asked for.
public enum RegisterOperationKind: String, Sendable, Equatable, CaseIterable {
    case set
    case get
}

/// How the operation ended, as far as the client can tell.
public enum RegisterOutcome: String, Sendable, Equatable, CaseIterable {
    /// Completed with a result (for `get`: the value read, or null).
    case ok
    /// Definitely not applied: an error reply that means the command was not executed.
    case fail
    /// Unknown: timeout, lost connection or an ambiguous error; it may or may not have
    /// taken effect, at any time after its invocation.
    case info
}

/// One operation of a recorded register history.
public struct RegisterOperation: Sendable, Equatable, CustomStringConvertible {
    public var client: Int
    public var key: String
    public var kind: RegisterOperationKind
    /// For `set`: the value written. For an `ok` `get`: the value read, nil for a null reply.
    public var value: String?
    /// Monotonic nanoseconds when the client sent the request.
    public var start: Int64
    /// Monotonic nanoseconds when the client saw the reply (meaningless for `info`).
    public var end: Int64
    public var outcome: RegisterOutcome

    public init(client: Int, key: String, kind: RegisterOperationKind, value: String?,
                start: Int64, end: Int64, outcome: RegisterOutcome) {
        self.client = client
        self.key = key
        self.kind = kind
        self.value = value
        self.start = start
        self.end = end
        self.outcome = outcome
    }

    /// One readable line, e.g. `client 3 set k17 "v-3-88" ok [123, 456]`.
    public var description: String {
        let shown = value.map { "\"\($0)\"" } ?? "null"
        let end = outcome == .info ? "?" : "\(self.end)"
        switch kind {
        case .set: return "client \(client) set \(key) \(shown) \(outcome.rawValue) [\(start), \(end)]"
        case .get:
            let result = outcome == .ok ? "-> \(shown)" : "-> (\(outcome.rawValue))"
            return "client \(client) get \(key) \(result) [\(start), \(end)]"
        }
    }
}
