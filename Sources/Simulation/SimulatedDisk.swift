// A simulated disk for one node. Writes go to a volatile queue; `sync` makes them durable.
// On a crash, a random prefix of the unsynced writes reaches the platter (the device may
// have flushed some on its own) and the last of those may be torn: recovery detects the
// torn record by its checksum and drops it with everything after it.
//
// Invariant: after `sync`, a crash loses nothing; before it, a crash can lose any suffix
// of the unsynced writes and never reorders them.

import Consensus
import Core

struct SimulatedDisk {
    enum Write {
        case hardState(HardState)
        case entries([Entry])
        case snapshot(Snapshot)
    }

    private(set) var hardState = HardState()
    private(set) var snapshot: Snapshot?
    private(set) var entries: [Entry] = []
    private var unsynced: [Write] = []
    private(set) var tornWrites = 0

    var hasUnsyncedWrites: Bool { !unsynced.isEmpty }

    mutating func write(_ write: Write) { unsynced.append(write) }

    mutating func sync() {
        for write in unsynced { apply(write) }
        unsynced.removeAll(keepingCapacity: true)
    }

    /// Loses the volatile queue except a random prefix; the prefix's last write may tear.
    mutating func crash(_ random: inout SeededRandom) {
        let surviving = unsynced.isEmpty ? 0 : random.int(in: 0...unsynced.count)
        for position in 0..<surviving {
            let write = unsynced[position]
            if position == surviving - 1, random.chance(0.5) {
                tornWrites += 1
                // Torn: for an entries record, the checksummed prefix of whole entries survives.
                if case let .entries(batch) = write, batch.count > 1 {
                    apply(.entries(Array(batch.prefix(random.int(in: 0...(batch.count - 1))))))
                }
                break
            }
            apply(write)
        }
        unsynced.removeAll()
    }

    private mutating func apply(_ write: Write) {
        switch write {
        case .hardState(let state):
            hardState = state
        case .entries(let batch):
            guard let first = batch.first else { return }
            entries.removeAll { $0.index >= first.index }
            if let last = entries.last, last.index.next != first.index {
                // A gap can only follow a snapshot that replaced the log; keep what continues it.
                if snapshot.map({ $0.metadata.index.next == first.index }) != true { return }
                entries.removeAll()
            }
            entries.append(contentsOf: batch)
        case .snapshot(let new):
            guard new.metadata.index > (snapshot?.metadata.index ?? .zero) else { return }
            snapshot = new
            if let kept = entries.first(where: { $0.index == new.metadata.index }), kept.term == new.metadata.term {
                entries.removeAll { $0.index <= new.metadata.index }
            } else {
                entries.removeAll()
            }
        }
    }

    func recover() -> RecoveredState {
        RecoveredState(hardState: hardState, snapshot: snapshot, entries: entries)
    }
}
