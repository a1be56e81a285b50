// The live progress line: once a second, on a terminal only, it rewrites one line with the
// elapsed time, the rate of the last second, that second's p50/p99 and the error count.
// It runs on the client event loop and keeps a one-second histogram that it resets.
import Foundation
import NIOCore

final class ProgressReporter: @unchecked Sendable {
    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) != 0 }

    private var interval = LatencyRecorder()
    private var errors = 0
    private var startNanos: UInt64 = 0
    private var task: RepeatedTask?

    func start(on loop: EventLoop, pool: LoadPool) {
        interval.reset()
        errors = 0
        startNanos = NIODeadline.now().uptimeNanoseconds
        task = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in self.tick() }
    }

    func record(microseconds: UInt64) { interval.record(microseconds: microseconds) }
    func recordError() { errors += 1 }

    private func tick() {
        let elapsed = Double(NIODeadline.now().uptimeNanoseconds - startNanos) / 1e9
        let line = String(format: "\r  %5.1fs  %9.0f ops/s  p50 %7.3f ms  p99 %8.3f ms  errors %d   ",
                          elapsed, Double(interval.successes), interval.milliseconds(atPercentile: 50),
                          interval.milliseconds(atPercentile: 99), errors)
        FileHandle.standardOutput.write(Data(line.utf8))
        interval.reset()
    }

    func stop() {
        task?.cancel()
        task = nil
        FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8))
    }
}
