// Facts about this process, read from /proc and getrusage, for INFO and reports.
import Foundation
import Core
import CAllocator
#if canImport(Glibc)
import Glibc
#endif

/// Facts about this process read from /proc, for INFO and the benchmark report.
enum ProcessStats {
    /// Resident set size in bytes (the second field of /proc/self/statm, in pages). Read
    /// with one open and one read into a stack buffer: the node's timer asks every tick.
    static func residentBytes() -> Int {
        let descriptor = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { buffer -> Int in
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            guard count > 0 else { return 0 }
            let fields = buffer[..<count].split(separator: UInt8(ascii: " "), maxSplits: 2)
            guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
            return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
        }
    }

    /// The most resident memory the process has held (VmHWM in /proc/self/status), or the
    /// current resident size where that line cannot be read.
    static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.dropFirst("VmHWM:".count).split(separator: " ").first ?? "") else {
            return residentBytes()
        }
        return max(kilobytes * 1024, residentBytes())
    }

    /// The machine's physical memory in bytes.
    static let totalSystemBytes: Int = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))

    /// User and system CPU seconds consumed so far.
    static func cpuSeconds() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return (Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
                Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
    }

    /// INFO's `mem_allocator`: the allocator the process runs on, with its version ("libc"
    /// when mimalloc is linked but the C library's malloc won).
    static let allocatorName: String = {
        guard trestle_allocator_replaces_malloc() else { return "libc" }
        let version = Int(trestle_allocator_version())
        return "mimalloc-\(version / 100).\(version / 10 % 10).\(version % 10)"
    }()
}
