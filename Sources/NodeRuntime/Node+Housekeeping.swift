// Time-driven work: Raft ticks, request deadlines, gossip, expiry decisions, snapshots,
// and moving each shard's membership toward the directory's placement.
import Cluster
import Consensus
import Core
import Engine
import RaftStorage

extension Node {
    /// Ticks between gossip rounds, membership reconciliations and placement rounds.
    static let gossipTicks: Int64 = 2
    static let reconcileTicks: Int64 = 3
    static let placementMilliseconds: Int64 = 1000
    static let transferRetryMilliseconds: Int64 = 5000
    /// Keys a leader proposes to reclaim per shard per tick.
    static let reclaimKeysPerTickMax = 500
    /// A replica its shard's leader no longer counts is dropped after this many ticks.
    static let orphanTicksMax = 30
    /// Ticks between orphan checks (each check adds this many to a replica's orphan ticks).
    static let orphanCheckTicks: Int64 = 10

    /// Delivers one Raft tick per tick period elapsed on the monotonic clock (including
    /// periods the process spent paused). Runs before every input, so Raft's view of time
    /// (elections, check-quorum, the lease) is current before a request is served: a
    /// leader resumed after a pause must not serve a lease read from before the pause.
    func catchUpTicks() {
        let monotonic = inputMonotonicMicroseconds() / 1000
        guard let origin = tickOrigin else {
            tickOrigin = monotonic
            return
        }
        let due = max(0, monotonic - origin) / configuration.tickMilliseconds - ticksDelivered
        guard due > 0 else { return }
        for _ in 0..<due {
            ticksDelivered += 1
            for replica in allReplicas { replica.raft.tick() }
        }
        wantTurn()
    }

    /// The periodic work, when at least one tick passed since it last ran.
    /// How often `--fsync everysec` fsyncs the log.
    static let everysecMilliseconds: Int64 = 1000

    func onTimer() {
        runDeferredRoutes()
        checkClientPause()
        refuseWaitingScripts()
        sweepBlocked()
        catchUpTicks()
        pingReplicasIfDue()
        syncLogIfDue()
        if snapshotsRequested { takeSnapshots() }
        if draining { handOffLeadership() }
        guard ticksDelivered > lastPeriodicTick else { return }
        let previous = lastPeriodicTick
        lastPeriodicTick = ticksDelivered
        func crossed(_ every: Int64) -> Bool { ticksDelivered / every > previous / every }
        let time = now()
        for replica in allReplicas { replica.expire(now: time) }
        expireForwards(now: time)
        if crossed(Self.gossipTicks) { broadcastGossip() }
        if crossed(Self.reconcileTicks) {
            startGenesisReplicas()
            dropMergedReplicas()
            reconcileAll(now: time)
        }
        if crossed(Self.orphanCheckTicks) { dropOrphans() }
        proposeReclaims(now: time)
        evictIfNeeded(now: time)
        if crossed(Self.gossipTicks) { disconnectIdleClients(now: time) }
        enforceTrackingLimit()
        load.roll(now: time)
        driveMoves(now: time)
        takeSnapshots()
        wantTurn()
    }

    // MARK: - Idle clients

    /// CONFIG SET timeout: clients idle longer are disconnected, as Redis does, except those
    /// subscribed (they wait for messages) and those waiting for a reply (a blocking pop).
    private func disconnectIdleClients(now time: Int64) {
        let seconds = front.settings.idleTimeoutSeconds
        guard seconds > 0 else { return }
        // As Redis: the links of replication (a replica's to this server, this server's
        // master's) never time out.
        let idle = clients.values.filter { client in
            !client.closed && client.slots.isEmpty && !client.session.isSubscribed
                && time - client.session.lastInteraction > Int64(seconds) * 1000
                && replicationLinks[client.session.id] == nil && following?.client != client.session.id
        }
        guard !idle.isEmpty else { return }
        logger.info("closing clients idle past the timeout", metadata: ["clients": "\(idle.count)", "timeout_s": "\(seconds)"])
        kill(idle.map(\.session.id).sorted())
    }

    // MARK: - Expiry

    /// The leader decides which expired keys to remove and replicates the decision.
    private func proposeReclaims(now time: Int64) {
        // DEBUG SET-ACTIVE-EXPIRE 0, or a CLIENT PAUSE (as Redis): keys expire when touched.
        guard activeExpiry, clientPause == nil else { return }
        for replica in allReplicas where replica.isLeader {
            guard let data = replica.data else { continue }
            let stamp = max(time, data.lastRecordTime)
            for (database, keys) in data.engine.dueExpirations(now: stamp, limit: Self.reclaimKeysPerTickMax) {
                _ = try? replica.raft.propose(ShardCommand.reclaim(time: stamp, keys: keys, database: database).encoded())
            }
        }
    }

    // MARK: - Snapshots

    /// A standalone server holds no applied entries (`releaseAppliedEntries`): its log only
    /// costs disk and start-up time, so it compacts as Redis rewrites its AOF
    /// (`auto-aof-rewrite-percentage` and `auto-aof-rewrite-min-size`): once the log
    /// written since the last snapshot is that percentage of the snapshot's size, and both
    /// together reach the minimum. A snapshot is a pass over every key; this keeps its cost
    /// per write bounded as the data grows, and small data sets from snapshotting often.
    func standaloneLogOutgrewSnapshot(_ replica: Replica) -> Bool {
        let percentage = front.settings.autoSnapshotPercentage
        guard percentage > 0 else { return false }
        let grown = store.stats.bytesWritten - replica.logBytesAtSnapshot
        guard grown > 0, replica.snapshotBytes + grown >= front.settings.autoSnapshotMinBytes else { return false }
        // Percentages are at most Int32.max, sizes far below 2^31 times less than Int.max.
        return grown / percentage >= max(replica.snapshotBytes, 1) / 100
    }

    /// Snapshots every replica that applied enough entries since its last snapshot
    /// (a cluster's `snapshotEntries` writes, a batch counting each of its writes; a standalone
    /// server's rule above; every replica with anything new when BGSAVE or SAVE asked),
    /// and compacts its log.
    private func takeSnapshots() {
        let requested = snapshotsRequested
        snapshotsRequested = false
        var failed = false
        for replica in allReplicas {
            let applied = replica.raft.appliedIndex
            // The directory snapshots after every change of the map (a joining node gets the
            // map as a snapshot), not after a new leader's empty entry.
            let mapChanged = replica.shard == ClusterMap.directoryShard && appliedMapVersion != snapshotMapVersion
            let newest = replica.raft.newestSnapshotIndex
            guard applied > newest else { continue }
            if requested || mapChanged {
                // Snapshot now.
            } else if configuration.standalone, replica.data != nil {
                guard standaloneLogOutgrewSnapshot(replica) else { continue }
            } else {
                // A data shard counts writes (a batched entry holds several), others entries.
                let since = replica.data.map { $0.appliedWrites &- replica.writesAtSnapshot } ?? applied.rawValue - newest.rawValue
                guard since >= UInt64(configuration.snapshotEntries) else { continue }
            }
            if let data = replica.data {
                startSnapshotJob(replica, data)
                continue
            }
            do {
                try replica.raft.compact(through: applied, data: replica.machine.snapshot())
                if let snapshot = replica.raft.snapshot { try store.saveSnapshot(shard: replica.shard, snapshot) }
                snapshotMapVersion = appliedMapVersion
            } catch {
                failed = true
                logger.error("snapshot failed", metadata: ["shard": "\(replica.shard.rawValue)", "error": "\(error)"])
            }
        }
        // Nothing new to write also means the state on disk is current.
        if requested, !failed, snapshotJobs.isEmpty { lastSnapshotMilliseconds = now() }
    }

    /// A data shard's snapshot is serialized and written by the shell away from the node's
    /// thread, from an O(1) copy of its keyspace; one job per shard at a time. The log is
    /// compacted once the file is published (`snapshotWritten`).
    private func startSnapshotJob(_ replica: Replica, _ data: DataMachine) {
        guard snapshotJobs[replica.shard] == nil,
              let metadata = replica.raft.snapshotMetadata(through: replica.raft.appliedIndex) else { return }
        let encode = data.capture()
        replica.writesAtSnapshot = data.appliedWrites
        replica.logBytesAtSnapshot = store.stats.bytesWritten
        changeCountAtSnapshot[replica.shard] = data.engine.changeCountAllDatabases
        let (shard, directory, disk, limits) = (replica.shard, store.directory, store.snapshotDisk, store.limits)
        let job = SnapshotJob(shard: shard, metadata: metadata) {
            let bytes = encode()
            _ = try RaftLogStore.writeSnapshotFile(Snapshot(metadata: metadata, data: bytes), shard: shard,
                                                   directory: directory, disk: disk, limits: limits)
            return bytes
        }
        snapshotJobs[shard] = ObjectIdentifier(replica)
        emit(.writeSnapshot(job))
    }

    /// A snapshot file is published: compact the shard's log through it and record it,
    /// unless the replica moved on meanwhile (dropped, or a newer snapshot installed).
    func snapshotWritten(_ job: SnapshotJob, data: [UInt8]) {
        let owner = snapshotJobs.removeValue(forKey: job.shard)
        guard let replica = replicas[job.shard], owner == ObjectIdentifier(replica),
              replica.raft.newestSnapshotIndex < job.metadata.index else {
            return store.discardSnapshotFile(shard: job.shard, index: job.metadata.index)
        }
        do {
            try replica.raft.compact(job.metadata, data: data)
            replica.snapshotBytes = data.count
            // A standalone server has no follower to send the bytes to: keep only the file.
            if configuration.standalone { replica.raft.releaseSnapshotBytes() }
            try store.recordSnapshot(shard: job.shard, job.metadata, fileBytes: data.count)
            lastSnapshotMilliseconds = now()
        } catch {
            logger.error("snapshot failed", metadata: ["shard": "\(job.shard.rawValue)", "error": "\(error)"])
        }
    }

    func snapshotFailed(_ job: SnapshotJob, reason: String) {
        snapshotJobs.removeValue(forKey: job.shard)
        logger.error("snapshot failed", metadata: ["shard": "\(job.shard.rawValue)", "error": "\(reason)"])
    }

    /// BGSAVE and SAVE: every replica snapshots at the next timer. Never refused (a snapshot
    /// already being written is followed by a newer one).
    func requestSnapshots() -> Bool {
        snapshotsRequested = true
        return true
    }

    /// Under `--fsync everysec`, asks the shell to fsync the log about once a second while
    /// it holds unsynced writes.
    private func syncLogIfDue() {
        guard configuration.fsync == .everysec, logUnsynced, persisting == nil else { return }
        let time = monotonicClock.monotonicMilliseconds()
        guard time - lastLogSync >= Self.everysecMilliseconds else { return }
        logUnsynced = false
        lastLogSync = time
        emit(.syncLog)
    }

    // MARK: - Membership

    private func reconcileAll(now time: Int64) {
        guard let map else { return }
        if directory.isLeader {
            let voters = map.directoryVoters
            reconcile(directory, voters: voters, learners: map.nodes.map(\.id).filter { !voters.contains($0) }, now: time)
            planPlacement(map, now: time)
        }
        for replica in allReplicas where replica.isLeader {
            guard let target = map.shard(replica.shard) else { continue }
            reconcile(replica, voters: target.replicas, learners: [], now: time)
        }
    }

    /// Moves one step toward the target membership: add missing nodes as learners, promote
    /// caught-up learners, then remove what is no longer wanted (the leader hands off its
    /// leadership before it would remove itself); finally hand leadership to the preferred
    /// leader once it is caught up. One configuration change at a time.
    func reconcile(_ replica: Replica, voters: [NodeID], learners: [NodeID], now time: Int64) {
        guard !voters.isEmpty else { return }
        let membership = replica.raft.membership
        let commit = replica.raft.commitIndex.rawValue
        // Match 0: the node never acknowledged anything (it may be down or hold no replica).
        let caughtUp = Set(replica.raft.progressSummary.filter { $0.1 > .zero && $0.1.rawValue + UInt64(Self.promotionLagEntriesMax) >= commit }.map(\.0))
        func change(_ kind: ConfigChange.Kind, _ node: NodeID) {
            do {
                try replica.raft.proposeConfigChange(ConfigChange(kind, node))
                logger.info("membership change", metadata: ["shard": "\(replica.shard.rawValue)", "change": "\(kind.rawValue) n\(node.rawValue)"])
                wantTurn()
            } catch {
                logger.debug("membership change deferred", metadata: ["shard": "\(replica.shard.rawValue)", "reason": "\(error)"])
            }
        }
        for node in voters + learners where !membership.contains(node) { change(.addLearner, node); return }
        for node in membership.learners where voters.contains(node) {
            if caughtUp.contains(node) { change(.promote, node) }
            return
        }
        for node in membership.voters where !voters.contains(node) {
            if node == me {
                handOff(replica, to: voters.filter { membership.isVoter($0) && caughtUp.contains($0) }.first, now: time)
            } else {
                change(.remove, node)
            }
            return
        }
        for node in membership.learners where !voters.contains(node) && !learners.contains(node) { change(.remove, node); return }
        if let preferred = voters.first, preferred != me, membership.isVoter(preferred), caughtUp.contains(preferred),
           connectedPeers.contains(preferred) {
            handOff(replica, to: preferred, now: time)
        }
    }

    private func handOff(_ replica: Replica, to target: NodeID?, now time: Int64) {
        guard let target, time - replica.lastTransferAttempt >= Self.transferRetryMilliseconds else { return }
        replica.lastTransferAttempt = time
        do {
            try replica.raft.transferLeadership(to: target)
            logger.info("handing leadership over", metadata: ["shard": "\(replica.shard.rawValue)", "to": "n\(target.rawValue)"])
            wantTurn()
        } catch {
            logger.debug("leadership transfer refused", metadata: ["shard": "\(replica.shard.rawValue)", "reason": "\(error)"])
        }
    }

    /// On the directory leader: proposes the placement's targets when they differ from the
    /// map's, rebuilds the replicas of nodes silent for too long, and forgets drained nodes
    /// that no longer hold anything.
    private func planPlacement(_ map: ClusterMap, now time: Int64) {
        guard time - lastPlacement >= Self.placementMilliseconds else { return }
        lastPlacement = time
        if configuration.deadNodeSeconds > 0 {
            for node in map.activeNodes where node.id != me {
                let heard = lastHeard[node.id] ?? 0
                if heard > 0, time - heard > configuration.deadNodeSeconds * 1000, map.activeNodes.count > map.replicationFactor {
                    logger.warning("node silent too long; rebuilding its replicas elsewhere", metadata: ["node": "n\(node.id.rawValue)"])
                    proposeDirectory(.drainNode(node.id), reply: { _ in })
                    return
                }
            }
        }
        let planned = Placement.plan(map)
        var changes: [ShardID: [NodeID]] = [:]
        for shard in planned where map.shard(shard.id)?.replicas != shard.replicas { changes[shard.id] = shard.replicas }
        if !changes.isEmpty {
            logger.info("placement moves replicas", metadata: ["shards": "\(changes.count)"])
            proposeDirectory(.setReplicas(changes), reply: { _ in })
            return
        }
        let voters = Placement.directoryVoters(map)
        if voters != map.directoryVoters {
            proposeDirectory(.setDirectoryVoters(voters), reply: { _ in })
            return
        }
        for node in map.nodes where node.state == .draining {
            let holds = map.shards.contains { shard in membership(of: shard.id).voters.contains(node.id) || membership(of: shard.id).learners.contains(node.id) }
            if !holds, !directory.raft.membership.isVoter(node.id) {
                proposeDirectory(.forgetNode(node.id), reply: { _ in })
                return
            }
        }
        if let command = nextMergeStep(map) {
            proposeDirectory(command, reply: { _ in })
            return
        }
        if let source = autoSplitCandidate(map), case .success(let command) = splitCommand(source) {
            logger.info("nodes were added: splitting a shard so that they can lead one", metadata: [
                "shard": "\(source.rawValue)", "shards": "\(map.shards.count)", "splits_owed": "\(map.splitsOwed)",
            ])
            proposeDirectory(command, reply: { _ in })
            return
        }
        if let command = autoReshapeCommand(map, now: time) {
            proposeDirectory(command, reply: { _ in })
        }
    }

    /// With `autoSplit`: while splits are owed (nodes were added to a cluster whose every
    /// node could already lead a shard) and the cluster is settled (no replica or slot
    /// moves pending), the shard with the most slots (the lowest id among equals) is
    /// split, one split per placement round, so that the new nodes can lead shards and
    /// write capacity grows with the nodes.
    func autoSplitCandidate(_ map: ClusterMap) -> ShardID? {
        guard configuration.autoSplit, map.splitsOwed > 0, map.moves.isEmpty, movesPending == 0,
              map.shards.count < ClusterMap.shardsMax, !map.shards.contains(where: { $0.mergeInto != nil }) else { return nil }
        let slots: (ShardInfo) -> Int = { $0.slots.reduce(0) { $0 + $1.count } }
        guard let largest = map.shards.max(by: { slots($0) < slots($1) || (slots($0) == slots($1) && $0.id > $1.id) }),
              slots(largest) >= 2 else { return nil }
        return largest.id
    }

    /// Drops data replicas this node no longer belongs to: the shard's leader says so in
    /// its gossip (a removed replica is usually never sent the entry that removes it), or
    /// the replica never joined any membership (created by a stray message). A replica the
    /// leader still counts is kept even if the directory places it elsewhere: dropping a
    /// voter's data could lose committed writes.
    private func dropOrphans() {
        let time = now()
        for shard in replicas.keys.sorted() {
            guard let replica = replicas[shard] else { continue }
            if replica.isLeader { replica.orphanTicks = 0; continue }
            let membership = replica.raft.membership
            let neverJoined = membership.voters.isEmpty && membership.learners.isEmpty
            var removedByLeader = false
            var countedByLeader = false
            if let hint = hints[shard], time - hint.heardAt < Self.hintFreshMilliseconds, hint.leader != me,
               hint.heardAt > replica.countedSince || configuration.mutations.dropOnStaleRemoval {
                countedByLeader = hint.voters.contains(me) || hint.learners.contains(me)
                removedByLeader = !countedByLeader
            }
            // A replica just added as a learner has no membership until its first snapshot
            // arrives; the leader's gossip counting it keeps it.
            let orphan = removedByLeader || (neverJoined && !countedByLeader)
            replica.orphanTicks = orphan ? replica.orphanTicks + Int(Self.orphanCheckTicks) : 0
            if replica.orphanTicks >= Self.orphanTicksMax {
                dropReplica(shard, reason: removedByLeader ? "the shard's leader no longer counts this node" : "never joined the shard")
            }
        }
    }

    // MARK: - Directory proposals

    /// Proposes a directory command on the directory leader (this node, or forwarded).
    func proposeDirectory(_ command: DirectoryCommand, reply: @escaping ReplySink) {
        guard directory.isLeader else {
            reply(Redirect.tryAgain("this node does not lead the directory").reply)
            return
        }
        let tag = RequestTag(origin: me, request: nextRequest)
        nextRequest += 1
        do {
            let index = try directory.raft.propose(DirectoryEntry(tag: tag, command: command.encoded()).encoded())
            let kind = Self.reshapingKind(command)
            let counted: ReplySink = kind == nil ? reply : { [unowned self] value in
                if value == .ok, let kind { reshapingsCommitted[kind, default: 0] += 1 }
                reply(value)
            }
            directory.proposals[index] = PendingWrite(tag: tag, deadline: now() + configuration.requestTimeoutMilliseconds, reply: counted)
            lastDirectoryProposal = now()
            wantTurn()
        } catch {
            reply(Redirect.tryAgain("the directory cannot take changes right now (\(error))").reply)
        }
    }

    /// The metric label of a directory command that reshapes the data (nil for others).
    static func reshapingKind(_ command: DirectoryCommand) -> String? {
        switch command {
        case .beginMove: return "move_begun"
        case .finishMove: return "move_finished"
        case .splitShard: return "split"
        case .mergeShard: return "merge"
        default: return nil
        }
    }

    /// Called by the directory machine after every change of the map.
    func mapChanged(_ map: ClusterMap) {
        guard map.version != appliedMapVersion else { return }
        appliedMapVersion = map.version
        adoptACLUsers(map)
        logger.info("cluster map changed", metadata: ["version": "\(map.version)", "nodes": "\(map.nodes.count)"])
        for node in map.nodes where node.id != me {
            let route = configuration.peerRoutes[node.id]
            knownPeers.insert(node.id)
            emit(.peerAddress(node.id, host: route?.host ?? node.host, port: route?.port ?? node.peerPort))
        }
        for peer in knownPeers.sorted() where map.node(peer) == nil {
            knownPeers.remove(peer)
            connectedPeers.remove(peer)
            emit(.removePeer(peer))
            hints = hints.filter { $0.value.leader != peer }
        }
    }
}
