// INFO stats on a cluster node count what the whole node served: its clients' requests
// and the lookups its shard replicas answered (issue 9, item 8).
import Foundation
import Testing

@Suite struct NodeStatsTests {
    static func field(_ name: String, in info: String) -> String? {
        guard let range = info.range(of: name + ":") else { return nil }
        return String(info[range.upperBound...].prefix { $0.isNumber })
    }

    @Test func infoStatsAreNodeWide() {
        let harness = NodeScriptHarness()
        _ = harness.run("cluster nodes=1 shards=2")
        _ = harness.run("settle")
        _ = harness.run("open n1 c1")
        _ = harness.run("request n1 c1 SET k1 v1")
        _ = harness.run("request n1 c1 GET k1")
        _ = harness.run("request n1 c1 GET missing")
        _ = harness.run("request n1 c1 GET bar")
        let info = harness.run("request n1 c1 INFO stats")
        #expect(Self.field("total_commands_processed", in: info) == "5", "\(info)")
        #expect(Self.field("keyspace_hits", in: info) == "1", "\(info)")
        #expect(Self.field("keyspace_misses", in: info) == "2", "\(info)")
        _ = harness.run("request n1 c1 CONFIG RESETSTAT")
        let reset = harness.run("request n1 c1 INFO stats")
        #expect(Self.field("total_commands_processed", in: reset) == "1", "\(reset)")
        #expect(Self.field("keyspace_hits", in: reset) == "0", "\(reset)")
    }
}
