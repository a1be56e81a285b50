// The linearizability checker on tiny hand-made histories, including ones it must reject.

import Testing
@testable import Simulation

@Suite struct LinearizabilityCheckerTests {
    func op(_ client: Int, _ command: KVCommand, _ output: KVOutput?, _ start: Int64, _ end: Int64) -> HistoryOperation {
        HistoryOperation(client: client, command: command, output: output, invocation: start, completion: end)
    }

    @Test func sequentialHistoryIsLinearizable() {
        let history = [
            op(0, .set(key: 0, value: 5), .ok, 0, 10),
            op(0, .get(key: 0), .value(5), 20, 30),
            op(0, .increment(key: 0), .value(6), 40, 50),
            op(0, .compareAndSet(key: 0, expected: 6, new: 9), .swapped(true), 60, 70),
            op(0, .get(key: 0), .value(9), 80, 90),
        ]
        #expect(LinearizabilityChecker.check(history) == .linearizable)
    }

    @Test func staleReadAfterCompletedWriteIsRejected() {
        let history = [
            op(0, .set(key: 0, value: 1), .ok, 0, 10),
            op(1, .set(key: 0, value: 2), .ok, 20, 30),
            op(0, .get(key: 0), .value(1), 40, 50),
        ]
        #expect(LinearizabilityChecker.check(history) == .illegal(key: 0))
    }

    @Test func concurrentOperationsMayOrderEitherWay() {
        let history = [
            op(0, .set(key: 0, value: 1), .ok, 0, 100),
            op(1, .get(key: 0), .value(1), 10, 20),
            op(2, .get(key: 0), .value(nil), 5, 8),
        ]
        #expect(LinearizabilityChecker.check(history) == .linearizable)
    }

    @Test func readsMustNotGoBackInTime() {
        // Both reads overlap the write, but the second read starts after the first ended.
        let history = [
            op(0, .set(key: 0, value: 1), .ok, 0, 100),
            op(1, .get(key: 0), .value(1), 10, 20),
            op(2, .get(key: 0), .value(nil), 30, 40),
        ]
        #expect(LinearizabilityChecker.check(history) == .illegal(key: 0))
    }

    @Test func timedOutWriteMayTakeEffectLateOrNever() {
        let applied = [
            op(0, .set(key: 0, value: 7), nil, 0, 0),
            op(1, .get(key: 0), .value(nil), 10, 20),
            op(1, .get(key: 0), .value(7), 500, 510),
        ]
        #expect(LinearizabilityChecker.check(applied) == .linearizable)
        let never = [
            op(0, .set(key: 0, value: 7), nil, 0, 0),
            op(1, .get(key: 0), .value(nil), 500, 510),
        ]
        #expect(LinearizabilityChecker.check(never) == .linearizable)
    }

    @Test func timedOutWriteCannotTakeEffectBeforeItsInvocation() {
        let history = [
            op(1, .get(key: 0), .value(7), 0, 10),
            op(0, .set(key: 0, value: 7), nil, 20, 0),
        ]
        #expect(LinearizabilityChecker.check(history) == .illegal(key: 0))
    }

    @Test func lostIncrementIsRejected() {
        let history = [
            op(0, .increment(key: 1), .value(1), 0, 10),
            op(1, .increment(key: 1), .value(1), 20, 30),
        ]
        #expect(LinearizabilityChecker.check(history) == .illegal(key: 1))
    }

    @Test func compareAndSetOutcomesMustMatchTheState() {
        let good = [
            op(0, .set(key: 2, value: 3), .ok, 0, 10),
            op(1, .compareAndSet(key: 2, expected: 3, new: 4), .swapped(true), 20, 40),
            op(2, .compareAndSet(key: 2, expected: 3, new: 5), .swapped(false), 25, 45),
        ]
        #expect(LinearizabilityChecker.check(good) == .linearizable)
        let bad = [
            op(0, .set(key: 2, value: 3), .ok, 0, 10),
            op(1, .compareAndSet(key: 2, expected: 3, new: 4), .swapped(true), 20, 40),
            op(2, .compareAndSet(key: 2, expected: 3, new: 5), .swapped(true), 25, 45),
        ]
        #expect(LinearizabilityChecker.check(bad) == .illegal(key: 2))
    }

    @Test func keysAreCheckedIndependently() {
        let history = [
            op(0, .set(key: 0, value: 1), .ok, 0, 10),
            op(0, .set(key: 1, value: 2), .ok, 0, 10),
            op(1, .get(key: 1), .value(2), 20, 30),
            op(1, .get(key: 0), .value(2), 20, 30),
        ]
        #expect(LinearizabilityChecker.check(history) == .illegal(key: 0))
    }
}
