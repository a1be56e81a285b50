// libFuzzer target: the cluster map and directory command codecs (read from the
// directory's log, its snapshots and peers) must decode or throw, never trap; what
// decodes must encode back to bytes that decode to the same value.
import Cluster
import Core
#if canImport(Glibc)
import Glibc
#endif

/// scripts/fuzz --seeds: valid encodings as the corpus's first inputs.
let seedsWritten: Bool = {
    guard let directory = getenv("TRESTLE_FUZZ_EMIT_SEEDS").map({ String(cString: $0) }) else { return false }
    let nodes = (1...3).map { NodeInfo(id: NodeID(UInt64($0)), host: "127.0.0.1", port: 7000 + $0, peerPort: 17000 + $0, zone: $0 == 1 ? "a" : "") }
    var map = ClusterMap.initial(name: "trestle", nodes: nodes, shardCount: 4, replicationFactor: 3)
    try? map.apply(.putACLUser(name: "alice", line: "user alice on nopass ~app:* +@all"))
    var seeds: [(String, [UInt8])] = [("map", map.encoded())]
    let commands: [DirectoryCommand] = [
        .addNode(NodeInfo(id: NodeID(4), host: "127.0.0.1", port: 7004, peerPort: 17004, zone: "b")), .drainNode(NodeID(2)),
        .forgetNode(NodeID(2)), .setReplicas([ShardID(1): [NodeID(1), NodeID(3)]]), .setDirectoryVoters([NodeID(1), NodeID(3)]),
        .putACLUser(name: "bob", line: "user bob off"), .deleteACLUsers(["bob"]),
    ]
    for (index, command) in commands.enumerated() { seeds.append(("command-\(index)", command.encoded())) }
    for (name, bytes) in seeds {
        guard let file = fopen(directory + "/" + name, "wb") else { continue }
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
    return true
}()

// fatalError below is the fuzzer's oracle: a value that does not round-trip is a bug
// libFuzzer must report (this target is never part of the server).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClusterCodec(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = seedsWritten
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let map = try? ClusterMap.decode(bytes) {
        guard (try? ClusterMap.decode(map.encoded())) == map else { fatalError("cluster map does not round-trip") }
    }
    if let command = try? DirectoryCommand.decode(bytes) {
        guard (try? DirectoryCommand.decode(command.encoded())) == command else { fatalError("directory command does not round-trip") }
    }
    return 0
}
