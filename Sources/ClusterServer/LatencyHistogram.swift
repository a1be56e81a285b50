// Latency histograms the process shell keeps (it alone reads a monotonic clock): request
// latency by command class, fsync latency and snapshot durations, exported on /metrics as
// Prometheus histograms. Fixed buckets, so recording is one binary search and an add.
import Wire

struct LatencyHistogram {
    /// Upper bounds in seconds (Prometheus `le`), from 50 µs to 10 s; +Inf is implied.
    static let bounds: [Double] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private(set) var counts = [UInt64](repeating: 0, count: bounds.count + 1)
    private(set) var sum: Double = 0
    private(set) var count: UInt64 = 0

    mutating func record(nanoseconds: UInt64) {
        let seconds = Double(nanoseconds) / 1e9
        var low = 0, high = Self.bounds.count
        while low < high {
            let middle = (low + high) / 2
            if Self.bounds[middle] < seconds { low = middle + 1 } else { high = middle }
        }
        counts[low] &+= 1
        sum += seconds
        count &+= 1
    }

    /// Adds another histogram's samples (same buckets) to this one.
    mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] &+= other.counts[index] }
        sum += other.sum
        count &+= other.count
    }

    /// Cumulative (le, count) pairs, +Inf last.
    var cumulative: [(Double, UInt64)] {
        var running: UInt64 = 0
        return counts.enumerated().map { index, value in
            running &+= value
            return (index < Self.bounds.count ? Self.bounds[index] : .infinity, running)
        }
    }
}

/// What kind of request a latency belongs to.
enum RequestClass: String, CaseIterable {
    case read, write, other

    /// Position in `allCases` (indexes `RequestLatencies`).
    var index: Int {
        switch self {
        case .read: return 0
        case .write: return 1
        case .other: return 2
        }
    }

    /// Reads are read-only commands, writes those that may change data; everything else
    /// (connection, server, pub/sub, unknown) is `other`.
    static func of(_ request: [[UInt8]]) -> RequestClass {
        guard let name = request.first, let spec = CommandTable.lookup(name) else { return .other }
        if spec.isWrite { return .write }
        return spec.isReadOnly ? .read : .other
    }
}

/// One latency histogram per request class (recorded for every reply: indexed, not hashed).
struct RequestLatencies {
    private var histograms = [LatencyHistogram](repeating: LatencyHistogram(), count: RequestClass.allCases.count)

    subscript(kind: RequestClass) -> LatencyHistogram {
        get { histograms[kind.index] }
        _modify { yield &histograms[kind.index] }
    }

    var all: [LatencyHistogram] { histograms }
}
