// XREAD and XREADGROUP's argument errors (Redis 8.0's texts, naming the command in lower
// case and the IDs each accepts), and XSETID's check of the largest deleted ID.
import Testing
import Wire
@testable import Engine

@Suite struct StreamReadArgumentTests {
    @Test func unbalancedStreamListsNameTheCommand() {
        let h = Harness()
        h.run("XADD s 1-0 k v")
        h.run("XGROUP CREATE s g $")
        #expect(h.run("XREAD COUNT 1 STREAMS s")
                == .error("ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified."))
        #expect(h.run("XREADGROUP GROUP g c COUNT 1 STREAMS s")
                == .error("ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified."))
        #expect(h.run("XREADGROUP GROUP g c NOACK STREAMS s >") == .nullArray, "NOACK is still XREADGROUP's option")
        #expect(h.run("XREAD NOACK STREAMS s 0") == .error("ERR syntax error"))
    }

    @Test func xsetidRefusesAnIDBelowTheLargestDeleted() {
        let h = Harness()
        h.run("XADD x 1-1 a 1")
        h.run("XADD x 1-2 b 2")
        h.run("XADD x 1-3 c 3")
        h.run("XDEL x 1-2")
        h.run("XDEL x 1-3")
        #expect(h.run("XSETID x 1-2") == .error("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"))
        #expect(h.run("XSETID x 1-3") == .ok)
    }
}
