// OBJECT ENCODING of strings as Redis reports it: a string changed in place (APPEND,
// SETRANGE, SETBIT, BITFIELD) is raw whatever its content, until a write stores a new
// value (SET, INCR, ...); a key renamed keeps it.
import Testing
import Wire
@testable import Engine

@Suite struct StringEncodingTests {
    @Test func inPlaceChangesLeaveAStringRaw() {
        let h = Harness()
        h.run("SET foo 1")
        #expect(h.run("OBJECT ENCODING foo") == .bulk("int"))
        h.run("APPEND foo 2")
        #expect(h.run("OBJECT ENCODING foo") == .bulk("raw"), "12 after APPEND")
        h.run("INCR foo")
        #expect(h.run("OBJECT ENCODING foo") == .bulk("int"), "INCR stores a new value")
        h.run("SET bar 1234")
        h.run("SETRANGE bar 0 2")
        #expect(h.run("OBJECT ENCODING bar") == .bulk("raw"))
        h.run("RENAME bar baz")
        #expect(h.run("OBJECT ENCODING baz") == .bulk("raw"), "a renamed key keeps its object")
        h.run("SET baz short")
        #expect(h.run("OBJECT ENCODING baz") == .bulk("embstr"))
        h.run("SETBIT bits 3 1")
        #expect(h.run("OBJECT ENCODING bits") == .bulk("raw"))
        h.run("APPEND fresh 12")
        #expect(h.run("OBJECT ENCODING fresh") == .bulk("int"), "APPEND to a missing key stores the value as SET")
    }

    @Test func anEmptySetrangeChangesNothing() {
        let h = Harness()
        h.run("SET k 1234")
        #expect(h.engine.execute([Array("SETRANGE".utf8), Array("k".utf8), Array("0".utf8), []], session: h.session, now: h.now).reply == .integer(4))
        #expect(h.run("OBJECT ENCODING k") == .bulk("int"))
    }
}
