// RESPEncoder: RESP3 attributes precede their reply, and RESP2 gets the reply alone.
import NIOCore
import Testing
@testable import Wire

@Suite struct RESPAttributeTests {
    private func encoded(_ value: RESPValue, _ version: ProtocolVersion) -> String {
        var buffer = ByteBuffer()
        RESPEncoder.write(value, as: version, into: &buffer)
        return buffer.readString(length: buffer.readableBytes) ?? ""
    }

    @Test func attributesPrecedeTheReplyInResp3Only() {
        let value = RESPValue.attributed([RESPPair("key-popularity", .array([.bulk("key:123"), .integer(90)]))], .bulk("reply"))
        #expect(encoded(value, .resp3) == "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$5\r\nreply\r\n")
        #expect(encoded(value, .resp2) == "$5\r\nreply\r\n")
    }
}
