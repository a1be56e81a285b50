import Core
import Testing
@testable import Storage

/// A disk that fails every mutating operation after the first `budget` ones, standing in
/// for a process that dies at that point.
final class DyingDisk: Disk {
    let inner: SimulatedDisk
    var budget: Int
    init(_ inner: SimulatedDisk, budget: Int) {
        self.inner = inner
        self.budget = budget
    }
    private func spend(_ operation: DiskError.Operation) throws(DiskError) {
        if budget <= 0 { throw DiskError(operation, path: "", code: -99, message: "process died") }
        budget -= 1
    }
    func makeDirectory(_ path: String) throws(DiskError) { try inner.makeDirectory(path) }
    func list(_ directory: String) throws(DiskError) -> [String] { try inner.list(directory) }
    func open(_ path: String, mode: DiskOpenMode) throws(DiskError) -> DiskFile {
        if mode != .read { try spend(.open) }
        return try inner.open(path, mode: mode)
    }
    func close(_ file: DiskFile) { inner.close(file) }
    func size(_ file: DiskFile) throws(DiskError) -> Int { try inner.size(file) }
    func read(_ file: DiskFile, offset: Int, count: Int) throws(DiskError) -> [UInt8] {
        try inner.read(file, offset: offset, count: count)
    }
    func append(_ file: DiskFile, _ bytes: [UInt8]) throws(DiskError) {
        try spend(.write)
        try inner.append(file, bytes)
    }
    func sync(_ file: DiskFile) throws(DiskError) {
        try spend(.fsync)
        try inner.sync(file)
    }
    func truncate(_ file: DiskFile, size: Int) throws(DiskError) {
        try spend(.truncate)
        try inner.truncate(file, size: size)
    }
    func rename(_ source: String, to destination: String) throws(DiskError) {
        try spend(.rename)
        try inner.rename(source, to: destination)
    }
    func remove(_ path: String) throws(DiskError) {
        try spend(.remove)
        try inner.remove(path)
    }
    func syncDirectory(_ path: String) throws(DiskError) {
        try spend(.fsync)
        try inner.syncDirectory(path)
    }
}

@Suite struct CompactionCrashTests {
    /// Runs the compaction sequence the server uses, dying after `budget` disk operations.
    /// Counts in `durable` how many of the new records were fsynced.
    func compact(_ disk: Disk, old: [[UInt8]], new: [[UInt8]], durable: inout Int) throws {
        let segment = try SegmentWriter(directory: testDirectory, generation: Generation(2), disk: disk)
        for record in new {
            var framed: [UInt8] = []
            Framing.appendRecord(record, to: &framed)
            try segment.append(framed)
            try segment.sync()
            durable += 1
        }
        try SnapshotWriter.write(old, directory: testDirectory, generation: Generation(2), disk: disk)
        let listing = try DirectoryListing.scan(testDirectory, disk: disk)
        try DirectoryListing.remove(listing.obsoleteNames(before: Generation(2)), in: testDirectory, disk: disk)
    }

    @Test func aCrashAtAnyStepOfCompactionLosesNothingDurable() throws {
        let old = samplePayloads(6, seed: 11)
        let new = samplePayloads(3, seed: 12)
        var completedAt: Int?
        for budget in 0..<40 {
            let inner = makeDisk(seed: UInt64(budget))
            try writeSegment(inner, generation: Generation(1), old)
            let disk = DyingDisk(inner, budget: budget)
            var durable = 0
            do {
                try compact(disk, old: old, new: new, durable: &durable)
                completedAt = completedAt ?? budget
            } catch {
                // The process died here; `durable` counts what was fsynced before.
            }
            inner.crash()
            let state = try Recovery.load(directory: testDirectory, disk: inner, repair: false)
            let recovered = state.snapshotRecords + state.logRecords
            #expect(Array(recovered.prefix(old.count)) == old, "budget \(budget)")
            let tail = Array(recovered.dropFirst(old.count))
            #expect(tail == Array(new.prefix(tail.count)), "budget \(budget)")
            #expect(tail.count >= durable, "budget \(budget): a fsynced record was lost")
        }
        #expect(completedAt != nil, "the budget eventually suffices")
    }
}
