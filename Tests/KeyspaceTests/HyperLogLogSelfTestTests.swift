// PFSELFTEST's checks pass on this implementation, and fail when a property they check is
// broken (a planted lost register write).
import Testing
@testable import Keyspace

@Suite struct HyperLogLogSelfTestTests {
    @Test func passes() {
        #expect(HyperLogLog.selfTest(seed: 1) == nil)
        #expect(HyperLogLog.selfTest(seed: 0xdead_beef) == nil)
    }

    @Test func catchesALostRegisterWrite() {
        let failure = HyperLogLog.selfTest(seed: 1, plantedLostRegister: 777)
        #expect(failure?.hasPrefix("TESTFAILED Register error at index 777: set ") == true)
    }
}
