// Proxy mode's node-wide commands over the whole cluster: DBSIZE, KEYS, RANDOMKEY, SCAN
// and FLUSHALL/FLUSHDB cover every shard, not only those this node leads, so a client that
// is not cluster-aware sees one database. The node asks every other node that leads a
// shard (forwarded requests, which each answers for the shards it leads) and combines the
// answers. SCAN covers one shard's slot range per call: the cursor is a slot number, and
// the range's leader (here or forwarded) scans it.
import Cluster
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// Serves DBSIZE, KEYS, RANDOMKEY, SCAN, FLUSHALL and FLUSHDB for a proxy node's client.
    func clusterWide(_ id: CommandID, _ arguments: [Bytes], session: Session, reply: @escaping ReplySink) {
        if id == .scan { return clusterScan(arguments, session: session, reply: reply) }
        guard let map else { return reply(Redirect.clusterDown("This node has not joined a cluster yet").reply) }
        var others: Set<NodeID> = []
        for shard in map.shards {
            let leader = leader(of: shard.id)
            guard leader != .none else {
                return reply(Redirect.clusterDown("The cluster is down: shard \(shard.id.rawValue) has no leader reachable from this node").reply)
            }
            if leader != me { others.insert(leader) }
        }
        var answers: [RESPValue] = []
        var waiting = others.count + 1
        let collect: ReplySink = { [self] value in
            answers.append(value)
            waiting -= 1
            if waiting == 0 { reply(Self.combine(id, answers)) }
        }
        if id == .flushall || id == .flushdb {
            flushLedShards(id, arguments, session: session, reply: collect)
        } else {
            collect(nodeWideRead(id, arguments, session: session))
        }
        for node in others.sorted() { forward(arguments, version: session.protocolVersion, to: node, reply: collect) }
    }

    static func combine(_ id: CommandID, _ answers: [RESPValue]) -> RESPValue {
        if let error = answers.first(where: \.isError) { return error }
        switch id {
        case .dbsize:
            return .integer(answers.reduce(Int64(0)) { total, answer in
                if case .integer(let count) = answer { return total + count }
                return total
            })
        case .keys:
            return .array(answers.flatMap { answer -> [RESPValue] in
                if case .array(let keys) = answer { return keys }
                return []
            })
        case .randomkey:
            return answers.first { $0 != .null && $0 != .nullArray } ?? .null
        default:
            return .ok
        }
    }

    /// SCAN in proxy mode: the slot range holding the cursor, scanned by its leader.
    private func clusterScan(_ arguments: [Bytes], session: Session, reply: @escaping ReplySink) {
        guard let map else { return reply(.array([.bulk("0"), .array([])])) }
        guard let start = ScanOptions.cursor(arguments[1]) else { return reply(.error("ERR invalid cursor")) }
        if let error = ScanOptions.validate(arguments, from: 2, allowType: true) { return reply(error) }
        guard start < UInt64(HashSlot.count), let shard = map.shard(forSlot: HashSlot(UInt16(start))) else {
            return reply(.array([.bulk("0"), .array([])]))
        }
        let leader = leader(of: shard.id)
        if leader == me || leader == .none {
            let answer = scanRange(arguments, session: session)
            if expireMetByScan(answer: answer, database: session.database, reply: reply) { return }
            return reply(answer)
        }
        forward(arguments, version: session.protocolVersion, to: leader, reply: reply)
    }

    /// A forwarded SCAN (or a proxy's own range): scans only the slot range holding the
    /// cursor, which this node must lead; the next cursor stays in the range or is its end.
    func scanRange(_ arguments: [Bytes], session: Session) -> RESPValue {
        guard let map, let start = ScanOptions.cursor(arguments[1]), start < UInt64(HashSlot.count) else {
            return .array([.bulk("0"), .array([])])
        }
        let slot = HashSlot(UInt16(start))
        guard let shard = map.shard(forSlot: slot), let range = shard.slots.first(where: { $0.contains(slot.rawValue) }) else {
            return .array([.bulk("0"), .array([])])
        }
        guard let engine = replicas[shard.id].flatMap({ $0.isLeader ? $0.data?.engine : nil }) else {
            return Redirect.tryAgain("this node no longer leads slot \(slot.rawValue); retry the SCAN call").reply
        }
        let end = Int(range.last) + 1
        guard case .array(let answer) = engine.executeRead(arguments, session: session, now: now()), answer.count == 2,
              case .bulk(let nextBytes) = answer[0], case .array(let keys) = answer[1] else {
            return engine.executeRead(arguments, session: session, now: now())
        }
        let next = Int(String(decoding: nextBytes, as: UTF8.self)) ?? 0
        let cursor = (next == 0 || next >= end) ? end : next
        return .array([.bulk(String(cursor >= HashSlot.count ? 0 : cursor)), .array(keys)])
    }
}
