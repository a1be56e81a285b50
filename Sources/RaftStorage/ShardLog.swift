// What the store remembers about one live shard between calls: its hard state, its
// snapshot point and the terms of the entries it has stored after the snapshot. The terms
// let `saveSnapshot` decide, as Raft does, whether a snapshot extends the stored log (the
// log holds the snapshot's index with the snapshot's term) or replaces it.
//
// Invariants: `terms[i]` is the term of the entry at `firstIndex + i`; stored entries are
// contiguous; `firstIndex > snapshotIndex` once a snapshot was taken.

import Consensus
import Core

struct ShardLog {
    var hardState = HardState()
    var snapshotIndex = LogIndex.zero
    var snapshotTerm = Term.zero
    private(set) var firstIndex = LogIndex(1)
    private(set) var terms: [Term] = []

    var lastIndex: LogIndex { LogIndex(firstIndex.rawValue + UInt64(terms.count) - 1) }

    func term(at index: LogIndex) -> Term? {
        guard index >= firstIndex, index <= lastIndex, !terms.isEmpty else { return nil }
        return terms[Int(index.rawValue - firstIndex.rawValue)]
    }

    /// Records entries appended at `first`: stored entries at or after it are replaced; an
    /// append that leaves a gap starts a new run (the old one is stale).
    mutating func append(first: LogIndex, terms newTerms: some Sequence<Term>) {
        if terms.isEmpty || first < firstIndex || first > lastIndex.next {
            terms.removeAll(keepingCapacity: true)
            firstIndex = first
        } else {
            terms.removeSubrange(Int(first.rawValue - firstIndex.rawValue)...)
        }
        terms.append(contentsOf: newTerms)
    }

    /// Moves the snapshot point to (`index`, `term`). Returns true if the stored log did not
    /// hold `index` with `term`, in which case every stored entry was dropped as stale.
    mutating func takeSnapshot(index: LogIndex, term: Term) -> Bool {
        let discards = self.term(at: index) != term
        if discards {
            terms.removeAll()
        } else {
            terms.removeFirst(Int(index.rawValue - firstIndex.rawValue) + 1)
        }
        firstIndex = index.next
        snapshotIndex = index
        snapshotTerm = term
        return discards
    }

    var baseline: (HardState, LogIndex, Term) { (hardState, snapshotIndex, snapshotTerm) }

    /// Rebuilds the view from recovered entries (contiguous, after the snapshot).
    init(hardState: HardState, snapshotIndex: LogIndex, snapshotTerm: Term, entries: [Entry]) {
        self.hardState = hardState
        self.snapshotIndex = snapshotIndex
        self.snapshotTerm = snapshotTerm
        firstIndex = entries.first?.index ?? snapshotIndex.next
        terms = entries.map(\.term)
    }

    init() {}
}
