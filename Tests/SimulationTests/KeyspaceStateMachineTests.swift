import Testing
@testable import Simulation

@Suite struct KeyspaceStateMachineTests {
    /// The real keyspace answers the workload exactly as the simulator's reference model.
    @Test func matchesTheReferenceModel() {
        var reference = SimpleKV()
        var keyspace = KeyspaceStateMachine()
        var random = SeededRandomForTests(seed: 9)
        for _ in 0..<5000 {
            let key = random.next(16)
            let command: KVCommand
            switch random.next(4) {
            case 0: command = .set(key: key, value: Int64(random.next(100)))
            case 1: command = .get(key: key)
            case 2: command = .increment(key: key)
            default: command = .compareAndSet(key: key, expected: random.next(3) == 0 ? nil : Int64(random.next(100)), new: Int64(random.next(100)))
            }
            #expect(keyspace.apply(command) == reference.apply(command), "\(command)")
        }
        var restored = KeyspaceStateMachine()
        restored.restore(keyspace.snapshot())
        #expect(restored.snapshot() == keyspace.snapshot())
        for key in 0..<16 { #expect(restored.query(.get(key: key)) == reference.query(.get(key: key))) }
    }
}

private struct SeededRandomForTests {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }
}
