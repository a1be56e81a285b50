// Redis's numbered databases on a server that is not a cluster node: SELECT, MOVE,
// SWAPDB, COPY ... DB, FLUSHDB against FLUSHALL, and INFO's keyspace lines.
//
// `keyspace` is always the selected database; the others wait in `parkedDatabases`.
// Selecting swaps references (the keyspaces are copy-on-write), so a command in database
// 0 pays one comparison. Outside a command database 0 is selected: the node reads
// `keyspace` directly for cluster work, and a cluster node has only database 0.
//
// Invariants: `selectedDatabase` is never a key of `parkedDatabases`; the observers of
// key changes (watched keys, the change journal and tracker) sit on the selected keyspace.
import Core
import Keyspace
import Wire

/// Every numbered database of an engine, captured in O(1): a script's trial writes to a
/// copy and puts this back; a snapshot encodes it on another thread.
public struct DatabaseImage: Sendable {
    fileprivate var selected: Int
    fileprivate var current: Keyspace
    fileprivate var parked: [Int: Keyspace]

    /// The databases in index order, empty ones included.
    public var databases: [(index: Int, keyspace: Keyspace)] {
        ([(selected, current)] + parked.map { ($0.key, $0.value) }).sorted { $0.0 < $1.0 }.map { (index: $0.0, keyspace: $0.1) }
    }

    /// Keys in every database.
    public var keyCount: Int { parked.values.reduce(current.keyCount) { $0 + $1.keyCount } }
}

extension DatabaseImage {
    /// Database 0 only.
    public init(only keyspace: Keyspace) {
        self.init(selected: 0, current: keyspace, parked: [:])
    }

    /// These databases, database 0 selected (empty when `databases` has none).
    public init(databases: [Int: Keyspace]) {
        var parked = databases
        let first = parked.removeValue(forKey: 0) ?? Keyspace()
        self.init(selected: 0, current: first, parked: parked)
    }
}

extension Engine {
    /// Makes `database` the selected one. The observers move with the selection. Not
    /// checked against `settings.databases`: SELECT checks a client's number, and a log
    /// written before a restart with fewer databases must still replay.
    func select(database: Int) {
        guard database != selectedDatabase else { return }
        assert(database >= 0 && database < Settings.databasesMax, "database \(database) out of range")
        if !keyspace.touchedWatched.isEmpty {
            touchedWatchedInDatabases += keyspace.touchedWatched.map { (selectedDatabase, $0) }
            keyspace.touchedWatched = []
        }
        var next = parkedDatabases.removeValue(forKey: database) ?? keyspace.emptyDatabase()
        next.adoptObservers(from: &keyspace)
        parkedDatabases[selectedDatabase] = keyspace
        keyspace = next
        selectedDatabase = database
    }

    /// Runs `body` with `database` selected, then selects again the one selected before.
    public func inDatabase<Result>(_ database: Int, _ body: () throws -> Result) rethrows -> Result {
        guard database != selectedDatabase else { return try body() }
        let previous = selectedDatabase
        select(database: database)
        defer { select(database: previous) }
        return try body()
    }

    /// All databases (see `DatabaseImage`); setting it replaces them.
    public var databaseImage: DatabaseImage {
        get { DatabaseImage(selected: selectedDatabase, current: keyspace, parked: parkedDatabases) }
        set {
            selectedDatabase = newValue.selected
            keyspace = newValue.current
            parkedDatabases = newValue.parked
            applyAccessSettings()
        }
    }

    /// Puts back database `index` (not 0, which is `keyspace`) from a restored snapshot.
    public func restoreDatabase(_ index: Int, _ database: Keyspace) {
        precondition(selectedDatabase == 0 && index > 0, "restoring database \(index) while \(selectedDatabase) is selected")
        parkedDatabases[index] = database
        parkedDatabases[index]?.accessSettings = settings.accessSettings
    }

    /// The keys of database `index` (0 when it never held any).
    public func keyCount(database index: Int) -> Int {
        index == selectedDatabase ? keyspace.keyCount : parkedDatabases[index]?.keyCount ?? 0
    }

    /// INFO's keyspace lines: `dbN:keys=...,expires=...,avg_ttl=0,subexpiry=...` for each
    /// database that holds keys, in index order (`subexpiry`: hashes with a field that has a
    /// time to live, Redis 7.4).
    public func keyspaceInfoFields() -> [(index: Int, keys: Int, expires: Int, subexpiry: Int)] {
        databaseImage.databases.filter { $0.keyspace.keyCount > 0 }
            .map { (index: $0.index, keys: $0.keyspace.keyCount, expires: $0.keyspace.expiringCount,
                    subexpiry: $0.keyspace.fieldExpiringCount) }
    }

    /// One INFO keyspace line's value.
    public static func keyspaceInfoLine(keys: Int, expires: Int, subexpiry: Int) -> String {
        "keys=\(keys),expires=\(expires),avg_ttl=0,subexpiry=\(subexpiry)"
    }

    /// The key sizes of each database that holds keys, in index order (INFO keysizes).
    public func keySizesByDatabase() -> [(index: Int, sizes: KeySizes)] {
        databaseImage.databases.filter { $0.keyspace.keyCount > 0 }.map { (index: $0.index, sizes: $0.keyspace.keySizes) }
    }

    /// INFO keysizes' lines: `db<N>_distrib_<type>_<sizes|items>:<bin>=<keys>,...` for each
    /// database and type with keys, as Redis 8 prints them.
    public static func keySizesInfoFields(_ databases: [(index: Int, sizes: KeySizes)]) -> [(String, String)] {
        databases.flatMap { database in
            KeySizes.Kind.allCases.compactMap { kind in
                database.sizes.histogram(kind).map { ("db\(database.index)_\(kind.fieldName)", $0) }
            }
        }
    }

    /// Changes made to the keys of every database since this engine started or was
    /// restored (the sum of their keyspaces' change counts; INFO's
    /// rdb_changes_since_last_save counts from it).
    public var changeCountAllDatabases: Int {
        parkedDatabases.values.reduce(keyspace.changeCount) { $0 + $1.changeCount }
    }

    /// Keys in every database.
    public var keyCountAllDatabases: Int {
        parkedDatabases.values.reduce(keyspace.keyCount) { $0 + $1.keyCount }
    }

    /// Keys of every database removed because their time passed (INFO's expired_keys).
    public var expiredKeyCountAllDatabases: Int {
        parkedDatabases.values.reduce(keyspace.expiredKeyCount) { $0 + $1.expiredKeyCount }
    }

    /// Hash fields of every database removed because their time passed (INFO's
    /// expired_subkeys).
    public var expiredFieldCountAllDatabases: Int {
        parkedDatabases.values.reduce(keyspace.expiredFieldCount) { $0 + $1.expiredFieldCount }
    }

    /// Whether any database but the selected one holds keys.
    var otherDatabasesHoldKeys: Bool { parkedDatabases.values.contains { $0.keyCount > 0 } }

    // MARK: - Commands

    /// Redis's answer for a database number it does not have.
    static let databaseOutOfRange = "ERR DB index is out of range"

    /// A database number from a client: an integer (else Redis's integer error), in range.
    func databaseIndex(_ argument: Bytes, clusterRefusal: String) throws(CommandError) -> Int {
        let index = try Arguments.integer(argument)
        if settings.clusterEnabled, index != 0 { throw .message(clusterRefusal) }
        guard index >= 0, index < Int64(max(settings.databases, 1)) else { throw .message(Self.databaseOutOfRange) }
        return Int(index)
    }

    /// SELECT index: the session's commands run in that database from now on.
    func selectCommand(_ arguments: [Bytes], _ session: Session) throws(CommandError) -> RESPValue {
        session.database = try databaseIndex(arguments[1], clusterRefusal: "ERR SELECT is not allowed in cluster mode")
        return .ok
    }

    /// MOVE key db: moves the key (with its expiry) to another database when it is not
    /// there already; 1 if moved, 0 if not. Publishes `new` and `move_to` in the target
    /// database and `move_from` in this one, as Redis.
    func move(_ arguments: [Bytes], now: Int64) throws(CommandError) -> RESPValue {
        if settings.clusterEnabled { throw .message("ERR MOVE is not allowed in cluster mode") }
        let target = try databaseIndex(arguments[2], clusterRefusal: "ERR MOVE is not allowed in cluster mode")
        if target == selectedDatabase { throw .message("ERR source and destination objects are the same") }
        let key = arguments[1]
        guard let entry = keyspace.lookup(key, now: now) else { return .integer(0) }
        let source = selectedDatabase
        let moved = acrossDatabases {
            guard inDatabase(target, { () -> Bool in
                guard keyspace.lookup(key, now: now) == nil else { return false }
                keyspace.store(key, entry)
                return true
            }) else { return false }
            keyspace.delete(key, now: now)
            return true
        }
        guard moved else { return .integer(0) }
        notify(.newKey, "new", key, database: target)
        notify(.generic, "move_from", key, database: source)
        notify(.generic, "move_to", key, database: target)
        return .integer(1)
    }

    /// COPY's DB option: copies `source` of the selected database to `destination` of
    /// database `target`; publishes `new` and `copy_to` there.
    func copy(_ source: Bytes, to destination: Bytes, database target: Int, replace: Bool, now: Int64) -> Bool {
        guard let entry = keyspace.lookup(source, now: now) else { return false }
        let copied = acrossDatabases {
            inDatabase(target) { () -> Bool in
                if keyspace.lookup(destination, now: now) != nil {
                    guard replace else { return false }
                    keyspace.delete(destination, now: now)
                }
                keyspace.store(destination, entry)
                return true
            }
        }
        if copied {
            notify(.newKey, "new", destination, database: target)
            notify(.generic, "copy_to", destination, database: target)
        }
        return copied
    }

    /// Runs `body`, which changes keys of more than one database, with the change journal
    /// set aside: the caller publishes the events (the journal knows no database). Client
    /// tracking still hears of every key changed.
    private func acrossDatabases(_ body: () -> Bool) -> Bool {
        let journal = keyspace.changeJournal
        keyspace.changeJournal = journal == nil ? nil : []
        let result = body()
        if journalsChanges, let changes = keyspace.changeJournal { changedKeys += changes }
        keyspace.changeJournal = journal
        return result
    }

    /// SWAPDB a b: the two databases trade their keys; every client of one sees the other's.
    func swapDatabases(_ arguments: [Bytes], now: Int64) throws(CommandError) -> RESPValue {
        if settings.clusterEnabled { throw .message("ERR SWAPDB is not allowed in cluster mode") }
        guard let first = Numbers.parseInteger(arguments[1]) else { throw .message("ERR invalid first DB index") }
        guard let second = Numbers.parseInteger(arguments[2]) else { throw .message("ERR invalid second DB index") }
        let count = Int64(max(settings.databases, 1))
        guard first >= 0, first < count, second >= 0, second < count else { throw .message(Self.databaseOutOfRange) }
        guard first != second else { return .ok }
        let previous = selectedDatabase
        select(database: Int(first))
        var other = parkedDatabases.removeValue(forKey: Int(second)) ?? keyspace.emptyDatabase()
        swap(&keyspace, &other)
        keyspace.adoptObservers(from: &other)
        // A watched key live in either database changed, as far as its watchers can tell
        // (as Redis: an expired key, or none, swapped for an expired key, or none, did not).
        let touched = keyspace.watchedKeys.filter { keyspace.peek($0, now: now) != nil || other.peek($0, now: now) != nil }
        touchedWatchedInDatabases += touched.flatMap { [(Int(first), $0), (Int(second), $0)] }
        parkedDatabases[Int(second)] = other
        select(database: previous)
        return .ok
    }

    /// FLUSHALL: every database loses its keys.
    func flushAllDatabases(now: Int64) {
        keyspace.removeAll(now: now)
        for index in parkedDatabases.keys { parkedDatabases[index]?.removeAll(now: now) }
    }
}

extension Engine {
    /// Up to `limit` keys whose expiry is due at `now`, with their database: those of
    /// database 0 first, then the others in index order.
    public func dueExpirations(now: Int64, limit: Int) -> [(database: Int, keys: [Bytes])] {
        assert(selectedDatabase == 0, "expiry looked for inside a command")
        var found: [(database: Int, keys: [Bytes])] = []
        let first = Self.dueKeysAndHashes(&keyspace, now: now, limit: limit)
        if !first.isEmpty { found.append((0, first)) }
        var remaining = limit - first.count
        for index in parkedDatabases.keys.sorted() where remaining > 0 {
            guard var parked = parkedDatabases.removeValue(forKey: index) else { continue }
            let keys = Self.dueKeysAndHashes(&parked, now: now, limit: remaining)
            parkedDatabases[index] = parked
            guard !keys.isEmpty else { continue }
            found.append((index, keys))
            remaining -= keys.count
        }
        return found
    }

    /// Keys expired at `now` and hashes with fields expired at `now` (HashFieldExpiry.swift),
    /// up to `limit` in all, each once: a reclaim entry removes both.
    private static func dueKeysAndHashes(_ keyspace: inout Keyspace, now: Int64, limit: Int) -> [Bytes] {
        var due = keyspace.dueExpirations(now: now, limit: limit)
        guard due.count < limit else { return due }
        for key in keyspace.dueFieldExpirations(now: now, limit: limit - due.count) where !due.contains(key) { due.append(key) }
        return due
    }
}
