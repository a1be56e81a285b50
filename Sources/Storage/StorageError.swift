// Typed errors of the durability layer. Every case that concerns a file names the file and,
// where it matters, the byte offset, so a refusal to start tells the operator where to look.

/// A failed system call or simulated disk operation.
public struct DiskError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Operation: String, Sendable {
        case open, close, read, write, fsync, truncate, rename, remove, list, stat, makeDirectory
    }
    public var operation: Operation
    public var path: String
    /// The `errno` value, or a negative number for simulated faults.
    public var code: Int32
    public var message: String

    public init(_ operation: Operation, path: String, code: Int32, message: String) {
        self.operation = operation
        self.path = path
        self.code = code
        self.message = message
    }

    public var description: String { "\(operation.rawValue) \(path): \(message) (code \(code))" }
}

public enum StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The operating system or simulated disk failed.
    case disk(DiskError)
    /// A file does not start with the expected magic bytes.
    case badMagic(file: String)
    /// A file was written by a format version this build does not read.
    case unsupportedVersion(file: String, version: UInt32)
    /// The file header's own checksum or generation is wrong.
    case corruptHeader(file: String)
    /// Damage followed by valid records: not a torn write. Refused unless repairing.
    case corruptionInMiddle(file: String, offset: Int, reason: String, bytesAfter: Int)
    /// A snapshot that was completely written and renamed no longer checks out.
    case corruptSnapshot(file: String, offset: Int, reason: String)
    /// Log segments between the snapshot and the newest segment are missing.
    case missingSegment(generation: Generation)
    /// A record larger than `StorageLimits.recordBytesMax` was offered.
    case recordTooLarge(bytes: Int)
    /// The data directory holds more files than `StorageLimits.directoryEntriesMax`.
    case tooManyFiles(directory: String, count: Int)

    public var description: String {
        switch self {
        case .disk(let error):
            return "disk error: \(error)"
        case .badMagic(let file):
            return "\(file): not a Trestle file (bad magic bytes)"
        case .unsupportedVersion(let file, let version):
            return "\(file): format version \(version) is not supported by this build"
        case .corruptHeader(let file):
            return "\(file): file header is corrupt"
        case .corruptionInMiddle(let file, let offset, let reason, let bytesAfter):
            return "\(file): corrupt record at offset \(offset) (\(reason)) followed by valid records; "
                + "refusing to start. Restart with --repair to truncate the log at this offset "
                + "(drops \(bytesAfter) bytes from this file and any later log files)"
        case .corruptSnapshot(let file, let offset, let reason):
            return "\(file): snapshot is corrupt at offset \(offset) (\(reason)); it cannot be repaired, "
                + "restore the data directory from a backup"
        case .missingSegment(let generation):
            return "log segment \(FileNaming.logName(generation)) is missing; refusing to start. "
                + "Restart with --repair to replay only the segments before the gap"
        case .recordTooLarge(let bytes):
            return "record of \(bytes) bytes exceeds the limit of \(StorageLimits.recordBytesMax) bytes"
        case .tooManyFiles(let directory, let count):
            return "\(directory): \(count) files exceed the limit of \(StorageLimits.directoryEntriesMax)"
        }
    }
}
