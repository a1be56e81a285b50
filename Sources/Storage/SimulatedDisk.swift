// An in-memory `Disk` for tests and the simulator, with the failure model of a real disk
// behind a page cache:
// - a file's contents become durable only at `sync`; directory changes (create, rename,
//   remove) become durable only at `syncDirectory`;
// - `crash()` throws away everything that was not durable, except that a random prefix of
//   a file's unsynced appended bytes may survive (a torn write);
// - faults can be armed: the next append, sync or rename fails with an error.
// Single-threaded: it is not Sendable and takes no lock.

import Core

public final class SimulatedDisk: Disk {
    private final class Inode {
        var data: [UInt8] = []
        var durable: [UInt8] = []
    }

    private var directories: Set<String> = []
    private var durableDirectories: Set<String> = []
    /// Path to inode, as seen by running code.
    private var entries: [String: Inode] = [:]
    /// Path to inode, as it would be found after a crash.
    private var durableEntries: [String: Inode] = [:]
    private var openFiles: [Int32: (path: String, inode: Inode)] = [:]
    private var nextHandle: Int32 = 3
    private var random: SeededRandom

    /// Armed faults: each fires once, on the next call of its kind.
    public var failNextAppend = false
    public var failNextSync = false
    public var failNextRename = false
    /// Counters for tests that check group commit.
    public private(set) var syncCount = 0
    public private(set) var appendCount = 0

    public init(seed: UInt64 = 1) {
        random = SeededRandom(seed: seed)
    }

    private static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private func inode(_ file: DiskFile, _ operation: DiskError.Operation) throws(DiskError) -> Inode {
        guard let open = openFiles[file.handle] else {
            throw DiskError(operation, path: "fd \(file.handle)", code: -9, message: "bad file handle")
        }
        return open.inode
    }

    // MARK: Disk

    public func makeDirectory(_ path: String) throws(DiskError) {
        directories.insert(path)
        durableDirectories.insert(path)
    }

    public func list(_ directory: String) throws(DiskError) -> [String] {
        guard directories.contains(directory) else {
            throw DiskError(.list, path: directory, code: -2, message: "no such directory")
        }
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return entries.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            .filter { !$0.contains("/") }.sorted()
    }

    public func open(_ path: String, mode: DiskOpenMode) throws(DiskError) -> DiskFile {
        guard directories.contains(Self.parent(of: path)) else {
            throw DiskError(.open, path: path, code: -2, message: "no such directory")
        }
        let node: Inode
        switch (mode, entries[path]) {
        case (.read, nil):
            throw DiskError(.open, path: path, code: -2, message: "no such file")
        case (_, nil):
            node = Inode()
            entries[path] = node
        case (.createTruncate, let existing?):
            existing.data = []
            node = existing
        case (_, let existing?):
            node = existing
        }
        let handle = nextHandle
        nextHandle += 1
        openFiles[handle] = (path, node)
        return DiskFile(handle: handle)
    }

    public func close(_ file: DiskFile) {
        openFiles[file.handle] = nil
    }

    public func size(_ file: DiskFile) throws(DiskError) -> Int {
        try inode(file, .stat).data.count
    }

    public func read(_ file: DiskFile, offset: Int, count: Int) throws(DiskError) -> [UInt8] {
        let data = try inode(file, .read).data
        guard offset < data.count else { return [] }
        return Array(data[offset..<min(data.count, offset + count)])
    }

    public func append(_ file: DiskFile, _ bytes: [UInt8]) throws(DiskError) {
        let node = try inode(file, .write)
        if failNextAppend {
            failNextAppend = false
            throw DiskError(.write, path: "fd \(file.handle)", code: -5, message: "injected write failure")
        }
        appendCount += 1
        node.data.append(contentsOf: bytes)
    }

    public func sync(_ file: DiskFile) throws(DiskError) {
        let node = try inode(file, .fsync)
        if failNextSync {
            failNextSync = false
            throw DiskError(.fsync, path: "fd \(file.handle)", code: -5, message: "injected fsync failure")
        }
        syncCount += 1
        node.durable = node.data
    }

    public func truncate(_ file: DiskFile, size: Int) throws(DiskError) {
        let node = try inode(file, .truncate)
        if size < node.data.count { node.data.removeSubrange(size...) }
    }

    public func rename(_ source: String, to destination: String) throws(DiskError) {
        if failNextRename {
            failNextRename = false
            throw DiskError(.rename, path: source, code: -5, message: "injected rename failure")
        }
        guard let node = entries[source] else {
            throw DiskError(.rename, path: source, code: -2, message: "no such file")
        }
        entries[source] = nil
        entries[destination] = node
    }

    public func remove(_ path: String) throws(DiskError) {
        entries[path] = nil
    }

    public func syncDirectory(_ path: String) throws(DiskError) {
        let prefix = path.hasSuffix("/") ? path : path + "/"
        for key in durableEntries.keys where key.hasPrefix(prefix) && Self.parent(of: key) == path {
            durableEntries[key] = nil
        }
        for (key, node) in entries where Self.parent(of: key) == path {
            durableEntries[key] = node
        }
    }

    // MARK: Faults and inspection

    /// Loses everything not made durable. With `tornWrites`, each file keeps a random
    /// prefix of its unsynced appended bytes, as a disk that wrote some sectors would.
    public func crash(tornWrites: Bool = true) {
        openFiles.removeAll()
        entries = durableEntries
        directories = durableDirectories
        // Visit inodes in path order so one seed always tears the same way.
        var visited: Set<ObjectIdentifier> = []
        for path in entries.keys.sorted() {
            guard let node = entries[path], visited.insert(ObjectIdentifier(node)).inserted else { continue }
            var kept = node.durable
            let extra = node.data.count - node.durable.count
            if tornWrites && extra > 0 && node.data.starts(with: node.durable) {
                let keep = random.int(in: 0...extra)
                kept.append(contentsOf: node.data[node.durable.count..<(node.durable.count + keep)])
            }
            node.data = kept
            node.durable = kept
        }
    }

    /// The current contents of `path`, or nil if it does not exist.
    public func contents(_ path: String) -> [UInt8]? {
        entries[path]?.data
    }

    /// Replaces the contents of `path` (creating it) durably: for building test fixtures.
    public func setContents(_ path: String, _ bytes: [UInt8]) {
        let node = entries[path] ?? Inode()
        node.data = bytes
        node.durable = bytes
        entries[path] = node
        durableEntries[path] = node
    }

    /// Flips one bit of `path` in place (durably), as media corruption would.
    public func flipBit(_ path: String, byte offset: Int, bit: Int) {
        guard let node = entries[path], offset < node.data.count else { return }
        node.data[offset] ^= UInt8(1) << UInt8(bit & 7)
        if offset < node.durable.count { node.durable[offset] = node.data[offset] }
    }
}
