// XREAD and XREADGROUP's argument errors: Redis 8.0's texts, naming the command as typed
// in lower case and the IDs each accepts.
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
}
