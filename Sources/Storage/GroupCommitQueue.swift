// The bookkeeping of group commit, as a pure value: the event-loop thread appends records,
// the writer thread takes everything appended so far as one batch, writes it (one write,
// one fsync) and completes it. While a batch is in flight new appends gather into the next
// batch, so records from all connections that arrive together share one fsync.
//
// The thread glue (Server/Persistence/DurableLog.swift) holds this struct under a lock and
// only performs what it says; all ordering rules live and are tested here.
//
// Invariants:
// - sequence numbers are given out one per record, in append order, without gaps;
// - at most one batch is in flight; batches complete in the order they were taken;
// - a batch holds records of exactly one generation; `rotate()` makes later appends go to
//   the next generation, and always yields a batch (possibly empty) that opens it.

/// Records the writer thread writes together. Framing (checksums) happens off the event
/// loop, in `encoded()`.
public struct GroupCommitBatch: Sendable {
    /// The log segment these records belong to.
    public var generation: Generation
    public var payloads: [[UInt8]]
    /// The sequence of the last record in this batch (of the one before it, if empty).
    public var last: LogSequenceNumber
    /// Bytes these records take in the log, frames included.
    public var framedBytes: Int

    public var isEmpty: Bool { payloads.isEmpty }

    /// The framed records, ready for one write.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(framedBytes)
        for payload in payloads { Framing.appendRecord(payload, to: &bytes) }
        return bytes
    }
}

public struct GroupCommitQueue: Sendable {
    /// Batches not yet taken; the last one gathers new appends while its generation is current.
    private var waiting: [GroupCommitBatch] = []
    /// The generation new appends go to.
    public private(set) var generation: Generation
    public private(set) var lastAppended: LogSequenceNumber
    /// The sequence through which every record was completed by the writer.
    public private(set) var lastCompleted: LogSequenceNumber
    /// Framed bytes appended and not yet completed, the in-flight batch included.
    public private(set) var pendingBytes = 0
    public private(set) var batchInFlight = false
    /// Framed bytes appended since the last rotation (for compaction decisions).
    public private(set) var bytesSinceRotation = 0

    /// `generation` is the segment the first appends go to (it is opened by the writer
    /// before the queue is used); `lastSequence` is the sequence before the first append.
    public init(generation: Generation, lastSequence: LogSequenceNumber = .zero) {
        self.generation = generation
        self.lastAppended = lastSequence
        self.lastCompleted = lastSequence
    }

    /// True while more than `StorageLimits.pendingBytesSoftMax` bytes wait: the server
    /// should stop reading from clients until it drops.
    public var isOverSoftLimit: Bool { pendingBytes > StorageLimits.pendingBytesSoftMax }

    /// True when the writer should call `takeBatch()`.
    public var hasBatchReady: Bool { !batchInFlight && !waiting.isEmpty }

    /// Queues one record and returns its sequence. Never refuses: bounding memory is the
    /// caller's job, through `pendingBytes`.
    public mutating func append(_ payload: [UInt8]) -> LogSequenceNumber {
        precondition(payload.count <= StorageLimits.recordBytesMax, "the keyspace bounds record size")
        let framed = Framing.framedSize(payload.count)
        lastAppended = lastAppended.next
        pendingBytes += framed
        bytesSinceRotation += framed
        if let last = waiting.indices.last, waiting[last].generation == generation,
            waiting[last].isEmpty || waiting[last].framedBytes + framed <= StorageLimits.batchBytesMax
        {
            waiting[last].payloads.append(payload)
            waiting[last].last = lastAppended
            waiting[last].framedBytes += framed
        } else {
            waiting.append(GroupCommitBatch(generation: generation, payloads: [payload], last: lastAppended, framedBytes: framed))
        }
        return lastAppended
    }

    /// Ends the current generation at this exact point: records appended from now on go to
    /// the next one. Returns the new generation and the last record of the old one (a
    /// snapshot taken now holds exactly the records through it).
    public mutating func rotate() -> (generation: Generation, through: LogSequenceNumber) {
        generation = generation.next
        bytesSinceRotation = 0
        waiting.append(GroupCommitBatch(generation: generation, payloads: [], last: lastAppended, framedBytes: 0))
        return (generation, lastAppended)
    }

    /// Everything gathered for one generation (up to `batchBytesMax`), or nil when a batch is
    /// already in flight or nothing waits.
    public mutating func takeBatch() -> GroupCommitBatch? {
        guard hasBatchReady else { return nil }
        batchInFlight = true
        return waiting.removeFirst()
    }

    /// The writer finished `batch` (written, and fsynced if the policy says so). Returns the
    /// new `lastCompleted` when it moved.
    @discardableResult
    public mutating func complete(_ batch: GroupCommitBatch) -> LogSequenceNumber? {
        precondition(batchInFlight, "complete follows takeBatch")
        precondition(batch.last >= lastCompleted, "batches complete in order")
        batchInFlight = false
        pendingBytes -= batch.framedBytes
        assert(pendingBytes >= 0, "pending bytes never go negative")
        guard batch.last > lastCompleted else { return nil }
        lastCompleted = batch.last
        return lastCompleted
    }

    /// Gives the writer the batch back after a failed write so it is retried in order
    /// (used only if the glue chooses to retry; the server's policy is to stop instead).
    public mutating func returnBatch(_ batch: GroupCommitBatch) {
        precondition(batchInFlight, "returnBatch follows takeBatch")
        batchInFlight = false
        waiting.insert(batch, at: 0)
    }
}
