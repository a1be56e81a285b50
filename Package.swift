// swift-tools-version:6.0
// Trestle: a Redis-compatible, Raft-replicated, horizontally scalable key-value store.
// Module map and dependency direction: see docs/DESIGN.md (shared/DESIGN.md in the team repo).
import PackageDescription

/// Release builds skip dynamic exclusivity checks on the hot path (they cost ~8% of CPU in a
/// GET profile); debug builds and tests keep them.
let fast: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "trestle",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "trestle", targets: ["trestle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Deterministic core: no clocks, threads, sockets or system randomness.
        .target(name: "Core", swiftSettings: fast),
        .target(name: "Wire", dependencies: ["Core", .product(name: "NIOCore", package: "swift-nio")], swiftSettings: fast),
        .target(name: "Keyspace", dependencies: ["Core", .product(name: "Collections", package: "swift-collections")], swiftSettings: fast),
        .target(name: "Storage", dependencies: ["Core"], swiftSettings: fast),
        .target(name: "Consensus", dependencies: ["Core"], swiftSettings: fast),
        .target(name: "Cluster", dependencies: ["Core", "Consensus"], swiftSettings: fast),
        // Lua 5.1 (the interpreter Redis embeds) with cjson and bitop, from Debian's
        // liblua5.1-0-dev, lua-cjson-dev and lua-bitop-dev (scripts/start installs them).
        .target(name: "CLua", linkerSettings: [
            .linkedLibrary("lua5.1"), .linkedLibrary("lua5.1-cjson"), .linkedLibrary("lua5.1-bitop"),
        ]),
        // mimalloc (Debian's libmimalloc-dev) replaces malloc for the whole process: a third
        // less CPU per SET and less memory per key than glibc's malloc (docs/BENCH.md).
        .target(name: "CAllocator", linkerSettings: [.linkedLibrary("mimalloc")]),
        .target(name: "Scripting", dependencies: ["CLua", "Core", "Wire"], swiftSettings: fast),
        .target(name: "Engine", dependencies: [
            "Core", "Wire", "Keyspace", "Storage", "Scripting", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: fast),
        .target(name: "RaftStorage", dependencies: ["Core", "Storage", "Consensus"], swiftSettings: fast),
        .executableTarget(name: "RaftStorageBench", dependencies: ["Core", "Storage", "Consensus", "RaftStorage"], swiftSettings: fast),
        .target(name: "Simulation", dependencies: [
            "Core", "Consensus", "Keyspace", "Wire", "Engine", "Storage", "Cluster", "NodeRuntime",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: fast),
        // The peer protocol's frames on the wire, apart from sockets (a fuzz target links it).
        .target(name: "PeerCodec", dependencies: ["Core", "Consensus", "Cluster", .product(name: "NIOCore", package: "swift-nio")],
                swiftSettings: fast),
        // Edges: sockets, threads, the real clock and disk.
        .target(name: "Transport", dependencies: [
            "Core", "Wire", "Engine", "Consensus", "Cluster", "PeerCodec",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: fast),
        // The one deterministic node runtime: inputs in, outputs out; no clock reads, sockets,
        // threads or exits (time, randomness and the disk are injected).
        .target(name: "NodeRuntime", dependencies: [
            "Core", "Wire", "Keyspace", "Storage", "Engine", "Scripting", "Consensus", "Cluster", "RaftStorage",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Collections", package: "swift-collections"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], swiftSettings: fast),
        .target(name: "ClusterServer", dependencies: [
            "CAllocator", "Core", "Wire", "Keyspace", "Storage", "Engine", "Consensus", "Cluster", "RaftStorage", "Transport", "NodeRuntime",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Collections", package: "swift-collections"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: fast),
        .target(name: "Bench", dependencies: [
            "Core", "Wire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], swiftSettings: fast),
        // libFuzzer targets (scripts/fuzz builds them with --sanitize=fuzzer; a normal build
        // links them as programs that do nothing).
        .executableTarget(name: "FuzzRequestDecoder", dependencies: ["Wire", .product(name: "NIOCore", package: "swift-nio")],
                          linkerSettings: [.linkedLibrary("m")]),
        .executableTarget(name: "FuzzClusterCodec", dependencies: ["Cluster"], linkerSettings: [.linkedLibrary("m")]),
        .executableTarget(name: "FuzzPeerFrame", dependencies: ["PeerCodec", "Cluster", .product(name: "NIOCore", package: "swift-nio")],
                          linkerSettings: [.linkedLibrary("m")]),
        .executableTarget(name: "FuzzRaftLog", dependencies: ["Core", "Consensus", "Storage", "RaftStorage"],
                          linkerSettings: [.linkedLibrary("m")]),
        .executableTarget(name: "trestle", dependencies: [
            "Core", "Wire", "Simulation", "Bench", "Cluster", "ClusterServer", "NodeRuntime", "Transport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "CoreTests", dependencies: ["Core"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "Core", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "KeyspaceTests", dependencies: ["Keyspace", "Core"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "Core"]),
        // Parsing and re-recording of testdata/*.txt scripts, for the script-driven test targets.
        .target(name: "ScriptTesting", path: "Tests/ScriptTesting"),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus", "Core", "ScriptTesting"], resources: [.copy("testdata")]),
        .testTarget(name: "RaftStorageTests", dependencies: ["RaftStorage", "Storage", "Consensus", "Core"]),
        .testTarget(name: "SimulationTests", dependencies: ["Simulation", "NodeRuntime", "Consensus", "Core"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster", "Core"]),
        .testTarget(name: "NodeRuntimeTests", dependencies: [
            "NodeRuntime", "Cluster", "Engine", "Consensus", "Storage", "Wire", "Core", "ScriptTesting",
            .product(name: "Logging", package: "swift-log"),
        ], resources: [.copy("testdata")]),
        .testTarget(name: "ScriptingTests", dependencies: ["Scripting", "Wire", "Core"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Wire", "Keyspace", "Core"]),
        .testTarget(name: "TransportTests", dependencies: [
            "Transport", "Consensus", "Cluster", "Core",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "BenchTests", dependencies: [
            "Bench", "Core", "Wire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
    ]
)
