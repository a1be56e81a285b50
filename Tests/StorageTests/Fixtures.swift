// Helpers shared by the storage tests: building logs and snapshots on a simulated disk.

import Core
@testable import Storage

let testDirectory = "/data"

func makeDisk(seed: UInt64 = 1) -> SimulatedDisk {
    let disk = SimulatedDisk(seed: seed)
    try? disk.makeDirectory(testDirectory)
    return disk
}

/// Distinct payloads of varied sizes, including an empty one.
func samplePayloads(_ count: Int, seed: UInt64 = 7) -> [[UInt8]] {
    var random = SeededRandom(seed: seed)
    return (0..<count).map { index in
        let size = index == 3 ? 0 : random.int(in: 1...40)
        return (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }
}

/// Writes one log segment holding `payloads` and fsyncs it.
@discardableResult
func writeSegment(_ disk: SimulatedDisk, generation: Generation, _ payloads: [[UInt8]]) throws -> String {
    let writer = try SegmentWriter(directory: testDirectory, generation: generation, disk: disk)
    var bytes: [UInt8] = []
    for payload in payloads { Framing.appendRecord(payload, to: &bytes) }
    try writer.append(bytes)
    try writer.sync()
    writer.close()
    return writer.path
}

func logPath(_ generation: UInt64) -> String { joinPath(testDirectory, FileNaming.logName(Generation(generation))) }
func snapshotPath(_ generation: UInt64) -> String {
    joinPath(testDirectory, FileNaming.snapshotName(Generation(generation)))
}

/// A disk that forwards to a simulated disk and remembers the largest read requested, to
/// show that corrupt lengths never turn into large reads or allocations.
final class ReadMeasuringDisk: Disk {
    let inner: SimulatedDisk
    private(set) var largestRead = 0
    init(_ inner: SimulatedDisk) { self.inner = inner }
    func makeDirectory(_ path: String) throws(DiskError) { try inner.makeDirectory(path) }
    func list(_ directory: String) throws(DiskError) -> [String] { try inner.list(directory) }
    func open(_ path: String, mode: DiskOpenMode) throws(DiskError) -> DiskFile { try inner.open(path, mode: mode) }
    func close(_ file: DiskFile) { inner.close(file) }
    func size(_ file: DiskFile) throws(DiskError) -> Int { try inner.size(file) }
    func read(_ file: DiskFile, offset: Int, count: Int) throws(DiskError) -> [UInt8] {
        largestRead = max(largestRead, count)
        return try inner.read(file, offset: offset, count: count)
    }
    func append(_ file: DiskFile, _ bytes: [UInt8]) throws(DiskError) { try inner.append(file, bytes) }
    func sync(_ file: DiskFile) throws(DiskError) { try inner.sync(file) }
    func truncate(_ file: DiskFile, size: Int) throws(DiskError) { try inner.truncate(file, size: size) }
    func rename(_ source: String, to destination: String) throws(DiskError) { try inner.rename(source, to: destination) }
    func remove(_ path: String) throws(DiskError) { try inner.remove(path) }
    func syncDirectory(_ path: String) throws(DiskError) { try inner.syncDirectory(path) }
}
