// A consumer group's entries-read and lag in XINFO GROUPS, after deletions and trims, as
// Redis 8.0 computes them (its unit/type/stream-cgroups lag tests).
import Testing
import Wire
@testable import Engine

@Suite struct StreamGroupLagTests {
    /// The first group's (entries-read, lag).
    private func readAndLag(_ h: Harness, _ key: String) -> (RESPValue?, RESPValue?) {
        guard case .array(let groups) = h.run("XINFO GROUPS \(key)"), case .map(let pairs)? = groups.first else { return (nil, nil) }
        func field(_ name: String) -> RESPValue? { pairs.first { $0.key == .bulk(name) }?.value }
        return (field("entries-read"), field("lag"))
    }

    @Test func aDeletionAheadOfTheGroupHidesTheLagUntilItFallsBehind() {
        let h = Harness()
        h.run("XGROUP CREATE x g1 $ MKSTREAM")
        h.run("XADD x 1-0 data a")
        h.run("XREADGROUP GROUP g1 alice STREAMS x >")
        h.run("XADD x 2-0 data c")
        h.run("XADD x 3-0 data d")
        h.run("XDEL x 2-0")
        #expect(readAndLag(h, "x") == (.integer(1), .null), "a deleted entry after the group's position")
        h.run("XDEL x 1-0")
        #expect(readAndLag(h, "x") == (.integer(1), .integer(1)), "the group and the deletions behind the first entry")
        h.run("XREADGROUP GROUP g1 alice STREAMS x >")
        #expect(readAndLag(h, "x") == (.integer(3), .integer(0)))
    }

    @Test func aTrimPastTheGroupLeavesTheRestAsLag() {
        let h = Harness()
        h.run("XGROUP CREATE x g $ MKSTREAM")
        for id in 1...5 { h.run("XADD x \(id)-0 data v") }
        h.run("XREADGROUP GROUP g alice COUNT 1 STREAMS x >")
        #expect(readAndLag(h, "x") == (.integer(1), .integer(4)))
        h.run("XTRIM x MAXLEN 1")
        #expect(readAndLag(h, "x") == (.integer(1), .integer(1)))
        h.run("XREADGROUP GROUP g alice STREAMS x >")
        #expect(readAndLag(h, "x") == (.integer(5), .integer(0)))
    }
}
