// Cluster redirects: -MOVED and -ASK parse into slot and address; hash slots match Redis
// Cluster's (CRC16/XMODEM, hash tags); only loopback addresses are followed.
import Testing
@testable import Bench

@Suite struct RedirectTests {
    @Test func parsesMovedAndAsk() {
        #expect(Redirect.parse("MOVED 3999 127.0.0.1:6381")
                == Redirect(kind: .moved, slot: 3999, address: BenchAddress(host: "127.0.0.1", port: 6381)))
        #expect(Redirect.parse("ASK 12182 127.0.0.2:7000")
                == Redirect(kind: .ask, slot: 12182, address: BenchAddress(host: "127.0.0.2", port: 7000)))
        #expect(Redirect.parse("MOVED 3999 [::1]:6381")?.address == BenchAddress(host: "::1", port: 6381))
        #expect(Redirect.parse("ERR unknown command") == nil)
        #expect(Redirect.parse("MOVED 16384 127.0.0.1:6381") == nil)
        #expect(Redirect.parse("MOVED 1 127.0.0.1") == nil)
        #expect(Redirect.parse("MOVED x 127.0.0.1:1") == nil)
    }

    @Test func onlyLoopbackIsFollowed() {
        #expect(BenchAddress(host: "127.0.0.1", port: 1).isLoopback)
        #expect(BenchAddress(host: "localhost", port: 1).isLoopback)
        #expect(!BenchAddress(host: "10.0.0.1", port: 1).isLoopback)
    }

    @Test func hashSlotsMatchRedisCluster() {
        #expect(HashSlots.crc16(Array("123456789".utf8)[...]) == 0x31C3)
        #expect(HashSlots.slot(of: Array("foo".utf8)) == 12182)
        #expect(HashSlots.slot(of: Array("{user1000}.following".utf8)) == HashSlots.slot(of: Array("user1000".utf8)))
        #expect(HashSlots.slot(of: Array("foo{}bar".utf8)) == HashSlots.slot(of: Array("foo{}bar".utf8)))
    }
}
