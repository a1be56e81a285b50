// Workloads: a mix of operation kinds with weights, plus a key distribution. The YCSB core
// workloads are presets; `--mix get=0.9,set=0.1` builds a custom one. `OperationGenerator`
// turns a seed into the sequence of (kind, key) pairs, so two runs with one seed send the
// same keys in the same order per generator.
import Core
import Foundation

/// What one benchmark operation does on the wire.
public enum OperationKind: String, CaseIterable, Codable, Sendable {
    /// GET key.
    case get
    /// SET key value (an update of an existing key).
    case set
    /// GET key, then SET key value once the GET is answered (YCSB F); timed as one.
    case rmw
    /// SET of a new key at the head of the read-latest order (YCSB D).
    case insert
    /// PING, for connection tests and servers without keys.
    case ping
}

/// Weighted operation kinds and a key distribution.
public struct Workload: Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var weights: [(kind: OperationKind, weight: Double)]
    public var distribution: KeyDistribution

    public init(name: String, weights: [(kind: OperationKind, weight: Double)], distribution: KeyDistribution) {
        self.name = name
        self.weights = weights
        self.distribution = distribution
    }

    public static func == (lhs: Workload, rhs: Workload) -> Bool {
        lhs.name == rhs.name && lhs.distribution == rhs.distribution
            && lhs.weights.map(\.kind) == rhs.weights.map(\.kind)
            && lhs.weights.map(\.weight) == rhs.weights.map(\.weight)
    }

    /// YCSB core workloads A, B, C, D and F (E, scans, has no Redis string equivalent).
    public static func preset(_ letter: String) -> Workload? {
        let zipfian = KeyDistribution.zipfian(theta: KeyDistribution.zipfianThetaDefault)
        switch letter.uppercased() {
        case "A": return Workload(name: "A", weights: [(.get, 0.5), (.set, 0.5)], distribution: zipfian)
        case "B": return Workload(name: "B", weights: [(.get, 0.95), (.set, 0.05)], distribution: zipfian)
        case "C": return Workload(name: "C", weights: [(.get, 1.0)], distribution: zipfian)
        case "D": return Workload(name: "D", weights: [(.get, 0.95), (.insert, 0.05)],
                                  distribution: .latest(theta: KeyDistribution.zipfianThetaDefault))
        case "F": return Workload(name: "F", weights: [(.get, 0.5), (.rmw, 0.5)], distribution: zipfian)
        default: return nil
        }
    }

    /// Parses `get=0.9,set=0.1`; weights are normalised to sum to one.
    public static func parseMix(_ text: String, distribution: KeyDistribution) -> Workload? {
        var weights: [(kind: OperationKind, weight: Double)] = []
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2,
                  let kind = OperationKind(rawValue: pair[0].trimmingCharacters(in: .whitespaces).lowercased()),
                  let weight = Double(pair[1].trimmingCharacters(in: .whitespaces)), weight >= 0,
                  !weights.contains(where: { $0.kind == kind }) else { return nil }
            weights.append((kind, weight))
        }
        let total = weights.reduce(0) { $0 + $1.weight }
        guard total > 0 else { return nil }
        return Workload(name: "mix(\(text))", weights: weights.map { ($0.kind, $0.weight / total) },
                        distribution: distribution)
    }

    public var description: String {
        let mix = weights.map { "\($0.kind.rawValue)=\(formatShort($0.weight))" }.joined(separator: ",")
        return "\(name) [\(mix)] keys \(distribution)"
    }
}

/// One operation to send: its kind and key index.
public struct Operation: Equatable, Sendable {
    public var kind: OperationKind
    public var keyIndex: Int
}

/// Produces operations for a workload from a seed.
public struct OperationGenerator: Sendable {
    public let workload: Workload
    private var random: SeededRandom
    private var keys: KeyChooser
    private let cumulativeWeights: [Double]

    public init(workload: Workload, keyspace: Int, seed: UInt64) {
        self.workload = workload
        random = SeededRandom(seed: seed)
        keys = KeyChooser(keyspace: keyspace, distribution: workload.distribution)
        var sum = 0.0
        cumulativeWeights = workload.weights.map { sum += $0.weight; return sum }
    }

    public mutating func next() -> Operation {
        let kind = nextKind()
        if kind == .insert { return Operation(kind: kind, keyIndex: keys.nextInsert()) }
        return Operation(kind: kind, keyIndex: keys.next(&random))
    }

    private mutating func nextKind() -> OperationKind {
        guard let last = cumulativeWeights.last, last > 0 else { return .ping }
        let draw = unitInterval(&random) * last
        for (index, bound) in cumulativeWeights.enumerated() where draw < bound {
            return workload.weights[index].kind
        }
        return workload.weights[workload.weights.count - 1].kind
    }
}

/// Formats a number with up to three decimals and no trailing zeros.
func formatShort(_ value: Double) -> String {
    if value == value.rounded() && abs(value) < 1e15 { return String(Int(value)) }
    var text = String(format: "%.3f", value)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
}
