// Facts about this process, read from /proc and getrusage, for INFO and reports.
import Foundation
import Core
#if canImport(Glibc)
import Glibc
#endif

/// Facts about this process read from /proc, for INFO and the benchmark report.
public enum ProcessStats {
    /// Resident set size in bytes.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// User and system CPU seconds consumed so far.
    public static func cpuSeconds() -> (user: Double, system: Double) {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return (Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
                Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
    }
}

/// Carries a value that is only ever used on the engine's single event loop into a
/// `@Sendable` closure that runs on that loop. Unlike NIOLoopBound it may be created off
/// the loop (at start-up, before the loop touches the value).
struct LoopConfined<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
