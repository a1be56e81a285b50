// The self-contained HTML report: summary tables and inline SVG line charts (latency
// percentiles against throughput, CPU per million operations, connections against memory
// and p99). No script, no stylesheet link, no font or image fetch: it reads offline.
// Every chart series is a <polyline> whose points come straight from the results.
import Foundation

/// One line of a chart.
public struct ChartSeries: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public var dashed = false

    public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
        self.name = name
        self.points = points
        self.dashed = dashed
    }
}

public enum SVGChart {
    static let width = 720.0
    static let height = 360.0
    static let margin = (left: 70.0, right: 180.0, top: 36.0, bottom: 48.0)
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// A line chart; `logY` plots the y axis in log10 (values ≤ 0 are raised to the minimum).
    public static func line(title: String, xLabel: String, yLabel: String, series: [ChartSeries], logY: Bool = false) -> String {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#fff\"/>"
        svg += "<text x=\"\(Int(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>"
        guard !all.isEmpty else { return svg + "<text x=\"40\" y=\"80\">no data</text></svg>" }
        let transformY: (Double) -> Double = logY ? { log10(max($0, 1e-3)) } : { $0 }
        let xMin = min(all.map(\.x).min() ?? 0, 0)
        var xMax = all.map(\.x).max() ?? 1
        var yMin = logY ? floor(all.map { transformY($0.y) }.min() ?? 0) : 0
        var yMax = logY ? ceil(all.map { transformY($0.y) }.max() ?? 1) : (all.map(\.y).max() ?? 1) * 1.1
        if xMax <= xMin { xMax = xMin + 1 }
        if yMax <= yMin { yMax = yMin + 1; yMin = min(yMin, yMax - 1) }
        let plotWidth = width - margin.left - margin.right
        let plotHeight = height - margin.top - margin.bottom
        func px(_ x: Double) -> Double { margin.left + (x - xMin) / (xMax - xMin) * plotWidth }
        func py(_ y: Double) -> Double { margin.top + plotHeight - (transformY(y) - yMin) / (yMax - yMin) * plotHeight }
        svg += axes(xMin: xMin, xMax: xMax, yMin: yMin, yMax: yMax, logY: logY, px: px, plotHeight: plotHeight)
        svg += "<text x=\"\(Int(margin.left + plotWidth / 2))\" y=\"\(Int(height - 8))\" text-anchor=\"middle\" font-size=\"12\">\(escape(xLabel))</text>"
        svg += "<text transform=\"translate(16 \(Int(margin.top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">\(escape(yLabel))</text>"
        for (index, one) in series.enumerated() {
            let color = palette[index % palette.count]
            let points = one.points.filter { $0.x.isFinite && $0.y.isFinite }
            let text = points.map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ")
            svg += "<polyline class=\"series\" data-name=\"\(escape(one.name))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\""
                + (one.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"\(text)\"/>"
            for point in points {
                svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%@\"/>", px(point.x), py(point.y), color)
            }
            let legendY = Int(margin.top) + 18 * index + 8
            let legendX = Int(width - margin.right) + 12
            svg += "<line x1=\"\(legendX)\" y1=\"\(legendY)\" x2=\"\(legendX + 22)\" y2=\"\(legendY)\" stroke=\"\(color)\" stroke-width=\"3\"/>"
            svg += "<text x=\"\(legendX + 28)\" y=\"\(legendY + 4)\" font-size=\"11\">\(escape(one.name))</text>"
        }
        return svg + "</svg>"
    }

    private static func axes(xMin: Double, xMax: Double, yMin: Double, yMax: Double, logY: Bool,
                             px: (Double) -> Double, plotHeight: Double) -> String {
        let ticks = 5
        let plotWidth = width - margin.left - margin.right
        var svg = "<g font-size=\"11\" fill=\"#333\">"
        svg += "<rect x=\"\(Int(margin.left))\" y=\"\(Int(margin.top))\" width=\"\(Int(plotWidth))\" height=\"\(Int(plotHeight))\" fill=\"none\" stroke=\"#999\"/>"
        for tick in 0...ticks {
            let x = xMin + (xMax - xMin) * Double(tick) / Double(ticks)
            let screenX = px(x)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", screenX, margin.top, screenX, margin.top + plotHeight)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%@</text>", screenX, margin.top + plotHeight + 16, compact(x))
        }
        let yTicks = logY ? Int(yMax - yMin) : ticks
        for tick in 0...max(yTicks, 1) {
            let value = yMin + (yMax - yMin) * Double(tick) / Double(max(yTicks, 1))
            let screenY = margin.top + plotHeight - (value - yMin) / (yMax - yMin) * plotHeight
            let label = logY ? compact(pow(10, value)) : compact(value)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>", margin.left, screenY, margin.left + plotWidth, screenY)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%@</text>", margin.left - 6, screenY + 4, label)
        }
        return svg + "</g>"
    }

    static func compact(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1e6 { return formatShort((value / 1e6 * 10).rounded() / 10) + "M" }
        if magnitude >= 1e4 { return formatShort((value / 1e3).rounded()) + "k" }
        if magnitude >= 1e3 { return formatShort((value / 1e3 * 10).rounded() / 10) + "k" }
        if magnitude >= 10 || magnitude == 0 { return formatShort(value.rounded()) }
        return formatShort((value * 1000).rounded() / 1000)
    }
}

func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

public enum HTMLReport {
    public static func render(_ results: BenchResults) -> String {
        var body = "<h1>trestle bench</h1><p class=\"meta\">\(escape(results.startedAt)) · \(escape(results.machine)) · <code>\(escape(results.command))</code></p>"
        body += "<h2>Summary</h2><pre>\(escape(SummaryTable.render(results)))</pre>"
        if !results.sweeps.isEmpty { body += sweepCharts(results.sweeps) }
        if !results.connectionSweeps.isEmpty { body += connectionCharts(results.connectionSweeps) }
        let style = "body{font-family:sans-serif;margin:24px;color:#222}pre{background:#f6f6f6;padding:12px;overflow-x:auto;font-size:12px}"
            + ".chart{display:block;margin:12px 0;border:1px solid #ddd}.meta{color:#666}"
        return "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>trestle bench report</title><style>\(style)</style></head><body>\(body)</body></html>\n"
    }

    static func sweepCharts(_ sweeps: [SweepReport]) -> String {
        var latency: [ChartSeries] = []
        var cost: [ChartSeries] = []
        for sweep in sweeps {
            let steps = sweep.steps
            latency.append(ChartSeries(name: "\(sweep.target) p50", points: steps.map { ($0.result.throughput, $0.result.latency.p50Milliseconds) }, dashed: true))
            latency.append(ChartSeries(name: "\(sweep.target) p99", points: steps.map { ($0.result.throughput, $0.result.latency.p99Milliseconds) }))
            latency.append(ChartSeries(name: "\(sweep.target) p99.9", points: steps.map { ($0.result.throughput, $0.result.latency.p999Milliseconds) }, dashed: true))
            cost.append(ChartSeries(name: sweep.target, points: steps.compactMap { step in step.cpuSecondsPerMillionOps.map { (step.offeredRate, $0) } }))
        }
        var html = "<h2>Rate sweep</h2>"
        html += SVGChart.line(title: "Latency percentiles vs throughput", xLabel: "achieved ops/s", yLabel: "latency ms (log)", series: latency, logY: true)
        html += SVGChart.line(title: "Server CPU per million operations", xLabel: "offered ops/s", yLabel: "CPU-seconds per 1M ops", series: cost)
        for sweep in sweeps {
            html += "<h3>\(escape(sweep.target))</h3><pre>"
            html += escape(sweep.steps.map { SummaryTable.sweepLine($0, sloMilliseconds: sweep.sloMilliseconds) }.joined(separator: "\n"))
            html += "</pre>"
        }
        return html
    }

    static func connectionCharts(_ sweeps: [ConnectionSweepReport]) -> String {
        let memory = sweeps.map { sweep in
            ChartSeries(name: sweep.target, points: sweep.levels.compactMap { level in
                level.serverRSSBytes.map { (Double(level.connections), $0 / 1_048_576) }
            })
        }
        let latency = sweeps.map { sweep in
            ChartSeries(name: "\(sweep.target) p99", points: sweep.levels.compactMap { level in
                level.result.map { (Double(level.connections), $0.latency.p99Milliseconds) }
            })
        }
        var html = "<h2>Connections</h2>"
        html += SVGChart.line(title: "Connections vs server memory", xLabel: "open connections", yLabel: "server RSS MiB", series: memory)
        html += SVGChart.line(title: "p99 at a fixed rate vs connections", xLabel: "open connections", yLabel: "p99 ms", series: latency)
        return html
    }
}
