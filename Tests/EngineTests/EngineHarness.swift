// What the engine's tests share: an engine with one connected session that runs
// space-separated commands and keeps the log records they produce, and reply shorthands.
import Core
import Keyspace
import Wire
@testable import Engine

final class Harness {
    let engine: Engine
    let session: Session
    var now: Int64 = 1_700_000_000_000
    var records: [[UInt8]] = []

    init(settings: Settings = Settings(), seed: UInt64 = 1) {
        engine = Engine(settings: settings, seed: seed, now: now)
        session = engine.connect(address: "127.0.0.1:1", localAddress: "127.0.0.1:6379", now: now)
    }

    @discardableResult
    func run(_ line: String, on other: Session? = nil) -> RESPValue {
        let arguments = line.split(separator: " ").map { Array($0.utf8) }
        let outcome = engine.execute(arguments, session: other ?? session, now: now)
        if let record = outcome.record { records.append(record) }
        return outcome.reply
    }
}

func bulks(_ texts: String...) -> RESPValue { .array(texts.map { .bulk($0) }) }
let wrongType = RESPValue.error("WRONGTYPE Operation against a key holding the wrong kind of value")
