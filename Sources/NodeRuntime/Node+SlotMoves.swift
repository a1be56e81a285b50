// Moving slots between shards (SlotMove.swift, SlotMigration.swift), driven by the node
// that leads the source shard: on the timer it takes the next step its shard's state
// calls for — copy the slots to the target's leader batch by batch while writes go on,
// fence, send the keys that changed meanwhile, hand off, then ask the directory to flip
// ownership. Writes to the slots wait only for the catch-up, not for the whole copy.
// Every step is a committed log entry, so a new leader (or this one after a restart)
// resumes from the state its log left; a step that fails or times out is simply taken
// again later. A leader that did not take the live copy itself (or whose record of the
// changes overflowed) copies the fenced slots whole instead.
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Wire

/// What this node is doing for one move it drives.
struct MoveDrive {
    /// A step is in flight since this time (node wall milliseconds); nil: idle.
    var busySince: Int64?
    /// The live copy this node sent before the fence: its attempt and how many batches
    /// it took (the catch-up's batches follow on). Its changes are tracked in the source
    /// replica's keyspace (`Keyspace.changeTracker`).
    var liveCopy: (attempt: UInt64, batches: UInt32)?
    /// The attempt whose changes the source replica's keyspace is recording.
    var trackingAttempt: UInt64?
    /// Numbers the steps taken: a step's callbacks act only while it is the newest one
    /// (a step taken again after a timeout makes the older one's answers moot).
    var generation: UInt64 = 0
}

extension Node {
    /// Most bytes of records in one import batch (one log entry of the target; well under
    /// the 30 MiB replicated entry limit and the 32 MiB peer frame limit). Small enough
    /// that reading one at the source and applying one at the target each take a few
    /// milliseconds: other requests on both nodes wait for them.
    static let importBatchBytesMax = 256 * 1024
    /// Most records in one import batch.
    static let importBatchRecordsMax = 2_500
    /// A step with no progress (no batch answered) for this long is taken again.
    static let moveStepTimeoutMilliseconds: Int64 = 10_000

    /// Takes the next step of every move whose source shard this node leads.
    func driveMoves(now time: Int64) {
        guard let map else { return }
        for id in moveDrives.keys.sorted() where map.move(id) == nil { moveDrives.removeValue(forKey: id) }
        stopStaleChangeTracking()
        for move in map.moves {
            guard let source = replicas[move.source], source.isLeader, let data = source.data else { continue }
            var drive = moveDrives[move.id] ?? MoveDrive()
            if let since = drive.busySince, time - since < Self.moveStepTimeoutMilliseconds { continue }
            drive.busySince = time
            drive.generation &+= 1
            let generation = drive.generation
            moveDrives[move.id] = drive
            // True while this step is the newest; each call counts as progress.
            let live: () -> Bool = { [self] in
                guard moveDrives[move.id]?.generation == generation else { return false }
                moveDrives[move.id]?.busySince = now()
                return true
            }
            let done: ReplySink = { [self] value in
                guard live() else { return }
                moveDrives[move.id]?.busySince = nil
                if case .error(let text) = value {
                    // A repeated flip (this node's map had not shown the first yet) finds
                    // the move finished: nothing to retry.
                    guard !text.contains("is not pending") else { return }
                    logger.info("slot move step failed; it will be retried", metadata: ["move": "\(move.id)", "error": "\(text)"])
                } else {
                    // The next step at the next turn, not the next timer: writes to the
                    // slots wait out the fence, so every step's delay counts.
                    movesWantDriving = true
                    wantTurn()
                }
            }
            guard let outgoing = data.migration.outgoing, outgoing.move == move.id else {
                // Copy only once the target has a leader (a split's new group must elect
                // one first).
                guard replicas[move.target]?.isLeader == true || leader(of: move.target) != .none else {
                    moveDrives[move.id]?.busySince = nil
                    continue
                }
                if configuration.mutations.handOffBeforeCopy {
                    proposeMigration(source, .fence(move: move.id, slots: move.slots, target: move.target), reply: done)
                    continue
                }
                liveCopy(move, from: data, live: live, then: { [self] value in
                    guard value == .ok, source.isLeader else { return done(value) }
                    logger.info("slot move: fencing", metadata: ["move": "\(move)"])
                    proposeMigration(source, .fence(move: move.id, slots: move.slots, target: move.target), reply: done)
                })
                continue
            }
            let handOff: ReplySink = { [self] value in
                guard value == .ok, source.isLeader else { return done(value) }
                logger.info("slot move: handing off", metadata: ["move": "\(move)"])
                proposeMigration(source, .handOff(move: move.id), reply: done)
            }
            switch outgoing.phase {
            case .fenced where configuration.mutations.handOffBeforeCopy:
                proposeMigration(source, .handOff(move: move.id), reply: done)
            case .fenced:
                if let copied = drive.liveCopy, let tracker = data.engine.keyspace.changeTracker, tracker.attempt == copied.attempt, !tracker.overflowed {
                    catchUp(move, from: data, attempt: copied.attempt, firstBatch: copied.batches, keys: tracker.keys, live: live, then: handOff)
                } else {
                    if data.engine.keyspace.changeTracker?.overflowed == true {
                        logger.info("slot move: too many keys changed during the copy; copying the fenced slots again", metadata: ["move": "\(move)"])
                    }
                    data.engine.keyspace.changeTracker = nil
                    copy(move, from: data, attempt: random.next() | 1, fenced: true, live: live, then: handOff)
                }
            case .handedOff:
                data.engine.keyspace.changeTracker = nil
                finishMove(move.id, reply: done)
            }
        }
    }

    /// Sends the slots' records to the target before the fence, from a copy taken now,
    /// and starts recording which of the slots' keys change from now on.
    private func liveCopy(_ move: SlotMove, from data: DataMachine, live: @escaping () -> Bool, then: @escaping ReplySink) {
        let attempt = random.next() | 1
        data.engine.keyspace.changeTracker = ChangeTracker(slots: move.slots.first...move.slots.last, attempt: attempt)
        moveDrives[move.id]?.liveCopy = nil
        moveDrives[move.id]?.trackingAttempt = attempt
        copy(move, from: data, attempt: attempt, fenced: false, live: live, then: { [self] value in
            if case .integer(let batches) = value {
                moveDrives[move.id]?.liveCopy = (attempt, UInt32(batches))
                return then(.ok)
            }
            then(value)
        })
    }

    /// Stops recording changes in replicas that no live copy of a move this node drives
    /// needs any more (the move finished, or this node no longer leads the source).
    private func stopStaleChangeTracking() {
        let wanted = Set(moveDrives.values.compactMap(\.trackingAttempt))
        for (_, replica) in replicas {
            guard let data = replica.data, let tracker = data.engine.keyspace.changeTracker else { continue }
            if !replica.isLeader || !wanted.contains(tracker.attempt) { data.engine.keyspace.changeTracker = nil }
        }
    }

    /// After the fence: sends the current records of the keys that changed since the
    /// live copy (and the keys deleted meanwhile) as the copy's last batches.
    private func catchUp(_ move: SlotMove, from data: DataMachine, attempt: UInt64, firstBatch: UInt32, keys: Set<Bytes>,
                         live: @escaping () -> Bool, then: @escaping ReplySink) {
        data.engine.keyspace.changeTracker = nil
        let changed = configuration.mutations.skipCatchUp ? [] : keys.sorted { $0.lexicographicallyPrecedes($1) }
        let (records, deleted) = data.engine.keyspace.currentRecords(of: changed)
        logger.info("slot move: catching up", metadata: ["move": "\(move)", "changed": "\(records.count)", "deleted": "\(deleted.count)"])
        var batches: [(records: [[UInt8]], deleted: [Bytes])] = []
        var current: (records: [[UInt8]], deleted: [Bytes]) = ([], [])
        var bytes = 0
        for record in records {
            current.records.append(record)
            bytes += record.count + 8
            if bytes >= Self.importBatchBytesMax || current.records.count >= Self.importBatchRecordsMax {
                batches.append(current)
                current = ([], [])
                bytes = 0
            }
        }
        for key in deleted {
            if current.deleted.count >= Self.importBatchRecordsMax { batches.append(current); current = ([], []) }
            current.deleted.append(key)
        }
        batches.append(current)
        sendCatchUp(batches[...], index: firstBatch, move: move, attempt: attempt, live: live, then: then)
    }

    private func sendCatchUp(_ batches: ArraySlice<(records: [[UInt8]], deleted: [Bytes])>, index: UInt32, move: SlotMove, attempt: UInt64,
                             live: @escaping () -> Bool, then: @escaping ReplySink) {
        guard let batch = batches.first else { return then(.ok) }
        let last = batches.count == 1
        let step = MigrationStep.importBatch(move: move.id, slots: move.slots, attempt: attempt, index: index,
                                             count: last ? index + 1 : MigrationStep.countUnknown, records: batch.records, deleted: batch.deleted)
        sendImport(step, move: move) { [self] value in
            guard live() else { return }
            guard value == .ok else { return then(value) }
            sendCatchUp(batches.dropFirst(), index: index + 1, move: move, attempt: attempt, live: live, then: then)
        }
    }

    /// Proposes a migration step to a shard this node leads; `reply` gets its outcome.
    func proposeMigration(_ replica: Replica, _ step: MigrationStep, reply: @escaping ReplySink) {
        guard replica.isLeader else { return reply(Redirect.tryAgain("this node no longer leads shard \(replica.shard.rawValue)").reply) }
        let tag = RequestTag(origin: me, request: nextRequest)
        nextRequest += 1
        let command = ShardCommand.migrate(tag: tag, step: step)
        replica.queuedWrites.append((command.encoded(), PendingWrite(tag: tag, deadline: now() + Self.moveStepTimeoutMilliseconds, reply: reply)))
        wantTurn()
    }

    /// Sends the slots' records to the target shard's leader, batch by batch from batch
    /// 0, each answered once committed there. The batches are read one at a time from an
    /// O(1) copy of the keyspace taken now, so a large copy does not stall this node's
    /// other work. A copy of fenced slots is the whole copy: its last batch completes the
    /// import, and `then` gets OK. A live copy leaves the import open for the catch-up:
    /// `then` gets the number of batches sent.
    private func copy(_ move: SlotMove, from data: DataMachine, attempt: UInt64, fenced: Bool, live: @escaping () -> Bool,
                      then: @escaping ReplySink) {
        let reader = SlotRecordsReader(data.engine.keyspace, slots: move.slots.first...move.slots.last)
        logger.info(fenced ? "slot move: copying the fenced slots" : "slot move: copying while writes go on", metadata: ["move": "\(move)"])
        sendBatch(0, from: reader, move: move, attempt: attempt, fenced: fenced, live: live, then: then)
    }

    private func sendBatch(_ index: UInt32, from reader: SlotRecordsReader, move: SlotMove, attempt: UInt64, fenced: Bool,
                           live: @escaping () -> Bool, then: @escaping ReplySink) {
        let (records, last) = reader.next(bytesMax: Self.importBatchBytesMax, recordsMax: Self.importBatchRecordsMax)
        let step = MigrationStep.importBatch(move: move.id, slots: move.slots, attempt: attempt, index: index,
                                             count: last && fenced ? index + 1 : MigrationStep.countUnknown, records: records)
        sendImport(step, move: move) { [self] value in
            guard live() else { return }
            guard value == .ok else { return then(value) }
            guard !last else {
                logger.info("slot move: copied", metadata: ["move": "\(move)", "keys": "\(reader.recordsRead)", "batches": "\(index + 1)"])
                return then(fenced ? .ok : .integer(Int64(index) + 1))
            }
            sendBatch(index + 1, from: reader, move: move, attempt: attempt, fenced: fenced, live: live, then: then)
        }
    }

    /// Proposes an import batch to the target shard, here or through its leader.
    private func sendImport(_ step: MigrationStep, move: SlotMove, reply: @escaping ReplySink) {
        if let target = replicas[move.target], target.isLeader { return proposeMigration(target, step, reply: reply) }
        guard let node = shardLeaderOrPreferred(move.target) else {
            return reply(Redirect.tryAgain("shard \(move.target.rawValue) has no known leader").reply)
        }
        forward(Self.encodeImport(step), to: node, reply: reply)
    }

    /// The shard's leader as this node knows it, or else a replica placement prefers.
    func shardLeaderOrPreferred(_ shard: ShardID) -> NodeID? {
        let known = leader(of: shard)
        if known != .none { return known }
        return map?.shard(shard)?.replicas.first
    }

    /// TRESTLE IMPORTBATCH move first last index count attempt deleted-count key... record...
    /// (between nodes only).
    static func encodeImport(_ step: MigrationStep) -> [Bytes] {
        guard case let .importBatch(move, slots, attempt, index, count, records, deleted) = step else { return [] }
        let head = ["TRESTLE", "IMPORTBATCH", String(move), String(slots.first), String(slots.last), String(index), String(count),
                    String(attempt), String(deleted.count)]
        return head.map { Array($0.utf8) } + deleted + records
    }

    /// A peer's import batch: proposed to the target shard if this node leads it and the
    /// move is pending in this node's map.
    func receiveImport(_ arguments: ArraySlice<Bytes>, reply: @escaping ReplySink) {
        let numbers = arguments.prefix(7).map { UInt64(String(decoding: $0, as: UTF8.self)) }
        guard numbers.count == 7, let move = numbers[0], let first = numbers[1], let last = numbers[2], let index = numbers[3],
              let count = numbers[4], let attempt = numbers[5], let deletedCount = numbers[6], first <= last, last < UInt64(HashSlot.count),
              index < count, count <= UInt64(UInt32.max), deletedCount <= UInt64(arguments.count - 7) else {
            return reply(.error("ERR malformed import batch"))
        }
        guard let pending = map?.move(move), pending.slots == SlotRange(UInt16(first), UInt16(last)) else {
            return reply(Redirect.tryAgain("move \(move) is not pending in this node's cluster map").reply)
        }
        guard let target = replicas[pending.target], target.isLeader else {
            return reply(Redirect.tryAgain("this node does not lead shard \(pending.target.rawValue)").reply)
        }
        let rest = arguments.dropFirst(7)
        let step = MigrationStep.importBatch(move: move, slots: pending.slots, attempt: attempt, index: UInt32(index), count: UInt32(count),
                                             records: Array(rest.dropFirst(Int(deletedCount))), deleted: Array(rest.prefix(Int(deletedCount))))
        proposeMigration(target, step, reply: reply)
    }

    /// Asks the directory to flip the slots of a handed-off move to its target.
    private func finishMove(_ id: UInt64, reply: @escaping ReplySink) {
        let done: ReplySink = { [self] value in
            if value == .ok { logger.info("slot move finished: ownership flipped", metadata: ["move": "\(id)"]) }
            reply(value)
        }
        if directory.isLeader { return proposeDirectory(.finishMove(id: id), reply: done) }
        let leader = leader(of: ClusterMap.directoryShard)
        guard leader != .none, leader != me else { return reply(Redirect.tryAgain("no directory leader known").reply) }
        forward(["TRESTLE", "FINISHMOVE", String(id)].map { Array($0.utf8) }, to: leader, reply: done)
    }

    // MARK: - Routing while slots move

    /// Why a shard this node leads must not serve `slot` for this request right now: the
    /// slot was handed off (`.ask` names the target's leader, which `route` forwards the
    /// request to) or is fenced and this is a write.
    func migrationRedirect(_ replica: Replica, slot: HashSlot, write: Bool) -> Redirect? {
        guard let data = replica.data else { return nil }
        guard let outgoing = data.migration.outgoing, outgoing.slots.contains(slot.rawValue) else {
            // Handed off in a finished move, and this node's map has not caught up yet.
            guard let given = data.migration.givenAway(slot.rawValue) else { return nil }
            return .tryAgain("slot \(slot.rawValue) moved to shard \(given.target.rawValue); this node's cluster map is behind; retry")
        }
        if outgoing.phase == .handedOff {
            if configuration.mutations.serveAfterHandOff { return nil }
            guard let leader = shardLeaderOrPreferred(outgoing.target), let node = map?.node(leader) else {
                return .tryAgain("slot \(slot.rawValue) is moving to shard \(outgoing.target.rawValue); retry")
            }
            return .ask(slot: slot, to: node)
        }
        return write && !configuration.mutations.writesIgnoreFence ? .tryAgain("slot \(slot.rawValue) is moving to shard \(outgoing.target.rawValue); retry") : nil
    }

    /// After ASKING: the shard this node leads that has imported `slot` completely.
    func importedHere(_ slot: HashSlot) -> Replica? {
        for shard in replicas.keys.sorted() {
            guard let replica = replicas[shard], replica.isLeader, let incoming = replica.data?.migration.incoming,
                  incoming.complete, incoming.slots.contains(slot.rawValue) else { continue }
            return replica
        }
        return nil
    }

    /// True when `slot`'s keys are no longer in this replica (handed off): a read that
    /// waited for confirmation must not run against it.
    func handedOff(_ replica: Replica, _ slot: HashSlot?) -> Bool {
        guard let slot, !configuration.mutations.serveAfterHandOff else { return false }
        return replica.data?.migration.givenAway(slot.rawValue) != nil
    }

    /// TRESTLE MOVESLOTS first last shard: begins a move (answered once committed).
    func beginMove(_ text: [String], arguments: [Bytes], forwarded: Bool, reply: @escaping ReplySink) {
        guard let first = UInt16(text[0]), let last = UInt16(text[1]), first <= last, Int(last) < HashSlot.count else {
            return reply(.error("ERR slots must be given as two numbers FIRST LAST with 0 <= FIRST <= LAST <= \(HashSlot.count - 1)"))
        }
        guard let target = UInt64(text[2].hasPrefix("s") ? String(text[2].dropFirst()) : text[2]), target > 0 else {
            return reply(.error("ERR shard must be a positive integer"))
        }
        viaDirectoryLeader(arguments, forwarded: forwarded, reply: reply) { node in
            node.proposeDirectory(.beginMove(slots: SlotRange(first, last), target: ShardID(target)), reply: reply)
        }
    }
}
