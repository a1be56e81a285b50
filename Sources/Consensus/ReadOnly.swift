// Linearizable reads that do not write the log.
//
// ReadIndex: the leader notes its commit index, then confirms it is still leader by a
// round of heartbeats carrying a sequence number; once a quorum has echoed a sequence at
// least that high, the read may be served when the state machine has applied the index.
//
// Lease: every confirmed heartbeat round also starts a lease at the tick it was sent. Until
// `leaseTicks` later (shortened by the clock-drift bound) no other leader can be elected,
// because followers ignore vote requests while they hear from a leader.
//
// Invariants: pending reads are bounded by pendingReadsMax and kept in sequence order;
// the lease start only moves forward.

import Core

/// A read the host may serve once its state machine has applied `index`.
public struct ReadState: Sendable, Equatable {
    public var index: LogIndex
    /// The caller's request identifier, returned unchanged.
    public var context: UInt64

    public init(index: LogIndex, context: UInt64) {
        self.index = index
        self.context = context
    }
}

struct ReadOnlyState: Sendable {
    struct PendingRead: Sendable {
        var state: ReadState
        var sequence: UInt64
    }

    /// Sequence of the latest heartbeat round.
    private(set) var sequence: UInt64 = 0
    private(set) var pending: [PendingRead] = []
    /// (sequence, tick sent) of recent heartbeat rounds, oldest first.
    private var roundsSent: [(sequence: UInt64, tick: UInt64)] = []
    private static let roundsRemembered = 64
    /// Tick at which the latest quorum-confirmed round was sent.
    private(set) var leaseStart: UInt64?
    /// Set once this leader started a leadership transfer: its TimeoutNow may arrive at
    /// any later time, even after the transfer was abandoned, and voters honour the
    /// resulting election despite any lease. So no lease for the rest of this term.
    private(set) var leaseDisabled = false

    mutating func disableLease() {
        leaseStart = nil
        leaseDisabled = true
    }

    /// Starts a new heartbeat round at `tick`; returns its sequence.
    mutating func nextRound(tick: UInt64) -> UInt64 {
        sequence += 1
        roundsSent.append((sequence, tick))
        if roundsSent.count > Self.roundsRemembered { roundsSent.removeFirst(roundsSent.count - Self.roundsRemembered) }
        return sequence
    }

    mutating func add(_ read: ReadState, sequence: UInt64) {
        pending.append(PendingRead(state: read, sequence: sequence))
    }

    /// A quorum has echoed `confirmed`: releases reads waiting for it and extends the lease.
    mutating func confirm(_ confirmed: UInt64) -> [ReadState] {
        if !leaseDisabled, let round = roundsSent.last(where: { $0.sequence <= confirmed }) {
            leaseStart = max(leaseStart ?? 0, round.tick)
        }
        var released: [ReadState] = []
        while let first = pending.first, first.sequence <= confirmed {
            released.append(first.state)
            pending.removeFirst()
        }
        return released
    }

    func leaseValid(now: UInt64, leaseTicks: UInt64) -> Bool {
        guard leaseTicks > 0, !leaseDisabled, let start = leaseStart else { return false }
        return now < start + leaseTicks
    }
}
