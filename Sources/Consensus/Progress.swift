// What a leader knows about each member's log: how far it matches, what to send next, and
// how replication to it proceeds (probing, pipelining, or streaming a snapshot).
//
// Invariants: match < next; in probe state at most one AppendEntries is outstanding; in
// replicate state the in-flight window bounds what is outstanding; in snapshot state no
// entries are sent until the snapshot is acknowledged.

import Core

enum ReplicationState: Sendable, Equatable, CustomStringConvertible {
    /// The leader does not know where the follower's log matches; one message at a time.
    case probe
    /// The follower matches; entries are pipelined within the in-flight window.
    case replicate
    /// The follower needs the snapshot at `index`; `offset` bytes are acknowledged.
    case snapshot(index: LogIndex, offset: Int)

    var description: String {
        switch self {
        case .probe: return "probe"
        case .replicate: return "replicate"
        case let .snapshot(index, offset): return "snapshot(\(index.rawValue)@\(offset))"
        }
    }
}

struct Progress: Sendable, Equatable {
    var match: LogIndex = .zero
    var next: LogIndex
    var state: ReplicationState = .probe
    /// In probe state: a message was sent and no answer has come back yet.
    var probeSent = false
    var inflights: Inflights
    /// Heard from within the current check-quorum period.
    var recentActive = false
    /// Highest read-confirmation sequence the member has echoed.
    var readSequenceAcknowledged: UInt64 = 0

    init(next: LogIndex, inflights: Inflights) {
        self.next = next
        self.inflights = inflights
    }

    /// True if nothing more may be sent right now.
    var isPaused: Bool {
        switch state {
        case .probe: return probeSent
        case .replicate: return inflights.isFull
        case .snapshot: return true
        }
    }

    mutating func becomeProbe() {
        if case let .snapshot(index, _) = state {
            next = max(match.next, index.next)
        } else {
            next = match.next
        }
        state = .probe
        probeSent = false
        inflights.reset()
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match.next
        probeSent = false
        inflights.reset()
    }

    /// Records a successful acknowledgement up to `index`; false if it was stale.
    mutating func maybeUpdate(_ index: LogIndex) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index.next)
        return updated
    }

    /// True when a rejection shows that the member lost the entries it acknowledged: it
    /// rejected an AppendEntries at or past its match, and its log is empty (`memberHint`,
    /// the last index it could offer, is zero; a member that kept its log never offers less
    /// than its match). Trestle causes this when a node drops its replica of a shard and a
    /// leader adds the node back moments later: the new replica starts empty under the same
    /// node ID. Progress otherwise assumes acknowledged entries stay, and would probe at
    /// match + 1 forever without ever sending the snapshot the member needs. Only an empty
    /// log counts, so that a duplicated or late rejection from a member that still holds
    /// its log (its hint is then at least as high as what it held) does not reset it.
    func lostAcknowledgedEntries(rejected: LogIndex, memberHint: LogIndex) -> Bool {
        if case .snapshot = state { return false }
        return match > .zero && rejected >= match && memberHint == .zero
    }

    /// Starts over with a member that lost its log: nothing counts as matched, and probing
    /// resumes at `next` (at least 1), which sends a snapshot when the log no longer holds
    /// the entries before it. Lowering a match never lowers the commit index; the member
    /// just stops counting toward quorums until it acknowledges again.
    mutating func forgetAcknowledgements(probingAt next: LogIndex) {
        match = .zero
        state = .probe
        probeSent = false
        inflights.reset()
        self.next = max(next, LogIndex(1))
    }

    /// Handles a rejection of the AppendEntries whose prevIndex was `rejected`; `hint` is
    /// where the leader should try next. False if the rejection is stale.
    mutating func maybeDecrease(rejected: LogIndex, hint: LogIndex) -> Bool {
        if state == .replicate {
            guard rejected > match else { return false }
            next = match.next
            return true
        }
        guard next.previous == rejected else { return false }
        let lowered = max(min(rejected, hint.next), match.next)
        // No lower index to try: resending at once would repeat the same rejection forever.
        // The probe stays sent; the next heartbeat response allows one more.
        guard lowered < next else { return false }
        next = lowered
        probeSent = false
        return true
    }
}

/// Progress of every member, kept as arrays sorted by node ID for deterministic iteration.
struct ProgressTracker: Sendable {
    private(set) var ids: [NodeID] = []
    private var progresses: [Progress] = []

    init(members: [NodeID], next: LogIndex, config: RaftConfig) {
        for id in members.sorted() {
            ids.append(id)
            progresses.append(Self.fresh(next: next, config: config))
        }
    }

    static func fresh(next: LogIndex, config: RaftConfig) -> Progress {
        Progress(next: next, inflights: Inflights(messagesMax: config.inflightMessagesMax, bytesMax: config.inflightBytesMax))
    }

    subscript(id: NodeID) -> Progress? {
        get { ids.firstIndex(of: id).map { progresses[$0] } }
        set {
            guard let position = ids.firstIndex(of: id), let newValue else { return }
            progresses[position] = newValue
        }
    }

    func contains(_ id: NodeID) -> Bool { ids.contains(id) }

    /// The match index of `id` (zero if unknown), without copying its progress.
    func match(of id: NodeID) -> LogIndex {
        guard let position = ids.firstIndex(of: id) else { return .zero }
        return progresses[position].match
    }

    func readSequenceAcknowledged(by id: NodeID) -> UInt64 {
        guard let position = ids.firstIndex(of: id) else { return 0 }
        return progresses[position].readSequenceAcknowledged
    }

    /// Adds members that are new and drops those that left, keeping the rest.
    mutating func reconcile(members: [NodeID], next: LogIndex, config: RaftConfig) {
        var newIds: [NodeID] = []
        var newProgresses: [Progress] = []
        for id in members.sorted() {
            newIds.append(id)
            if let position = ids.firstIndex(of: id) {
                newProgresses.append(progresses[position])
            } else {
                newProgresses.append(Self.fresh(next: next, config: config))
            }
        }
        ids = newIds
        progresses = newProgresses
    }

    /// Mutates the progress of `id` in place (no copy of its in-flight window).
    @discardableResult
    mutating func update<T>(_ id: NodeID, _ body: (inout Progress) -> T) -> T? {
        guard let position = ids.firstIndex(of: id) else { return nil }
        return body(&progresses[position])
    }

    /// Where to send from next, or nil if `id` is unknown or paused.
    func nextIfSendable(_ id: NodeID) -> LogIndex? {
        guard let position = ids.firstIndex(of: id), !progresses[position].isPaused else { return nil }
        return progresses[position].next
    }
}
