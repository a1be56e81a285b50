// Exponential reconnect backoff with jitter, as a pure value: the caller supplies the
// random generator, so tests can seed it.
//
// Invariant: every delay lies in [min/2, max]; the nominal delay doubles per failure from
// `min` up to `max` and returns to `min` after `reset()` (a successful connection).
import NIOCore

struct ReconnectBackoff: Sendable, Equatable {
    let delayMin: TimeAmount
    let delayMax: TimeAmount
    private(set) var nominal: TimeAmount

    init(delayMin: TimeAmount, delayMax: TimeAmount) {
        self.delayMin = delayMin
        self.delayMax = max(delayMin, delayMax)
        self.nominal = delayMin
    }

    /// The delay before the next attempt, drawn from [nominal/2, nominal]; then doubles nominal.
    mutating func nextDelay<Generator: RandomNumberGenerator>(using generator: inout Generator) -> TimeAmount {
        let high = max(nominal.nanoseconds, 1)
        let delay = TimeAmount.nanoseconds(Int64.random(in: (high / 2)...high, using: &generator))
        let doubled = nominal.nanoseconds > delayMax.nanoseconds / 2 ? delayMax.nanoseconds : nominal.nanoseconds * 2
        nominal = .nanoseconds(min(doubled, delayMax.nanoseconds))
        return delay
    }

    mutating func reset() { nominal = delayMin }
}
