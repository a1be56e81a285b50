// What one simulated run of real node runtimes does: cluster size, workload, fault menu
// and the seed that decides everything else. Times are in simulated milliseconds.
import Consensus
import Core
import NodeRuntime

public struct ClusterSimulationOptions: Sendable {
    public var seed: UInt64
    /// Nodes at bootstrap; with `membershipChanges` one more joins mid-run and one leaves.
    public var nodeCount = 3
    public var shardCount = 3
    /// Client operations in the whole run (SET, GET, INCR and WATCH/MULTI/EXEC CAS).
    public var operations = 300
    public var clients = 8
    public var keys = 6
    public var faults = true
    /// Fault kinds to inject; nil lets each seed choose a random subset (swarm testing).
    public var faultKinds: [ClusterFaultKind]? = nil
    /// Add a node mid-run and remove one of the original nodes later.
    public var membershipChanges = true
    /// With `membershipChanges`, remove the node that joined instead of an original one:
    /// the shards' replicas go back to nodes that held them before, which catch up on logs
    /// holding their own earlier removal (the drop/re-create loop fixed in 90b3657 lived
    /// there). Off by default, so that runs keep their schedules and pinned seeds.
    public var removesAddedNode = false
    /// Slot moves between shards begun at random moments of the fault phase.
    public var slotMoves = 2
    /// Some of those moves are splits of a shard into a new one.
    public var splits = true
    /// The directory leader splits shards when nodes are added beyond the shard count (as
    /// shipped); off by default here so that runs keep their schedules and pinned seeds.
    public var autoSplit = false
    public var mutations = NodeMutations()
    public var raftMutations = Mutations()
    /// Record a readable trace of inputs, outputs and operations.
    public var trace = false
    /// With `trace`, also record every event processed (long).
    public var traceEvents = false
    /// Most events one run may process: a run that livelocks (a message storm) stops here
    /// with a liveness violation.
    public var eventsMax = 2_000_000

    public var tickMilliseconds: Int64 = 10
    public var electionTicks = 10
    public var requestTimeoutMilliseconds: Int64 = 1500
    public var operationTimeoutMilliseconds: Int64 = 3000
    /// Faults stop after this much simulated time (or once 80% of operations started).
    public var faultPhaseMilliseconds: Int64 = 6000
    /// After faults stop, every remaining operation must complete within this time.
    public var healingBoundMilliseconds: Int64 = 30_000
    /// Each node's clocks run at a rate within 1 ± this of true time (inside the 5% lease
    /// drift bound the node runtime assumes).
    public var clockDriftMax = 0.02
    /// Entries between a replica's snapshots (small, so snapshots and log compaction run).
    public var snapshotEntries = defaultSnapshotEntries
    public static let defaultSnapshotEntries = 40

    public init(seed: UInt64) { self.seed = seed }
}

public enum ClusterFaultKind: String, Sendable, CaseIterable {
    /// SIGKILL of a node (unsynced disk writes torn or lost), restarted later.
    case crash
    /// Every node killed at once (a power cut), each restarted after its own delay.
    case crashAll = "crash-all"
    /// A node frozen (SIGSTOP) and later resumed: what reached it meanwhile is handled on
    /// resume, before its overdue timer fires (as an event loop runs ready I/O first).
    case pause
    /// A node cut off from the others, both directions.
    case isolate
    /// Messages from one node to another dropped, one direction only.
    case oneWay = "one-way"
    /// Random message loss and long delays (reordering).
    case lossy
    /// The next fsync of a node fails: it must stop without acknowledging.
    case diskFault = "disk-fault"
}

/// What a run saw and what its checkers concluded.
public struct ClusterSimulationReport: Sendable {
    public var seed: UInt64
    public var operationsCompleted = 0
    /// Writes whose outcome the client could not know (timeouts, crashes).
    public var operationsUnknown = 0
    /// Operations that failed definitely (redirects, TRYAGAIN): not in the history.
    public var operationsRefused = 0
    public var simulatedMilliseconds: Int64 = 0
    public var messagesDelivered = 0
    public var crashes = 0
    public var partitions = 0
    public var diskFaults = 0
    public var nodesAdded = 0
    public var nodesRemoved = 0
    /// Slot moves begun (committed by the directory); every one must finish.
    public var slotMovesBegun = 0
    /// Shards created by splits and removed by merges (by the mover or on their own),
    /// as the newest map at the end shows.
    public var shardsSplit = 0
    public var shardsMerged = 0
    public var faultKinds: [ClusterFaultKind] = []
    /// A hash of every event the run processed: equal for equal seeds.
    public var fingerprint: UInt64 = 0
    public var violations: [String] = []
    public var trace: [String] = []

    public var passed: Bool { violations.isEmpty }
}
