// DEBUG POPULATE <count> [prefix] [size]: Redis's way of filling a test dataset. Creates
// `prefix:0` ... `prefix:<count-1>` (prefix `key` by default) in the caller's database,
// each holding `value:<n>` (or, with a size, that text in a zero-filled string of `size`
// bytes, cut to fit), and leaves keys that already exist alone, as Redis does.
//
// The keys go through the shard's log like any write, in entries of at most
// `populateEntryCommands` SET ... NX commands (or `populateEntryBytes`), one entry after
// the other; the reply comes once the last is applied. A standalone server only: in a
// cluster, keys belong to the shards of their slots, and no node holds them all.
import Cluster
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// Most keys one DEBUG POPULATE creates, and its largest value size.
    static let populateKeysMax: Int64 = 10_000_000
    static let populateValueBytesMax: Int64 = 1 << 20
    /// The most bytes of values one DEBUG POPULATE writes.
    static let populateTotalBytesMax: Int64 = 1 << 30
    /// One log entry of a DEBUG POPULATE holds at most this many keys, or this many bytes.
    static let populateEntryCommands = 1_000
    static let populateEntryBytes = 1 << 20

    static let populatePositiveText = "ERR value is out of range, must be positive"

    /// DEBUG POPULATE; nil when the reply comes later through `reply`.
    func debugPopulate(_ arguments: [Bytes], session: Session, reply: @escaping ReplySink) -> Outcome? {
        guard arguments.count >= 3, arguments.count <= 5 else {
            return Outcome(reply: Self.subcommandError("debug", arguments[1], known: true))
        }
        guard let count = Numbers.parseInteger(arguments[2]) else { return Outcome(reply: CommandError.notInteger.reply) }
        guard count >= 0 else { return Outcome(reply: .error(Self.populatePositiveText)) }
        let prefix = arguments.count >= 4 ? arguments[3] : Array("key".utf8)
        var size: Int64 = 0
        if arguments.count == 5 {
            guard let parsed = Numbers.parseInteger(arguments[4]) else { return Outcome(reply: CommandError.notInteger.reply) }
            guard parsed >= 0 else { return Outcome(reply: .error(Self.populatePositiveText)) }
            size = parsed
        }
        let (total, overflow) = count.multipliedReportingOverflow(by: max(size, 8))
        guard count <= Self.populateKeysMax, size <= Self.populateValueBytesMax, !overflow, total <= Self.populateTotalBytesMax else {
            return Outcome(reply: .error("ERR DEBUG POPULATE creates at most \(Self.populateKeysMax) keys, values of at most "
                                         + "\(Self.populateValueBytesMax) bytes and \(Self.populateTotalBytesMax) bytes in all"))
        }
        guard configuration.standalone, let replica = replicas.values.first(where: { $0.data != nil }) else {
            return Outcome(reply: .error("ERR DEBUG POPULATE runs on a standalone server only: in a cluster, keys belong to their slots' shards"))
        }
        guard count > 0 else { return Outcome(reply: .ok) }
        let batch = PopulateBatch(prefix: prefix, count: Int(count), size: Int(size))
        populate(batch, from: 0, into: replica, session: session, reply: reply)
        return nil
    }

    /// Proposes the entry of keys from `start` on, then (once applied) the next.
    private func populate(_ batch: PopulateBatch, from start: Int, into replica: Replica, session: Session,
                          reply: @escaping ReplySink) {
        var commands: [[Bytes]] = []
        var bytes = 0
        var next = start
        while next < batch.count, commands.count < Self.populateEntryCommands, bytes < Self.populateEntryBytes {
            let command = batch.command(next)
            bytes += command.reduce(0) { $0 + $1.count }
            commands.append(command)
            next += 1
        }
        proposeWrite(replica, commands: commands, transaction: true, watches: [], database: session.database,
                     version: session.protocolVersion) { [self] answer in
            if answer.isError { return reply(answer) }
            guard next < batch.count else { return reply(.ok) }
            populate(batch, from: next, into: replica, session: session, reply: reply)
        }
    }
}

/// The keys and values of one DEBUG POPULATE.
struct PopulateBatch {
    static let set = Array("SET".utf8), onlyNew = Array("NX".utf8)
    let prefix: Bytes
    let count: Int
    /// The value's size (0: the value is just `value:<n>`).
    let size: Int

    /// `SET <prefix>:<n> <value> NX`.
    func command(_ index: Int) -> [Bytes] {
        let key = prefix + Array(":\(index)".utf8)
        let text = Array("value:\(index)".utf8)
        guard size > 0 else { return [Self.set, key, text, Self.onlyNew] }
        var value = [UInt8](repeating: 0, count: size)
        for position in 0..<min(size, text.count) { value[position] = text[position] }
        return [Self.set, key, value, Self.onlyNew]
    }
}
