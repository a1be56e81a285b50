// When a shard snapshots (Node+Housekeeping.swift, snapshotThreshold): after
// `snapshotEntries` applied entries, or after as many as the shard holds keys when that is
// more, so a snapshot's cost (in proportion to the keys) stays bounded per write.
import Testing

@Suite struct SnapshotThresholdTests {
    /// Writes `count` SETs to keys `prefix0...`, then ticks; returns how many snapshots were written.
    private static func write(_ harness: NodeScriptHarness, _ count: Int, keys prefix: String) -> Int {
        var lines: [String] = []
        for index in 0..<count { lines.append(harness.run("request n1 c1 SET \(prefix)\(index) v")) }
        lines.append(harness.run("tick 10"))
        return lines.joined(separator: "\n").components(separatedBy: "write snapshot").count - 1
    }

    @Test func aShardWithMoreKeysThanTheCountWaitsForAsManyEntriesAsKeys() {
        let harness = NodeScriptHarness()
        _ = harness.run("standalone fsync=no snapshotentries=4")
        _ = harness.run("open n1 c1")
        #expect(Self.write(harness, 10, keys: "k") == 1)  // 10 entries for 10 keys
        #expect(Self.write(harness, 6, keys: "k") == 0)   // 6 < 10 keys (4 alone would snapshot)
        #expect(Self.write(harness, 4, keys: "k") == 1)   // 10 since the last one
    }

    @Test func aSmallShardSnapshotsAfterTheCount() {
        let harness = NodeScriptHarness()
        _ = harness.run("standalone fsync=no snapshotentries=4")
        _ = harness.run("open n1 c1")
        #expect(Self.write(harness, 2, keys: "k") == 0)
        #expect(Self.write(harness, 3, keys: "k") == 1)  // 5 entries (and the leader's first), 2 keys
    }
}
