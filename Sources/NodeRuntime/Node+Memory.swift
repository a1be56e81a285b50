// MEMORY STATS, DOCTOR, PURGE and MALLOC-STATS: node-wide answers (MEMORY USAGE reads one
// key and runs on its shard). Trestle does not count its allocations: the figures come from
// the process's resident memory and the keys of the shards this node leads, with dataset
// bytes estimated by sampling (Node.bytesSampleKeys per shard), and are named as Redis
// names them so tools that parse MEMORY STATS find them.
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// The reply for a node-wide MEMORY subcommand, or nil for the others (USAGE, HELP,
    /// wrong arities) that the engines answer.
    func memoryCommand(_ arguments: [Bytes]) -> RESPValue? {
        guard arguments.count == 2 else { return nil }
        switch String(decoding: arguments[1], as: UTF8.self).lowercased() {
        case "purge": return .ok
        case "malloc-stats": return .bulk("Stats not supported for the current allocator")
        case "stats": return memoryStats()
        case "doctor":
            return .verbatim(format: "txt", text: "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base. "
                + "(Trestle does not count allocations per structure: INFO memory and MEMORY STATS report the process's resident memory.)\n")
        default: return nil
        }
    }

    private func memoryStats() -> RESPValue {
        let resident = Int64(processInfoFields?("memory").first { $0.0 == "used_memory_rss" }.flatMap { Int64($0.1) } ?? 0)
        let keys = Int64(keyCount)
        let dataset = Int64(leadShardStats().values.reduce(0) { $0 + $1.bytes })
        let percentage = resident > 0 ? min(100, Double(dataset) * 100 / Double(resident)) : 0
        let pairs: [(String, RESPValue)] = [
            ("peak.allocated", .integer(resident)), ("total.allocated", .integer(resident)), ("startup.allocated", .integer(0)),
            ("replication.backlog", .integer(0)), ("clients.slaves", .integer(0)), ("clients.normal", .integer(0)),
            ("cluster.links", .integer(0)), ("aof.buffer", .integer(0)), ("lua.caches", .integer(0)), ("functions.caches", .integer(0)),
            ("overhead.total", .integer(max(0, resident - dataset))), ("keys.count", .integer(keys)),
            ("keys.bytes-per-key", .integer(keys > 0 ? resident / keys : 0)), ("dataset.bytes", .integer(dataset)),
            ("dataset.percentage", .double(percentage)), ("peak.percentage", .double(100)),
            ("allocator.allocated", .integer(resident)), ("allocator.active", .integer(resident)), ("allocator.resident", .integer(resident)),
            ("allocator-fragmentation.ratio", .double(1)), ("allocator-fragmentation.bytes", .integer(0)),
            ("allocator-rss.ratio", .double(1)), ("allocator-rss.bytes", .integer(0)),
            ("rss-overhead.ratio", .double(1)), ("rss-overhead.bytes", .integer(0)),
            ("fragmentation", .double(1)), ("fragmentation.bytes", .integer(0)),
        ]
        return .map(pairs.map { RESPPair($0.0, $0.1) })
    }
}
