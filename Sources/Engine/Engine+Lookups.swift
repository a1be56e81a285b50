// Key lookups as Redis counts them: INFO's keyspace_hits and keyspace_misses, and the
// `keymiss` notification (class `m` of notify-keyspace-events).
//
// Redis counts every key a read looks up (lookupKeyRead): each key of a read-only command
// (MGET, EXISTS and SUNION count each of their keys), plus GETEX and GETDEL, which read
// before they write. Writes that look their key up for writing (INCR, LPOP, ...) count
// nothing. A missing or expired key is a miss and, when class `m` is on, publishes
// `keymiss` after the command's other events (an expired key's `expired` comes first, as
// in Redis). OBJECT counts but never notifies; scripts count the keys their calls read,
// not their declared KEYS. The lookups of a committed write (a script, a transaction)
// count only on the node that proposed it, though every replica applies it
// (Engine+Shard.swift).
import Keyspace
import Wire

extension Engine {
    /// How a command's key arguments count as lookups.
    struct LookupCounting {
        let spec: CommandSpec
        /// Whether a miss publishes `keymiss`.
        let notifies: Bool
    }

    /// Commands whose keys count as lookups before they run, by id. GET counts itself
    /// (it already holds the value); script commands count through their calls.
    static let lookupCounting: CommandIDTable<LookupCounting> = {
        var table: [CommandID: LookupCounting] = [:]
        let uncounted: Set<CommandID> = [.get, .eval_ro, .evalsha_ro, .fcall_ro, .memory]
        let readBeforeWrite: Set<CommandID> = [.getex, .getdel, .pfcount, .pfmerge]
        for spec in CommandTable.all {
            guard let id = spec.id, !uncounted.contains(id) else { continue }
            let reads = (spec.flags.contains("readonly") && !spec.isWrite) || readBeforeWrite.contains(id)
            let hasKeys = spec.firstKey > 0 || spec.keyCountIndex > 0 || id == .xread
            guard reads, hasKeys else { continue }
            table[id] = LookupCounting(spec: spec, notifies: id != .object)
        }
        return CommandIDTable(table)
    }()

    /// Write commands that read one source key as Redis's lookupKeyRead does (the GEO
    /// searches that may store), by the source's position; the destination counts nothing.
    static let storingSearchSource = CommandIDTable<Int>([.georadius: 1, .georadiusbymember: 1, .geosearchstore: 2])

    /// Counts the keys `arguments` reads, if command `id` counts lookups. Runs before the
    /// command, so that a key of the wrong type counts as the hit it is in Redis.
    func countLookups(_ id: CommandID, _ arguments: [Bytes], now: Int64) {
        if let source = Self.storingSearchSource[id], source < arguments.count {
            countLookup(arguments[source], hit: keyspace.peek(arguments[source], now: now) != nil)
            return
        }
        guard let counting = Self.lookupCounting[id] else { return }
        for position in counting.spec.keyPositions(in: arguments) where position < arguments.count {
            let key = arguments[position]
            countLookup(key, hit: keyspace.peek(key, now: now) != nil, notifies: counting.notifies)
        }
    }

    /// Counts one lookup of `key`; a miss is queued for `keymiss` when class `m` is on.
    func countLookup(_ key: Bytes, hit: Bool, notifies: Bool = true) {
        if hit {
            stats.keyspaceHits += 1
            return
        }
        stats.keyspaceMisses += 1
        if notifies, settings.notifyKeyspaceEvents.contains(.keyMiss) { pendingKeyMisses.append(key) }
    }

    /// Publishes the `keymiss` events queued by the command that just ran.
    func publishKeyMisses() {
        let keys = pendingKeyMisses
        pendingKeyMisses.removeAll()
        for key in keys { notify(.keyMiss, "keymiss", key) }
    }
}
