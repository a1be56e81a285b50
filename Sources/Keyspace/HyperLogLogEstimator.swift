// The cardinality estimator Redis uses since 5.0: Otmar Ertl's improved raw estimator
// ("New cardinality estimation algorithms for HyperLogLog sketches", 2017), computed from
// the histogram of register values with the paper's sigma and tau series. Every operation
// is IEEE double arithmetic in the paper's order, so the result equals Redis's exactly.

enum HyperLogLogEstimator {
    /// alpha_inf = 1 / (2 ln 2).
    static let alphaInfinity = 0.721347520444481703680
    /// Q: the hash bits left after choosing the register (64 - 14).
    static let q = 64 - HyperLogLog.indexBits

    /// The estimate from `histogram` (histogram[v] = registers holding v; 64 entries).
    static func estimate(_ histogram: [Int]) -> UInt64 {
        let m = Double(HyperLogLog.registerCount)
        var z = m * tau((m - Double(histogram[q + 1])) / m)
        for value in stride(from: q, through: 1, by: -1) {
            z += Double(histogram[value])
            z *= 0.5
        }
        z += m * sigma(Double(histogram[0]) / m)
        // An infinite z (no register set) gives 0.
        return UInt64(bitPattern: llround(alphaInfinity * m * m / z))
    }

    /// C's llround on x86-64, which Redis's estimate goes through: half away from zero,
    /// and Int64.min for NaN or a value outside Int64 (reachable only from damaged dense
    /// registers, where z may be negative or NaN).
    static func llround(_ value: Double) -> Int64 {
        let rounded = value.rounded(.toNearestOrAwayFromZero)
        guard rounded >= -9_223_372_036_854_775_808.0, rounded < 9_223_372_036_854_775_808.0 else { return .min }
        return Int64(rounded)
    }

    /// sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), summed until it stops changing.
    static func sigma(_ x: Double) -> Double {
        if x == 1 { return .infinity }
        var x = x, y = 1.0, z = x, previous = 0.0
        repeat {
            x *= x
            previous = z
            z += x * y
            y += y
        } while previous != z
        return z
    }

    /// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, summed until it stops changing.
    static func tau(_ x: Double) -> Double {
        if x == 0 || x == 1 { return 0 }
        var x = x, y = 1.0, z = 1 - x, previous = 0.0
        repeat {
            x = x.squareRoot()
            previous = z
            y *= 0.5
            z -= (1 - x) * (1 - x) * y
        } while previous != z
        return z / 3
    }
}
