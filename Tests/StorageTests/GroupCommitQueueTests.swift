import Core
import Testing
@testable import Storage

@Suite struct GroupCommitQueueTests {
    @Test func appendsWhileABatchIsInFlightFormTheNextBatch() throws {
        var queue = GroupCommitQueue(generation: .first)
        do { let sequence = queue.append([1]); #expect(sequence == LogSequenceNumber(1)) }
        do { let sequence = queue.append([2]); #expect(sequence == LogSequenceNumber(2)) }
        let first = try take(&queue)
        #expect(first.payloads == [[1], [2]])
        #expect(first.last == LogSequenceNumber(2))
        do { let none = queue.takeBatch(); #expect(none == nil, "one batch in flight at a time") }
        do { let sequence = queue.append([3]); #expect(sequence == LogSequenceNumber(3)) }
        do { let sequence = queue.append([4]); #expect(sequence == LogSequenceNumber(4)) }
        do { let sequence = queue.append([5]); #expect(sequence == LogSequenceNumber(5)) }
        do { let moved = queue.complete(first); #expect(moved == LogSequenceNumber(2)) }
        let second = try take(&queue)
        #expect(second.payloads == [[3], [4], [5]], "three appends share the next fsync")
        do { let moved = queue.complete(second); #expect(moved == LogSequenceNumber(5)) }
        #expect(queue.pendingBytes == 0)
        #expect(!queue.hasBatchReady)
    }

    @Test func pendingBytesCountFramedRecordsUntilCompleted() throws {
        var queue = GroupCommitQueue(generation: .first)
        _ = queue.append([UInt8](repeating: 0, count: 100))
        #expect(queue.pendingBytes == 112)
        let batch = try take(&queue)
        #expect(queue.pendingBytes == 112, "in flight still counts")
        queue.complete(batch)
        #expect(queue.pendingBytes == 0)
        #expect(!queue.isOverSoftLimit)
    }

    @Test func rotationSplitsBatchesAtTheExactRecord() throws {
        var queue = GroupCommitQueue(generation: Generation(4), lastSequence: LogSequenceNumber(10))
        _ = queue.append([1])
        let rotation = queue.rotate()
        #expect(rotation.generation == Generation(5))
        #expect(rotation.through == LogSequenceNumber(11))
        _ = queue.append([2])
        let old = try take(&queue)
        #expect(old.generation == Generation(4) && old.payloads == [[1]])
        queue.complete(old)
        let new = try take(&queue)
        #expect(new.generation == Generation(5) && new.payloads == [[2]])
        #expect(new.last == LogSequenceNumber(12))
        queue.complete(new)
        #expect(queue.bytesSinceRotation == 13)
    }

    @Test func rotationWithoutAppendsStillOpensTheSegment() throws {
        var queue = GroupCommitQueue(generation: .first)
        _ = queue.rotate()
        let batch = try take(&queue)
        #expect(batch.isEmpty && batch.generation == Generation(2))
        do { let moved = queue.complete(batch); #expect(moved == nil, "nothing new became durable") }
    }

    @Test func encodedBatchIsTheFramedRecords() throws {
        var queue = GroupCommitQueue(generation: .first)
        _ = queue.append([7, 7])
        _ = queue.append([])
        let batch = try take(&queue)
        var expected: [UInt8] = []
        Framing.appendRecord([7, 7], to: &expected)
        Framing.appendRecord([], to: &expected)
        #expect(batch.encoded() == expected)
        #expect(batch.framedBytes == expected.count)
    }

    @Test func returnedBatchIsRetakenFirst() throws {
        var queue = GroupCommitQueue(generation: .first)
        _ = queue.append([1])
        let batch = try take(&queue)
        _ = queue.append([2])
        queue.returnBatch(batch)
        do { let again = queue.takeBatch(); #expect(again?.payloads == [[1]]) }
    }
}

/// Drives the queue and a segment writer the way the server's writer thread does, on a
/// simulated disk, crashing at random points: every record reported durable survives.
@Suite struct GroupCommitCrashTests {
    @Test(arguments: 0..<30) func durableRecordsSurviveACrash(seed: Int) throws {
        var random = SeededRandom(seed: UInt64(seed))
        let disk = makeDisk(seed: UInt64(seed))
        var queue = GroupCommitQueue(generation: .first)
        var segment = try SegmentWriter(directory: testDirectory, generation: .first, disk: disk)
        var appended: [[UInt8]] = []
        var durable = LogSequenceNumber.zero
        var snapshotThrough: LogSequenceNumber?
        for step in 0..<random.int(in: 1...60) {
            for _ in 0..<random.int(in: 0...5) {
                let payload = (0..<random.int(in: 0...30)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                appended.append(payload)
                _ = queue.append(payload)
            }
            if step == 10 {
                // Compaction: rotate, snapshot the state through the rotation point, then
                // delete older files once the new segment exists.
                let rotation = queue.rotate()
                snapshotThrough = rotation.through
                _ = try SnapshotWriter.write(
                    appended.prefix(Int(rotation.through.rawValue)), directory: testDirectory,
                    generation: rotation.generation, disk: disk)
            }
            guard let batch = queue.takeBatch() else { continue }
            if batch.generation != segment.generation {
                try segment.sync()
                segment.close()
                segment = try SegmentWriter(directory: testDirectory, generation: batch.generation, disk: disk)
                if snapshotThrough != nil {
                    let listing = try DirectoryListing.scan(testDirectory, disk: disk)
                    try DirectoryListing.remove(listing.obsoleteNames(before: batch.generation), in: testDirectory, disk: disk)
                }
            }
            if !batch.isEmpty { try segment.append(batch.encoded()) }
            if random.chance(0.8) {
                try segment.sync()
                if let now = queue.complete(batch) { durable = now }
            } else {
                queue.returnBatch(batch)  // the crash may come before this batch's fsync
                break
            }
        }
        disk.crash()
        let state = try Recovery.load(directory: testDirectory, disk: disk, repair: false)
        let recovered = state.snapshotRecords + state.logRecords
        #expect(recovered.count >= Int(durable.rawValue), "seed \(seed): durable records were lost")
        #expect(recovered == Array(appended.prefix(recovered.count)), "seed \(seed): recovered a wrong sequence")
    }
}

private func take(_ queue: inout GroupCommitQueue) throws -> GroupCommitBatch {
    let batch = queue.takeBatch()
    return try #require(batch)
}
