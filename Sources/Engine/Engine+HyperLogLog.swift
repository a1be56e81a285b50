// PFADD PFCOUNT PFMERGE, with Redis 7's replies and error texts. The representation and
// the estimator live in Keyspace/HyperLogLog*.swift.
//
// PFCOUNT of one key stores the computed cardinality in the value's header, as Redis
// does, so it is flagged `may_replicate`: it runs through the shard's log like a write,
// and every replica caches the same bytes.
import Keyspace
import Wire

extension Engine {
    func runHyperLogLogCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runHyperLogLogCommandThrowing(id, arguments, now: now) }
    }

    private func runHyperLogLogCommandThrowing(_ id: CommandID, _ arguments: [Bytes], now: Int64) throws -> RESPValue {
        let sparseBytesMax = settings.hllSparseMaxBytes
        switch id {
        case .pfadd:
            let updated = try keyspace.hyperLogLogAdd(arguments[1], Array(arguments.dropFirst(2)), sparseBytesMax: sparseBytesMax, now: now)
            return .integer(updated ? 1 : 0)
        case .pfcount where arguments.count == 2:
            return .integer(Int(try keyspace.hyperLogLogCount(arguments[1], cache: true, now: now)))
        case .pfcount:
            return .integer(Int(try keyspace.hyperLogLogUnionCount(Array(arguments.dropFirst()), now: now)))
        default:
            try keyspace.hyperLogLogMerge(arguments[1], sources: Array(arguments.dropFirst(2)), sparseBytesMax: sparseBytesMax, now: now)
            return .ok
        }
    }
}
