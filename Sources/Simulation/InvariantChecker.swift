// Raft's safety properties, checked while the run goes:
//  - election safety: at most one leader per term;
//  - state machine safety: no two nodes apply different entries at one index;
//  - leader completeness / durability: a new leader holds every entry applied anywhere,
//    so committed entries never disappear;
//  - log matching: two logs with the same term at an index are identical up to it;
//  - no node ever had to refuse truncating a committed entry.
// Violations are collected as sentences; the first one ends the run.

import Consensus
import Core

struct InvariantChecker {
    private var leaderByTerm: [Term: NodeID] = [:]
    /// Terms and payload hashes of applied entries, by index - 1.
    private var appliedTerms: [Term] = []
    private var appliedHashes: [UInt64] = []
    private var appliedKnown: [Bool] = []
    /// For each applied index, a term at least that of the leader that committed it.
    private var commitTermBounds: [Term] = []
    private(set) var violations: [String] = []

    mutating func fail(_ message: String) { violations.append(message) }

    mutating func observeLeader(_ node: NodeID, term: Term) {
        if let existing = leaderByTerm[term], existing != node {
            fail("election safety: \(existing) and \(node) both leaders in \(term)")
        }
        leaderByTerm[term] = node
    }

    static func hash(_ payload: EntryPayload) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        switch payload {
        case .empty: mix(1)
        case .command(let bytes): mix(2); for byte in bytes { mix(byte) }
        case let .configChange(change, _):
            mix(3); mix(UInt8(truncatingIfNeeded: change.node.rawValue))
            for byte in change.kind.rawValue.utf8 { mix(byte) }
        }
        return hash
    }

    mutating func observeApplied(_ node: NodeID, _ entry: Entry, termBound: Term) {
        let position = Int(entry.index.rawValue) - 1
        while appliedTerms.count <= position {
            appliedTerms.append(.zero)
            appliedHashes.append(0)
            appliedKnown.append(false)
            commitTermBounds.append(.zero)
        }
        let hash = Self.hash(entry.payload)
        if appliedKnown[position] {
            if appliedTerms[position] != entry.term || appliedHashes[position] != hash {
                fail("state machine safety: \(node) applied \(entry.term) at \(entry.index), others applied \(appliedTerms[position])")
            }
        } else {
            appliedKnown[position] = true
            commitTermBounds[position] = termBound
            appliedTerms[position] = entry.term
            appliedHashes[position] = hash
        }
    }

    /// Every entry committed in an earlier term must be in a new leader's log (or its
    /// snapshot). An entry counts if it was applied while no node had reached the leader's
    /// term yet, so it was certainly committed before that term.
    mutating func checkLeaderCompleteness(_ raft: RaftNode) {
        var appliedCount = 0
        for position in appliedTerms.indices where appliedKnown[position] && commitTermBounds[position] < raft.term {
            appliedCount = position + 1
        }
        guard appliedCount > 0 else { return }
        if raft.lastIndex.rawValue < UInt64(appliedCount) {
            fail("leader completeness: leader \(raft.id) in \(raft.term) ends at \(raft.lastIndex), but index \(appliedCount) was applied")
            return
        }
        var index = raft.snapshotIndex.next
        while index.rawValue <= UInt64(appliedCount) {
            let position = Int(index.rawValue) - 1
            if appliedKnown[position], commitTermBounds[position] < raft.term, let entry = raft.entry(at: index),
               entry.term != appliedTerms[position] || Self.hash(entry.payload) != appliedHashes[position] {
                fail("leader completeness: leader \(raft.id) in \(raft.term) has \(entry.term) at \(index), applied was \(appliedTerms[position])")
                return
            }
            index = index.next
        }
    }

    /// Log matching between two live nodes.
    mutating func checkLogMatching(_ a: RaftNode, _ b: RaftNode) {
        let low = max(a.snapshotIndex, b.snapshotIndex)
        var index = min(a.lastIndex, b.lastIndex)
        var matched = false
        while index > low {
            guard let left = a.entry(at: index), let right = b.entry(at: index) else { return }
            if left.term == right.term {
                matched = true
                if left != right {
                    fail("log matching: \(a.id) and \(b.id) differ at \(index) in the same term")
                    return
                }
            } else if matched {
                fail("log matching: \(a.id) and \(b.id) agree at a later index but differ at \(index)")
                return
            }
            index = index.previous
        }
    }

    mutating func checkAnomalies(_ raft: RaftNode) {
        if raft.anomalies > 0 {
            fail("committed entry at risk: \(raft.id) was asked to truncate committed entries")
        }
    }
}
