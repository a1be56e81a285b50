// The named bounds of the Raft log store. Lengths read back from disk are checked against
// these before any memory is reserved for them.

import Storage

public struct RaftStorageLimits: Sendable {
    /// A WAL segment is closed and a new one started once it holds this many bytes. A
    /// segment can exceed it by at most one commit's batch, because rotation happens after
    /// the batch is written (so that one batch never spans two files).
    public var segmentBytesMax: Int = 64 * 1024 * 1024
    /// The largest snapshot data `saveSnapshot` accepts and recovery believes.
    public var snapshotBytesMax: Int = 512 * 1024 * 1024
    /// Snapshot data is written in records of at most this many bytes, so neither writing
    /// nor reading needs one contiguous record as large as the snapshot.
    public var snapshotChunkBytes: Int = 1024 * 1024
    /// An append record is closed and a new one started once it holds this many bytes of
    /// entries; one entry always fits (entries are bounded by `StorageLimits.recordBytesMax`).
    public var appendRecordBytesTarget: Int = 1024 * 1024
    /// Voters plus learners a decoded membership may list.
    public var membersMax: Int = 1024
    /// Shards a node may host; bounds the segment-start record.
    public var shardsMax: Int = 100_000

    public init(
        segmentBytesMax: Int = 64 * 1024 * 1024, snapshotBytesMax: Int = 512 * 1024 * 1024,
        snapshotChunkBytes: Int = 1024 * 1024
    ) {
        precondition(segmentBytesMax > Framing.fileHeaderBytes, "a segment holds at least its header")
        precondition(snapshotChunkBytes > 0 && snapshotChunkBytes <= StorageLimits.recordBytesMax - 64)
        self.segmentBytesMax = segmentBytesMax
        self.snapshotBytesMax = snapshotBytesMax
        self.snapshotChunkBytes = snapshotChunkBytes
    }
}
