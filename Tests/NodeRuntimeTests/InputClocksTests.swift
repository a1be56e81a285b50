// The node reads each clock once per input (Node.swift, InputClocks): a request used to
// read the wall clock three times and the monotonic clock three times on its way through
// the prologue, the routing, the read and the statistics.
import Testing

@Suite struct InputClocksTests {
    @Test func aReadReadsTheWallClockOnceAndTheMonotonicClockTwice() {
        let harness = NodeScriptHarness()
        _ = harness.run("standalone fsync=no")
        _ = harness.run("open n1 c1")
        #expect(harness.run("request n1 c1 SET k v") == "n1 reply c1 +OK")
        let wall = harness.clock.wallReads
        let monotonic = harness.clock.monotonicReads
        #expect(harness.run("request n1 c1 GET k") == "n1 reply c1 \"v\"")
        #expect(harness.clock.wallReads - wall == 1)
        // Once when the input arrives (ticks, the request's start), once for its duration.
        #expect(harness.clock.monotonicReads - monotonic == 2)
    }

    @Test func timeStillMovesBetweenInputs() {
        let harness = NodeScriptHarness()
        _ = harness.run("standalone fsync=no")
        _ = harness.run("open n1 c1")
        _ = harness.run("request n1 c1 SET k v PX 100")
        #expect(harness.run("request n1 c1 PTTL k") == "n1 reply c1 :100")
        harness.clock.milliseconds += 40
        #expect(harness.run("request n1 c1 PTTL k") == "n1 reply c1 :60")
    }
}
