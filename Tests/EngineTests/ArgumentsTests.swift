// Argument helpers every command uses.
import Testing
@testable import Engine

@Suite struct ArgumentsTests {
    @Test func lowercasingIsASCIIOnlyAndRepairsBytesThatAreNotUTF8() {
        #expect(Arguments.lowercased(Array("GeT".utf8)) == "get")
        #expect(Arguments.lowercased([]) == "")
        #expect(Arguments.lowercased(Array("ÄB-1".utf8)) == "Äb-1")  // only A-Z change
        #expect(Arguments.lowercased([0x41, 0xFF]) == String(decoding: [0x61, 0xFF], as: UTF8.self))
    }
}
