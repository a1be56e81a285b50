// Unit tests for the pieces the Raft node is built from: quorum arithmetic, the in-flight
// window, the log's conflict handling and hints, configuration validation, the lease bound.

import Core
import Testing
@testable import Consensus

@Suite struct QuorumTests {
    let voters = [NodeID(1), NodeID(2), NodeID(3), NodeID(4), NodeID(5)]

    @Test func committedIndexIsTheMajorityMatch() {
        let quorum = MajorityQuorum(voters: voters)
        let match: [UInt64] = [9, 3, 7, 5, 1]
        #expect(quorum.committedIndex { LogIndex(match[Int($0.rawValue) - 1]) } == LogIndex(5))
    }

    @Test func votesWinLoseOrWait() {
        let quorum = MajorityQuorum(voters: voters)
        #expect(quorum.voteResult([(NodeID(1), true), (NodeID(2), true)]) == .pending)
        #expect(quorum.voteResult([(NodeID(1), true), (NodeID(2), true), (NodeID(9), true), (NodeID(3), true)]) == .won)
        #expect(quorum.voteResult([(NodeID(1), false), (NodeID(2), false), (NodeID(3), false)]) == .lost)
    }
}

@Suite struct InflightsTests {
    @Test func windowIsBoundedByMessagesAndBytes() {
        var window = Inflights(messagesMax: 3, bytesMax: 100)
        window.add(lastIndex: LogIndex(1), bytes: 10)
        window.add(lastIndex: LogIndex(2), bytes: 10)
        #expect(!window.isFull)
        window.add(lastIndex: LogIndex(3), bytes: 10)
        #expect(window.isFull)
        window.free(through: LogIndex(2))
        #expect(window.count == 1 && !window.isFull)
        window.add(lastIndex: LogIndex(4), bytes: 95)
        #expect(window.isFull, "bytes bound")
        window.freeFirst()
        #expect(window.count == 1 && window.bytes == 95)
    }
}

@Suite struct RaftLogTests {
    func entries(_ terms: [UInt64], from first: UInt64 = 1) -> [Entry] {
        terms.enumerated().map { Entry(term: Term($0.element), index: LogIndex(first + UInt64($0.offset)), payload: .empty) }
    }

    func log(_ terms: [UInt64]) -> RaftLog {
        RaftLog(snapshot: nil, entries: entries(terms), committed: .zero, initialMembership: Membership(voters: [NodeID(1)]))
    }

    @Test func conflictingSuffixIsReplaced() {
        var log = log([1, 1, 2, 2])
        var anomaly = false
        let last = log.tryAppend(prevIndex: LogIndex(2), prevTerm: Term(1), entries: entries([3, 3], from: 3), anomaly: &anomaly)
        #expect(last == LogIndex(4) && !anomaly)
        #expect(log.term(at: LogIndex(3)) == Term(3) && log.stable == LogIndex(2))
    }

    @Test func committedEntriesAreNeverTruncated() {
        var log = log([1, 1, 2])
        log.commit(to: LogIndex(3))
        var anomaly = false
        let last = log.tryAppend(prevIndex: LogIndex(1), prevTerm: Term(1), entries: entries([3], from: 2), anomaly: &anomaly)
        #expect(last == nil && anomaly)
        #expect(log.term(at: LogIndex(2)) == Term(1))
    }

    @Test func rejectionHintSkipsAWholeTerm() {
        let log = log([1, 1, 4, 4, 4, 4])
        let (index, term) = log.lastIndexWithTermAtMost(Term(2), atOrBelow: LogIndex(6))
        #expect(index == LogIndex(2) && term == Term(1))
    }

    @Test func compactionKeepsTheMembershipAtThatIndex() {
        var log = log([1, 1, 1])
        let change = Membership(voters: [NodeID(1)], learners: [NodeID(2)])
        log.append([Entry(term: Term(1), index: LogIndex(4), payload: .configChange(ConfigChange(.addLearner, NodeID(2)), change))])
        log.commit(to: LogIndex(4))
        log.applied = LogIndex(4)
        let metadata = log.compact(through: LogIndex(4))
        #expect(metadata?.membership == change && log.membership == change && log.firstIndex == LogIndex(5))
    }
}

@Suite struct ConfigTests {
    @Test func invalidConfigurationsAreRejected() {
        var config = RaftConfig(id: NodeID(1), initialMembership: Membership(voters: [NodeID(1)]))
        config.heartbeatTicks = 10
        #expect(throws: RaftError.self) { try config.validate() }
        config.heartbeatTicks = 1
        config.leaseClockDriftBound = 0.1
        config.checkQuorum = false
        #expect(throws: RaftError.self) { try config.validate() }
    }

    @Test func leaseIsShortenedByTheDriftBound() {
        var config = RaftConfig(id: NodeID(1), initialMembership: Membership(voters: [NodeID(1)]))
        config.leaseClockDriftBound = 0.3
        #expect(config.leaseTicks == 4) // floor(9 * 0.7 / 1.3)
        config.mutations.leaseIgnoresDriftBound = true
        #expect(config.leaseTicks == 10)
    }

    @Test func membershipChangesApplyOneServerAtATime() {
        let base = Membership(voters: [NodeID(1), NodeID(2), NodeID(3)])
        #expect(base.applying(ConfigChange(.promote, NodeID(4))) == nil)
        let withLearner = base.applying(ConfigChange(.addLearner, NodeID(4)))
        #expect(withLearner?.learners == [NodeID(4)])
        #expect(withLearner?.applying(ConfigChange(.promote, NodeID(4)))?.voters.count == 4)
    }
}

@Suite struct FlowControlTests {
    /// A follower that never answers costs the leader at most its in-flight window, however
    /// much is proposed.
    @Test func slowFollowerCostsABoundedWindow() throws {
        let ids = [NodeID(1), NodeID(2), NodeID(3)]
        var nodes: [RaftNode] = []
        for id in ids {
            var config = RaftConfig(id: id, initialMembership: Membership(voters: ids))
            config.inflightMessagesMax = 4
            config.entriesPerMessageMax = 2
            nodes.append(try RaftNode(config: config, random: SeededRandom(seed: id.rawValue)))
        }
        var inFlight: [Message] = []
        var sentToSlow = 0
        var unansweredToSlow = 0
        func pump() {
            var progressed = true
            while progressed {
                progressed = false
                for position in nodes.indices {
                    guard let ready = nodes[position].ready() else { continue }
                    progressed = true
                    inFlight.append(contentsOf: ready.messages)
                    nodes[position].advance(ready)
                }
                while !inFlight.isEmpty {
                    let message = inFlight.removeFirst()
                    if message.to == NodeID(3), case .appendEntries = message.body {
                        sentToSlow += 1
                        unansweredToSlow += 1
                        continue // node 3 is alive for elections but never answers appends
                    }
                    nodes[Int(message.to.rawValue) - 1].step(message)
                    progressed = true
                }
            }
        }
        nodes[0].startElection(transfer: false)
        pump()
        #expect(nodes[0].roleKind == .leader)
        for round in 0..<500 {
            _ = try? nodes[0].propose(Array("entry \(round)".utf8))
            pump()
        }
        #expect(nodes[0].commitIndex.rawValue > 400, "the healthy quorum keeps committing")
        #expect(unansweredToSlow <= 4, "appends to the silent follower stay within the window (sent \(sentToSlow))")
    }
}

@Suite struct BatchProposalTests {
    /// A single-voter group elects itself; a batch lands as consecutive entries and commits.
    @Test func batchIsConsecutiveAndAllOrNothing() throws {
        var config = RaftConfig(id: NodeID(1), initialMembership: Membership(voters: [NodeID(1)]))
        config.uncommittedEntriesMax = 8
        var node = try RaftNode(config: config, random: SeededRandom(seed: 7))
        for _ in 0..<(config.electionTicks * 2) { node.tick() }
        while let ready = node.ready() { node.advance(ready) }
        #expect(node.roleKind == .leader)
        let first = try node.propose(batch: [[1], [2], [3]])
        #expect(node.lastIndex == first.advanced(by: 2))
        #expect(node.entry(at: first.next)?.payload == .command([2]))
        // Uncommitted now: the three (their Ready is not yet processed) plus at most the no-op.
        #expect(throws: RaftError.proposalDropped) { try node.propose(batch: Array(repeating: [9], count: 8)) }
        var applied: [[UInt8]] = []
        while let ready = node.ready() {
            for entry in ready.committedEntries { if case .command(let bytes) = entry.payload { applied.append(bytes) } }
            node.advance(ready)
        }
        #expect(applied == [[1], [2], [3]])
    }
}

@Suite struct ReleasedEntriesTests {
    static func soleLeader() throws -> RaftNode {
        let config = RaftConfig(id: NodeID(1), initialMembership: Membership(voters: [NodeID(1)]))
        var node = try RaftNode(config: config, random: SeededRandom(seed: 3))
        for _ in 0..<(config.electionTicks * 2) { node.tick() }
        while let ready = node.ready() { node.advance(ready) }
        return node
    }

    /// A sole member lets its applied, durable entries go from memory; it still commits,
    /// serves leases, and a snapshot captured after the release is recorded without
    /// losing what it held.
    @Test func appliedEntriesLeaveMemoryAndSnapshotsStillRecord() throws {
        var node = try Self.soleLeader()
        #expect(node.roleKind == .leader)
        for value in 0..<10 { _ = try node.propose([UInt8(value)]) }
        let pending = node.ready()
        let ready = try #require(pending)
        // Not yet durable nor applied: nothing is released.
        node.releaseAppliedEntries()
        #expect(node.heldEntryCount >= 10)
        node.advance(ready)
        while let next = node.ready() { node.advance(next) }
        let applied = node.appliedIndex
        node.releaseAppliedEntries()
        #expect(node.heldEntryCount == 0)
        #expect(node.lastIndex == applied && node.term(at: applied) == node.term)
        #expect(node.newestSnapshotIndex == .zero, "a release is not a snapshot")
        // A snapshot of the applied state is still described and recorded.
        let metadata = try #require(node.snapshotMetadata(through: applied))
        #expect(metadata.index == applied && metadata.term == node.term)
        _ = try node.propose([42])
        while let next = node.ready() { node.advance(next) }
        #expect(node.commitIndex == applied.next, "it keeps committing after a release")
        try node.compact(metadata, data: [7])
        #expect(node.newestSnapshotIndex == applied && node.snapshot?.data == [7])
        #expect(node.heldEntryCount == 1, "the entry after the snapshot is still held")
        #expect(throws: RaftError.compactionOutOfRange) { try node.compact(metadata, data: [8]) }
        #expect(node.snapshotMetadata(through: applied) == nil, "not newer than the newest snapshot")
    }

    /// Without a release, compacting by metadata is what compacting by index was.
    @Test func compactingByMetadataDropsTheEntriesHeld() throws {
        var node = try Self.soleLeader()
        for value in 0..<5 { _ = try node.propose([UInt8(value)]) }
        while let next = node.ready() { node.advance(next) }
        let through = node.appliedIndex.previous
        let metadata = try #require(node.snapshotMetadata(through: through))
        try node.compact(metadata, data: [1])
        #expect(node.heldEntryCount == 1 && node.newestSnapshotIndex == through)
    }
}

@Suite struct ProgressTests {
    static func probing(match: UInt64, next: UInt64) -> Progress {
        var progress = Progress(next: LogIndex(next), inflights: Inflights(messagesMax: 8, bytesMax: 1 << 20))
        progress.match = LogIndex(match)
        progress.becomeProbe()
        progress.next = LogIndex(next)
        progress.probeSent = true
        return progress
    }

    /// An ordinary rejection walks the probe down to the follower's hint.
    @Test func rejectionLowersTheProbe() {
        var progress = Self.probing(match: 3, next: 10)
        let lowered = progress.maybeDecrease(rejected: LogIndex(9), hint: LogIndex(6))
        #expect(lowered)
        #expect(progress.next == LogIndex(7))
        #expect(!progress.probeSent)
        let stale = progress.maybeDecrease(rejected: LogIndex(4), hint: LogIndex(2))
        #expect(!stale, "stale: not the probe's index")
    }

    /// A rejection with no lower index to try does not trigger an immediate resend: the
    /// probe stays sent until a heartbeat response. Hint 0 is a follower that lost entries
    /// it had acknowledged and rejects at its old match: before, the leader set `next` to
    /// the same index and resent at once, forever (seed 265's reject storm).
    @Test(arguments: [UInt64(0), 5])
    func noLowerIndexMeansNoImmediateResend(hint: UInt64) {
        var progress = Self.probing(match: 5, next: 6)
        let resend = progress.maybeDecrease(rejected: LogIndex(5), hint: LogIndex(hint))
        #expect(!resend)
        #expect(progress.next == LogIndex(6))
        #expect(progress.probeSent)
    }
}
