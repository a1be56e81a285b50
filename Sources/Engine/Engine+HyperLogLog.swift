// PFADD PFCOUNT PFMERGE PFDEBUG, with Redis 7's replies and error texts. The representation and
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
        case .pfdebug:
            return try pfdebug(arguments, now: now)
        case .pfselftest:
            // Seeded from the engine's generator: each run tests other elements, as Redis's.
            if let failure = HyperLogLog.selfTest(seed: random.next(), sparseBytesMax: sparseBytesMax) { return .error(failure) }
            return .ok
        default:
            try keyspace.hyperLogLogMerge(arguments[1], sources: Array(arguments.dropFirst(2)), sparseBytesMax: sparseBytesMax, now: now)
            return .ok
        }
    }

    /// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: the key is checked before the subcommand.
    /// PFDEBUG SIMD ON|OFF (Redis 8.0) switches Redis's vectorized register code; Trestle has
    /// one implementation, so both are accepted and change nothing.
    private func pfdebug(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        if Arguments.lowercased(arguments[1]) == "simd" {
            guard ["on", "off"].contains(Arguments.lowercased(arguments[2])) else { throw CommandError.syntax }
            return .ok
        }
        let requests: [String: HyperLogLogDebugRequest] = ["getreg": .registers, "decode": .decode, "encoding": .encoding, "todense": .toDense]
        let key = arguments[2]
        guard try keyspace.hyperLogLogValue(key, now: now) != nil else {
            throw CommandError.message("ERR The specified key does not exist")
        }
        guard let request = requests[Arguments.lowercased(arguments[1])] else {
            throw CommandError.message("ERR Unknown PFDEBUG subcommand '\(Arguments.string(arguments[1]))'")
        }
        switch try keyspace.hyperLogLogDebug(key, request, now: now) {
        case .registers(let registers)?: return .array(registers.map { .integer(Int($0)) })
        case .text(let text)?: return .bulk(Array(text.utf8))
        case .notSparse?: throw CommandError.message("ERR HLL encoding is not sparse")
        case .encoding(let name)?: return .simple(name)
        case .converted(let converted)?: return .integer(converted ? 1 : 0)
        case nil: throw CommandError.message("ERR The specified key does not exist")
        }
    }
}
