// A dropped replica's tombstone: which leaders may create the replica again.
import Consensus
import Core
import Testing
@testable import NodeRuntime

@Suite struct TombstoneTests {
    static let me = NodeID(2)
    let tombstone = Tombstone(term: Term(5), commit: LogIndex(40), droppedAt: 1000)

    func hint(term: UInt64, leader: UInt64 = 1, learners: [NodeID] = [me], heardAt: Int64 = 1500) -> LeaderHint {
        LeaderHint(term: Term(term), leader: NodeID(leader), voters: [NodeID(1), NodeID(3)], learners: learners, heardAt: heardAt)
    }

    @Test func theLeaderOfItsTermCountingTheNodeAgainReadmitsIt() {
        #expect(tombstone.readmittedBy(hint(term: 5), leader: NodeID(1), me: Self.me))
        #expect(tombstone.readmittedBy(hint(term: 6), leader: NodeID(1), me: Self.me))
    }

    @Test func staleOrOtherWordDoesNot() {
        // Gossip from before the drop, from an older term, from another node, or not counting it.
        #expect(!tombstone.readmittedBy(hint(term: 5, heardAt: 900), leader: NodeID(1), me: Self.me))
        #expect(!tombstone.readmittedBy(hint(term: 4), leader: NodeID(1), me: Self.me))
        #expect(!tombstone.readmittedBy(hint(term: 5, leader: 3), leader: NodeID(1), me: Self.me))
        #expect(!tombstone.readmittedBy(hint(term: 5, learners: []), leader: NodeID(1), me: Self.me))
        #expect(!tombstone.readmittedBy(nil, leader: NodeID(1), me: Self.me))
    }
}
