// Peer authentication: with a cluster secret, a peer is trusted only after it signs this
// connection's nonce with HMAC under the secret. Nodes sharing the secret connect; a wrong
// secret, no secret, a replayed proof or a raw connection that skips the proof deliver
// nothing to the node.
import Cluster
import Core
import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import Transport

@Suite(.serialized) struct PeerAuthenticationTests {
    static let secret = ClusterSecret(bytes: Array("correct horse battery staple".utf8))
    static let other = ClusterSecret(bytes: Array("a different secret, same length".utf8))

    @Test func nodesSharingTheSecretConnectAndExchangeFrames() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let one = try await startNode(1, on: group.next(), secret: Self.secret)
        let two = try await startNode(2, on: group.next(), secret: Self.secret)
        try await introduce(one, two)
        try await one.send(requests(0..<5), to: two.id)
        #expect(try await eventually { try await connected(one, two) })
        try await two.send(requests(5..<8), to: one.id)
        #expect(try await eventually { requestIDs(two.inbox.frames(from: one.id)) == Array(0..<5) })
        #expect(try await eventually { requestIDs(one.inbox.frames(from: two.id)) == Array(5..<8) })
        #expect(try await one.run { $0.unauthenticatedPeers } == 0)
        #expect(try await two.run { $0.unauthenticatedPeers } == 0)
        try await one.shutdown()
        try await two.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func aWrongSecretOrNoSecretIsRefusedAndDeliversNothing() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let one = try await startNode(1, on: group.next(), secret: Self.other)
        let two = try await startNode(2, on: group.next(), secret: Self.secret)
        let three = try await startNode(3, on: group.next())
        try await introduce(one, two)
        try await introduce(two, three)
        try await one.send(requests(0..<3), to: two.id)
        try await three.send(requests(0..<3), to: two.id)
        #expect(try await eventually { try await two.run { $0.unauthenticatedPeers } >= 2 })
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(two.inbox.frames.isEmpty)
        #expect(!(try await connected(one, two)))
        #expect(!(try await connected(two, three)))
        for node in [one, two, three] { try await node.shutdown() }
        try await group.shutdownGracefully()
    }

    @Test func aRawConnectionCannotInjectARaftMessage() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let two = try await startNode(2, on: group.next(), secret: Self.secret)
        let raft = PeerFrame.raft(shard: ShardID(1), messages: Samples.messages)
        // A hello naming a real node and the right cluster, then Raft traffic: no proof.
        // (A frame larger than a hello is refused by its length alone.)
        let skipper = try await rawConnect(port: two.port, group: group)
        try await skipper.writeAndFlush(try encoded([.hello(node: NodeID(1), cluster: "test", nonce: ClusterSecret.nonce()), raft]))
        let smallSkipper = try await rawConnect(port: two.port, group: group)
        try await smallSkipper.writeAndFlush(try encoded([.hello(node: NodeID(1), cluster: "test", nonce: [1]),
                                                          .raft(shard: ShardID(1), messages: [Samples.messages[0]])]))
        // A proof signed with the wrong secret.
        let forger = try await rawConnect(port: two.port, group: group)
        let wrong = Self.other.proof(cluster: "test", sender: 1, receiver: 2, receiverNonce: [UInt8](repeating: 0, count: 32),
                                     senderNonce: [1])
        try await forger.writeAndFlush(try encoded([.hello(node: NodeID(1), cluster: "test", nonce: [1]), .proof(mac: wrong), raft]))
        // A proof that would be right for some other nonce (replayed from another connection).
        let replayer = try await rawConnect(port: two.port, group: group)
        let replayed = Self.secret.proof(cluster: "test", sender: 1, receiver: 2, receiverNonce: ClusterSecret.nonce(),
                                         senderNonce: [1])
        try await replayer.writeAndFlush(try encoded([.hello(node: NodeID(1), cluster: "test", nonce: [1]), .proof(mac: replayed), raft]))
        #expect(try await eventually { !skipper.isActive && !smallSkipper.isActive && !forger.isActive && !replayer.isActive })
        #expect(try await two.run { $0.unauthenticatedPeers } == 3)
        #expect(try await two.run { $0.protocolErrors } == 1)
        #expect(two.inbox.frames.isEmpty)
        #expect(try await two.run { $0.peers }.isEmpty)
        try await two.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func aProofBindsTheClusterBothNodesAndBothNonces() {
        let nonceA = ClusterSecret.nonce(), nonceB = ClusterSecret.nonce()
        let mac = Self.secret.proof(cluster: "c", sender: 1, receiver: 2, receiverNonce: nonceB, senderNonce: nonceA)
        #expect(mac.count == 32)
        #expect(Self.secret.verify(mac, cluster: "c", sender: 1, receiver: 2, receiverNonce: nonceB, senderNonce: nonceA))
        #expect(!Self.other.verify(mac, cluster: "c", sender: 1, receiver: 2, receiverNonce: nonceB, senderNonce: nonceA))
        #expect(!Self.secret.verify(mac, cluster: "d", sender: 1, receiver: 2, receiverNonce: nonceB, senderNonce: nonceA))
        #expect(!Self.secret.verify(mac, cluster: "c", sender: 2, receiver: 1, receiverNonce: nonceB, senderNonce: nonceA))
        #expect(!Self.secret.verify(mac, cluster: "c", sender: 1, receiver: 2, receiverNonce: nonceA, senderNonce: nonceB))
        #expect(nonceA != nonceB && nonceA.count == ClusterSecret.nonceBytes)
    }

    @Test func secretFilesAreCreatedPrivateAndReadWithoutTheirNewline() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("cluster.secret").path
        try ClusterSecret.createIfMissing(path: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.count == 65 && text.hasSuffix("\n"))
        try ClusterSecret.createIfMissing(path: path)  // kept, not replaced
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
        let loaded = try ClusterSecret.load(path: path)
        let same = ClusterSecret(bytes: Array(text.dropLast().utf8))
        let mac = same.proof(cluster: "c", sender: 1, receiver: 2, receiverNonce: [1], senderNonce: [2])
        #expect(loaded.verify(mac, cluster: "c", sender: 1, receiver: 2, receiverNonce: [1], senderNonce: [2]))
        let short = directory.appendingPathComponent("short").path
        FileManager.default.createFile(atPath: short, contents: Data("tiny\n".utf8))
        #expect(throws: ClusterSecret.Failure.self) { try ClusterSecret.load(path: short) }
        #expect(throws: ClusterSecret.Failure.self) { try ClusterSecret.load(path: directory.appendingPathComponent("missing").path) }
    }
}
