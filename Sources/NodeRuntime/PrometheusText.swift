// Prometheus's text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per
// family, then `name{label="value"} number` samples. Label values are escaped as the
// format requires. The node renders its metrics at scrape time from the state it already
// keeps, so serving requests pays nothing for them.

public struct PrometheusText {
    public enum Kind: String { case counter, gauge }

    public private(set) var text = ""

    public init() {}

    /// One metric family and its samples: (labels, value) pairs.
    public mutating func family(_ name: String, _ kind: Kind, _ help: String, _ samples: [([(String, String)], Double)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
        for (labels, value) in samples {
            text += name
            if !labels.isEmpty {
                text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            text += " " + Self.format(value) + "\n"
        }
    }

    /// A histogram family: per label set, cumulative (le, count) buckets (+Inf last), the
    /// sum and the count.
    public mutating func histogram(_ name: String, _ help: String,
                                   _ series: [(labels: [(String, String)], buckets: [(Double, UInt64)], sum: Double, count: UInt64)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for entry in series {
            let labels = entry.labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }
            for (bound, count) in entry.buckets {
                text += "\(name)_bucket{" + (labels + ["le=\"\(Self.format(bound))\""]).joined(separator: ",") + "} \(count)\n"
            }
            let suffix = labels.isEmpty ? "" : "{" + labels.joined(separator: ",") + "}"
            text += "\(name)_sum\(suffix) \(Self.format(entry.sum))\n\(name)_count\(suffix) \(entry.count)\n"
        }
    }

    /// A family with one unlabelled sample.
    public mutating func single(_ name: String, _ kind: Kind, _ help: String, _ value: Double) {
        family(name, kind, help, [([], value)])
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
