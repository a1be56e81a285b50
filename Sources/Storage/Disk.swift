// The durability layer reaches files only through `Disk`, so that the same log, snapshot
// and recovery code runs on real files (`PosixDisk`) and on a fault-injecting in-memory
// disk (`SimulatedDisk`) whose crashes drop every write that was not fsynced.
//
// Contract: writes only append; `sync` makes a file's contents durable; names created,
// renamed or removed in a directory are durable only after `syncDirectory`.

/// An open file. Valid until closed, or until a simulated crash.
public struct DiskFile: Hashable, Sendable {
    public var handle: Int32
    public init(handle: Int32) { self.handle = handle }
}

public enum DiskOpenMode: Sendable {
    /// Read only; the file must exist.
    case read
    /// Read and append; the file is created if missing and kept if present.
    case appendCreate
    /// Read and append to a new, empty file; an existing file of that name is emptied.
    case createTruncate
}

public protocol Disk: AnyObject {
    /// Creates `path` if it does not exist (one level, like `mkdir`).
    func makeDirectory(_ path: String) throws(DiskError)
    /// Names (not paths) of the entries in `directory`, without "." and "..".
    func list(_ directory: String) throws(DiskError) -> [String]
    func open(_ path: String, mode: DiskOpenMode) throws(DiskError) -> DiskFile
    func close(_ file: DiskFile)
    func size(_ file: DiskFile) throws(DiskError) -> Int
    /// Up to `count` bytes starting at `offset`; fewer only at the end of the file.
    func read(_ file: DiskFile, offset: Int, count: Int) throws(DiskError) -> [UInt8]
    /// Appends all of `bytes` at the end of the file.
    func append(_ file: DiskFile, _ bytes: [UInt8]) throws(DiskError)
    func sync(_ file: DiskFile) throws(DiskError)
    func truncate(_ file: DiskFile, size: Int) throws(DiskError)
    func rename(_ source: String, to destination: String) throws(DiskError)
    func remove(_ path: String) throws(DiskError)
    func syncDirectory(_ path: String) throws(DiskError)
}

extension Disk {
    /// Reads a whole file; meant for tests and small files.
    public func readAll(_ path: String) throws(DiskError) -> [UInt8] {
        let file = try open(path, mode: .read)
        defer { close(file) }
        return try read(file, offset: 0, count: try size(file))
    }

    /// Replaces a small file whole: writes `bytes` to PATH.tmp, renames it over `path` (a
    /// crash leaves the old or the new). `durable`: fsyncs the file before the rename and
    /// the directory after, so the new file survives a power loss once this returns.
    public func replaceFile(_ path: String, with bytes: [UInt8], durable: Bool = true) throws(DiskError) {
        let temporary = path + ".tmp"
        let file = try open(temporary, mode: .createTruncate)
        defer { close(file) }
        try append(file, bytes)
        if durable { try sync(file) }
        try rename(temporary, to: path)
        guard durable else { return }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try syncDirectory(directory.isEmpty ? "/" : directory)
    }
}

/// Joins a directory and a file name.
public func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
