// Every buffer, batch and scan in the durability layer has a named bound here. Lengths read
// from disk are checked against these limits and against the real file size before any
// memory is reserved, so a corrupt length field can never cause a huge allocation.

public enum StorageLimits {
    /// The largest payload one record may carry: Redis's 512 MiB bulk-string limit plus
    /// room for the command framing around it.
    public static let recordBytesMax = 512 * 1024 * 1024 + 1024 * 1024

    /// How much a reader pulls from disk at a time while scanning a log or snapshot.
    public static let readChunkBytes = 1024 * 1024

    /// Framed bytes one group-commit batch takes at most, so one write() stays bounded
    /// (a batch always takes at least one record, however large).
    public static let batchBytesMax = 64 * 1024 * 1024

    /// Pending (appended, not yet written) bytes above which the server should stop
    /// reading from clients. `append` never refuses a record; this is a signal.
    public static let pendingBytesSoftMax = 64 * 1024 * 1024

    /// Files a data directory may hold before listing it is treated as an error.
    public static let directoryEntriesMax = 100_000

    /// Attempts to repeat a write or fsync interrupted by a signal before giving up.
    public static let interruptedRetriesMax = 1000
}
