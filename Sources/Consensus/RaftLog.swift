// The in-memory view of one node's log: a snapshot point, the entries after it, and three
// cursors — stable (durable on the host's disk), committed and applied.
//
// Invariants: entries[i].index == snapshotIndex + 1 + i; applied <= committed;
// snapshotIndex <= applied after restore; committed entries are never truncated (an
// attempt is refused and counted as an anomaly, which the simulator reports).

import Core

@usableFromInline struct RaftLog: Sendable {
    private(set) var snapshotIndex: LogIndex
    private(set) var snapshotTerm: Term
    private(set) var snapshotMembership: Membership
    private(set) var entries: [Entry]
    @usableFromInline private(set) var committed: LogIndex
    @usableFromInline var applied: LogIndex
    /// Last index the host has made durable.
    private(set) var stable: LogIndex
    /// The membership named by the latest configuration entry, or the snapshot's (cached).
    private(set) var membership: Membership
    /// Index of the entry that set `membership`, or at most `snapshotIndex` when it came
    /// from the snapshot; lets appends avoid rescanning the log.
    private(set) var membershipIndex: LogIndex = .zero

    init(snapshot: SnapshotMetadata?, entries: [Entry], committed: LogIndex, initialMembership: Membership) {
        snapshotIndex = snapshot?.index ?? .zero
        snapshotTerm = snapshot?.term ?? .zero
        snapshotMembership = snapshot?.membership ?? initialMembership
        self.entries = entries.filter { $0.index > (snapshot?.index ?? .zero) }
        let last = snapshotIndex.advanced(by: UInt64(self.entries.count))
        self.committed = min(max(committed, snapshotIndex), last)
        applied = snapshotIndex
        stable = last
        membership = snapshotMembership
        refreshMembership()
    }

    private mutating func refreshMembership() {
        membership = snapshotMembership
        membershipIndex = snapshotIndex
        for entry in entries.reversed() {
            if case let .configChange(_, latest) = entry.payload {
                membership = latest
                membershipIndex = entry.index
                return
            }
        }
    }

    var firstIndex: LogIndex { snapshotIndex.next }
    var lastIndex: LogIndex { snapshotIndex.advanced(by: UInt64(entries.count)) }
    var lastTerm: Term { entries.last?.term ?? snapshotTerm }

    private func offset(_ index: LogIndex) -> Int? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return Int(index.rawValue - snapshotIndex.rawValue - 1)
    }

    func term(at index: LogIndex) -> Term? {
        if index == snapshotIndex { return snapshotTerm }
        return offset(index).map { entries[$0].term }
    }

    func entry(at index: LogIndex) -> Entry? { offset(index).map { entries[$0] } }

    func matches(index: LogIndex, term: Term) -> Bool { self.term(at: index) == term }

    /// True if a candidate whose log ends at (lastIndex, lastTerm) is at least as up to date.
    func isUpToDate(lastIndex candidateIndex: LogIndex, lastTerm candidateTerm: Term) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    /// Entries from `index` on, at least one if any exist, within the count and byte limits.
    func slice(from index: LogIndex, countMax: Int, bytesMax: Int) -> [Entry] {
        guard let start = offset(index) else { return [] }
        var result: [Entry] = []
        var bytes = 0
        var position = start
        while position < entries.count, result.count < countMax {
            let size = entries[position].sizeBytes
            if !result.isEmpty, bytes + size > bytesMax { break }
            result.append(entries[position])
            bytes += size
            position += 1
        }
        return result
    }

    /// The membership in force at `index` (at or after the snapshot).
    func membership(at index: LogIndex) -> Membership {
        guard let end = offset(index) else { return index <= snapshotIndex ? snapshotMembership : membership }
        for position in stride(from: end, through: 0, by: -1) {
            if case let .configChange(_, membership) = entries[position].payload { return membership }
        }
        return snapshotMembership
    }

    /// The index of the latest configuration entry after `index`, if any.
    func lastConfigIndex(after index: LogIndex) -> LogIndex? {
        for entry in entries.reversed() where entry.index > index {
            if case .configChange = entry.payload { return entry.index }
        }
        return nil
    }

    /// Leader path: appends entries that continue the log.
    mutating func append(_ newEntries: [Entry]) {
        for entry in newEntries {
            assert(entry.index == lastIndex.next, "leader append must be contiguous")
            entries.append(entry)
            if case let .configChange(_, latest) = entry.payload {
                membership = latest
                membershipIndex = entry.index
            }
        }
    }

    /// Follower path. Returns the last index the leader's message vouches for, or nil if
    /// the log does not contain (prevIndex, prevTerm). Sets `anomaly` if the message would
    /// have truncated committed entries (it is then refused).
    mutating func tryAppend(prevIndex: LogIndex, prevTerm: Term, entries newEntries: [Entry], anomaly: inout Bool) -> LogIndex? {
        if prevIndex < snapshotIndex {
            // The prefix is covered by our snapshot; skip entries we already compacted.
            let remaining = newEntries.filter { $0.index > snapshotIndex }
            guard let first = remaining.first else { return prevIndex.advanced(by: UInt64(newEntries.count)) }
            return tryAppend(prevIndex: first.index.previous, prevTerm: term(at: first.index.previous) ?? .zero,
                             entries: remaining, anomaly: &anomaly)
        }
        guard matches(index: prevIndex, term: prevTerm) else { return nil }
        let lastNew = prevIndex.advanced(by: UInt64(newEntries.count))
        guard let conflict = newEntries.first(where: { !matches(index: $0.index, term: $0.term) }) else {
            return lastNew
        }
        if conflict.index <= committed {
            anomaly = true
            return nil
        }
        // Only a truncation that removes the entry the membership came from needs a rescan;
        // otherwise the newest configuration among the new entries (if any) takes over.
        let rescan = membershipIndex >= conflict.index
        truncate(after: conflict.index.previous)
        for entry in newEntries where entry.index >= conflict.index {
            entries.append(entry)
            if !rescan, case let .configChange(_, latest) = entry.payload {
                membership = latest
                membershipIndex = entry.index
            }
        }
        if rescan { refreshMembership() }
        return lastNew
    }

    private mutating func truncate(after index: LogIndex) {
        guard let keep = offset(index.next) else { return }
        entries.removeSubrange(keep...)
        stable = min(stable, index)
    }

    mutating func commit(to index: LogIndex) {
        let target = min(index, lastIndex)
        if target > committed { committed = target }
    }

    /// Marks entries durable through `index` if the log still holds (index, term).
    mutating func stableTo(index: LogIndex, term: Term) {
        if matches(index: index, term: term), index > stable { stable = index }
    }

    var unstableEntries: [Entry] {
        guard let start = offset(stable.next) else { return [] }
        return Array(entries[start...])
    }

    func committedToApply(countMax: Int) -> [Entry] {
        guard committed > applied, let start = offset(applied.next) else { return [] }
        let end = min(start + countMax, offset(committed).map { $0 + 1 } ?? start)
        return Array(entries[start..<end])
    }

    /// Replaces everything with a snapshot received from the leader.
    mutating func restore(_ metadata: SnapshotMetadata) {
        snapshotIndex = metadata.index
        snapshotTerm = metadata.term
        snapshotMembership = metadata.membership
        entries.removeAll()
        committed = metadata.index
        applied = metadata.index
        stable = metadata.index
        membership = metadata.membership
        membershipIndex = metadata.index
    }

    /// Drops entries through `index`, which must be applied; returns the snapshot metadata.
    mutating func compact(through index: LogIndex) -> SnapshotMetadata? {
        guard index > snapshotIndex, index <= applied, let term = term(at: index) else { return nil }
        let membershipThere = membership(at: index)
        if let end = offset(index) { entries.removeSubrange(0...end) }
        snapshotIndex = index
        snapshotTerm = term
        snapshotMembership = membershipThere
        return SnapshotMetadata(index: index, term: term, membership: membershipThere)
    }

    /// The largest index at or below `index` whose term is at most `term`, and that term.
    func lastIndexWithTermAtMost(_ term: Term, atOrBelow index: LogIndex) -> (LogIndex, Term) {
        var candidate = min(index, lastIndex)
        while candidate > snapshotIndex {
            if let found = self.term(at: candidate), found <= term { return (candidate, found) }
            candidate = candidate.previous
        }
        return (snapshotIndex, snapshotTerm)
    }

    /// True if the log holds an entry of `term` at or below the commit index.
    func hasCommittedEntry(ofTerm term: Term) -> Bool {
        self.term(at: committed) == term
    }
}
