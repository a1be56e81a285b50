// Latency recorders: merging keeps every count, percentiles come out of the merged
// histogram, errors are kept by kind and clamped latencies are still counted.
import Testing
@testable import Bench

@Suite struct RecorderTests {
    @Test func mergingAddsCountsAndPercentiles() {
        var fast = LatencyRecorder()
        var slow = LatencyRecorder()
        for _ in 0..<990 { fast.record(microseconds: 100) }
        for _ in 0..<10 { slow.record(microseconds: 50_000) }
        slow.recordError(kind: "ERR")
        slow.recordTimeouts(3)
        var merged = LatencyRecorder()
        merged.merge(fast)
        merged.merge(slow)
        #expect(merged.successes == 1_000)
        #expect(merged.errors == 1)
        #expect(merged.timeouts == 3)
        #expect(merged.errorKinds == ["ERR": 1])
        #expect(abs(merged.milliseconds(atPercentile: 50) - 0.1) < 0.001)
        #expect(abs(merged.milliseconds(atPercentile: 99.5) - 50) < 0.1)
        #expect(merged.summary.maxMilliseconds >= 49.9)
    }

    @Test func latenciesBeyondTheRangeAreClampedAndCounted() {
        var recorder = LatencyRecorder()
        recorder.record(microseconds: BenchLimits.latencyMicrosecondsMax * 2)
        recorder.record(microseconds: 0)
        #expect(recorder.successes == 2)
        #expect(recorder.clampedCount == 1)
    }

    @Test func errorKindsAreBounded() {
        var recorder = LatencyRecorder()
        for index in 0..<(LatencyRecorder.errorKindsMax + 5) { recorder.recordError(kind: "E\(index)") }
        #expect(recorder.errors == LatencyRecorder.errorKindsMax + 5)
        #expect(recorder.errorKinds.count == LatencyRecorder.errorKindsMax + 1)
        #expect(recorder.errorKinds["other"] == 5)
    }
}
