// Key holds short keys inline and long ones in an array (Value.swift): both forms must be
// indistinguishable through Key's interface, and a key must hash as its bytes do.
import Testing
@testable import Keyspace

@Suite struct KeyTests {
    static func bytes(_ count: Int, from first: UInt8 = 0x41) -> [UInt8] {
        (0..<count).map { first &+ UInt8(truncatingIfNeeded: $0) }
    }

    @Test(arguments: [0, 1, 7, 8, 15, 16, 21, 22, 23, 24, 100])
    func bytesRoundTripAtEveryLength(count: Int) {
        let original = Self.bytes(count)
        let key = Key(original)
        #expect(key.bytes == original)
        #expect(key.count == count)
        #expect(key.withUnsafeBytes { Array($0) } == original)
    }

    @Test func shortKeysAreInlineAndLongOnesAreNot() {
        if case .inline = Key(Self.bytes(Key.inlineBytesMax)).storage {} else { Issue.record("22 bytes should be inline") }
        if case .heap = Key(Self.bytes(Key.inlineBytesMax + 1)).storage {} else { Issue.record("23 bytes should be on the heap") }
    }

    @Test(arguments: [0, 5, 16, 22, 23, 40])
    func equalityFollowsTheBytes(count: Int) {
        let original = Self.bytes(count)
        #expect(Key(original) == Key(original))
        #expect(Key(original).hashValue == Key(original).hashValue)
        if count > 0 {
            var changedLast = original
            changedLast[count - 1] ^= 1
            #expect(Key(original) != Key(changedLast))
        }
        // A prefix differs (inline words are zero past the count, so `a` and `a\0` must
        // still differ by their counts).
        #expect(Key(original) != Key(original + [0]))
    }

    @Test func keysOfEveryLengthShareOneDictionaryWithoutCollisions() {
        var table: [Key: Int] = [:]
        for count in 0...40 {
            table[Key(Self.bytes(count))] = count
            table[Key(Self.bytes(count, from: 0x61))] = count + 100
        }
        #expect(table.count == 81)  // length 0 is one key under both starts
        for count in 0...40 {
            #expect(table[Key(Self.bytes(count))] == (count == 0 ? 100 : count))
            #expect(table[Key(Self.bytes(count, from: 0x61))] == count + 100)
        }
    }
}
