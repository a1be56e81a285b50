// The simulated disk: synced writes survive crashes; unsynced ones may vanish or tear.

import Consensus
import Core
import Testing
@testable import Simulation

@Suite struct SimulatedDiskTests {
    func entries(_ range: ClosedRange<UInt64>, term: UInt64) -> [Entry] {
        range.map { Entry(term: Term(term), index: LogIndex($0), payload: .empty) }
    }

    @Test func syncedWritesSurviveACrash() {
        var disk = SimulatedDisk()
        var random = SeededRandom(seed: 1)
        disk.write(.entries(entries(1...3, term: 1)))
        disk.write(.hardState(HardState(term: Term(1), vote: NodeID(1), commit: LogIndex(2))))
        disk.sync()
        disk.crash(&random)
        #expect(disk.recover().entries.count == 3)
        #expect(disk.recover().hardState.vote == NodeID(1))
    }

    @Test func unsyncedWritesLoseASuffixOnly() {
        for seed in 0..<50 as Range<UInt64> {
            var disk = SimulatedDisk()
            var random = SeededRandom(seed: seed)
            disk.write(.entries(entries(1...2, term: 1)))
            disk.sync()
            disk.write(.entries(entries(3...6, term: 1)))
            disk.write(.hardState(HardState(term: Term(2), vote: NodeID(2), commit: .zero)))
            disk.crash(&random)
            let recovered = disk.recover()
            #expect(recovered.entries.count >= 2 && recovered.entries.count <= 6)
            #expect(recovered.entries.enumerated().allSatisfy { $0.element.index == LogIndex(UInt64($0.offset + 1)) })
            if recovered.hardState.term == Term(2) { #expect(recovered.entries.count == 6) }
        }
    }

    @Test func conflictingEntriesReplaceTheSuffix() {
        var disk = SimulatedDisk()
        disk.write(.entries(entries(1...5, term: 1)))
        disk.write(.entries(entries(3...4, term: 2)))
        disk.sync()
        #expect(disk.recover().entries.map(\.term.rawValue) == [1, 1, 2, 2])
    }
}
