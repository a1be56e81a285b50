// The per-peer circuit breaker as a pure state machine over explicit times, so tests need
// no clock. The transport feeds it "healthy" (connected and socket writable) or not.
//
// Invariant: the breaker is open only after the link has been continuously unhealthy for
// at least `openAfter`; one healthy observation closes it and restarts the count.
import NIOCore

struct CircuitBreaker: Sendable, Equatable {
    enum Transition: Sendable, Equatable { case opened, closed }

    let openAfter: TimeAmount
    private(set) var isOpen = false
    /// Start of the current unhealthy stretch, nil while healthy.
    private(set) var unhealthySince: NIODeadline?

    init(openAfter: TimeAmount, unhealthySince: NIODeadline?) {
        self.openAfter = openAfter
        self.unhealthySince = unhealthySince
    }

    /// Records the link's health at `now`; returns the transition it caused, if any.
    mutating func observe(healthy: Bool, now: NIODeadline) -> Transition? {
        if healthy {
            unhealthySince = nil
            guard isOpen else { return nil }
            isOpen = false
            return .closed
        }
        let since = unhealthySince ?? now
        unhealthySince = since
        guard !isOpen, now - since >= openAfter else { return nil }
        isOpen = true
        return .opened
    }
}
