// A backup on disk (`trestle cluster backup --to DIR`, read by `--restore DIR`): one file
// per shard holding its snapshot bytes, and MANIFEST.json naming each file with its
// shard, slots, committed index and term, key count, size and SHA-256. The manifest is
// written last (to a temporary name, fsynced, then renamed), so a directory without one
// is an unfinished backup. docs/FORMAT.md describes the layout.
import Cluster
import Crypto
import Foundation
import NodeRuntime

public struct BackupManifest: Codable, Sendable {
    public static let formatName = "trestle-backup"
    public static let formatVersion = 1

    public struct Shard: Codable, Sendable {
        public var shard: UInt64
        /// Owned slot ranges, each [first, last].
        public var slots: [[UInt16]]
        /// The committed index (and its term) the shard's state was captured at.
        public var index: UInt64
        public var term: UInt64
        public var keys: Int
        public var file: String
        public var bytes: Int
        public var sha256: String

        public init(shard: UInt64, slots: [[UInt16]], index: UInt64, term: UInt64, keys: Int, file: String, bytes: Int, sha256: String) {
            self.shard = shard
            self.slots = slots
            self.index = index
            self.term = term
            self.keys = keys
            self.file = file
            self.bytes = bytes
            self.sha256 = sha256
        }
    }

    public var format = Self.formatName
    public var version = Self.formatVersion
    public var trestleVersion = NodeService.version
    /// When the backup finished, ISO 8601.
    public var createdAt: String
    /// The cluster map version every shard was captured under.
    public var mapVersion: UInt64
    public var keys: Int
    public var shards: [Shard]
    /// The function libraries (FUNCTION DUMP of the node the backup went through), if any.
    public var functionsFile: String?
    public var functionsSha256: String?

    public init(createdAt: String, mapVersion: UInt64, shards: [Shard], functionsFile: String? = nil, functionsSha256: String? = nil) {
        self.createdAt = createdAt
        self.mapVersion = mapVersion
        self.shards = shards
        self.functionsFile = functionsFile
        self.functionsSha256 = functionsSha256
        keys = shards.reduce(0) { $0 + $1.keys }
    }
}

public enum BackupArchive {
    public static let manifestName = "MANIFEST.json"
    /// Largest shard file read back (a shard that big would not fit one snapshot anyway).
    public static let shardFileBytesMax = 16 << 30

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    public static func fileName(shard: UInt64) -> String { "shard-\(shard).data" }

    public static func sha256(_ bytes: some DataProtocol) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Writes `bytes` to DIR/name and fsyncs it.
    public static func writeFile(_ bytes: [UInt8], named name: String, in directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else { throw Failure("cannot create \(path)") }
        defer { try? handle.close() }
        try handle.write(contentsOf: bytes)
        try handle.synchronize()
    }

    /// Writes the manifest under a temporary name, fsyncs it and renames it into place.
    public static func writeManifest(_ manifest: BackupManifest, in directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = manifestName + ".tmp"
        try writeFile(Array(try encoder.encode(manifest)) + [0x0a], named: temporary, in: directory)
        let from = (directory as NSString).appendingPathComponent(temporary)
        let to = (directory as NSString).appendingPathComponent(manifestName)
        guard rename(from, to) == 0 else { throw Failure("cannot rename \(from) to \(to): \(String(cString: strerror(errno)))") }
    }

    /// Reads and checks a backup: the manifest, then every shard file's size and SHA-256.
    /// The error names the file at fault.
    public static func read(_ directory: String) throws(Failure) -> (BackupManifest, RestoreImage) {
        let manifestPath = (directory as NSString).appendingPathComponent(manifestName)
        guard let manifestData = FileManager.default.contents(atPath: manifestPath) else {
            throw Failure("\(manifestPath) is missing or unreadable: \(directory) is not a finished Trestle backup")
        }
        let manifest: BackupManifest
        do { manifest = try JSONDecoder().decode(BackupManifest.self, from: manifestData) } catch {
            throw Failure("\(manifestPath) is not a valid backup manifest (\(error))")
        }
        guard manifest.format == BackupManifest.formatName else { throw Failure("\(manifestPath) is not a Trestle backup manifest") }
        guard manifest.version <= BackupManifest.formatVersion else {
            throw Failure("\(manifestPath) is backup format \(manifest.version); this Trestle reads up to \(BackupManifest.formatVersion)")
        }
        var shards: [RestoreImage.Shard] = []
        for entry in manifest.shards {
            guard !entry.file.contains("/"), !entry.file.hasPrefix(".") else { throw Failure("\(manifestPath) names a file outside the backup: \(entry.file)") }
            let path = (directory as NSString).appendingPathComponent(entry.file)
            guard let data = FileManager.default.contents(atPath: path) else { throw Failure("backup file \(path) is missing or unreadable") }
            guard data.count == entry.bytes, data.count <= shardFileBytesMax else {
                throw Failure("backup file \(path) is corrupt: \(data.count) bytes, the manifest says \(entry.bytes)")
            }
            let digest = sha256(data)
            guard digest == entry.sha256 else {
                throw Failure("backup file \(path) is corrupt: its SHA-256 is \(digest), the manifest says \(entry.sha256)")
            }
            var ranges: [SlotRange] = []
            for pair in entry.slots {
                guard pair.count == 2 else { throw Failure("\(manifestPath): shard \(entry.shard) has a slot range that is not [first, last]") }
                ranges.append(SlotRange(pair[0], pair[1]))
            }
            shards.append(RestoreImage.Shard(source: path, slots: ranges, data: Array(data)))
        }
        var functions: [UInt8]?
        if let file = manifest.functionsFile {
            guard !file.contains("/"), !file.hasPrefix(".") else { throw Failure("\(manifestPath) names a file outside the backup: \(file)") }
            let path = (directory as NSString).appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: path) else { throw Failure("backup file \(path) is missing or unreadable") }
            let digest = sha256(data)
            guard digest == manifest.functionsSha256 else {
                throw Failure("backup file \(path) is corrupt: its SHA-256 is \(digest), the manifest says \(manifest.functionsSha256 ?? "nothing")")
            }
            functions = Array(data)
        }
        return (manifest, RestoreImage(shards: shards, functions: functions))
    }

    /// What `NodeConfiguration.restore` runs: reads and checks the backup in `directory`.
    public static func restoreSource(_ directory: String) -> @Sendable () throws -> RestoreImage {
        { try read(directory).1 }
    }

    /// `read`, then the slots and every shard's contents checked (`RestoreImage.validate`).
    public static func check(_ directory: String) throws(Failure) -> (BackupManifest, RestoreImage) {
        let (manifest, image) = try read(directory)
        do { try image.validate() } catch { throw Failure("\(directory): \(error.description)") }
        return (manifest, image)
    }
}
