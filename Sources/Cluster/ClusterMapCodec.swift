// Binary encoding of the cluster map and of directory commands, for the directory's log,
// its snapshots and the peer protocol. Format version 1; all integers little-endian.
import Core

public enum ClusterCodecError: Error, Equatable, Sendable {
    case malformed(String)
}

extension ClusterMap {
    static let formatVersion: UInt8 = 1

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 256 + nodes.count * 64 + shards.count * 64)
        writer.write(Self.formatVersion)
        writer.writeBlob(Array(name.utf8))
        writer.write(version)
        writer.write(UInt8(replicationFactor))
        writer.write(UInt32(nodes.count))
        for node in nodes { node.encode(into: &writer) }
        writer.write(UInt32(shards.count))
        for shard in shards {
            writer.write(shard.id.rawValue)
            writer.write(UInt32(shard.slots.count))
            for range in shard.slots { writer.write(range.first); writer.write(range.last) }
            writeIDs(shard.replicas, into: &writer)
        }
        writeIDs(directoryVoters, into: &writer)
        // Added after format 1's last field: a map without ACL users encodes as before,
        // and an older map (nothing left to read) decodes with none.
        // Optional trailing sections, in this order; each is written (perhaps empty)
        // whenever a later one is: ACL users, slot moves, the shard id high-water mark,
        // the genesis replicas of split shards, the splits owed, the merges in progress.
        let geneses = shards.filter { !$0.genesis.isEmpty }
        let merging = shards.filter { $0.mergeInto != nil }
        let sections = [!aclUsers.isEmpty, !moves.isEmpty, shardIDHigh != 0, !geneses.isEmpty, splitsOwed != 0, !merging.isEmpty]
        let written = (sections.lastIndex(of: true) ?? -1) + 1
        if written > 0 {
            writer.write(UInt32(aclUsers.count))
            for name in aclUsers.keys.sorted() {
                writer.writeBlob(Array(name.utf8))
                writer.writeBlob(Array((aclUsers[name] ?? "").utf8))
            }
        }
        if written > 1 {
            writer.write(UInt32(moves.count))
            for move in moves { move.encode(into: &writer) }
        }
        if written > 2 { writer.write(shardIDHigh) }
        if written > 3 {
            writer.write(UInt32(geneses.count))
            for shard in geneses {
                writer.write(shard.id.rawValue)
                writeIDs(shard.genesis, into: &writer)
            }
        }
        if written > 4 { writer.write(splitsOwed) }
        if written > 5 {
            writer.write(UInt32(merging.count))
            for shard in merging {
                writer.write(shard.id.rawValue)
                writer.write(shard.mergeInto?.rawValue ?? 0)
            }
        }
        return writer.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(ClusterCodecError) -> ClusterMap {
        var reader = ByteReader(bytes)
        do {
            guard try reader.readByte() == formatVersion else { throw ClusterCodecError.malformed("unknown cluster map version") }
            let name = String(decoding: try reader.readBlob(), as: UTF8.self)
            let version = try reader.read(UInt64.self)
            let factor = Int(try reader.readByte())
            let nodeCount = Int(try reader.read(UInt32.self))
            guard nodeCount <= reader.remaining else { throw ClusterCodecError.malformed("node count") }
            var nodes: [NodeInfo] = []
            for _ in 0..<nodeCount { nodes.append(try NodeInfo.decode(from: &reader)) }
            let shardCount = Int(try reader.read(UInt32.self))
            guard shardCount <= shardsMax else { throw ClusterCodecError.malformed("shard count") }
            var shards: [ShardInfo] = []
            for _ in 0..<shardCount {
                let id = ShardID(try reader.read(UInt64.self))
                let rangeCount = Int(try reader.read(UInt32.self))
                guard rangeCount <= HashSlot.count else { throw ClusterCodecError.malformed("range count") }
                var ranges: [SlotRange] = []
                for _ in 0..<rangeCount {
                    let first = try reader.read(UInt16.self)
                    let last = try reader.read(UInt16.self)
                    guard first <= last, Int(last) < HashSlot.count else { throw ClusterCodecError.malformed("slot range") }
                    ranges.append(SlotRange(first, last))
                }
                shards.append(ShardInfo(id: id, slots: ranges, replicas: try readIDs(from: &reader)))
            }
            let voters = try readIDs(from: &reader)
            var map = ClusterMap(name: name, version: version, replicationFactor: factor, nodes: nodes, shards: shards, directoryVoters: voters)
            if reader.remaining > 0 { map.aclUsers = try readACLUsers(from: &reader) }
            if reader.remaining > 0 {
                let count = Int(try reader.read(UInt32.self))
                guard count <= movesMax else { throw ClusterCodecError.malformed("move count") }
                for _ in 0..<count { map.moves.append(try SlotMove.decode(from: &reader)) }
            }
            if reader.remaining > 0 { map.shardIDHigh = try reader.read(UInt64.self) }
            if reader.remaining > 0 {
                let count = Int(try reader.read(UInt32.self))
                guard count <= shardsMax else { throw ClusterCodecError.malformed("genesis count") }
                for _ in 0..<count {
                    let id = ShardID(try reader.read(UInt64.self))
                    let genesis = try readIDs(from: &reader)
                    guard let index = map.shards.firstIndex(where: { $0.id == id }) else { throw ClusterCodecError.malformed("genesis of an unknown shard") }
                    map.shards[index].genesis = genesis
                }
            }
            if reader.remaining > 0 { map.splitsOwed = try reader.read(UInt32.self) }
            if reader.remaining > 0 {
                let count = Int(try reader.read(UInt32.self))
                guard count <= shardsMax else { throw ClusterCodecError.malformed("merge count") }
                for _ in 0..<count {
                    let id = ShardID(try reader.read(UInt64.self))
                    let into = ShardID(try reader.read(UInt64.self))
                    guard let index = map.shards.firstIndex(where: { $0.id == id }) else { throw ClusterCodecError.malformed("merge of an unknown shard") }
                    map.shards[index].mergeInto = into
                }
            }
            guard reader.remaining == 0 else { throw ClusterCodecError.malformed("trailing bytes after the cluster map") }
            return map
        } catch let error as ClusterCodecError {
            throw error
        } catch {
            throw .malformed("truncated cluster map")
        }
    }
}

/// ACL users: count u32, then name and line blobs.
func readACLUsers(from reader: inout ByteReader) throws -> [String: String] {
    let count = Int(try reader.read(UInt32.self))
    guard count <= ClusterMap.aclUsersMax, count <= reader.remaining / 8 else { throw ClusterCodecError.malformed("ACL user count") }
    var users: [String: String] = [:]
    for _ in 0..<count {
        let name = String(decoding: try reader.readBlob(), as: UTF8.self)
        let line = try reader.readBlob()
        guard line.count <= ClusterMap.aclLineBytesMax else { throw ClusterCodecError.malformed("ACL line length") }
        users[name] = String(decoding: line, as: UTF8.self)
    }
    return users
}

func writeIDs(_ ids: [NodeID], into writer: inout ByteWriter) {
    writer.write(UInt32(ids.count))
    for id in ids { writer.write(id.rawValue) }
}

func readIDs(from reader: inout ByteReader) throws -> [NodeID] {
    let count = Int(try reader.read(UInt32.self))
    guard count <= reader.remaining / 8 else { throw ClusterCodecError.malformed("id count") }
    var ids: [NodeID] = []
    for _ in 0..<count { ids.append(NodeID(try reader.read(UInt64.self))) }
    return ids
}

extension NodeInfo {
    func encode(into writer: inout ByteWriter) {
        writer.write(id.rawValue)
        writer.writeBlob(Array(host.utf8))
        writer.write(UInt16(port))
        writer.write(UInt16(peerPort))
        writer.writeBlob(Array(zone.utf8))
        writer.write(state.rawValue)
    }

    static func decode(from reader: inout ByteReader) throws -> NodeInfo {
        let id = NodeID(try reader.read(UInt64.self))
        let host = String(decoding: try reader.readBlob(), as: UTF8.self)
        let port = Int(try reader.read(UInt16.self))
        let peerPort = Int(try reader.read(UInt16.self))
        let zone = String(decoding: try reader.readBlob(), as: UTF8.self)
        guard let state = NodeInfo.State(rawValue: try reader.readByte()) else { throw ClusterCodecError.malformed("node state") }
        return NodeInfo(id: id, host: host, port: port, peerPort: peerPort, zone: zone, state: state)
    }
}

extension SlotMove {
    func encode(into writer: inout ByteWriter) {
        writer.write(id)
        writer.write(slots.first)
        writer.write(slots.last)
        writer.write(source.rawValue)
        writer.write(target.rawValue)
    }

    static func decode(from reader: inout ByteReader) throws -> SlotMove {
        let id = try reader.read(UInt64.self)
        let slots = try readSlotRange(from: &reader)
        return SlotMove(id: id, slots: slots, source: ShardID(try reader.read(UInt64.self)), target: ShardID(try reader.read(UInt64.self)))
    }
}

func readSlotRange(from reader: inout ByteReader) throws -> SlotRange {
    let first = try reader.read(UInt16.self)
    let last = try reader.read(UInt16.self)
    guard first <= last, Int(last) < HashSlot.count else { throw ClusterCodecError.malformed("slot range") }
    return SlotRange(first, last)
}

extension DirectoryCommand {
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 128)
        switch self {
        case .addNode(let info): writer.write(UInt8(1)); info.encode(into: &writer)
        case .drainNode(let id): writer.write(UInt8(2)); writer.write(id.rawValue)
        case .forgetNode(let id): writer.write(UInt8(3)); writer.write(id.rawValue)
        case .setReplicas(let targets):
            writer.write(UInt8(4))
            writer.write(UInt32(targets.count))
            for shard in targets.keys.sorted() {
                writer.write(shard.rawValue)
                writeIDs(targets[shard] ?? [], into: &writer)
            }
        case .setDirectoryVoters(let voters): writer.write(UInt8(5)); writeIDs(voters, into: &writer)
        case let .putACLUser(name, line):
            writer.write(UInt8(6))
            writer.writeBlob(Array(name.utf8))
            writer.writeBlob(Array(line.utf8))
        case .deleteACLUsers(let names):
            writer.write(UInt8(7))
            writer.write(UInt32(names.count))
            for name in names { writer.writeBlob(Array(name.utf8)) }
        case let .beginMove(slots, target):
            writer.write(UInt8(8))
            writer.write(slots.first)
            writer.write(slots.last)
            writer.write(target.rawValue)
        case .finishMove(let id):
            writer.write(UInt8(9))
            writer.write(id)
        case let .splitShard(source, slots, newShard, replicas):
            writer.write(UInt8(10))
            writer.write(source.rawValue)
            writer.write(slots.first)
            writer.write(slots.last)
            writer.write(newShard.rawValue)
            writeIDs(replicas, into: &writer)
        case let .mergeShard(source, into):
            writer.write(UInt8(11))
            writer.write(source.rawValue)
            writer.write(into.rawValue)
        case .removeShard(let id):
            writer.write(UInt8(12))
            writer.write(id.rawValue)
        }
        return writer.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(ClusterCodecError) -> DirectoryCommand {
        var reader = ByteReader(bytes)
        do {
            switch try reader.readByte() {
            case 1: return .addNode(try NodeInfo.decode(from: &reader))
            case 2: return .drainNode(NodeID(try reader.read(UInt64.self)))
            case 3: return .forgetNode(NodeID(try reader.read(UInt64.self)))
            case 4:
                let count = Int(try reader.read(UInt32.self))
                guard count <= ClusterMap.shardsMax else { throw ClusterCodecError.malformed("target count") }
                var targets: [ShardID: [NodeID]] = [:]
                for _ in 0..<count { targets[ShardID(try reader.read(UInt64.self))] = try readIDs(from: &reader) }
                return .setReplicas(targets)
            case 5: return .setDirectoryVoters(try readIDs(from: &reader))
            case 6:
                let name = String(decoding: try reader.readBlob(), as: UTF8.self)
                let line = try reader.readBlob()
                guard line.count <= ClusterMap.aclLineBytesMax else { throw ClusterCodecError.malformed("ACL line length") }
                return .putACLUser(name: name, line: String(decoding: line, as: UTF8.self))
            case 7:
                let count = Int(try reader.read(UInt32.self))
                guard count <= reader.remaining / 4 else { throw ClusterCodecError.malformed("ACL user count") }
                var names: [String] = []
                for _ in 0..<count { names.append(String(decoding: try reader.readBlob(), as: UTF8.self)) }
                return .deleteACLUsers(names)
            case 8:
                let slots = try readSlotRange(from: &reader)
                return .beginMove(slots: slots, target: ShardID(try reader.read(UInt64.self)))
            case 9: return .finishMove(id: try reader.read(UInt64.self))
            case 10:
                let source = ShardID(try reader.read(UInt64.self))
                let slots = try readSlotRange(from: &reader)
                let newShard = ShardID(try reader.read(UInt64.self))
                return .splitShard(source: source, slots: slots, newShard: newShard, replicas: try readIDs(from: &reader))
            case 11:
                let source = ShardID(try reader.read(UInt64.self))
                return .mergeShard(source: source, into: ShardID(try reader.read(UInt64.self)))
            case 12: return .removeShard(ShardID(try reader.read(UInt64.self)))
            default: throw ClusterCodecError.malformed("unknown directory command")
            }
        } catch let error as ClusterCodecError {
            throw error
        } catch {
            throw .malformed("truncated directory command")
        }
    }
}
