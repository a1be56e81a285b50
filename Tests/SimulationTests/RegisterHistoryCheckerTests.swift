// The register-history checker (string keys and values, ok/fail/info outcomes) and its
// JSON-lines reader: good histories pass, each classic anomaly is caught with a small,
// honest counterexample, and malformed input is a typed error naming the line.

import Testing
@testable import Simulation

@Suite struct RegisterHistoryCheckerTests {
    func set(_ client: Int, _ key: String, _ value: String, _ start: Int64, _ end: Int64,
             _ outcome: RegisterOutcome = .ok) -> RegisterOperation {
        RegisterOperation(client: client, key: key, kind: .set, value: value, start: start, end: end, outcome: outcome)
    }

    func get(_ client: Int, _ key: String, _ value: String?, _ start: Int64, _ end: Int64,
             _ outcome: RegisterOutcome = .ok) -> RegisterOperation {
        RegisterOperation(client: client, key: key, kind: .get, value: value, start: start, end: end, outcome: outcome)
    }

    func verdict(_ history: [RegisterOperation], budget: Int = LinearizabilityChecker.exploredStatesMax) -> RegisterCheckVerdict {
        RegisterHistoryChecker.check(history, exploredStatesMax: budget).verdict
    }

    func illegalKey(_ history: [RegisterOperation]) -> String? {
        if case let .illegal(key, _, _) = verdict(history) { return key }
        return nil
    }

    func counterexample(_ history: [RegisterOperation]) -> [RegisterOperation] {
        if case let .illegal(_, counterexample, _) = verdict(history) { return counterexample }
        return []
    }

    // MARK: - Good histories

    @Test func sequentialAndConcurrentHistoriesPass() {
        let history = [
            get(0, "a", nil, 0, 5),
            set(0, "a", "x", 10, 20),
            get(1, "a", "x", 30, 40),
            set(2, "b", "y", 0, 100),
            get(3, "b", nil, 10, 20),   // before the concurrent write took effect
            get(3, "b", "y", 30, 40),   // after
            set(1, "a", "z", 50, 60),
            get(0, "a", "z", 70, 80),
        ]
        let report = RegisterHistoryChecker.check(history)
        #expect(report.verdict == .linearizable)
        #expect(report.operationCount == 8)
        #expect(report.checkedOperationCount == 8)
        #expect(report.keyCount == 2)
    }

    @Test func sameValueWrittenTwiceIsFine() {
        let history = [
            set(0, "a", "same", 0, 10),
            set(1, "a", "other", 20, 30),
            set(0, "a", "same", 40, 50),
            get(2, "a", "same", 60, 70),
        ]
        #expect(verdict(history) == .linearizable)
    }

    // MARK: - Anomalies

    @Test func staleReadIsCaught() {
        let history = [
            set(0, "k", "old", 0, 10),
            set(1, "k", "new", 20, 30),
            get(2, "k", "old", 40, 50),
        ]
        #expect(illegalKey(history) == "k")
        // The read of "old" needs the write of "old": the shrinker must keep both, and the
        // overwrite that makes it stale.
        #expect(counterexample(history).count == 3)
    }

    @Test func lostAcknowledgedWriteIsCaught() {
        let history = [
            set(0, "k", "v1", 0, 10),
            get(1, "k", nil, 20, 30),
        ]
        #expect(illegalKey(history) == "k")
    }

    @Test func readOfNeverWrittenValueIsCaught() {
        let history = [
            set(0, "k", "v1", 0, 10),
            get(1, "k", "v1", 20, 30),
            get(1, "k", "ghost", 40, 50),
            set(0, "k", "v2", 60, 70),
        ]
        #expect(illegalKey(history) == "k")
        #expect(counterexample(history) == [get(1, "k", "ghost", 40, 50)])
    }

    @Test func readGoingBackInTimeIsCaught() {
        // Both reads overlap the second write; the later read sees the older value.
        let history = [
            set(0, "k", "a", 0, 10),
            set(1, "k", "b", 15, 100),
            get(2, "k", "b", 20, 30),
            get(3, "k", "a", 40, 50),
        ]
        #expect(illegalKey(history) == "k")
        #expect(counterexample(history).count == 4)
    }

    @Test func onlyTheBadKeyIsReported() {
        let history = [
            set(0, "good", "1", 0, 10),
            get(0, "good", "1", 20, 30),
            set(1, "bad", "1", 0, 10),
            get(1, "bad", nil, 20, 30),
        ]
        #expect(illegalKey(history) == "bad")
    }

    // MARK: - Outcomes

    @Test func infoWriteMayTakeEffectLateOrNever() {
        let appears = [
            set(0, "k", "maybe", 0, 0, .info),
            get(1, "k", nil, 10, 20),
            get(1, "k", "maybe", 500, 510),
        ]
        #expect(verdict(appears) == .linearizable)
        let never = [
            set(0, "k", "maybe", 0, 0, .info),
            get(1, "k", nil, 500, 510),
        ]
        #expect(verdict(never) == .linearizable)
    }

    @Test func infoWriteCannotTakeEffectBeforeItsInvocation() {
        let history = [
            get(1, "k", "maybe", 0, 10),
            set(0, "k", "maybe", 20, Int64.max, .info),
        ]
        #expect(illegalKey(history) == "k")
    }

    @Test func failedWriteMustNotBeVisible() {
        let invisible = [
            set(0, "k", "nope", 0, 10, .fail),
            get(1, "k", nil, 20, 30),
        ]
        #expect(verdict(invisible) == .linearizable)
        let visible = [
            set(0, "k", "nope", 0, 10, .fail),
            get(1, "k", "nope", 20, 30),
        ]
        #expect(illegalKey(visible) == "k")
    }

    @Test func readsWithoutResultAreIgnored() {
        let history = [
            set(0, "k", "v", 0, 10),
            get(1, "k", "junk", 20, 30, .info),
            get(1, "k", "junk", 40, 50, .fail),
            get(1, "k", "v", 60, 70),
        ]
        let report = RegisterHistoryChecker.check(history)
        #expect(report.verdict == .linearizable)
        #expect(report.checkedOperationCount == 2)
    }

    // MARK: - Budget

    @Test func exhaustedBudgetIsUnknownNotIllegal() {
        var history = (1...6).map { set($0, "k", "v\($0)", 0, 100) }
        history.append(get(0, "k", "v1", 200, 210))
        #expect(verdict(history, budget: 1) == .unknown(keys: ["k"]))
        #expect(verdict(history) == .linearizable)
    }

    @Test func unknownKeyDoesNotHideAnIllegalOne() {
        var history = (1...6).map { set($0, "busy", "v\($0)", 0, 100) }
        history.append(get(0, "busy", "v1", 200, 210))
        history += [set(0, "bad", "x", 0, 10), get(1, "bad", nil, 20, 30)]
        if case let .illegal(key, _, _) = verdict(history, budget: 2) {
            #expect(key == "bad")
        } else {
            Issue.record("expected the illegal key to be reported")
        }
    }

    // MARK: - Shrinking

    @Test func counterexampleIsSmallInALongHistory() {
        var history: [RegisterOperation] = []
        var time: Int64 = 0
        for round in 0..<60 {
            history.append(set(round % 4, "k", "v\(round)", time, time + 15))
            history.append(get((round + 1) % 4, "k", "v\(round)", time + 20, time + 30))
            time += 40
        }
        // A stale read in the middle: v10 was overwritten by v11 long before.
        history.append(get(9, "k", "v10", 600, 610))
        let shrunk = counterexample(history)
        #expect(!shrunk.isEmpty)
        #expect(shrunk.count <= 4)
        #expect(shrunk.contains(get(9, "k", "v10", 600, 610)))
        #expect(shrunk.contains(set(10 % 4, "k", "v10", 400, 415)))
        #expect(shrunk.allSatisfy { history.contains($0) })
    }

    @Test func shrinkerNeverDropsAWriteWhoseValueIsStillRead() {
        let operations = [
            HistoryOperation(client: 0, command: .set(key: 0, value: 1), output: .ok, invocation: 0, completion: 10),
            HistoryOperation(client: 1, command: .get(key: 0), output: .value(1), invocation: 20, completion: 30),
            HistoryOperation(client: 0, command: .set(key: 0, value: 2), output: .ok, invocation: 40, completion: 50),
        ]
        // Removing everything keeps the write of 1 only if its read stays.
        #expect(CounterexampleShrinker.removing([0, 2], from: [0, 1, 2], operations) == [0, 1])
        #expect(CounterexampleShrinker.removing([0, 1, 2], from: [0, 1, 2], operations) == [])
    }
}

@Suite struct RegisterHistoryReaderTests {
    func parse(_ text: String) throws(RegisterHistoryReadError) -> [RegisterOperation] {
        try RegisterHistoryReader.parse(Array(text.utf8))
    }

    func error(_ text: String) -> RegisterHistoryReadError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsEveryFieldAndSkipsBlankLines() throws {
        let text = """
            {"client": 3, "key": "k17", "op": "set", "value": "v-3-88", "start": 123, "end": 456, "outcome": "ok"}

            {"client": 4, "key": "k17", "op": "get", "value": null, "start": 500, "end": 600, "outcome": "ok"}
            {"client": 5, "key": "k\\u00e9", "op": "set", "value": "x", "start": 700, "end": null, "outcome": "info"}
            {"client": 6, "key": "k1", "op": "get", "start": 800, "end": 900, "outcome": "fail"}\r

            """
        let operations = try parse(text)
        #expect(operations.count == 4)
        #expect(operations[0] == RegisterOperation(client: 3, key: "k17", kind: .set, value: "v-3-88", start: 123, end: 456, outcome: .ok))
        #expect(operations[1].value == nil && operations[1].kind == .get)
        #expect(operations[2].key == "ké" && operations[2].outcome == .info && operations[2].end == Int64.max)
        #expect(operations[3].outcome == .fail)
    }

    @Test func malformedLinesAreTypedErrorsWithTheirLineNumber() {
        let good = #"{"client": 1, "key": "k", "op": "set", "value": "v", "start": 1, "end": 2, "outcome": "ok"}"#
        #expect(error("\(good)\nnot json") == .malformed(line: 2, reason: "not valid JSON"))
        #expect(error(#"{"client": 1, "key": "k", "op": "del", "value": "v", "start": 1, "end": 2, "outcome": "ok"}"#)
                == .malformed(line: 1, reason: "\"op\" must be \"set\" or \"get\", not \"del\""))
        #expect(error(#"{"client": 1, "key": "k", "op": "set", "value": null, "start": 1, "end": 2, "outcome": "ok"}"#)
                == .malformed(line: 1, reason: "a set needs a string \"value\""))
        #expect(error(#"{"client": 1, "key": "k", "op": "get", "start": 1, "end": 2, "outcome": "ok"}"#)
                == .malformed(line: 1, reason: "an ok get needs \"value\" (a string, or null)"))
        #expect(error(#"{"client": 1, "key": "k", "op": "set", "value": "v", "start": 5, "end": 2, "outcome": "ok"}"#)
                == .malformed(line: 1, reason: "\"end\" (2) is before \"start\" (5)"))
        #expect(error(#"{"client": 1, "key": "k", "op": "set", "value": "v", "start": 5, "outcome": "ok"}"#)
                == .malformed(line: 1, reason: "\"end\" is required unless the outcome is info"))
        #expect(error(#"{"client": "x", "key": "k", "op": "set", "value": "v", "start": 5, "end": 6, "outcome": "ok"}"#)
                == .malformed(line: 1, reason: "\"client\" has the wrong type"))
        #expect(error(#"{"key": "k", "op": "set", "value": "v", "start": 5, "end": 6, "outcome": "ok"}"#)
                == .malformed(line: 1, reason: "missing \"client\""))
        #expect(error(#"{"client": 1, "key": "k", "op": "set", "value": "v", "start": 5, "end": 6, "outcome": "maybe"}"#)
                == .malformed(line: 1, reason: "\"outcome\" must be \"ok\", \"fail\" or \"info\", not \"maybe\""))
        #expect(error("[1, 2]") != nil)
        #expect(error("\u{FF}\u{FE}") != nil)
    }

    @Test func overlongLineIsRejected() {
        let text = String(repeating: " ", count: RegisterHistoryReader.lineBytesMax + 1) + "x"
        #expect(error(text) == .lineTooLong(line: 1, bytes: RegisterHistoryReader.lineBytesMax + 2))
    }
}
