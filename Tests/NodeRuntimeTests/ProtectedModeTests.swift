// Protected mode (issue 13): with no password, a node refuses clients that are not on the
// loopback interface with Redis's DENIED error and closes them; with a password, or with
// protected mode off, they connect and must AUTH.
import Engine
import Testing

@Suite struct ProtectedModeTests {
    @Test func aClientFromAnotherAddressIsDeniedWithoutAPassword() {
        let harness = NodeScriptHarness()
        _ = harness.run("cluster nodes=1 shards=1")
        _ = harness.run("settle")
        let denied = harness.run("open n1 c1 10.1.2.3:5000")
        #expect(denied.contains("DENIED Redis is running in protected mode"), "\(denied)")
        #expect(denied.contains("close"), "\(denied)")
        _ = harness.run("open n1 c2 127.0.0.1:5001")
        #expect(harness.run("request n1 c2 PING").contains("PONG"))
        _ = harness.run("request n1 c2 CONFIG SET protected-mode no")
        _ = harness.run("open n1 c3 [2001:db8::1]:5002")
        #expect(harness.run("request n1 c3 PING").contains("PONG"))
    }

    @Test func withAPasswordAClientFromAnotherAddressConnectsAndMustAuthenticate() {
        let harness = NodeScriptHarness()
        _ = harness.run("cluster nodes=1 shards=1 requirepass=sesame")
        _ = harness.run("settle")
        let opened = harness.run("open n1 c1 10.1.2.3:5000")
        #expect(!opened.contains("DENIED"), "\(opened)")
        #expect(harness.run("request n1 c1 GET k").contains("NOAUTH"))
        #expect(harness.run("request n1 c1 AUTH sesame").contains("OK"))
        #expect(!harness.run("request n1 c1 GET k").contains("NOAUTH"))
    }

    @Test func loopbackAddressesAreRecognised() {
        for address in ["127.0.0.1:6379", "127.5.6.7:1", "[::1]:6379", "::1", "[::ffff:127.0.0.1]:80", "127.0.0.1", "?:0"] {
            #expect(ProtectedMode.isLoopback(address), "\(address)")
        }
        for address in ["10.0.0.1:6379", "[2001:db8::1]:6379", "192.168.1.127:127", "[::ffff:10.0.0.1]:80", "128.0.0.1:1"] {
            #expect(!ProtectedMode.isLoopback(address), "\(address)")
        }
    }
}
