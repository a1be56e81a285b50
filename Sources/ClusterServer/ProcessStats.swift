// Facts about this process, read from /proc and getrusage, for INFO and reports.
import Foundation
import Core
#if canImport(Glibc)
import Glibc
#endif

/// Facts about this process read from /proc, for INFO and the benchmark report.
enum ProcessStats {
    /// Resident set size in bytes.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// User and system CPU seconds consumed so far.
    static func cpuSeconds() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return (Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
                Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
    }
}

/// glibc's malloc_trim: returns free memory at the top of the heap and whole free pages
/// inside it to the operating system. (Not exported by Swift's Glibc module.)
@_silgen_name("malloc_trim")
func releaseFreeMemory(_ padding: Int) -> Int32
