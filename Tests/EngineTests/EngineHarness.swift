// What the engine's tests share: an engine with one connected session that runs
// space-separated commands and keeps the log records they produce, and reply shorthands.
import Core
import Keyspace
import Wire
@testable import Engine

final class Harness {
    /// A write that changed the keyspace, as a shard's log would carry it: the time it ran
    /// and its commands (every queued command of a transaction).
    struct Write {
        var time: Int64
        var commands: [[Bytes]]
    }

    let engine: Engine
    let session: Session
    var now: Int64 = 1_700_000_000_000
    /// The writes that changed state, in order.
    var records: [Write] = []

    init(settings: Settings = Settings(), seed: UInt64 = 1) {
        engine = Engine(settings: settings, seed: seed, now: now)
        session = engine.connect(address: "127.0.0.1:1", localAddress: "127.0.0.1:6379", now: now)
    }

    @discardableResult
    func run(_ line: String, on other: Session? = nil) -> RESPValue {
        let arguments = line.split(separator: " ").map { Array($0.utf8) }
        let target = other ?? session
        let queued = target.queued
        let changes = engine.keyspace.changeCount
        let outcome = engine.execute(arguments, session: target, now: now)
        if engine.keyspace.changeCount != changes {
            let isExec = CommandTable.lookup(arguments[0])?.id == .exec
            if isExec, let queued {
                records.append(Write(time: now, commands: queued))
            } else if CommandTable.lookup(arguments[0])?.isWrite == true {
                records.append(Write(time: now, commands: [arguments]))
            }
        }
        return outcome.reply
    }

    /// Applies the recorded writes to `replica` as committed log entries.
    func replay(into replica: Engine) {
        for write in records {
            _ = replica.applyCommitted(commands: write.commands, time: write.time, transaction: true, watches: [])
        }
    }
}

func bulks(_ texts: String...) -> RESPValue { .array(texts.map { .bulk($0) }) }
let wrongType = RESPValue.error("WRONGTYPE Operation against a key holding the wrong kind of value")
