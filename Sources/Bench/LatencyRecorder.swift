// Latency accounting of one phase: an HDR histogram of successful operations in
// microseconds plus counts of errors (by first word of the reply) and timeouts. Nothing is
// dropped: a latency above the histogram's range is clamped to its maximum and counted,
// and every request that did not succeed lands in `errors` or `timeouts`.
import Histogram

/// Latencies and failures of one phase; recorders of many connections or steps merge.
public struct LatencyRecorder: Sendable {
    /// Distinct error kinds kept by name; further kinds are counted under `other`.
    public static let errorKindsMax = 16

    public private(set) var histogram: Histogram<UInt64>
    public private(set) var errors: Int = 0
    public private(set) var timeouts: Int = 0
    public private(set) var errorKinds: [String: Int] = [:]
    public private(set) var clampedCount: Int = 0

    public init() {
        histogram = Histogram<UInt64>(lowestDiscernibleValue: 1,
                                      highestTrackableValue: BenchLimits.latencyMicrosecondsMax,
                                      numberOfSignificantValueDigits: .three)
    }

    public var successes: Int { Int(histogram.totalCount) }

    public mutating func record(microseconds: UInt64) {
        var value = max(microseconds, 1)
        if value > BenchLimits.latencyMicrosecondsMax {
            value = BenchLimits.latencyMicrosecondsMax
            clampedCount += 1
        }
        _ = histogram.record(value)
    }

    /// Counts an error reply or a failed connection; `kind` is e.g. `ERR` or `connection`.
    public mutating func recordError(kind: String) {
        errors += 1
        let name = errorKinds[kind] != nil || errorKinds.count < LatencyRecorder.errorKindsMax ? kind : "other"
        errorKinds[name, default: 0] += 1
    }

    public mutating func recordTimeouts(_ count: Int) {
        timeouts += count
    }

    public mutating func merge(_ other: LatencyRecorder) {
        histogram.add(other.histogram)
        errors += other.errors
        timeouts += other.timeouts
        clampedCount += other.clampedCount
        for (kind, count) in other.errorKinds {
            let name = errorKinds[kind] != nil || errorKinds.count < LatencyRecorder.errorKindsMax ? kind : "other"
            errorKinds[name, default: 0] += count
        }
    }

    public mutating func reset() {
        self = LatencyRecorder()
    }

    /// The value at `percentile` (0...100) in milliseconds; 0 when nothing was recorded.
    public func milliseconds(atPercentile percentile: Double) -> Double {
        guard histogram.totalCount > 0 else { return 0 }
        return Double(histogram.valueAtPercentile(percentile)) / 1_000
    }

    public var summary: LatencySummary {
        LatencySummary(
            count: successes, errors: errors, timeouts: timeouts, errorKinds: errorKinds,
            meanMilliseconds: histogram.totalCount > 0 ? histogram.mean / 1_000 : 0,
            p50Milliseconds: milliseconds(atPercentile: 50), p90Milliseconds: milliseconds(atPercentile: 90),
            p99Milliseconds: milliseconds(atPercentile: 99), p999Milliseconds: milliseconds(atPercentile: 99.9),
            maxMilliseconds: histogram.totalCount > 0 ? Double(histogram.max) / 1_000 : 0)
    }
}

/// Percentiles and counts, as written to JSON and the report.
public struct LatencySummary: Codable, Equatable, Sendable {
    public var count: Int
    public var errors: Int
    public var timeouts: Int
    public var errorKinds: [String: Int]
    public var meanMilliseconds: Double
    public var p50Milliseconds: Double
    public var p90Milliseconds: Double
    public var p99Milliseconds: Double
    public var p999Milliseconds: Double
    public var maxMilliseconds: Double
}
