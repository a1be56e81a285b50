// The size of what the keyspace stores per key: its dictionaries hold a Key and an Entry
// in every bucket, so these sizes are memory per key.
import Testing
@testable import Keyspace

@Suite struct ValueLayoutTests {
    /// A value, its expiry and its access field (AccessClock.swift, 4 bytes padded to a word);
    /// a key three words.
    @Test func aValueIsOneWordAndAnEntryThree() {
        #expect(MemoryLayout<Value>.size == MemoryLayout<Int>.size)
        #expect(MemoryLayout<Entry>.stride == 3 * MemoryLayout<Int>.size)
        // A key of up to 22 bytes inline, else a reference to its array (Key.swift).
        #expect(MemoryLayout<Key>.stride == 3 * MemoryLayout<Int>.size)
    }

    @Test func aContainerTakenOutOfItsBoxIsChangedWithoutTouchingOtherCopies() throws {
        let key = Array("l".utf8)
        var keyspace = Keyspace()
        _ = try keyspace.listPush(key, [Array("a".utf8)], at: .tail, now: 0)
        var copy = keyspace  // a snapshot's O(1) copy shares the list's box
        _ = try keyspace.listPush(key, [Array("b".utf8)], at: .tail, now: 0)
        #expect(try keyspace.listElements(key, now: 0)?.count == 2)
        #expect(try copy.listElements(key, now: 0)?.count == 1)
        _ = try copy.listPop(key, from: .head, count: 1, now: 0)
        #expect(try keyspace.listElements(key, now: 0)?.count == 2)
    }
}
