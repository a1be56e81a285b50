// Key choosers: uniform, zipfian(θ), hotspot and read-latest. Each maps draws from an
// injected `SeededRandom` to a key index in 0..<keyspace, so a seed fixes the whole key
// sequence. Zipfian ranks are key indices (rank 0 is key 0, the hottest); it is exact
// (inverse CDF over a table) up to `ZipfianSampler.tableKeysMax` keys and uses Gray et
// al.'s closed-form approximation (as YCSB does) beyond that.
import Core
import Foundation

/// How keys are chosen, as given on the command line.
public enum KeyDistribution: Equatable, Sendable, CustomStringConvertible {
    case uniform
    /// Zipf's law with exponent `theta` (0 < θ, θ ≠ 1); YCSB uses 0.99.
    case zipfian(theta: Double)
    /// `hotKeysFraction` of the keys receive `hotOperationsFraction` of the operations.
    case hotspot(hotKeysFraction: Double, hotOperationsFraction: Double)
    /// Zipfian over recency: the most recently inserted keys are the hottest (YCSB D).
    case latest(theta: Double)

    public static let zipfianThetaDefault = 0.99

    /// Parses `uniform`, `zipfian`, `zipfian(0.9)`, `hotspot`, `hotspot(0.2,0.8)`, `latest`.
    public static func parse(_ text: String) -> KeyDistribution? {
        let lowered = text.lowercased().replacingOccurrences(of: " ", with: "")
        let name = lowered.prefix { $0 != "(" }
        var numbers: [Double] = []
        if let open = lowered.firstIndex(of: "("), lowered.hasSuffix(")") {
            let inner = lowered[lowered.index(after: open)..<lowered.index(before: lowered.endIndex)]
            for part in inner.split(separator: ",") {
                guard let number = Double(part) else { return nil }
                numbers.append(number)
            }
        } else if lowered.contains("(") {
            return nil
        }
        switch (name, numbers.count) {
        case ("uniform", 0): return .uniform
        case ("zipfian", 0), ("zipf", 0): return .zipfian(theta: zipfianThetaDefault)
        case ("zipfian", 1), ("zipf", 1):
            guard numbers[0] > 0, numbers[0] != 1, numbers[0] < 10 else { return nil }
            return .zipfian(theta: numbers[0])
        case ("latest", 0): return .latest(theta: zipfianThetaDefault)
        case ("hotspot", 0): return .hotspot(hotKeysFraction: 0.2, hotOperationsFraction: 0.8)
        case ("hotspot", 2):
            guard (0.0...1.0).contains(numbers[0]), (0.0...1.0).contains(numbers[1]) else { return nil }
            return .hotspot(hotKeysFraction: numbers[0], hotOperationsFraction: numbers[1])
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .uniform: return "uniform"
        case .zipfian(let theta): return "zipfian(\(theta))"
        case .hotspot(let keys, let operations): return "hotspot(\(keys),\(operations))"
        case .latest(let theta): return "latest(\(theta))"
        }
    }
}

/// A uniform double in [0, 1) from 53 random bits.
@inline(__always)
func unitInterval(_ random: inout SeededRandom) -> Double {
    Double(random.next() >> 11) / Double(UInt64(1) << 53)
}

/// Draws ranks 0..<keyCount with P(rank i) ∝ 1 / (i + 1)^θ.
public struct ZipfianSampler: Sendable {
    /// Keyspaces up to this size sample exactly from a cumulative table (8 bytes per key).
    public static let tableKeysMax = 1 << 20
    /// Terms of ζ(n, θ) summed exactly before the tail is integrated.
    static let zetaExactTermsMax = 1 << 20

    public let keyCount: Int
    public let theta: Double
    /// ζ(n, θ) = Σ_{i=1..n} 1/i^θ.
    public let zeta: Double
    private let cumulative: [Double]
    private let alpha: Double
    private let eta: Double

    public init(keyCount: Int, theta: Double) {
        precondition(keyCount > 0 && theta > 0 && theta != 1, "zipfian needs keys and θ ≠ 1")
        self.keyCount = keyCount
        self.theta = theta
        self.zeta = ZipfianSampler.zeta(keyCount, theta)
        alpha = 1 / (1 - theta)
        let zeta2 = ZipfianSampler.zeta(2, theta)
        eta = (1 - pow(2 / Double(keyCount), 1 - theta)) / (1 - zeta2 / zeta)
        if keyCount <= ZipfianSampler.tableKeysMax {
            var table = [Double](repeating: 0, count: keyCount)
            var sum = 0.0
            for index in 0..<keyCount {
                sum += 1 / pow(Double(index + 1), theta)
                table[index] = sum / zeta
            }
            table[keyCount - 1] = 1
            cumulative = table
        } else {
            cumulative = []
        }
    }

    /// The probability the formula gives rank `index` (0-based).
    public func probability(ofRank index: Int) -> Double {
        1 / pow(Double(index + 1), theta) / zeta
    }

    public func next(_ random: inout SeededRandom) -> Int {
        let uniform = unitInterval(&random)
        if !cumulative.isEmpty { return firstIndex(atLeast: uniform) }
        let scaled = uniform * zeta
        if scaled < 1 { return 0 }
        if scaled < 1 + pow(0.5, theta) { return 1 }
        let rank = Int(Double(keyCount) * pow(eta * uniform - eta + 1, alpha))
        return min(max(rank, 0), keyCount - 1)
    }

    private func firstIndex(atLeast target: Double) -> Int {
        var low = 0
        var high = cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulative[middle] < target { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// ζ(n, θ): exact for the first `zetaExactTermsMax` terms, the tail by the integral
    /// ∫ x^-θ dx over [m + ½, n + ½], which is accurate to well under 0.1% there.
    static func zeta(_ count: Int, _ theta: Double) -> Double {
        let exactTerms = min(count, zetaExactTermsMax)
        var sum = 0.0
        for index in 1...exactTerms { sum += 1 / pow(Double(index), theta) }
        if count > exactTerms {
            let from = Double(exactTerms) + 0.5
            let to = Double(count) + 0.5
            sum += (pow(to, 1 - theta) - pow(from, 1 - theta)) / (1 - theta)
        }
        return sum
    }
}

/// Chooses key indices for one workload. Deterministic given the generator's seed.
public struct KeyChooser: Sendable {
    public let keyspace: Int
    public let distribution: KeyDistribution
    private let zipfian: ZipfianSampler?
    /// The most recently inserted key index (for `latest`); inserts advance it and wrap.
    public private(set) var latestIndex: Int

    public init(keyspace: Int, distribution: KeyDistribution) {
        precondition(keyspace > 0 && keyspace <= BenchLimits.keyspaceMax, "keyspace out of range")
        self.keyspace = keyspace
        self.distribution = distribution
        switch distribution {
        case .zipfian(let theta), .latest(let theta):
            zipfian = ZipfianSampler(keyCount: keyspace, theta: theta)
        case .uniform, .hotspot:
            zipfian = nil
        }
        latestIndex = keyspace - 1
    }

    /// A key to read or update.
    public func next(_ random: inout SeededRandom) -> Int {
        switch distribution {
        case .uniform:
            return Int(random.next() % UInt64(keyspace))
        case .zipfian:
            return zipfian.map { $0.next(&random) } ?? 0
        case .hotspot(let hotKeys, let hotOperations):
            let hotCount = min(max(Int(Double(keyspace) * hotKeys), 1), keyspace)
            let coldCount = keyspace - hotCount
            if coldCount == 0 || unitInterval(&random) < hotOperations {
                return Int(random.next() % UInt64(hotCount))
            }
            return hotCount + Int(random.next() % UInt64(coldCount))
        case .latest:
            let back = zipfian.map { $0.next(&random) } ?? 0
            return ((latestIndex - back) % keyspace + keyspace) % keyspace
        }
    }

    /// The key a new record goes to (read-latest inserts); advances `latestIndex`.
    public mutating func nextInsert() -> Int {
        latestIndex = (latestIndex + 1) % keyspace
        return latestIndex
    }
}
