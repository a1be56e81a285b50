// INFO fields only the node knows: its shards' keys, its clients' tracking and blocking,
// its replication links, its log's persistence (the front engine renders the rest).
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Logging
import RaftStorage
import Storage
import Wire

extension Node {
    /// INFO fields the front engine cannot know: the keys of the shards this node leads.
    func infoFields(_ section: String) -> [(String, String)] {
        let shell = processInfoFields?(section) ?? []
        switch section {
        case "keyspace":
            // Each database's keys summed over the shards this node leads.
            var totals: [Int: (keys: Int, expires: Int, subexpiry: Int)] = [:]
            for replica in replicas.values where replica.isLeader {
                for database in replica.data?.engine.keyspaceInfoFields() ?? [] {
                    let total = totals[database.index] ?? (0, 0, 0)
                    totals[database.index] = (total.keys + database.keys, total.expires + database.expires,
                                              total.subexpiry + database.subexpiry)
                }
            }
            return totals.sorted { $0.key < $1.key }.map { index, total in
                ("db\(index)", Engine.keyspaceInfoLine(keys: total.keys, expires: total.expires, subexpiry: total.subexpiry))
            }
        case "keysizes":
            // Each database's key sizes summed over the shards this node leads.
            var totals: [Int: KeySizes] = [:]
            for replica in replicas.values where replica.isLeader {
                for database in replica.data?.engine.keySizesByDatabase() ?? [] {
                    totals[database.index, default: KeySizes()].merge(database.sizes)
                }
            }
            return Engine.keySizesInfoFields(totals.sorted { $0.key < $1.key }.map { (index: $0.key, sizes: $0.value) })
        case "hotspots":
            return hotspotInfoFields()
        case "replication":
            return followerInfoFields() + [("connected_slaves", String(replicationLinks.count)),
                                           ("master_replid", following?.replicationID ?? Engine.replicationID),
                                           ("master_repl_offset", String(following?.offset ?? replicationOffset))]
        case "commandstats":
            return commandStats.commandFields
        case "errorstats":
            return commandStats.errorFields
        case "latencystats":
            return commandStats.latencyFields(percentiles: front.settings.latencyPercentiles)
        case "clients":
            // Redis 7.2/7.4's fields: the key counts of blocked and watching clients.
            let subscribers = clients.values.filter { $0.session.isSubscribed }.count
            let watching = Set(watchers.values.flatMap { $0 }).count
            return [("pubsub_clients", String(subscribers)), ("watching_clients", String(watching)),
                    ("clients_in_timeout_table", String(blocked.filter { $0.deadline != nil && !$0.done }.count)),
                    ("total_watched_keys", String(watchers.count)), ("total_blocking_keys", String(blockedByKey.count)),
                    ("total_blocking_keys_on_nokey", String(blockingKeysOnNoKey)),
                    ("tracking_clients", String(trackingClients.count))] + shell
        case "stats":
            let prefixes = trackingClients.reduce(0) { $0 + (clients[$1]?.session.tracking?.prefixes.count ?? 0) }
            return [("tracking_total_keys", String(trackingTable.count)),
                    ("tracking_total_items", String(trackingTable.values.reduce(0) { $0 + $1.count })),
                    ("tracking_total_prefixes", String(prefixes))] + shell
        case "persistence":
            // Redis's "dirty" counter: changes to this node's shards since their last snapshot.
            let changes = replicas.values.reduce(0) { total, replica in
                guard let engine = replica.data?.engine else { return total }
                return total + max(0, engine.changeCountAllDatabases - (changeCountAtSnapshot[replica.shard] ?? 0))
            }
            return [("loading", following?.loading == true ? "1" : "0"), ("rdb_changes_since_last_save", String(changes)), ("rdb_bgsave_in_progress", "0"), ("rdb_last_save_time", String(lastSnapshotMilliseconds / 1000)),
                    ("aof_rewrite_in_progress", "0"), ("aof_last_write_status", failed ? "err" : "ok"),
                    ("trestle_fsync", configuration.fsync.rawValue)] + shell
        default:
            return shell
        }
    }
}

extension Node {
    /// INFO stats for the whole node: requests it served (its own clients' and those peers
    /// forwarded), and the lookups its shard replicas answered, on top of the sessions
    /// engine's connection counters.
    func nodeStats() -> Stats {
        var stats = front.stats
        stats.commandsProcessed = commandsServed
        // Every error reply a client got, whichever engine produced it.
        stats.errorReplies = commandStats.errorReplies
        for replica in replicas.values {
            guard let data = replica.data else { continue }
            stats.keyspaceHits += data.engine.stats.keyspaceHits
            stats.keyspaceMisses += data.engine.stats.keyspaceMisses
            stats.evictedKeys += data.engine.stats.evictedKeys
            stats.lazyfreedObjects += data.engine.stats.lazyfreedObjects
            // The engine's own expiredKeys holds minus the count at the last CONFIG RESETSTAT.
            stats.expiredKeys += data.engine.expiredKeyCountAllDatabases + data.engine.stats.expiredKeys
            stats.expiredSubkeys += data.engine.expiredFieldCountAllDatabases + data.engine.stats.expiredSubkeys
        }
        return stats
    }

    /// INFO memory's Lua figures (`HostHooks.luaMemory`): the shards' Lua states run the
    /// scripts; the sessions engine's compiles what SCRIPT LOAD and FUNCTION LOAD are
    /// given, and is the one shown until a shard has run a script.
    func luaMemory() -> (scripts: Int, total: Int) {
        let scripts = replicas.values.reduce(0) { $0 + ($1.data?.engine.luaMemoryUsed ?? 0) }
        return (scripts > 0 ? scripts : front.luaMemoryUsed, scripts + front.luaMemoryUsed)
    }

    /// Keys with a request blocked that ends if the key goes (Redis's
    /// total_blocking_keys_on_nokey: an XREADGROUP is answered -NOGROUP when its stream is
    /// deleted, where a list pop keeps waiting).
    var blockingKeysOnNoKey: Int {
        blockedByKey.values.filter { requests in requests.contains { $0.id == .xreadgroup && !$0.done } }.count
    }
}
