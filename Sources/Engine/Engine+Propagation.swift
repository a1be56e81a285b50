// What a shard's committed writes did, as the commands a Redis replica replays: the
// replication stream a SYNC/PSYNC link receives (Node+Replication.swift).
//
// As Redis propagates: only commands that changed something (a DEL of a missing key or a
// failed SET NX is not sent); a script's or function's effects instead of the script; a
// relative expiry as the absolute time the entry fixed (EXPIRE, SET EX, SETEX, GETEX EX
// become PEXPIREAT or SET ... PXAT; an expiry already past becomes DEL), INCRBYFLOAT as the
// SET of its result (KEEPTTL) and HINCRBYFLOAT as HSET; an expired key a write removes as
// DEL. The node wraps an entry with more than one effect in MULTI/EXEC.
import Keyspace
import Wire

/// One command of the replication stream and the database it applies to.
public struct PropagatedCommand: Sendable, Equatable {
    public var database: Int
    public var arguments: [Bytes]
}

/// The effects of one committed entry, in order.
public struct PropagatedEntry: Sendable, Equatable {
    public var commands: [PropagatedCommand]
}

extension Engine {
    /// Commands propagated whenever they run (they may change other databases than the one
    /// whose change count is watched, or Redis sends them even when nothing changed).
    static let alwaysPropagated: CommandIDSet = [.flushall, .flushdb, .swapdb, .move, .copy]

    /// The change counter of `database`, to tell whether a command changed anything.
    func changeCount(in database: Int) -> Int {
        inDatabase(database) { keyspace.changeCount }
    }

    /// Records the effect of `command` (already run in `database` at `now`) when it changed
    /// something, in the form a replica replays.
    func recordEffect(_ id: CommandID, _ command: [Bytes], reply: RESPValue, database: Int, changedFrom before: Int, now: Int64) {
        guard Self.alwaysPropagated.contains(id) || changeCount(in: database) != before else { return }
        let forms = Self.popForm(id, command, reply: reply).map { [$0] }
            ?? (id == .spop ? inDatabase(database) { spopForms(command, reply: reply, now: now) } : nil)
            ?? (id == .xreadgroup ? inDatabase(database) { readGroupForms(command, reply: reply, now: now) } : nil)
            ?? inDatabase(database) { replayForm(id, command, now: now) }
        for form in forms { pendingEffects.append(PropagatedCommand(database: database, arguments: form)) }
    }

    /// Records a DEL for each of `keys` that is stored but expired at `now` (called before
    /// they are removed), each on its own ahead of the running entry's effects: as Redis
    /// 7.2, a removal of an expired key is not part of the command's transaction.
    func recordExpiredDeletions(_ keys: [Bytes], database: Int, now: Int64) {
        guard recordsPropagation else { return }
        for key in keys where inDatabase(database, { keyspace.storesExpired(key, now: now) }) {
            propagated.append(PropagatedEntry(commands: [PropagatedCommand(database: database, arguments: [Array("DEL".utf8), key])]))
        }
    }

    /// Records an HDEL of `fields`, removed from the hash under `key` because their time to
    /// live ran out (as Redis propagates a hash field's expiry), on its own entry.
    func recordExpiredFields(_ key: Bytes, _ fields: [Bytes], database: Int) {
        guard recordsPropagation, !fields.isEmpty else { return }
        let arguments = [Array("HDEL".utf8), key] + fields.sorted { $0.lexicographicallyPrecedes($1) }
        propagated.append(PropagatedEntry(commands: [PropagatedCommand(database: database, arguments: arguments)]))
    }

    /// Moves the gathered effects into `propagated` as one entry.
    public func closePropagatedEntry() {
        guard !pendingEffects.isEmpty else { return }
        propagated.append(PropagatedEntry(commands: pendingEffects))
        pendingEffects.removeAll()
    }

    /// A key the server removed as a command's side effect, as Redis propagates it: DEL, or
    /// UNLINK under lazyfree-lazy-server-del.
    private func serverDeletion(_ key: Bytes) -> [Bytes] {
        let lazy = settings.inertParameters["lazyfree-lazy-server-del"] == "yes"
        return [Array((lazy ? "UNLINK" : "DEL").utf8), key]
    }

    /// Most members one propagated SREM of an SPOP names (Redis's batch).
    static let spopRemovalBatch = 1024

    /// SPOP as Redis propagates it: the members it took as SREM (in batches), or, when a
    /// count took the whole set, DEL (UNLINK under lazyfree-lazy-server-del). Nil when the
    /// reply names no member.
    private func spopForms(_ command: [Bytes], reply: RESPValue, now: Int64) -> [[Bytes]]? {
        let members: [Bytes]
        switch reply {
        case .bulk(let member): members = [member]
        case .array(let values), .set(let values): members = values.compactMap { if case .bulk(let member) = $0 { member } else { nil } }
        default: return nil
        }
        guard !members.isEmpty else { return nil }
        let key = command[1]
        if command.count > 2, keyspace.peek(key, now: now) == nil { return [serverDeletion(key)] }
        return stride(from: 0, to: members.count, by: Self.spopRemovalBatch).map { start in
            [Array("SREM".utf8), key] + members[start..<min(members.count, start + Self.spopRemovalBatch)]
        }
    }

    /// XREADGROUP as Redis propagates it, per stream that delivered new entries (`>`): an
    /// XCLAIM ... FORCE JUSTID of each with its delivery time and count (unless NOACK),
    /// then XGROUP SETID with the group's last ID and entries read. Nothing for a read of
    /// the consumer's pending entries, nor when nothing was delivered (a consumer it
    /// created stays on this server), as Redis.
    private func readGroupForms(_ command: [Bytes], reply: RESPValue, now: Int64) -> [[Bytes]] {
        guard command.count > 6, let streams = command.firstIndex(where: { Arguments.isKeyword($0, "streams") }),
              streams > 3, (command.count - streams - 1).isMultiple(of: 2) else { return [command] }
        let group = command[2], consumer = command[3]
        let noAck = command[4..<streams].contains { Arguments.isKeyword($0, "noack") }
        let keyCount = (command.count - streams - 1) / 2
        var delivered: [Bytes: [Bytes]] = [:]
        func entries(_ key: RESPValue, _ list: RESPValue) {
            guard case .bulk(let name) = key, case .array(let items) = list else { return }
            delivered[name] = items.compactMap { item in
                guard case .array(let parts) = item, case .bulk(let id)? = parts.first else { return nil }
                return id
            }
        }
        switch reply {
        case .array(let perKey):
            for pair in perKey { if case .array(let parts) = pair, parts.count == 2 { entries(parts[0], parts[1]) } }
        case .map(let pairs):
            for pair in pairs { entries(pair.key, pair.value) }
        default:
            return []
        }
        var forms: [[Bytes]] = []
        for index in 0..<keyCount {
            let key = command[streams + 1 + index]
            guard let ids = delivered[key], !ids.isEmpty, let entry = keyspace.peek(key, now: now), case .stream(let stream) = entry.value,
                  let state = stream.groups.first(where: { $0.name == group }) else { continue }
            guard command[streams + 1 + keyCount + index] == Array(">".utf8) else { continue }
            if !noAck {
                for id in ids {
                    guard let parsed = Self.parseID(id, missingSequence: 0), let pending = Self.pendingEntry(parsed, in: state) else { continue }
                    // LASTID: the group's last ID once this entry was delivered, this entry's.
                    forms.append([Array("XCLAIM".utf8), key, group, consumer, Array("0".utf8), id,
                                  Array("TIME".utf8), Array(String(pending.deliveredAt).utf8),
                                  Array("RETRYCOUNT".utf8), Array(String(pending.deliveries).utf8),
                                  Array("FORCE".utf8), Array("JUSTID".utf8), Array("LASTID".utf8), id])
                }
            }
            forms.append([Array("XGROUP".utf8), Array("SETID".utf8), key, group, Array(state.lastDeliveredID.description.utf8),
                          Array("ENTRIESREAD".utf8), Array(String(state.entriesRead).utf8)])
        }
        return forms
    }

    /// The group's pending entry of `id` (the list is sorted by ID).
    private static func pendingEntry(_ id: StreamID, in group: ConsumerGroup) -> PendingEntry? {
        var low = 0, high = group.pending.count
        while low < high {
            let middle = (low + high) / 2
            if group.pending[middle].id < id { low = middle + 1 } else { high = middle }
        }
        return low < group.pending.count && group.pending[low].id == id ? group.pending[low].entry : nil
    }

    /// The command(s) a replica replays for `command`, read back from the state it left.
    private func replayForm(_ id: CommandID, _ command: [Bytes], now: Int64) -> [[Bytes]] {
        switch id {
        case .expire, .pexpire, .expireat, .pexpireat:
            return [absoluteExpiry(of: command[1], now: now)]
        case .set where Self.setsExpiry(command):
            // As Redis: a SET that named its expiry as PXAT already goes as it was sent.
            let absolute = command.dropFirst(3).contains { Arguments.isKeyword($0, "pxat") }
            if absolute, keyspace.peek(command[1], now: now) != nil { return [command] }
            return [storedWithExpiry(command[1], now: now)]
        case .setex, .psetex:
            return [storedWithExpiry(command[1], now: now)]
        case .getex where command.count > 2:
            return [absoluteExpiry(of: command[1], now: now)]
        case .restore where keyspace.peek(command[1], now: now) == nil:
            // A TTL already past with REPLACE: the old key is gone and nothing was stored.
            return [serverDeletion(command[1])]
        case .restore where command.count > 3 && !command.dropFirst(4).contains(where: { Arguments.isKeyword($0, "absttl") }):
            // A relative TTL as the time it ends, marked ABSTTL (Redis 7).
            guard let expireAt = keyspace.peek(command[1], now: now)?.expireAt else { return [command] }
            var form = command
            form[2] = Array(String(expireAt).utf8)
            return [form + [Array("ABSTTL".utf8)]]
        case .incrbyfloat:
            guard let entry = keyspace.peek(command[1], now: now), case .string(let value) = entry.value else { return [command] }
            return [[Array("SET".utf8), command[1], value, Array("KEEPTTL".utf8)]]
        case .hsetex where Self.hashExpiryOption(command) != nil, .hgetex where Self.hashExpiryOption(command) != nil:
            return [hashFieldExpiryForm(id, command, now: now)]
        case .hincrbyfloat:
            guard let entry = keyspace.peek(command[1], now: now), case .hash(let fields) = entry.value,
                  let value = fields[command[2]] else { return [command] }
            return [[Array("HSET".utf8), command[1], command[2], value]]
        default:
            return [command]
        }
    }

    /// A blocking or multi-key pop as the plain pop of what it took (Redis 7's forms): BLPOP
    /// as LPOP key, LMPOP and BLMPOP as LPOP/RPOP key count, ZMPOP and BZMPOP as
    /// ZPOPMIN/ZPOPMAX key count, BZPOPMIN as ZPOPMIN key, BLMOVE as LMOVE, BRPOPLPUSH as
    /// RPOPLPUSH, GETDEL as DEL, HGETDEL as HDEL. Nil for other commands (or a reply that took nothing).
    static func popForm(_ id: CommandID, _ command: [Bytes], reply: RESPValue) -> [Bytes]? {
        func word(_ text: String) -> Bytes { Array(text.utf8) }
        func taken() -> (key: Bytes, count: Int)? {
            guard case .array(let parts) = reply, parts.count == 2, case .bulk(let key) = parts[0] else { return nil }
            switch parts[1] {
            case .array(let elements): return (key, elements.count)
            case .map(let pairs): return (key, pairs.count)
            default: return nil
            }
        }
        func direction(after offset: Int) -> String? {
            guard command.count > offset, let keys = Int(String(decoding: command[offset], as: UTF8.self)), keys > 0,
                  command.count > offset + keys + 1 else { return nil }
            return String(decoding: command[offset + keys + 1], as: UTF8.self).lowercased()
        }
        switch id {
        case .getdel: return [word("DEL"), command[1]]
        case .hgetdel where command.count > 4: return [word("HDEL"), command[1]] + command[4...]
        case .blpop, .brpop, .bzpopmin, .bzpopmax:
            guard case .array(let parts) = reply, let first = parts.first, case .bulk(let key) = first else { return nil }
            let pop = ["blpop": "LPOP", "brpop": "RPOP", "bzpopmin": "ZPOPMIN", "bzpopmax": "ZPOPMAX"][id.rawValue] ?? "LPOP"
            return [word(pop), key]
        case .lmpop, .blmpop:
            guard let (key, count) = taken(), let side = direction(after: id == .lmpop ? 1 : 2) else { return nil }
            return [word(side == "left" ? "LPOP" : "RPOP"), key, word(String(count))]
        case .zmpop, .bzmpop:
            guard let (key, count) = taken(), let side = direction(after: id == .zmpop ? 1 : 2) else { return nil }
            return [word(side == "min" ? "ZPOPMIN" : "ZPOPMAX"), key, word(String(count))]
        case .blmove where command.count == 6: return [word("LMOVE")] + command[1...4]
        case .brpoplpush where command.count == 4: return [word("RPOPLPUSH"), command[1], command[2]]
        default: return nil
        }
    }

    /// SET with EX, PX, EXAT or PXAT (not KEEPTTL): its expiry is relative or must be fixed.
    private static func setsExpiry(_ command: [Bytes]) -> Bool {
        command.dropFirst(3).contains { ["ex", "px", "exat", "pxat"].contains(Arguments.string($0).lowercased()) }
    }

    /// PEXPIREAT of the key's expiry now, PERSIST when it has none, DEL when it is gone.
    private func absoluteExpiry(of key: Bytes, now: Int64) -> [Bytes] {
        guard let entry = keyspace.peek(key, now: now) else { return [Array("DEL".utf8), key] }
        guard let expireAt = entry.expireAt else { return [Array("PERSIST".utf8), key] }
        return [Array("PEXPIREAT".utf8), key, Array(String(expireAt).utf8)]
    }

    /// SET key value PXAT expiry, as the key now is (DEL when it is gone).
    private func storedWithExpiry(_ key: Bytes, now: Int64) -> [Bytes] {
        guard let entry = keyspace.peek(key, now: now), case .string(let value) = entry.value else { return [Array("DEL".utf8), key] }
        var form = [Array("SET".utf8), key, value]
        if let expireAt = entry.expireAt { form += [Array("PXAT".utf8), Array(String(expireAt).utf8)] }
        return form
    }
}
