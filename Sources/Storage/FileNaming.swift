// File names in a data directory. Generations are written as 16 lower-case hex digits so
// that names sort in generation order:
//   log-0000000000000001.tlog        a log segment
//   snapshot-0000000000000002.tsnap  a complete snapshot
//   snapshot-0000000000000002.tsnap.tmp  a snapshot being written (never read)

public enum FileNaming {
    static let logPrefix = "log-"
    static let logSuffix = ".tlog"
    static let snapshotPrefix = "snapshot-"
    static let snapshotSuffix = ".tsnap"
    static let temporarySuffix = ".tmp"

    public enum Entry: Hashable, Sendable {
        case log(Generation)
        case snapshot(Generation)
        case temporarySnapshot(Generation)
    }

    static func hex(_ generation: Generation) -> String {
        let digits = String(generation.rawValue, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public static func logName(_ generation: Generation) -> String { logPrefix + hex(generation) + logSuffix }
    public static func snapshotName(_ generation: Generation) -> String {
        snapshotPrefix + hex(generation) + snapshotSuffix
    }
    public static func temporarySnapshotName(_ generation: Generation) -> String {
        snapshotName(generation) + temporarySuffix
    }

    /// What a directory entry is, or nil for files Trestle does not own.
    public static func parse(_ name: String) -> Entry? {
        if let generation = generation(name, prefix: logPrefix, suffix: logSuffix) { return .log(generation) }
        if let generation = generation(name, prefix: snapshotPrefix, suffix: snapshotSuffix) {
            return .snapshot(generation)
        }
        if let generation = generation(name, prefix: snapshotPrefix, suffix: snapshotSuffix + temporarySuffix) {
            return .temporarySnapshot(generation)
        }
        return nil
    }

    private static func generation(_ name: String, prefix: String, suffix: String) -> Generation? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count == prefix.count + 16 + suffix.count else {
            return nil
        }
        let digits = name.dropFirst(prefix.count).prefix(16)
        guard digits.allSatisfy({ $0.isHexDigit && !$0.isUppercase }), let value = UInt64(digits, radix: 16),
            value > 0
        else { return nil }
        return Generation(value)
    }
}

/// The Trestle files found in a data directory, sorted by generation.
public struct DirectoryListing: Sendable, Equatable {
    public var logs: [Generation] = []
    public var snapshots: [Generation] = []
    public var temporarySnapshots: [Generation] = []

    public init() {}

    public static func scan(_ directory: String, disk: Disk) throws(StorageError) -> DirectoryListing {
        let names: [String]
        do { names = try disk.list(directory) } catch { throw .disk(error) }
        var listing = DirectoryListing()
        for name in names {
            switch FileNaming.parse(name) {
            case .log(let generation)?: listing.logs.append(generation)
            case .snapshot(let generation)?: listing.snapshots.append(generation)
            case .temporarySnapshot(let generation)?: listing.temporarySnapshots.append(generation)
            case nil: continue
            }
        }
        listing.logs.sort()
        listing.snapshots.sort()
        listing.temporarySnapshots.sort()
        return listing
    }

    /// The newest generation any file uses; a new log segment takes the one after it.
    public var newestGeneration: Generation {
        max(logs.last ?? .zero, snapshots.last ?? .zero, temporarySnapshots.last ?? .zero)
    }

    /// Files no longer needed once snapshot `generation` is complete: older segments and
    /// snapshots, and temporary snapshots other than one still being written at or after it.
    public func obsoleteNames(before generation: Generation) -> [String] {
        logs.filter { $0 < generation }.map(FileNaming.logName)
            + snapshots.filter { $0 < generation }.map(FileNaming.snapshotName)
            + temporarySnapshots.filter { $0 < generation }.map(FileNaming.temporarySnapshotName)
    }

    /// Removes `names` from `directory` and makes the removal durable.
    public static func remove(_ names: [String], in directory: String, disk: Disk) throws(StorageError) {
        guard !names.isEmpty else { return }
        do {
            for name in names { try disk.remove(joinPath(directory, name)) }
            try disk.syncDirectory(directory)
        } catch { throw .disk(error) }
    }
}
