// The batch of work a node hands its host. The host performs it in the order the field
// comments state, then calls `advance` with the same value.
//
// Host contract, in order:
//   1. Write `snapshot` (if any), then `entries` (replacing any stored entries at or after
//      the first index), then `hardState`. If `mustSync`, fsync before step 2.
//   2. Send `messages`. They may only leave after step 1, because they acknowledge or
//      promise what step 1 stored (votes, appended entries).
//   3. Install `snapshot` into the state machine, then apply `committedEntries` in order.
//   4. Serve `readStates` once the state machine has applied each one's index.
//   5. Call `advance(ready)`; only then call `ready()` again.

import Core

public struct Ready: Sendable {
    /// The term, vote and commit to persist; nil if unchanged since the last Ready.
    public var hardState: HardState?
    /// Entries to append durably. Stored entries at or after `entries[0].index` are stale
    /// and must be dropped first.
    public var entries: [Entry]
    /// A snapshot received from the leader: persist it, drop the stored log it covers, and
    /// install it into the state machine before applying `committedEntries`.
    public var snapshot: Snapshot?
    /// Entries known committed, to apply in order after step 1.
    public var committedEntries: [Entry]
    /// Messages to send after step 1.
    public var messages: [Message]
    /// Confirmed ReadIndex requests.
    public var readStates: [ReadState]
    /// True if step 1 must reach stable storage (fsync) before messages leave.
    public var mustSync: Bool

    public var isEmpty: Bool {
        hardState == nil && entries.isEmpty && snapshot == nil && committedEntries.isEmpty
            && messages.isEmpty && readStates.isEmpty
    }
}

/// What a restarting node recovers from its disk.
public struct RecoveredState: Sendable {
    public var hardState: HardState
    public var snapshot: Snapshot?
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: Snapshot? = nil, entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }
}
