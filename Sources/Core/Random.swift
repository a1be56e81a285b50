// Randomness enters the deterministic core only through an injected generator. One 64-bit
// seed determines every draw, so a simulated run replays bit for bit.

/// SplitMix64: a small, fast, well-distributed generator with a 64-bit state.
/// Used to seed everything in the deterministic core and the simulator.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniformly distributed integer in `range`.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }

    /// True with probability `probability` (0...1).
    public mutating func chance(_ probability: Double) -> Bool {
        guard probability > 0 else { return false }
        return Double(next() >> 11) / Double(1 << 53) < probability
    }

    /// An independent generator derived from this one, for a sub-component.
    public mutating func fork() -> SeededRandom { SeededRandom(seed: next()) }
}
