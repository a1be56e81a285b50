// The node runtime's interface: every input is a typed value handed to `Node.handle`, and
// everything the node wants done in the world comes back as a typed output from
// `Node.takeOutputs()`. The shell (a process with sockets and a real disk, or the
// simulator) performs outputs in the order given and feeds completions back as inputs.
//
// Contract for the performer:
// - outputs are performed in order; in particular everything before a `.persist` (early
//   Raft sends, replies of already committed writes) is performed before the persist, and
//   `.persisted` (or `.persistFailed`) is fed back before the next `.turn`;
// - replies to one client come out in the order its requests went in; `.close` follows
//   the last reply the client is owed.
import Cluster
import Consensus
import Core
import Engine
import Keyspace
import Wire

public enum NodeInput {
    /// A client connected: `id` is chosen by the shell and never reused by it.
    case clientOpened(ClientID, address: String, localAddress: String)
    /// One decoded request from a client.
    case request(ClientID, [Bytes])
    /// The requests a client's one read held, in order: as many `request` inputs, with one
    /// reading of the clocks and one catch-up of ticks for them all.
    case requests(ClientID, [[Bytes]])
    /// The client's bytes broke the protocol: reply `message` after the replies owed, then close.
    case protocolError(ClientID, message: String)
    /// The client's connection is gone; replies still owed to it are discarded.
    case clientClosed(ClientID)
    /// A frame from a peer node (after its hello).
    case peerFrame(from: NodeID, PeerFrame)
    /// A peer link came up or went down.
    case peerLink(NodeID, connected: Bool)
    /// A frame this node asked to send could not be queued (link down, breaker open).
    case sendFailed(to: NodeID, PeerFrame)
    /// Time for periodic work (gossip, deadlines, membership, snapshots): deliver it about
    /// twice per tick period. Raft ticks themselves come from the injected MonotonicClock,
    /// caught up before every input, never from the wall clock, which may jump.
    case timer
    /// The process's resident memory in bytes, measured by the shell (with each timer):
    /// what `maxmemory` is compared with.
    case memoryUsed(bytes: Int)
    /// End of a batch of inputs: propose what was queued, collect every replica's Ready and
    /// stage it; emits `.persist` when the staged state must be written.
    case turn
    /// The staged Raft state is written (and fsynced when the `.persist` said so).
    case persisted
    /// Writing the staged Raft state failed: the node stops (outputs `.fatal`).
    case persistFailed(String)
    /// A `.writeSnapshot` job finished: its file is published; `data` is the serialized state.
    case snapshotWritten(SnapshotJob, data: [UInt8])
    /// A `.writeSnapshot` job failed (nothing was recorded; the node tries again later).
    case snapshotFailed(SnapshotJob, String)
    /// An `.encode` job finished with these bytes.
    case encoded(EncodeJob, data: [UInt8])
    /// A `.runScript` job finished (its `perform` returned).
    case scriptRan(ScriptJob)
    /// A `.migrate` transfer ended this way.
    case migrated(MigrationJob, MigrationJob.Outcome)
    /// What the link of a `.followMaster` job (of this generation) did or received.
    case masterLink(MasterLinkEvent, generation: UInt64)
    /// The process is stopping: refuse new clients, let in-flight requests finish.
    case drain
    /// Fail everything still waiting (the end of a shutdown).
    case stop
}

public enum NodeOutput {
    /// A reply to the client, encoded in `version`.
    case reply(ClientID, RESPValue, ProtocolVersion)
    /// An out-of-band message to the client (pub/sub): not a reply to a request, so the
    /// shell does not count it as one. Bounded by the shell's pub/sub output limit.
    case push(ClientID, RESPValue, ProtocolVersion)
    /// The same push to each of these clients, in this order (a message to many
    /// subscribers: the shell encodes it once).
    case pushAll([ClientID], RESPValue, ProtocolVersion)
    /// Close the client's connection once the replies before this are written.
    case close(ClientID)
    /// Raft messages of one shard's group, each to its `to`.
    case raft(shard: ShardID, messages: [Message])
    /// Any other frame to one peer.
    case send(to: NodeID, PeerFrame)
    /// Hand what was queued to peers to the network now (a leader's early sends).
    case flushPeers
    /// Dial `node` at this address from now on.
    case peerAddress(NodeID, host: String, port: Int)
    /// Forget `node`: close its link.
    case removePeer(NodeID)
    /// Write the staged Raft state (`Node.writeStaged`), fsync if `sync`, then feed back
    /// `.persisted`.
    case persist(sync: Bool)
    /// Run `job.perform()` on any thread (it serializes an O(1) copy of a shard's state and
    /// writes the snapshot file), then feed back `.snapshotWritten` or `.snapshotFailed`.
    case writeSnapshot(SnapshotJob)
    /// Run `job.perform()` on any thread (it serializes an O(1) copy of a shard's state for
    /// a backup), then feed back `.encoded`. Nothing is written to disk.
    case encode(EncodeJob)
    /// Run `job.perform()` on a thread of its own (a script that outran its slice on the
    /// node's thread; it may run until SCRIPT KILL), then feed back `.scriptRan`.
    case runScript(ScriptJob)
    /// MIGRATE's transfer: connect to the job's target, send its commands, read a reply
    /// to each (`MigrationJob`), then feed back `.migrated` with the outcome.
    case migrate(MigrationJob)
    /// REPLICAOF: follow a Redis master (MasterLink.swift): stop any link of an earlier job,
    /// dial this one's master, synchronize, and feed back `.masterLink` events until
    /// `.unfollowMaster` or the next `.followMaster`.
    case followMaster(MasterLinkJob)
    /// REPLICAOF NO ONE: close the link to the master, if any.
    case unfollowMaster
    /// Fsync what earlier unsynced `.persist` rounds wrote (`Node.syncLog`), under
    /// `--fsync everysec`; nothing is fed back (a failure is fed back as `.persistFailed`).
    case syncLog
    /// The node cannot go on safely (its log cannot be written): the process must stop
    /// without acknowledging anything more.
    case fatal(String)
    /// A client asked the process to stop (SHUTDOWN): stop as on SIGTERM (hand leaderships
    /// over, answer what is in flight, fsync, exit).
    case shutdown
}

/// A shard's snapshot to serialize and write away from the node's thread. It holds an O(1)
/// copy of the shard's keyspace taken when the job was made, so the node goes on serving
/// while the copy is encoded and written.
public struct SnapshotJob: @unchecked Sendable {
    public let shard: ShardID
    public let metadata: SnapshotMetadata
    /// Serializes the captured state, writes and publishes the snapshot file, and returns
    /// the serialized state. Touches nothing the node uses.
    public let perform: () throws -> [UInt8]
}

/// State to serialize away from the node's thread (a shard's backup): `perform` encodes an
/// O(1) copy taken when the job was made and touches nothing the node uses.
public struct EncodeJob: @unchecked Sendable {
    public let id: UInt64
    public let perform: () -> [UInt8]
}

/// MIGRATE's transfer, performed by the shell: connect to `host`:`port`, send `commands`
/// (AUTH, SELECT, one RESTORE per key) pipelined, and read one reply per command, each
/// step (connect, write, every read) within `timeoutMilliseconds`.
public struct MigrationJob: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// No connection within the timeout.
        case connectFailed
        /// The connection broke, or a reply did not arrive within the timeout.
        case ioFailed
        /// One reply per command, in order.
        case replies([RESPValue])
    }

    public let id: UInt64
    public let host: String
    public let port: Int
    public let timeoutMilliseconds: Int
    public let commands: [[Bytes]]
}

/// A script run away from the node's thread (Node+BusyScripts.swift): a trial of one EVAL
/// on an engine holding an O(1) copy of its shard's keyspace, sharing nothing mutable with
/// the node, recording its effects. `perform` runs it; the node reads the results after
/// `.scriptRan` (and `trial.wrote`, an atomic, while it runs).
public final class ScriptJob: @unchecked Sendable {
    public let id: UInt64
    let engine: Engine
    let arguments: [Bytes]
    let command: CommandID
    let version: ProtocolVersion
    /// The numbered database the script starts in (its caller's).
    let database: Int
    /// The time the script runs at (its trial's): its effects are stamped with it.
    let time: Int64
    let trial = ScriptTrial(sliceMilliseconds: 0, unbounded: true, recordsEffects: true)
    /// Taken before the job leaves the node's thread: SCRIPT KILL uses it from there.
    let kill: @Sendable () -> Void
    private(set) var reply = RESPValue.null

    init(id: UInt64, engine: Engine, arguments: [Bytes], command: CommandID, version: ProtocolVersion, database: Int, time: Int64) {
        self.id = id
        self.database = database
        self.engine = engine
        self.arguments = arguments
        self.command = command
        self.version = version
        self.time = time
        let killSwitch = engine.scriptKillSwitch
        kill = { killSwitch?.kill() }
    }

    /// Runs the script to its end or a kill. Call once, on any thread.
    public func perform() {
        reply = engine.runScriptTrial(arguments, id: command, version: version, database: database, now: time, trial: trial)
    }
}

// MARK: - Handing outputs to the shell

extension Node {
    /// True when outputs wait to be taken.
    public var hasOutputs: Bool { !outputs.isEmpty }

    /// True when a `.turn` would do work: the shell should deliver one soon (at the end of
    /// its current batch of inputs).
    public var wantsTurn: Bool { turnWanted && persisting == nil && !failed }

    /// Takes the outputs produced since the last call, in order.
    public func takeOutputs() -> [NodeOutput] {
        let taken = outputs
        outputs = spareOutputs
        spareOutputs = []
        return taken
    }

    /// Hands back an array `takeOutputs` returned, once performed: the next outputs reuse
    /// its storage instead of growing a new array every round (a round of pipelined
    /// replies grew one through every power of two).
    public func recycleOutputs(_ performed: consuming [NodeOutput]) {
        guard performed.capacity <= Self.recycledOutputsMax else { return }
        performed.removeAll(keepingCapacity: true)
        spareOutputs = performed
    }

    /// The largest output array kept for reuse.
    static let recycledOutputsMax = 4096
}
