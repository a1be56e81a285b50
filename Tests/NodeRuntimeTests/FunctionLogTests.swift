// The function library log's records: a round trip, a torn or damaged tail ending what is
// read, a header that is not one, and the base checksum a log names.
import Core
import Testing
@testable import NodeRuntime

@Suite struct FunctionLogTests {
    private let load: [[UInt8]] = ["FUNCTION", "LOAD", "#!lua name=a\nredis.register_function('f', function() return 1 end)"].map { Array($0.utf8) }
    private let delete: [[UInt8]] = ["FUNCTION", "DELETE", "a"].map { Array($0.utf8) }

    @Test func recordsReadBackInOrderAfterTheirHeader() throws {
        let bytes = FunctionLog.header(base: 0xDEAD_BEEF) + FunctionLog.record(load) + FunctionLog.record(delete)
        let contents = try #require(FunctionLog.decode(bytes))
        #expect(contents.base == 0xDEAD_BEEF)
        #expect(contents.commands == [load, delete])
        #expect(contents.validBytes == bytes.count)
    }

    @Test func aTornOrDamagedRecordEndsTheLog() throws {
        let first = FunctionLog.header(base: 0) + FunctionLog.record(load)
        let second = FunctionLog.record(delete)
        for cut in 1..<second.count {
            let contents = try #require(FunctionLog.decode(first + second.prefix(cut)))
            #expect(contents.commands == [load])
            #expect(contents.validBytes == first.count)
        }
        var damaged = second
        damaged[8] ^= 0x01  // inside the command: its checksum no longer matches
        let contents = try #require(FunctionLog.decode(first + damaged + FunctionLog.record(load)))
        #expect(contents.commands == [load], "nothing after a damaged record is trusted")
    }

    @Test func anotherFileIsNotALog() {
        #expect(FunctionLog.decode(Array("TRFN".utf8) + [1, 0, 0, 0, 0]) == nil)
        #expect(FunctionLog.decode(Array("TRFL".utf8) + [2, 0, 0, 0, 0]) == nil, "a version this build does not know")
        #expect(FunctionLog.decode(Array("TRF".utf8)) == nil)
    }

    @Test func aLogNamesItsBaseByThePayloadsTrailer() {
        #expect(FunctionLog.baseChecksum(nil) == 0)
        #expect(FunctionLog.baseChecksum([9, 0x12, 0x34, 0x56, 0x78]) == 0x1234_5678)
    }
}
