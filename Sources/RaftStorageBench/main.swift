// A benchmark print (not a test) of the Raft log store's append path on real files:
// N 100-byte entries across 16 shards, staged a few per shard per simulated event-loop
// turn, committed once per turn. Prints entries/s and MB/s with and without fdatasync.
//
//   swift build -c release --product RaftStorageBench --scratch-path .build-release
//   .build-release/release/RaftStorageBench [entries] [directory]

import Consensus
import Core
import Foundation
import RaftStorage
import Storage

let totalEntries = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 100_000 : 100_000
let base = CommandLine.arguments.count > 2 ? CommandLine.arguments[2] : NSTemporaryDirectory()
let shardCount = 16
let payloadBytes = 100

func run(name: String, entriesPerShardPerTurn: Int, sync: Bool) throws {
    let directory = base + "/raftstore-bench-\(getpid())-\(entriesPerShardPerTurn)-\(sync)"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let store = RaftLogStore(directory: directory, disk: PosixDisk())
    _ = try store.recover(repair: false)
    let payload = [UInt8](repeating: 0x61, count: payloadBytes)
    var nextIndex = [UInt64](repeating: 1, count: shardCount)
    var staged = 0
    var turns = 0
    var batch: [Entry] = []
    batch.reserveCapacity(entriesPerShardPerTurn)
    let start = DispatchTime.now().uptimeNanoseconds
    while staged < totalEntries {
        for shard in 0..<shardCount where staged < totalEntries {
            batch.removeAll(keepingCapacity: true)
            for _ in 0..<min(entriesPerShardPerTurn, totalEntries - staged) {
                batch.append(Entry(term: Term(1), index: LogIndex(nextIndex[shard]), payload: .command(payload)))
                nextIndex[shard] += 1
                staged += 1
            }
            let hardState = HardState(term: Term(1), vote: NodeID(1), commit: LogIndex(nextIndex[shard] - 1))
            store.stage(shard: ShardID(UInt64(shard)), entries: batch, hardState: hardState)
        }
        try store.commit(sync: sync)
        turns += 1
    }
    try store.commit(sync: true)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let stats = store.stats
    let line = String(
        format: "%@: %8d entries %6d turns %7.3f s %10.0f entries/s %7.1f MB/s  syncs %d segments %d",
        name as NSString, staged, turns, seconds, Double(staged) / seconds,
        Double(stats.bytesWritten) / seconds / 1e6, stats.syncs, stats.segmentsCreated)
    print(line)
    let recoveryStart = DispatchTime.now().uptimeNanoseconds
    let recovery = try RaftLogStore(directory: directory, disk: PosixDisk()).recover(repair: false)
    let recoverySeconds = Double(DispatchTime.now().uptimeNanoseconds - recoveryStart) / 1e9
    let recovered = recovery.shards.values.reduce(0) { $0 + $1.entries.count }
    print(String(format: "    recovery: %d entries in %.3f s", recovered, recoverySeconds))
}

do {
    print("RaftLogStore append+commit, \(totalEntries) x \(payloadBytes)-byte entries across \(shardCount) shards, dir \(base)")
    try run(name: "8/shard/turn, no sync", entriesPerShardPerTurn: 8, sync: false)
    try run(name: "64/shard/turn, no sync", entriesPerShardPerTurn: 64, sync: false)
    try run(name: "8/shard/turn, fdatasync", entriesPerShardPerTurn: 8, sync: true)
    try run(name: "64/shard/turn, fdatasync", entriesPerShardPerTurn: 64, sync: true)
} catch {
    print("benchmark failed: \(error)")
    exit(1)
}
