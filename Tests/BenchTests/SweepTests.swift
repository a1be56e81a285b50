// Breaking-point detection: pure analysis on synthetic steps, then a real open-loop sweep
// against the token-bucket test server whose capacity is 2,000 ops/s; the breaking point
// must land just under it. Also: -MOVED replies are followed to the named node.
import Testing
@testable import Bench

func step(_ rate: Double, p99: Double, throughput: Double? = nil, errors: Int = 0) -> SweepStep {
    let latency = LatencySummary(count: 1_000, errors: errors, timeouts: 0, errorKinds: [:], meanMilliseconds: p99 / 2,
                                 p50Milliseconds: p99 / 3, p90Milliseconds: p99 / 2, p99Milliseconds: p99,
                                 p999Milliseconds: p99 * 2, maxMilliseconds: p99 * 3)
    let result = PhaseResult(mode: "open-loop", offeredRate: rate, elapsedSeconds: 1, issued: 1_000 + errors,
                             throughput: throughput ?? rate, latency: latency, clientCPUSeconds: 0.1, connections: 4)
    return SweepStep(offeredRate: rate, result: result, serverCPUSeconds: rate / 10_000, serverRSSBytes: 1e6)
}

@Suite struct SweepAnalysisTests {
    @Test func breakingPointIsTheLastStepUnderTheSLO() {
        let steps = [step(1_000, p99: 1), step(2_000, p99: 2), step(4_000, p99: 8), step(8_000, p99: 40), step(16_000, p99: 900)]
        #expect(SweepAnalysis.breakingPoint(steps, sloMilliseconds: 10) == 2)
        #expect(SweepAnalysis.breakingPoint(steps, sloMilliseconds: 0.5) == nil)
        let report = SweepAnalysis.report(target: "t", steps: steps, sloMilliseconds: 10, probe: "test")
        #expect(report.breakingPointRate == 4_000)
        #expect(abs((report.opsPerSecondPerCore ?? 0) - 1_000 / 0.4) < 1e-6)
        #expect(abs((report.cpuSecondsPerMillionOps ?? 0) - 400) < 1e-6)
    }

    @Test func errorsOrAShortfallBreakTheSLO() {
        #expect(!SweepAnalysis.withinSLO(step(1_000, p99: 1, errors: 10), sloMilliseconds: 10))
        #expect(!SweepAnalysis.withinSLO(step(1_000, p99: 1, throughput: 800), sloMilliseconds: 10))
        #expect(SweepAnalysis.withinSLO(step(1_000, p99: 1, throughput: 990), sloMilliseconds: 10))
    }

    @Test func kneeIsWhereLatencyTurnsUp() {
        let points: [(x: Double, y: Double)] = [(1, 1), (2, 1.1), (3, 1.2), (4, 1.4), (5, 30), (6, 800)]
        #expect(SweepAnalysis.knee(points) == 3)
        #expect(SweepAnalysis.knee([(1, 1), (2, 2)]) == nil)
    }

    @Test func geometricRatesAreBounded() {
        #expect(SweepAnalysis.rates(start: 1_000, max: 8_000, factor: 2) == [1_000, 2_000, 4_000, 8_000])
        #expect(SweepAnalysis.rates(start: 1, max: 1e12, factor: 1.01).count == BenchLimits.sweepStepsMax)
    }
}

@Suite(.serialized) struct LiveSweepTests {
    @Test func sweepFindsTheCapacityOfATokenBucketServer() async throws {
        let server = TestServer(opsPerSecond: 2_000)
        try await server.start()
        var settings = LoadSettings()
        settings.target = BenchAddress(host: "127.0.0.1", port: server.port)
        settings.clients = 8
        settings.pipeline = 64
        let client = try LoadClient(settings: settings)
        #expect(try await client.connect(count: settings.clients) == 0)
        // The SLO is looser than the default 10 ms so a loaded test machine (or the other
        // live suites running in parallel) cannot fail a step below capacity; above capacity
        // the queue grows by 200 ms per second of the step, well past it.
        let runner = SweepRunner(rates: [1_000, 1_500, 1_800, 2_400, 3_000], stepSeconds: 1.5, sloMilliseconds: 100)
        let report = try await runner.run(target: "bucket", client: client, probe: .none) { print($0) }
        await client.shutdown()
        await server.stop()
        let breaking = try #require(report.breakingPointRate)
        #expect((1_500...1_800).contains(breaking), "breaking point \(breaking)")
        let over = try #require(report.steps.first { $0.offeredRate == 2_400 })
        #expect(over.result.latency.p99Milliseconds > 100)
        #expect(over.result.throughput < 2_200)
    }

    @Test func movedRepliesAreFollowed() async throws {
        let owner = TestServer(opsPerSecond: 100_000)
        try await owner.start()
        let redirecting = TestServer(opsPerSecond: 100_000, movedTo: owner.port)
        try await redirecting.start()
        var settings = LoadSettings()
        settings.target = BenchAddress(host: "127.0.0.1", port: redirecting.port)
        settings.clients = 2
        settings.keyspace = 50
        let client = try LoadClient(settings: settings)
        _ = try await client.connect(count: settings.clients)
        let (result, _) = try await client.run(PhasePlan(requests: 500))
        await client.shutdown()
        await redirecting.stop()
        await owner.stop()
        #expect(result.latency.count == 500)
        #expect(result.latency.errors == 0)
        // Each slot is redirected once at most per connection burst; most requests go
        // straight to the owner after the first MOVED for their slot.
        #expect(owner.served >= 500)
        #expect(redirecting.served < 500)
    }

    @Test func askRepliesSendAskingThenTheCommandEachTime() async throws {
        let owner = TestServer(opsPerSecond: 100_000)
        try await owner.start()
        let migrating = TestServer(opsPerSecond: 100_000, askTo: owner.port)
        try await migrating.start()
        var settings = LoadSettings()
        settings.target = BenchAddress(host: "127.0.0.1", port: migrating.port)
        settings.clients = 2
        settings.keyspace = 50
        let client = try LoadClient(settings: settings)
        _ = try await client.connect(count: settings.clients)
        let (result, _) = try await client.run(PhasePlan(requests: 200))
        await client.shutdown()
        await migrating.stop()
        await owner.stop()
        #expect(result.latency.count == 200)
        #expect(result.latency.errors == 0)
        // ASK does not move the slot: every request asks first, then goes to the owner.
        #expect(migrating.served >= 200)
        #expect(owner.askingReceived == 200)
    }
}
