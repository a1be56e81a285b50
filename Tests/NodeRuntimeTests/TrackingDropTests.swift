// Client-side caching when a shard replica leaves a node: the node no longer sees that
// shard's writes, so what clients read through it from that shard is invalidated at once.
import Core
import Testing
@testable import NodeRuntime

@Suite struct TrackingDropTests {
    @Test func droppingAReplicaInvalidatesTheKeysReadFromIt() throws {
        let harness = NodeScriptHarness()
        _ = harness.run("cluster nodes=3 shards=2")
        _ = harness.run("settle")
        // "a" (slot 15495) is in shard 2, "b" (slot 3300) in shard 1.
        let leaders = try #require(harness.run("leaders").split(separator: "\n").first)
        let leaderOf2 = try #require(leaders.split(separator: " ").first { $0.hasPrefix("s2=") }).dropFirst(3)
        let leaderOf1 = try #require(leaders.split(separator: " ").first { $0.hasPrefix("s1=") }).dropFirst(3)
        let node = ["n1", "n2", "n3"].first { $0 != leaderOf2 && $0 != leaderOf1 } ?? String(leaderOf2)
        let index = (Int(node.dropFirst()) ?? 1) - 1
        _ = harness.run("open \(node) c1")
        _ = harness.run("request \(node) c1 HELLO 3")
        _ = harness.run("request \(node) c1 CLIENT TRACKING ON")
        _ = harness.run("open \(node) c2")
        _ = harness.run("request \(node) c2 HELLO 3")
        _ = harness.run("request \(node) c2 CLIENT TRACKING ON BCAST PREFIX z")
        _ = harness.run("request \(node) c1 READONLY")
        _ = harness.run("request \(node) c1 GET a")
        _ = harness.run("request \(node) c1 GET b")
        _ = harness.run("settle")

        harness.output = []
        harness.nodes[index].dropReplica(ShardID(2), reason: "test")
        harness.perform(index)
        let pushes = harness.output.filter { $0.contains(" push ") }
        // "a" (bytes [97]) is invalidated for the default-mode reader; "b" ([98], shard 1,
        // still held) is not; the BCAST client gets a null invalidation: drop everything.
        let invalidate = "bulk(\(Array("invalidate".utf8)))"
        #expect(pushes.contains { $0.hasPrefix("\(node) push c1") && $0.contains(invalidate) && $0.contains("array([Wire.RESPValue.bulk([97])])") })
        #expect(!pushes.contains { $0.contains("bulk([98])") })
        #expect(pushes.contains { $0.hasPrefix("\(node) push c2") && $0.contains(invalidate) && $0.contains("RESPValue.null") })
        #expect(pushes.count == 2, "\(pushes)")
    }
}
