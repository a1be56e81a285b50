// libFuzzer target: recovery of a node's write-ahead log from a segment holding any bytes
// (a torn, corrupt or hostile file) must recover, truncate, or refuse with an error,
// never trap. The input becomes the only segment of a simulated disk.
import Consensus
import Core
import RaftStorage
import Storage
#if canImport(Glibc)
import Glibc
#endif

/// The file name a real store gives its first segment (learned once from a real write).
let segmentName: String = {
    let disk = SimulatedDisk(seed: 1)
    try? disk.makeDirectory("/wal")
    let store = RaftLogStore(directory: "/wal", disk: disk)
    _ = try? store.recover(repair: false)
    store.stage(shard: ShardID(1), entries: [Entry(term: Term(1), index: LogIndex(1), payload: .command([1, 2, 3]))],
                hardState: HardState(term: Term(1), vote: NodeID(1), commit: LogIndex(1)))
    store.stage(shard: ShardID(2), entries: [Entry(term: Term(2), index: LogIndex(1), payload: .command(Array("*1\r\n$4\r\nPING\r\n".utf8)))],
                hardState: HardState(term: Term(2), vote: NodeID(2), commit: LogIndex(1)))
    _ = try? store.commit(sync: true)
    let name = (try? disk.list("/wal"))?.first { !$0.hasSuffix(".snapshot") } ?? "segment"
    // scripts/fuzz --seeds: a valid segment as the corpus's first input.
    if let directory = getenv("TRESTLE_FUZZ_EMIT_SEEDS"), let bytes = disk.contents("/wal/" + name) {
        writeFile(String(cString: directory) + "/valid-segment", bytes)
    }
    return name
}()

func writeFile(_ path: String, _ bytes: [UInt8]) {
    guard let file = fopen(path, "wb") else { return }
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRaftLog(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = segmentName
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for repair in [false, true] {
        let disk = SimulatedDisk(seed: 1)
        try? disk.makeDirectory("/wal")
        disk.setContents("/wal/" + segmentName, bytes)
        _ = try? RaftLogStore(directory: "/wal", disk: disk).recover(repair: repair)
    }
    return 0
}
