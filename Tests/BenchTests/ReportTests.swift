// The report renderer: the summary table, the JSON round trip and the HTML charts; and,
// when chromium is installed (Debian package `chromium`), the HTML rendered headless: the
// DOM after rendering must hold chart polylines with data and the screenshot must not be
// blank. Without chromium the browser test is skipped, not failed.
import Foundation
import Testing
@testable import Bench

func sampleResults() -> BenchResults {
    var results = BenchResults(command: "trestle bench sweep (test)")
    let steps = [step(1_000, p99: 0.5), step(2_000, p99: 0.8), step(4_000, p99: 3), step(8_000, p99: 60)]
    results.sweeps.append(SweepAnalysis.report(target: "trestle", steps: steps, sloMilliseconds: 10, probe: "test"))
    results.sweeps.append(SweepAnalysis.report(target: "redis", steps: steps.map { var s = $0; s.result.latency.p99Milliseconds /= 2; return s },
                                               sloMilliseconds: 10, probe: "test"))
    let levels = [1_000, 5_000, 10_000].map { count in
        ConnectionLevel(connections: count, connectFailures: 0, pingFailures: 0, serverRSSBytes: Double(count) * 20_000 + 5e6,
                        bytesPerConnection: 20_000, result: step(1_000, p99: 1 + Double(count) / 10_000).result)
    }
    results.connectionSweeps.append(ConnectionSweepReport(target: "trestle", rate: 1_000, baselineRSSBytes: 5e6, levels: levels,
                                                          fileDescriptorLimit: 20_000, limitedBy: nil))
    return results
}

/// Finds an executable on PATH.
func executable(named name: String) -> String? {
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let path = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

let chromiumPath = executable(named: "chromium") ?? executable(named: "chromium-browser")

@Suite struct ReportTests {
    @Test func summaryTableNamesTheBreakingPoints() {
        let text = SummaryTable.render(sampleResults())
        #expect(text.contains("trestle"))
        #expect(text.contains("4000 / 4000"))
        #expect(text.contains("10000"))
    }

    @Test func jsonRoundTrips() throws {
        let results = sampleResults()
        let decoded = try JSONDecoder().decode(BenchResults.self, from: try results.json())
        #expect(decoded.sweeps.count == 2)
        #expect(decoded.sweeps[0].breakingPointRate == 4_000)
        #expect(decoded.connectionSweeps[0].levels.count == 3)
    }

    @Test func htmlHasChartsWithDataAndNoExternalResources() {
        let html = HTMLReport.render(sampleResults())
        #expect(html.components(separatedBy: "<svg").count - 1 == 4)
        #expect(html.components(separatedBy: "<polyline").count - 1 == 2 * 3 + 2 + 1 + 1)
        #expect(!html.contains("points=\"\""))
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").count - 1 == 4)  // only SVG namespaces
        #expect(!html.contains("<script"))
    }

    @Test(.enabled(if: chromiumPath != nil, "chromium is not installed (apt-get install -y chromium)"))
    func chromiumRendersTheCharts() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-report-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("report.html")
        try Data(HTMLReport.render(sampleResults()).utf8).write(to: page)
        let dom = try runChromium(["--dump-dom", page.absoluteString], in: directory)
        let polylines = dom.components(separatedBy: "<polyline").dropFirst()
        #expect(polylines.count >= 10)
        let withData = polylines.filter { chunk in
            guard let range = chunk.range(of: "points=\"") else { return false }
            return chunk[range.upperBound...].prefix { $0 != "\"" }.split(separator: " ").count >= 2
        }
        #expect(withData.count >= 10)
        let screenshot = directory.appendingPathComponent("out.png")
        _ = try runChromium(["--screenshot=\(screenshot.path)", "--window-size=1200,800", page.absoluteString], in: directory)
        let size = (try FileManager.default.attributesOfItem(atPath: screenshot.path)[.size] as? Int) ?? 0
        // A blank 1200x800 page compresses to a few KB; charts and text make it far larger.
        #expect(size > 20_000, "screenshot is \(size) bytes")
    }

    func runChromium(_ arguments: [String], in directory: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromiumPath ?? "/usr/bin/chromium")
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(directory.path)/profile"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
