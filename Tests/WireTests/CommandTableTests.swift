// Key positions as routing reads them: fixed single keys (served from one shared array),
// ranges, steps and keys after a count.
import Testing
@testable import Wire

@Suite struct CommandTableTests {
    static func positions(_ line: String) -> [Int] {
        let arguments = line.split(separator: " ").map { Array($0.utf8) }
        return CommandTable.lookup(arguments[0])?.keyPositions(in: arguments) ?? []
    }

    @Test func singleKeyCommandsNameTheirKeyOnlyWhenItIsThere() {
        #expect(Self.positions("GET k") == [1])
        #expect(Self.positions("SET k v EX 10") == [1])
        #expect(Self.positions("GET") == [])
        #expect(Self.positions("HSET h f v") == [1])
        #expect(CommandTable.lookup(Array("get".utf8))?.keyPositions(argumentCount: 1) == [])
    }

    @Test func rangesStepsAndCountsKeepTheirPositions() {
        #expect(Self.positions("MGET a b c") == [1, 2, 3])
        #expect(Self.positions("MSET a 1 b 2") == [1, 3])
        #expect(Self.positions("RENAME a b") == [1, 2])
        #expect(Self.positions("ZUNIONSTORE d 2 a b") == [1, 3, 4])
        #expect(Self.positions("EVAL s 1 k a") == [3])
        #expect(Self.positions("PING") == [])
    }

    @Test func keyCountsNameExactlyTheCountedKeys() {
        // One counted key comes from a shared array; more, none, a destination before the
        // count, and counts that do not fit the arguments are computed.
        #expect(Self.positions("EVALSHA abc 1 k") == [3])
        #expect(Self.positions("FCALL f 2 a b x") == [3, 4])
        #expect(Self.positions("EVAL s 0 a") == [])
        #expect(Self.positions("ZINTERSTORE d 1 a") == [1, 3])
        #expect(Self.positions("ZUNIONSTORE d 3 a b") == [])
        #expect(Self.positions("EVAL s -1 a") == [])
        #expect(Self.positions("LMPOP 1 l LEFT") == [2])
        #expect(Self.positions("SINTERCARD 2 a b LIMIT 1") == [2, 3])
    }

    @Test func everyCommandIsFoundByItsNameInAnyCase() {
        for spec in CommandTable.all {
            #expect(CommandTable.lookup(Array(spec.name.utf8)) === spec)
            #expect(CommandTable.lookup(Array(spec.name.uppercased().utf8)) === spec)
        }
        for unknown in ["", "gett", "ge", "xyzzy", "get\u{0}", "SET ", "config|get"] {
            #expect(CommandTable.lookup(Array(unknown.utf8)) == nil, "\(unknown)")
        }
    }

    @Test func commandIDsCompareAndHashByCase() {
        // Ordinals are the declaration order, distinct, and equality follows the case.
        #expect(CommandID.allCases.map(\.ordinal) == Array(CommandID.allCases.indices))
        for id in CommandID.allCases {
            #expect(CommandID(rawValue: id.rawValue) == id)
            #expect(Set([id, CommandID(rawValue: id.rawValue)!]).count == 1)
        }
        #expect(CommandID.get != CommandID.set)
        #expect(Set(CommandID.allCases).count == CommandID.allCases.count)
    }
}
