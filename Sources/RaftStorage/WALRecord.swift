// The records of the Raft write-ahead log and their payload encoding (docs/FORMAT.md,
// "Raft log store"). Each record is one frame of Storage's framing; this file defines only
// what goes inside. All integers are little-endian; a log index is implicit for all but the
// first entry of an append record (entries of one record are contiguous).
//
// Invariants: every segment's first record is `segmentStart`; an append record never has
// zero entries and no hard state; decoding never trusts a count it read before checking it
// against the bytes that remain.

import Consensus
import Core
import Storage

/// What a shard looks like at the start of a segment: enough to recover it without any
/// older segment except for entries the snapshot does not cover.
struct ShardBaseline: Equatable {
    var shard: ShardID
    var hardState: HardState
    var snapshotIndex: LogIndex
    var snapshotTerm: Term
}

enum WALRecord: Equatable {
    /// First record of every segment: its generation and the state of every live shard.
    case segmentStart(generation: Generation, shards: [ShardBaseline])
    /// Entries starting at `firstIndex` (stored entries at or after it are dropped first),
    /// then an optional hard state.
    case append(shard: ShardID, firstIndex: LogIndex, entries: [Entry], hardState: HardState?)
    /// A snapshot of `shard` at (`index`, `term`) became durable. If `discardsLog`, the stored
    /// log did not hold (`index`, `term`) and every stored entry of the shard is stale.
    case snapshot(shard: ShardID, index: LogIndex, term: Term, discardsLog: Bool)
    /// The replica left this node; everything recorded for it before is void.
    case dropShard(ShardID)

    enum Kind: UInt8 {
        case segmentStart = 1
        case append = 2
        case snapshot = 3
        case dropShard = 4
    }
}

/// A record whose frame checked out but whose contents do not decode.
struct WALDecodeError: Error, Equatable {
    var reason: String
}

// MARK: - Encoding

/// Appends encoded frames to one caller-owned buffer. All functions are pure appends.
enum WALEncoder {
    @inline(__always)
    static func put64(_ value: UInt64, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    static func put32(_ value: UInt32, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func putHardState(_ state: HardState, _ bytes: inout [UInt8]) {
        put64(state.term.rawValue, &bytes)
        put64(state.vote.rawValue, &bytes)
        put64(state.commit.rawValue, &bytes)
    }

    static func putMembership(_ membership: Membership, _ bytes: inout [UInt8]) {
        put32(UInt32(membership.voters.count), &bytes)
        for voter in membership.voters { put64(voter.rawValue, &bytes) }
        put32(UInt32(membership.learners.count), &bytes)
        for learner in membership.learners { put64(learner.rawValue, &bytes) }
    }

    static func putEntryBody(_ entry: Entry, _ bytes: inout [UInt8]) {
        put64(entry.term.rawValue, &bytes)
        switch entry.payload {
        case .empty:
            bytes.append(0)
        case .command(let command):
            bytes.append(1)
            put32(UInt32(command.count), &bytes)
            bytes.append(contentsOf: command)
        case .configChange(let change, let membership):
            bytes.append(2)
            bytes.append(kindCode(change.kind))
            put64(change.node.rawValue, &bytes)
            putMembership(membership, &bytes)
        }
    }

    static func kindCode(_ kind: ConfigChange.Kind) -> UInt8 {
        switch kind {
        case .addLearner: return 0
        case .promote: return 1
        case .remove: return 2
        }
    }

    static func segmentStart(_ generation: Generation, _ shards: [ShardBaseline], into bytes: inout [UInt8]) throws(StorageError) {
        let start = Framing.beginRecord(in: &bytes)
        bytes.append(WALRecord.Kind.segmentStart.rawValue)
        put64(generation.rawValue, &bytes)
        put32(UInt32(shards.count), &bytes)
        for baseline in shards {
            put64(baseline.shard.rawValue, &bytes)
            putHardState(baseline.hardState, &bytes)
            put64(baseline.snapshotIndex.rawValue, &bytes)
            put64(baseline.snapshotTerm.rawValue, &bytes)
        }
        try Framing.finishRecord(in: &bytes, start: start)
    }

    /// Appends one or more append records: a new record starts once the current one holds
    /// `recordBytesTarget` bytes. The hard state goes into the last record, so a torn write
    /// never keeps a hard state without the entries staged with it.
    static func append(
        shard: ShardID, entries: [Entry], hardState: HardState?, recordBytesTarget: Int, into bytes: inout [UInt8]
    ) throws(StorageError) {
        var next = 0
        repeat {
            let start = Framing.beginRecord(in: &bytes)
            bytes.append(WALRecord.Kind.append.rawValue)
            put64(shard.rawValue, &bytes)
            put64(next < entries.count ? entries[next].index.rawValue : 0, &bytes)
            let countOffset = bytes.count
            put32(0, &bytes)
            var count: UInt32 = 0
            while next < entries.count && (count == 0 || bytes.count - start < recordBytesTarget) {
                putEntryBody(entries[next], &bytes)
                next += 1
                count += 1
            }
            withUnsafeBytes(of: count.littleEndian) { raw in
                for offset in 0..<4 { bytes[countOffset + offset] = raw[offset] }
            }
            if next == entries.count, let hardState {
                bytes.append(1)
                putHardState(hardState, &bytes)
            } else {
                bytes.append(0)
            }
            try Framing.finishRecord(in: &bytes, start: start)
        } while next < entries.count
    }

    static func snapshot(shard: ShardID, index: LogIndex, term: Term, discardsLog: Bool, into bytes: inout [UInt8]) throws(StorageError) {
        let start = Framing.beginRecord(in: &bytes)
        bytes.append(WALRecord.Kind.snapshot.rawValue)
        put64(shard.rawValue, &bytes)
        put64(index.rawValue, &bytes)
        put64(term.rawValue, &bytes)
        bytes.append(discardsLog ? 1 : 0)
        try Framing.finishRecord(in: &bytes, start: start)
    }

    static func dropShard(_ shard: ShardID, into bytes: inout [UInt8]) throws(StorageError) {
        let start = Framing.beginRecord(in: &bytes)
        bytes.append(WALRecord.Kind.dropShard.rawValue)
        put64(shard.rawValue, &bytes)
        try Framing.finishRecord(in: &bytes, start: start)
    }
}

// MARK: - Decoding

extension WALRecord {
    /// The smallest encoded entry: a term and a payload tag.
    static let entryBytesMin = 9
    static let baselineBytes = 6 * 8

    static func decode(_ payload: [UInt8], limits: RaftStorageLimits) throws(WALDecodeError) -> WALRecord {
        var reader = ByteReader(payload)
        do {
            let record = try decodeBody(&reader, limits: limits)
            guard reader.isAtEnd else { throw WALDecodeError(reason: "\(reader.remaining) trailing bytes") }
            return record
        } catch let error as WALDecodeError {
            throw error
        } catch {
            throw WALDecodeError(reason: "record ends early at byte \(reader.offset)")
        }
    }

    private static func decodeBody(_ reader: inout ByteReader, limits: RaftStorageLimits) throws -> WALRecord {
        let code = try reader.readByte()
        guard let kind = Kind(rawValue: code) else { throw WALDecodeError(reason: "unknown record kind \(code)") }
        switch kind {
        case .segmentStart:
            let generation = Generation(try reader.read(UInt64.self))
            let count = Int(try reader.read(UInt32.self))
            guard count <= limits.shardsMax, count * baselineBytes <= reader.remaining else {
                throw WALDecodeError(reason: "segment start lists \(count) shards")
            }
            var shards: [ShardBaseline] = []
            shards.reserveCapacity(count)
            for _ in 0..<count {
                let shard = ShardID(try reader.read(UInt64.self))
                let hardState = try decodeHardState(&reader)
                let index = LogIndex(try reader.read(UInt64.self))
                let term = Term(try reader.read(UInt64.self))
                shards.append(ShardBaseline(shard: shard, hardState: hardState, snapshotIndex: index, snapshotTerm: term))
            }
            return .segmentStart(generation: generation, shards: shards)
        case .append:
            let shard = ShardID(try reader.read(UInt64.self))
            let firstIndex = LogIndex(try reader.read(UInt64.self))
            let count = Int(try reader.read(UInt32.self))
            guard count * entryBytesMin <= reader.remaining else {
                throw WALDecodeError(reason: "append record claims \(count) entries")
            }
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for offset in 0..<count {
                let index = firstIndex.advanced(by: UInt64(offset))
                entries.append(try decodeEntry(&reader, index: index, limits: limits))
            }
            let hardState = try reader.readByte() == 1 ? try decodeHardState(&reader) : nil
            return .append(shard: shard, firstIndex: firstIndex, entries: entries, hardState: hardState)
        case .snapshot:
            let shard = ShardID(try reader.read(UInt64.self))
            let index = LogIndex(try reader.read(UInt64.self))
            let term = Term(try reader.read(UInt64.self))
            let discards = try reader.readByte() == 1
            return .snapshot(shard: shard, index: index, term: term, discardsLog: discards)
        case .dropShard:
            return .dropShard(ShardID(try reader.read(UInt64.self)))
        }
    }

    static func decodeHardState(_ reader: inout ByteReader) throws(ByteReaderError) -> HardState {
        let term = Term(try reader.read(UInt64.self))
        let vote = NodeID(try reader.read(UInt64.self))
        let commit = LogIndex(try reader.read(UInt64.self))
        return HardState(term: term, vote: vote, commit: commit)
    }

    static func decodeEntry(_ reader: inout ByteReader, index: LogIndex, limits: RaftStorageLimits) throws -> Entry {
        let term = Term(try reader.read(UInt64.self))
        let tag = try reader.readByte()
        switch tag {
        case 0:
            return Entry(term: term, index: index, payload: .empty)
        case 1:
            return Entry(term: term, index: index, payload: .command(try reader.readBlob()))
        case 2:
            let code = try reader.readByte()
            let kinds: [ConfigChange.Kind] = [.addLearner, .promote, .remove]
            guard Int(code) < kinds.count else { throw WALDecodeError(reason: "unknown config change kind \(code)") }
            let node = NodeID(try reader.read(UInt64.self))
            let membership = try decodeMembership(&reader, limits: limits)
            return Entry(term: term, index: index, payload: .configChange(ConfigChange(kinds[Int(code)], node), membership))
        default:
            throw WALDecodeError(reason: "unknown entry payload tag \(tag)")
        }
    }

    static func decodeMembership(_ reader: inout ByteReader, limits: RaftStorageLimits) throws -> Membership {
        func nodes(_ reader: inout ByteReader) throws -> [NodeID] {
            let count = Int(try reader.read(UInt32.self))
            guard count <= limits.membersMax, count * 8 <= reader.remaining else {
                throw WALDecodeError(reason: "membership lists \(count) nodes")
            }
            var result: [NodeID] = []
            result.reserveCapacity(count)
            for _ in 0..<count { result.append(NodeID(try reader.read(UInt64.self))) }
            return result
        }
        let voters = try nodes(&reader)
        let learners = try nodes(&reader)
        return Membership(voters: voters, learners: learners)
    }
}
