// READONLY reads served by a follower: only while it hears from its shard's leader within
// the configured lag; once out of touch, the client is sent to the leader (-MOVED).
import Testing
@testable import NodeRuntime

@Suite struct FollowerReadTests {
    @Test func aFollowerOutOfTouchWithItsLeaderRedirectsReadOnlyReads() throws {
        let harness = NodeScriptHarness()
        _ = harness.run("cluster nodes=3 shards=2 readlag=30")
        _ = harness.run("settle")
        // "a" hashes to slot 15495, in shard 2 of two.
        let leaders = harness.run("leaders")
        let line = try #require(leaders.split(separator: "\n").first)
        let leader = try #require(line.split(separator: " ").first { $0.hasPrefix("s2=") }).dropFirst(3)
        let follower = ["n1", "n2", "n3"].first { $0 != leader } ?? "n1"
        _ = harness.run("open \(leader) c1")
        _ = harness.run("request \(leader) c1 SET a 1")
        _ = harness.run("settle")
        _ = harness.run("open \(follower) c2")
        #expect(harness.run("request \(follower) c2 GET a").contains("MOVED 15495"))
        _ = harness.run("request \(follower) c2 READONLY")
        #expect(harness.run("request \(follower) c2 GET a").contains("reply c2 \"1\""))
        // Four ticks (40 ms) without a message from the leader: over the 30 ms lag.
        for _ in 0..<4 { _ = harness.run("tick 10") }
        #expect(harness.run("request \(follower) c2 GET a").contains("MOVED 15495"))
        _ = harness.run("settle")
        #expect(harness.run("request \(follower) c2 GET a").contains("reply c2 \"1\""))
    }
}
