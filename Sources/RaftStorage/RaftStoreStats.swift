// Counters of the Raft log store, for metrics and tests. Plain values, updated only by the
// store on its own thread.

public struct RaftStoreStats: Sendable, Equatable {
    /// Bytes appended to WAL segments (records, segment headers and segment-start records).
    public var bytesWritten = 0
    /// Batches written by `commit` (calls that had something to write).
    public var commits = 0
    /// fdatasyncs of WAL segments.
    public var syncs = 0
    /// Segments created since this store was opened, and removed because no shard needed them.
    public var segmentsCreated = 0
    public var segmentsDeleted = 0
    /// Segments currently on disk, the active one included.
    public var liveSegments = 0
    /// Snapshot files published and their bytes.
    public var snapshotsWritten = 0
    public var snapshotBytesWritten = 0

    public init() {}
}
