// The pure pieces of the peer transport's policy: reconnect backoff and circuit breaker.
import Core
import NIOCore
import Testing
@testable import Transport

@Suite struct ReconnectBackoffTests {
    @Test func delaysDoubleWithJitterUpToTheCapAndReset() {
        var backoff = ReconnectBackoff(delayMin: .milliseconds(50), delayMax: .seconds(2))
        var random = SeededRandom(seed: 3)
        var nominal: Int64 = 50_000_000
        for _ in 0..<12 {
            let delay = backoff.nextDelay(using: &random).nanoseconds
            #expect(delay >= nominal / 2 && delay <= nominal)
            nominal = min(nominal * 2, 2_000_000_000)
        }
        #expect(backoff.nominal == .seconds(2))
        backoff.reset()
        #expect(backoff.nominal == .milliseconds(50))
        #expect(backoff.nextDelay(using: &random) <= .milliseconds(50))
    }

    @Test func jitterSpreadsDelays() {
        var random = SeededRandom(seed: 9)
        let delays = Set((0..<20).map { _ in
            var backoff = ReconnectBackoff(delayMin: .seconds(1), delayMax: .seconds(1))
            return backoff.nextDelay(using: &random).nanoseconds
        })
        #expect(delays.count > 10)
    }
}

@Suite struct CircuitBreakerTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func opensOnlyAfterContinuousTroubleAndClosesWhenHealthy() {
        var breaker = CircuitBreaker(openAfter: .seconds(1), unhealthySince: nil)
        #expect(breaker.observe(healthy: false, now: start) == nil)
        #expect(breaker.observe(healthy: false, now: start + .milliseconds(999)) == nil)
        #expect(!breaker.isOpen)
        #expect(breaker.observe(healthy: false, now: start + .seconds(1)) == .opened)
        #expect(breaker.isOpen)
        #expect(breaker.observe(healthy: false, now: start + .seconds(5)) == nil)
        #expect(breaker.observe(healthy: true, now: start + .seconds(6)) == .closed)
        #expect(!breaker.isOpen)
        #expect(breaker.observe(healthy: true, now: start + .seconds(7)) == nil)
    }

    @Test func aHealthyMomentRestartsTheCount() {
        var breaker = CircuitBreaker(openAfter: .seconds(1), unhealthySince: start)
        #expect(breaker.observe(healthy: true, now: start + .milliseconds(900)) == nil)
        #expect(breaker.observe(healthy: false, now: start + .milliseconds(950)) == nil)
        #expect(breaker.observe(healthy: false, now: start + .milliseconds(1900)) == nil)
        #expect(breaker.observe(healthy: false, now: start + .milliseconds(1950)) == .opened)
    }

    @Test func aNewLinkCountsFromWhenItWasAdded() {
        var breaker = CircuitBreaker(openAfter: .seconds(1), unhealthySince: start)
        #expect(breaker.observe(healthy: false, now: start + .seconds(1)) == .opened)
    }
}
