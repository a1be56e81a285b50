// End to end against a real single Trestle node: starts the built binary (TRESTLE_BIN, or
// .build/release/trestle, or .build/debug/trestle) on port 0 with --fsync no, reads the
// port from its banner, runs a short closed-loop phase and a two-step sweep, and checks
// that every request succeeded. Skipped when no binary has been built.
import Foundation
import Testing
@testable import Bench

func trestleBinary() -> String? {
    if let path = ProcessInfo.processInfo.environment["TRESTLE_BIN"], FileManager.default.isExecutableFile(atPath: path) { return path }
    var directory = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { directory.deleteLastPathComponent() }
    for configuration in ["release", "debug"] {
        let path = directory.appendingPathComponent(".build/\(configuration)/trestle").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// A Trestle server process for one test.
final class TrestleProcess {
    /// Longest wait for the banner.
    static let startSecondsMax = 20.0
    let process = Process()
    let directory: URL
    private(set) var port = 0

    init(binary: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-e2e-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["server", "--port", "0", "--dir", directory.path, "--fsync", "no"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        port = try Self.readPort(output.fileHandleForReading)
    }

    static func readPort(_ handle: FileHandle) throws -> Int {
        let deadline = Date().addingTimeInterval(startSecondsMax)
        var text = ""
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            // The banner line reads "listening    127.0.0.1:PORT".
            if let listening = text.range(of: "listening"),
               let range = text[listening.upperBound...].range(of: "127.0.0.1:") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), text[range.upperBound...].count > digits.count { return port }
            }
        }
        throw BenchError.unavailable("no banner from trestle: \(text)")
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite(.serialized) struct EndToEndTests {
    @Test(.enabled(if: trestleBinary() != nil, "no trestle binary built (swift build --product trestle)"))
    func runAndSweepAgainstASingleNode() async throws {
        let server = try TrestleProcess(binary: trestleBinary() ?? "")
        defer { server.stop() }
        var settings = LoadSettings()
        settings.target = BenchAddress(host: "127.0.0.1", port: server.port)
        settings.clients = 8
        settings.pipeline = 4
        settings.keyspace = 1_000
        let client = try LoadClient(settings: settings)
        #expect(try await client.connect(count: settings.clients) == 0)
        let (closed, _) = try await client.run(PhasePlan(durationSeconds: 1))
        #expect(closed.latency.count > 100)
        #expect(closed.latency.errors == 0 && closed.latency.timeouts == 0)
        let runner = SweepRunner(rates: [200, 400], stepSeconds: 1, sloMilliseconds: 200)
        let report = try await runner.run(target: "trestle", client: client, probe: .process(pid: server.process.processIdentifier)) { print($0) }
        await client.shutdown()
        #expect(report.steps.count == 2)
        #expect(report.steps.allSatisfy { $0.result.latency.errors == 0 })
        #expect(report.steps.allSatisfy { ($0.serverCPUSeconds ?? -1) >= 0 && ($0.serverRSSBytes ?? 0) > 0 })
        #expect(report.breakingPointRate != nil)
    }
}
