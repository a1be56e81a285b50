// Keyspace notifications (`notify-keyspace-events`), as Redis publishes them: for each key
// a command changed, `__keyspace@<db>__:<key>` gets the event's name and
// `__keyevent@<db>__:<event>` gets the key.
//
// While notifications are on, the keyspace journals every key a command creates, modifies
// or deletes (`Keyspace.changeJournal`); after the command this file names the events from
// the command and its arguments, in Redis's order: `new` for a created key, the command's
// own event, then `del` when the command emptied the key. Expired keys reclaimed through
// the log publish `expired`. A command that changed nothing publishes nothing.
//
// The engine only collects the messages (`keyspaceNotifications`); the node delivers them
// to its own subscribers after the committed entry is applied, so each replica's node
// publishes the events of the writes it applies.
import Keyspace
import Wire

/// A notification for the node to publish: a channel and a message.
public struct KeyspaceNotification: Sendable, Equatable {
    public var channel: Bytes
    public var message: Bytes
}

extension Engine {
    /// Runs `body` (one command) with the keyspace journaling its changes when
    /// notifications are on, then turns the journal into notifications for `id`.
    func notifyingChanges<Result>(_ id: CommandID, _ arguments: [Bytes],
                                  _ body: () throws(CommandError) -> Result) throws(CommandError) -> Result {
        let notifying = settings.notifyKeyspaceEvents.publishesAnything
        guard notifying || journalsChanges, keyspace.changeJournal == nil, !Self.composite.contains(id) else { return try body() }
        keyspace.changeJournal = []
        defer {
            keyspace.changeJournal = nil
            laterNotifications.removeAll()
        }
        let result = try body()
        guard let journal = keyspace.changeJournal, !journal.isEmpty else { return result }
        if journalsChanges { changedKeys.append(contentsOf: journal) }
        guard notifying else { return result }
        publish(for: id, arguments, journal)
        for (kind, event, key) in laterNotifications { notify(kind, event, key) }
        return result
    }

    /// Commands made of other commands: their inner commands publish their own events.
    private static let composite: CommandIDSet = [.eval, .evalsha, .eval_ro, .evalsha_ro, .exec, .multi]

    /// Removes those of `keys` that are expired at `now` (a committed reclaim), publishing
    /// `expired` for each.
    public func reclaimExpired(_ keys: [Bytes], database: Int = 0, now: Int64) {
        inDatabase(database) { reclaimSelected(keys, now: now) }
    }

    func reclaimSelected(_ keys: [Bytes], now: Int64) {
        let observed = settings.notifyKeyspaceEvents.publishesAnything || journalsChanges
        if observed { keyspace.changeJournal = [] }
        // Hashes among the keys lose their expired fields first (Redis: `hexpired`, and
        // `del` if none is left), then keys whose own time to live ran out go (`expired`).
        for key in keys {
            guard let (fields, deleted) = keyspace.reclaimExpiredFields(key, now: now) else { continue }
            recordExpiredFields(key, fields, database: selectedDatabase)
            notify(.hash, "hexpired", key)
            if deleted { notify(.generic, "del", key) }
        }
        recordExpiredDeletions(keys, database: selectedDatabase, now: now)
        let fieldJournal = keyspace.changeJournal ?? []
        if observed { keyspace.changeJournal = [] }
        keyspace.reclaimExpired(keys, now: now)
        let journal = keyspace.changeJournal ?? []
        keyspace.changeJournal = nil
        guard observed else { return }
        for change in journal where change.kind == .deleted { notify(.expired, "expired", change.key) }
        if journalsChanges { changedKeys.append(contentsOf: fieldJournal + journal) }
    }

    /// Queues one event if its class is on: on the keyspace and/or keyevent channel.
    func notify(_ kind: KeyspaceEvents, _ event: String, _ key: Bytes, database: Int? = nil) {
        let events = settings.notifyKeyspaceEvents
        guard events.contains(kind) else { return }
        let selectedDatabase = database ?? selectedDatabase
        if events.contains(.keyspace) {
            keyspaceNotifications.append(KeyspaceNotification(channel: Array("__keyspace@\(selectedDatabase)__:".utf8) + key, message: Array(event.utf8)))
        }
        if events.contains(.keyevent) {
            keyspaceNotifications.append(KeyspaceNotification(channel: Array("__keyevent@\(selectedDatabase)__:\(event)".utf8), message: key))
        }
    }

    private func publish(for id: CommandID, _ arguments: [Bytes], _ journal: [KeyChange]) {
        var order: [Bytes] = []
        var last: [Bytes: KeyChange.Kind] = [:]
        var created: Set<Bytes> = []
        for change in journal where change.kind != .flushed {
            if last[change.key] == nil { order.append(change.key) }
            last[change.key] = change.kind
            if change.kind == .created { created.insert(change.key) }
        }
        // A list move publishes the destination's push before the source's pop, as Redis.
        if Self.listMoves.contains(id), order.count == 2, order[0] == arguments[1] { order.reverse() }
        // RENAME: the destination is new before either rename event.
        if id == .rename || id == .renamenx, order.count == 2 {
            notify(.newKey, "new", arguments[2])  // added anew even over an existing key
            notify(.generic, "rename_from", arguments[1])
            notify(.generic, "rename_to", arguments[2])
            return
        }
        for key in order {
            let deleted = last[key] == .deleted
            // COPY and RESTORE add the destination anew even over an existing key.
            let added = created.contains(key) || ((id == .copy && key == arguments[2]) || id == .restore)
            if added, !deleted { notify(.newKey, "new", key) }
            if !(deleted && Self.deletionIsTheEvent.contains(id)) {
                for (kind, event) in Self.events(id, arguments, key: key) {
                    notify(kind, event == "hexpire" && hashExpireDeletedFields ? "hdel" : event, key)
                }
            }
            let renamedAway = (id == .rename || id == .renamenx) && key == arguments[1]
            if deleted, !renamedAway { notify(.generic, "del", key) }
        }
    }

    private static let listMoves: CommandIDSet = [.lmove, .blmove, .rpoplpush, .brpoplpush]

    /// Commands whose deleting a key publishes only `del` (an expiry in the past, a store
    /// of an empty result, DEL itself).
    private static let deletionIsTheEvent: CommandIDSet = [
        .del, .unlink, .getdel, .expire, .pexpire, .expireat, .pexpireat, .getex, .set, .sort,
        .sinterstore, .sunionstore, .sdiffstore, .zunionstore, .zinterstore, .zdiffstore, .zrangestore, .bitop,
        .georadius, .georadiusbymember, .geosearchstore,
    ]

    /// The events `id` publishes for a key it changed (besides `new` and `del`).
    static func events(_ id: CommandID, _ arguments: [Bytes], key: Bytes) -> [(KeyspaceEvents, String)] {
        func option(_ names: Set<String>, after index: Int = 2) -> Bool {
            arguments.dropFirst(index).contains { names.contains(Arguments.lowercased($0)) }
        }
        /// ZADD's options come before its first score.
        func leadingOption(_ name: String) -> Bool {
            arguments.dropFirst(2).prefix { ["nx", "xx", "gt", "lt", "ch", "incr"].contains(Arguments.lowercased($0)) }
                .contains { Arguments.lowercased($0) == name }
        }
        /// LMPOP / ZMPOP's direction word, after `numkeys` keys (`first` is numkeys's index).
        func direction(numkeysAt first: Int) -> String {
            guard arguments.count > first, let count = Int(Arguments.string(arguments[first])), count >= 0,
                  arguments.count > first + count + 1 else { return "" }
            return Arguments.lowercased(arguments[first + count + 1])
        }
        switch id {
        case .set:
            return [(.string, "set")] + (option(["ex", "px", "exat", "pxat"], after: 3) ? [(.generic, "expire")] : [])
        case .setnx, .getset, .mset, .msetnx: return [(.string, "set")]
        case .setex, .psetex: return [(.string, "set"), (.generic, "expire")]
        case .getex: return option(["persist"]) ? [(.generic, "persist")] : [(.generic, "expire")]
        case .setrange: return [(.string, "setrange")]
        case .append: return [(.string, "append")]
        case .incr, .decr, .incrby, .decrby: return [(.string, "incrby")]
        case .incrbyfloat: return [(.string, "incrbyfloat")]
        case .setbit, .bitfield: return [(.string, "setbit")]
        case .bitop: return [(.string, "set")]
        case .pfadd, .pfmerge: return [(.string, "pfadd")]  // PFMERGE too, as Redis
        case .expire, .pexpire, .expireat, .pexpireat: return [(.generic, "expire")]
        case .persist: return [(.generic, "persist")]
        case .rename, .renamenx: return [(.generic, key == arguments[1] ? "rename_from" : "rename_to")]
        case .copy: return [(.generic, "copy_to")]
        case .restore: return [(.generic, "restore")]
        case .sort: return [(.list, "sortstore")]
        case .hset, .hsetnx, .hmset: return [(.hash, "hset")]
        case .hdel, .hgetdel: return [(.hash, "hdel")]
        // Redis 7.4's hash field events (`hdel` instead when a past time deleted fields).
        case .hexpire, .hpexpire, .hexpireat, .hpexpireat: return [(.hash, "hexpire")]
        case .hpersist: return [(.hash, "hpersist")]
        // HSETEX: `hset`, then `hexpire` with a time (`hdel` for one already past). HGETEX:
        // only what it changed, `hexpire` (or `hdel`) or `hpersist`.
        case .hsetex:
            return [(.hash, "hset")] + (Engine.hashExpiryOption(arguments) != nil ? [(.hash, "hexpire")] : [])
        case .hgetex:
            return Engine.hashExpiryOption(arguments) == "persist" ? [(.hash, "hpersist")] : [(.hash, "hexpire")]
        case .hincrby: return [(.hash, "hincrby")]
        case .hincrbyfloat: return [(.hash, "hincrbyfloat")]
        case .lpush, .lpushx: return [(.list, "lpush")]
        case .rpush, .rpushx: return [(.list, "rpush")]
        case .lpop, .blpop: return [(.list, "lpop")]
        case .rpop, .brpop: return [(.list, "rpop")]
        case .lmpop: return [(.list, direction(numkeysAt: 1) == "left" ? "lpop" : "rpop")]
        case .blmpop: return [(.list, direction(numkeysAt: 2) == "left" ? "lpop" : "rpop")]
        case .lmove, .blmove, .rpoplpush, .brpoplpush: return listMoveEvents(id, arguments, key: key)
        case .linsert: return [(.list, "linsert")]
        case .lset: return [(.list, "lset")]
        case .lrem: return [(.list, "lrem")]
        case .ltrim: return [(.list, "ltrim")]
        case .sadd: return [(.set, "sadd")]
        case .srem: return [(.set, "srem")]
        case .spop: return [(.set, "spop")]
        case .smove: return [(.set, key == arguments[1] ? "srem" : "sadd")]
        case .sinterstore: return [(.set, "sinterstore")]
        case .sunionstore: return [(.set, "sunionstore")]
        case .sdiffstore: return [(.set, "sdiffstore")]
        case .zadd: return [(.zset, leadingOption("incr") ? "zincr" : "zadd")]
        case .zincrby: return [(.zset, "zincr")]
        case .zrem: return [(.zset, "zrem")]
        case .zremrangebyrank: return [(.zset, "zremrangebyrank")]
        case .zremrangebyscore: return [(.zset, "zremrangebyscore")]
        case .zremrangebylex: return [(.zset, "zremrangebylex")]
        case .zpopmin, .bzpopmin: return [(.zset, "zpopmin")]
        case .zpopmax, .bzpopmax: return [(.zset, "zpopmax")]
        case .zmpop: return [(.zset, direction(numkeysAt: 1) == "min" ? "zpopmin" : "zpopmax")]
        case .bzmpop: return [(.zset, direction(numkeysAt: 2) == "min" ? "zpopmin" : "zpopmax")]
        case .zrangestore: return [(.zset, "zrangestore")]
        case .zunionstore: return [(.zset, "zunionstore")]
        case .zinterstore: return [(.zset, "zinterstore")]
        case .zdiffstore: return [(.zset, "zdiffstore")]
        case .geoadd: return [(.zset, "zadd")]
        case .georadius, .georadiusbymember: return [(.zset, "georadiusstore")]
        case .geosearchstore: return [(.zset, "geosearchstore")]
        case .xadd: return [(.stream, "xadd")]
        case .xdel: return [(.stream, "xdel")]
        case .xtrim: return [(.stream, "xtrim")]
        case .xsetid: return [(.stream, "xsetid")]
        case .xgroup:
            guard arguments.count > 1 else { return [] }
            let subcommand = Arguments.lowercased(arguments[1])
            return ["create", "setid", "destroy", "createconsumer", "delconsumer"].contains(subcommand)
                ? [(.stream, "xgroup-\(subcommand)")] : []
        default: return []
        }
    }

    /// LMOVE and friends: the source publishes its pop and the destination its push (both
    /// on one key when it rotates a list onto itself).
    private static func listMoveEvents(_ id: CommandID, _ arguments: [Bytes], key: Bytes) -> [(KeyspaceEvents, String)] {
        let (from, to): (String, String)
        switch id {
        case .rpoplpush, .brpoplpush: (from, to) = ("right", "left")
        default:
            guard arguments.count >= 5 else { return [] }
            (from, to) = (Arguments.lowercased(arguments[3]), Arguments.lowercased(arguments[4]))
        }
        var events: [(KeyspaceEvents, String)] = []
        if key == arguments[2] { events.append((.list, to == "left" ? "lpush" : "rpush")) }
        if key == arguments[1] { events.append((.list, from == "left" ? "lpop" : "rpop")) }
        return events
    }
}
