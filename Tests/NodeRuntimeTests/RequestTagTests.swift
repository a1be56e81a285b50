// A restarted node never reuses the request tag of a proposal from its earlier run: such an
// entry may still commit at the index of a new proposal, and a reused tag would make the
// node hand the old entry's reply to the new proposal's client.
import Core
import Engine
import Logging
@testable import NodeRuntime
import Storage
import Testing

@Suite struct RequestTagTests {
    static func node(at clock: ScriptClock, disk: SimulatedDisk) throws -> Node {
        var settings = Settings()
        settings.directory = "/data"
        return try Node(configuration: .standalone(settings: settings), clock: clock, monotonicClock: clock, seed: 1,
                        disk: disk, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    @Test func aRestartedNodeNumbersItsRequestsAboveTheEarlierRun() throws {
        let clock = ScriptClock()
        let disk = SimulatedDisk(seed: 1)
        try disk.makeDirectory("/data")
        let first = try Self.node(at: clock, disk: disk)
        // The earlier run proposed a million requests, then the process restarted 20 ms later.
        let lastOfFirstRun = first.nextRequest + 1_000_000
        clock.milliseconds += 20
        let second = try Self.node(at: clock, disk: disk)
        #expect(second.nextRequest > lastOfFirstRun)
    }
}
