// Terms, indexes and generations read from peers or files may be anything: stepping past
// the largest one saturates instead of trapping (issue 13).
import Testing
@testable import Core

@Suite struct IdentifierTests {
    @Test func steppingPastTheLargestValueSaturates() {
        #expect(Term(UInt64.max).next == Term(UInt64.max))
        #expect(LogIndex(UInt64.max).next == LogIndex(UInt64.max))
        #expect(LogIndex(UInt64.max - 1).advanced(by: 5) == LogIndex(UInt64.max))
        #expect(Term(4).next == Term(5) && LogIndex(9).advanced(by: 2) == LogIndex(11))
    }
}
