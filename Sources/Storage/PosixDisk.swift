// `Disk` over real files with POSIX calls. Stateless, so one instance may be used from
// several threads at once (the log writer and the snapshot writer do).
//
// Writes and fsyncs interrupted by signals are retried; short writes continue where they
// stopped. Every failure becomes a `DiskError` carrying errno and the path.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// File-scope wrappers: inside `PosixDisk`, `open`, `close` and `rename` name its own methods.
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 { open(path, flags, mode) }
private func systemClose(_ descriptor: Int32) -> Int32 { close(descriptor) }
private func systemRename(_ source: String, _ destination: String) -> Int32 { rename(source, destination) }

public final class PosixDisk: Disk, Sendable {
    public init() {}

    private func failure(_ operation: DiskError.Operation, _ path: String) -> DiskError {
        let code = errno
        let message = String(cString: strerror(code))
        return DiskError(operation, path: path, code: code, message: message)
    }

    public func makeDirectory(_ path: String) throws(DiskError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw failure(.makeDirectory, path) }
    }

    public func list(_ directory: String) throws(DiskError) -> [String] {
        guard let stream = opendir(directory) else { throw failure(.list, directory) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            names.append(name)
            if names.count > StorageLimits.directoryEntriesMax {
                throw DiskError(.list, path: directory, code: -1, message: "too many entries")
            }
        }
        return names
    }

    public func open(_ path: String, mode: DiskOpenMode) throws(DiskError) -> DiskFile {
        let flags: Int32
        switch mode {
        case .read: flags = O_RDONLY
        case .appendCreate: flags = O_RDWR | O_CREAT | O_APPEND
        case .createTruncate: flags = O_RDWR | O_CREAT | O_TRUNC | O_APPEND
        }
        let descriptor = systemOpen(path, flags | O_CLOEXEC, 0o644)
        if descriptor < 0 { throw failure(.open, path) }
        return DiskFile(handle: descriptor)
    }

    public func close(_ file: DiskFile) {
        _ = systemClose(file.handle)
    }

    public func size(_ file: DiskFile) throws(DiskError) -> Int {
        var status = stat()
        if fstat(file.handle, &status) != 0 { throw failure(.stat, "fd \(file.handle)") }
        return Int(status.st_size)
    }

    public func read(_ file: DiskFile, offset: Int, count: Int) throws(DiskError) -> [UInt8] {
        precondition(count >= 0 && offset >= 0, "read range must be non-negative")
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        var failed = false
        bytes.withUnsafeMutableBytes { buffer in
            while done < count {
                let result = pread(file.handle, buffer.baseAddress.map { $0 + done }, count - done, off_t(offset + done))
                if result < 0 {
                    if errno == EINTR { continue }
                    failed = true
                    return
                }
                if result == 0 { return }
                done += result
            }
        }
        if failed { throw failure(.read, "fd \(file.handle)") }
        if done < count { bytes.removeSubrange(done...) }
        return bytes
    }

    public func append(_ file: DiskFile, _ bytes: [UInt8]) throws(DiskError) {
        var done = 0
        var interruptions = 0
        var failed = false
        bytes.withUnsafeBytes { buffer in
            while done < buffer.count {
                let result = write(file.handle, buffer.baseAddress.map { $0 + done }, buffer.count - done)
                if result < 0 {
                    if errno == EINTR && interruptions < StorageLimits.interruptedRetriesMax {
                        interruptions += 1
                        continue
                    }
                    failed = true
                    return
                }
                done += result
            }
        }
        if failed { throw failure(.write, "fd \(file.handle)") }
    }

    public func sync(_ file: DiskFile) throws(DiskError) {
        // A failed fsync is never retried as if it succeeded: after EIO the kernel may have
        // dropped the dirty pages, so the caller must treat the file as lost.
        // fdatasync flushes the data and the metadata needed to read it back (the file
        // size), skipping timestamp-only updates, as Redis does for its append-only file.
        var interruptions = 0
        while fdatasync(file.handle) != 0 {
            if errno == EINTR && interruptions < StorageLimits.interruptedRetriesMax {
                interruptions += 1
                continue
            }
            throw failure(.fsync, "fd \(file.handle)")
        }
    }

    public func truncate(_ file: DiskFile, size: Int) throws(DiskError) {
        if ftruncate(file.handle, off_t(size)) != 0 { throw failure(.truncate, "fd \(file.handle)") }
    }

    public func rename(_ source: String, to destination: String) throws(DiskError) {
        if systemRename(source, destination) != 0 { throw failure(.rename, source) }
    }

    public func remove(_ path: String) throws(DiskError) {
        if unlink(path) != 0 && errno != ENOENT { throw failure(.remove, path) }
    }

    public func syncDirectory(_ path: String) throws(DiskError) {
        let descriptor = systemOpen(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor < 0 { throw failure(.open, path) }
        defer { _ = systemClose(descriptor) }
        if fsync(descriptor) != 0 { throw failure(.fsync, path) }
    }
}
