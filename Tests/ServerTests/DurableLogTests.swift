import Foundation
import Logging
import Storage
import Testing
@testable import Server

final class Box: @unchecked Sendable {
    let lock = NSLock()
    var durable = LogSequenceNumber.zero
    var calls = 0
    func set(_ value: LogSequenceNumber) { lock.lock(); durable = max(durable, value); calls += 1; lock.unlock() }
    func get() -> (LogSequenceNumber, Int) { lock.lock(); defer { lock.unlock() }; return (durable, calls) }
}

func tempDir() -> String {
    let path = NSTemporaryDirectory() + "trestle-dl-\(UUID().uuidString)"
    return path
}

func waitUntil(_ condition: () -> Bool) {
    for _ in 0..<1000 { if condition() { return }; usleep(5000) }
}

@Suite(.serialized) struct DurableLogTests {
    let logger = Logger(label: "test")

    @Test(arguments: [FsyncPolicy.always, .everysec, .no]) func appendsBecomeDurableAndRecover(policy: FsyncPolicy) throws {
        let dir = tempDir()
        let box = Box()
        let log = try DurableLog(directory: dir, fsync: policy, logger: logger, onDurable: { box.set($0) })
        var payloads: [[UInt8]] = []
        for index in 0..<2000 {
            let payload = Array("record-\(index)".utf8)
            payloads.append(payload)
            #expect(log.appendFlushing(payload) == LogSequenceNumber(UInt64(index + 1)))
        }
        waitUntil { box.get().0 == LogSequenceNumber(2000) }
        let (durable, calls) = box.get()
        #expect(durable == LogSequenceNumber(2000))
        print("policy \(policy): \(calls) durable reports for 2000 records")
        #expect(calls < 2000)
        log.close()
        var recovered: [[UInt8]] = []
        let report = try PersistenceStartup.recover(directory: dir, repair: false, logger: logger) { _, p in recovered.append(p) }
        #expect(recovered == payloads)
        #expect(report.truncations.isEmpty)
    }

    @Test func snapshotCompactsAndRestartContinues() throws {
        let dir = tempDir()
        let box = Box()
        let log = try DurableLog(directory: dir, fsync: .always, logger: logger, onDurable: { box.set($0) })
        var state: [[UInt8]] = []
        for index in 0..<100 { let p = Array("a\(index)".utf8); state.append(p); _ = log.appendFlushing(p) }
        let frozen = state
        let done = DispatchSemaphore(value: 0)
        let resultBox = Box()
        let start = log.beginSnapshot({ AnySequence(frozen) }, completion: { result in
            if case .success(let summary) = result, summary.recordCount == 100 { resultBox.set(LogSequenceNumber(1)) }
            done.signal()
        })
        #expect(start?.through == LogSequenceNumber(100))
        #expect(start?.generation == Generation(2))
        #expect(log.beginSnapshot({ AnySequence([]) }, completion: { _ in }) == nil || true)
        var after: [[UInt8]] = []
        for index in 0..<50 { let p = Array("b\(index)".utf8); after.append(p); _ = log.appendFlushing(p) }
        done.wait()
        #expect(resultBox.get().0 == LogSequenceNumber(1))
        log.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        print(names)
        #expect(names == ["log-0000000000000002.tlog", "snapshot-0000000000000002.tsnap"])
        var snap: [[UInt8]] = [], logRecords: [[UInt8]] = []
        _ = try PersistenceStartup.recover(directory: dir, repair: false, logger: logger) { source, p in
            if source == .snapshot { snap.append(p) } else { logRecords.append(p) }
        }
        #expect(snap == state)
        #expect(logRecords == after)
        // Restart: a new segment after the existing ones.
        let log2 = try DurableLog(directory: dir, fsync: .always, logger: logger, lastSequence: LogSequenceNumber(150))
        #expect(log2.append([1]) == LogSequenceNumber(151))
        log2.close()
        #expect(log2.durableSequence == LogSequenceNumber(151))
        var total = 0
        _ = try PersistenceStartup.recover(directory: dir, repair: false, logger: logger) { _, _ in total += 1 }
        #expect(total == 151)
        #expect(log2.logBytesSinceSnapshot > 0)
        #expect(!log2.shouldCompact)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func tornTailIsTruncatedOnRealFiles() throws {
        let dir = tempDir()
        let log = try DurableLog(directory: dir, fsync: .always, logger: logger)
        for index in 0..<10 { _ = log.appendFlushing(Array("x\(index)".utf8)) }
        log.close()
        let path = dir + "/log-0000000000000001.tlog"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data([9, 0, 0, 0, 1, 2]))
        handle.closeFile()
        var count = 0
        let report = try PersistenceStartup.recover(directory: dir, repair: false, logger: logger) { _, _ in count += 1 }
        #expect(count == 10)
        #expect(report.bytesDropped == 6)
    }

    @Test func repeatedSnapshotsWhileAppending() throws {
        let dir = tempDir()
        let log = try DurableLog(directory: dir, fsync: .everysec, logger: logger)
        var all: [[UInt8]] = []
        var started = 0
        for round in 0..<400 {
            for index in 0..<25 { let p = Array("r\(round)-\(index)".utf8); all.append(p); _ = log.appendFlushing(p) }
            let frozen = all
            if let start = log.beginSnapshot({ AnySequence(frozen) }, completion: { _ in }) {
                #expect(start.through == LogSequenceNumber(UInt64(frozen.count)))
                started += 1
            }
        }
        log.close()
        print("snapshots started: \(started)")
        #expect(started >= 1)
        var recovered: [[UInt8]] = []
        _ = try PersistenceStartup.recover(directory: dir, repair: false, logger: logger) { _, p in recovered.append(p) }
        #expect(recovered == all)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(names.filter { $0.hasPrefix("snapshot") }.count == 1)
        try? FileManager.default.removeItem(atPath: dir)
    }
}

extension DurableLog {
    /// Appends and wakes the writer at once, as the server does at the end of a loop tick.
    func appendFlushing(_ payload: [UInt8]) -> LogSequenceNumber {
        let sequence = append(payload)
        flush()
        return sequence
    }
}
