// Shrinks a non-linearizable single-key history to a small subset that is still not
// linearizable, so a person can read the violation (delta debugging with sound removals).
//
// Only removals that cannot create a violation are tried, so the subset shows the real one:
// - a read can always be removed (fewer constraints: if the whole history had a
//   linearization, it still would without the read);
// - a write can be removed only when no remaining read returned its value (dropping it
//   from a linearization changes only what reads between it and the next write see, and
//   none of the remaining reads saw it).
// Hence: if the subset is not linearizable, neither is the full history, and the subset
// does not owe its violation to a missing write.
//
// Invariant: the result is a list of indices into the input, ascending; the work is bounded
// by `shrinkChecksMax` searches of at most `shrinkExploredStatesMax` states each, and a
// search that runs out of budget counts as "maybe linearizable" (the removal is undone).

enum CounterexampleShrinker {
    /// Most searches one shrink runs.
    static let shrinkChecksMax = 1_000
    /// Search budget per attempt (smaller than a full check's; unknown keeps the operations).
    static let shrinkExploredStatesMax = 20_000

    /// `operations` must be on one key and not linearizable.
    static func shrink(_ operations: [HistoryOperation]) -> [Int] {
        var kept = Array(operations.indices)
        var checks = 0
        var chunkSize = max(1, kept.count / 2)
        while checks < shrinkChecksMax {
            var removedAny = false
            var chunkStart = 0
            while chunkStart < kept.count, checks < shrinkChecksMax {
                let chunk = Set(kept[chunkStart..<min(kept.count, chunkStart + chunkSize)])
                let candidate = removing(chunk, from: kept, operations)
                if candidate.count < kept.count {
                    checks += 1
                    let subset = candidate.map { operations[$0] }
                    if LinearizabilityChecker.checkKey(subset, exploredStatesMax: shrinkExploredStatesMax) == false {
                        kept = candidate
                        removedAny = true
                        continue  // the next chunk now starts at the same position
                    }
                }
                chunkStart += chunkSize
            }
            if chunkSize == 1 && !removedAny { break }
            chunkSize = removedAny && chunkSize == 1 ? 1 : max(1, chunkSize / 2)
        }
        return kept
    }

    /// `kept` without the members of `chunk`, except writes whose value a remaining read
    /// returned (those stay: removing them could invent a violation).
    static func removing(_ chunk: Set<Int>, from kept: [Int], _ operations: [HistoryOperation]) -> [Int] {
        var valuesRead = Set<Int64>()
        for index in kept where !chunk.contains(index) {
            if case .get = operations[index].command, case let .value(value?)? = operations[index].output {
                valuesRead.insert(value)
            }
        }
        return kept.filter { index in
            guard chunk.contains(index) else { return true }
            if case let .set(_, value) = operations[index].command { return valuesRead.contains(value) }
            return false
        }
    }
}
