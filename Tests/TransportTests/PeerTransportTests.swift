// PeerTransport on real loopback sockets: ordering both ways, one connection per pair,
// reconnect after a restart, breakers (peer down, peer not reading), bounded queues,
// refusals, garbage and hello timeouts closing only the offending connection.
import Cluster
import Consensus
import Core
import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import Transport

@Suite(.serialized) struct PeerTransportTests {
    @Test func framesArriveInOrderBothWays() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let one = try await startNode(1, on: group.next())
        let two = try await startNode(2, on: group.next())
        try await introduce(one, two)
        // Queued before the link is up: delivered after the hellos, in order.
        try await one.send(requests(0..<10), to: two.id)
        #expect(try await eventually { try await connected(one, two) })
        for batch in 0..<10 {
            let start = UInt64(10 + batch * 50)
            let sentForward = try await one.send(requests(start..<(start + 50)), to: two.id)
            let sentBack = try await two.send(requests(start..<(start + 50)), to: one.id)
            #expect(!sentForward.contains(false) && !sentBack.contains(false))
        }
        let raft = PeerFrame.raft(shard: ShardID(4), messages: Samples.messages)
        try await one.send([raft], to: two.id)
        #expect(try await eventually { two.inbox.frames.count == 511 && one.inbox.frames.count == 500 })
        #expect(requestIDs(two.inbox.frames(from: one.id)) == Array(0..<510))
        #expect(requestIDs(one.inbox.frames(from: two.id)) == Array(10..<510))
        #expect(two.inbox.frames.last?.1 == raft)
        let counters = try #require(try await one.run { $0.counters(two.id) })
        #expect(counters.framesSent == 511 && counters.framesReceived == 500 && counters.framesDropped == 0)
        #expect(counters.connects == 1 && counters.queuedBytes == 0)
        let received = try #require(try await two.run { $0.counters(one.id) })
        #expect(received.bytesReceived == counters.bytesSent)
        try await one.shutdown()
        try await two.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func threeNodesUseOneConnectionPerPair() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let nodes = [try await startNode(1, on: group.next()), try await startNode(2, on: group.next()),
                     try await startNode(3, on: group.next())]
        for (a, b) in [(0, 1), (0, 2), (1, 2)] { try await introduce(nodes[a], nodes[b]) }
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            #expect(try await eventually { try await connected(nodes[a], nodes[b]) })
        }
        for sender in nodes {
            for receiver in nodes where receiver.id != sender.id {
                try await sender.send(requests(sender.id.rawValue * 100..<(sender.id.rawValue * 100 + 20)), to: receiver.id)
            }
        }
        for receiver in nodes {
            #expect(try await eventually { receiver.inbox.frames.count == 40 })
            for sender in nodes where sender.id != receiver.id {
                let base = sender.id.rawValue * 100
                #expect(requestIDs(receiver.inbox.frames(from: sender.id)) == Array(base..<(base + 20)))
            }
        }
        // Still exactly one connection per pair after things settled.
        try await Task.sleep(nanoseconds: 100_000_000)
        for node in nodes {
            let connects = try await node.run { transport in transport.peers.map { transport.counters($0)?.connects ?? 0 } }
            #expect(connects == [1, 1])
            #expect(try await node.run { $0.connections.count } == 2)
        }
        for node in nodes { try await node.shutdown() }
        try await group.shutdownGracefully()
    }

    @Test func reconnectsAfterThePeerRestarts() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let one = try await startNode(1, on: group.next())
        let two = try await startNode(2, on: group.next())
        try await introduce(one, two)
        #expect(try await eventually { try await connected(one, two) })
        try await one.send(requests(0..<5), to: two.id)
        #expect(try await eventually { two.inbox.frames.count == 5 })

        try await two.shutdown()
        #expect(try await eventually { try await !one.state(of: two).isConnected })
        let again = try await startNode(2, on: group.next(), port: two.port)
        try await again.run { $0.setAddress(one.id, host: "127.0.0.1", port: one.port) }
        #expect(try await eventually { try await connected(one, again) })
        try await one.send(requests(5..<10), to: again.id)
        try await again.send(requests(50..<55), to: one.id)
        #expect(try await eventually { again.inbox.frames.count == 5 && one.inbox.frames.count == 5 })
        #expect(requestIDs(again.inbox.frames(from: one.id)) == Array(5..<10))
        #expect(requestIDs(one.inbox.frames(from: again.id)) == Array(50..<55))
        #expect(try await one.run { $0.counters(again.id)?.connects } == 2)
        let states = one.inbox.states.filter { $0.0 == again.id }.map(\.1.connection)
        #expect(states.contains(where: { if case .down = $0 { return true } else { return false } }))
        #expect(states.last == .connected)
        try await one.shutdown()
        try await again.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func breakerOpensWhenThePeerIsDownAndClosesWhenItIsBack() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let one = try await startNode(1, on: group.next())
        let two = try await startNode(2, on: group.next())
        try await introduce(one, two)
        #expect(try await eventually { try await connected(one, two) })
        try await two.shutdown()
        #expect(try await eventually { try await one.state(of: two).breakerOpen })
        // Fails fast: a burst of sends all refused, without waiting for anything.
        let started = Date()
        let results = try await one.send(requests(0..<1000), to: two.id)
        #expect(Date().timeIntervalSince(started) < 1)
        #expect(!results.contains(true))
        #expect(try await one.run { $0.counters(two.id)?.framesDropped } == 1000)
        #expect(one.inbox.states.contains { $0.0 == two.id && $0.1.breakerOpen })

        let again = try await startNode(2, on: group.next(), port: two.port)
        #expect(try await eventually {
            let state = try await one.state(of: again)
            return !state.breakerOpen && state.isConnected
        })
        #expect(try await one.send(requests(7..<8), to: again.id) == [true])
        #expect(try await eventually { requestIDs(again.inbox.frames(from: one.id)) == [7] })
        try await one.shutdown()
        try await again.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func breakerOpensForAPeerThatNeverAnswersAndForUnknownPeers() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let one = try await startNode(1, on: group.next())
        let closedPort = try await unusedPort(group: group)
        try await one.run { $0.setAddress(NodeID(5), host: "127.0.0.1", port: closedPort) }
        #expect(try await one.send(requests(0..<1), to: NodeID(5)) == [true])
        #expect(try await eventually { try await one.run { $0.linkState(NodeID(5)).breakerOpen } })
        #expect(try await one.send(requests(1..<2), to: NodeID(5)) == [false])
        #expect(try await one.send(requests(0..<1), to: NodeID(6)) == [false])
        #expect(try await one.run { $0.linkState(NodeID(6)) } == .unknown)
        try await one.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func aFullQueueDropsInsteadOfGrowing() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var limits = PeerLimits.fast
        limits.queueBytesMax = 64 * 1024
        limits.breakerOpenAfter = .seconds(30)
        let one = try await startNode(1, on: group.next(), limits: limits)
        let closedPort = try await unusedPort(group: group)
        try await one.run { $0.setAddress(NodeID(5), host: "127.0.0.1", port: closedPort) }
        let results = try await one.send(requests(0..<200, size: 1000), to: NodeID(5))
        let accepted = results.prefix { $0 }.count
        #expect(accepted > 50 && accepted < 70)
        #expect(!results.dropFirst(accepted).contains(true))
        let counters = try #require(try await one.run { $0.counters(NodeID(5)) })
        #expect(counters.queuedBytes <= limits.queueBytesMax)
        #expect(counters.framesDropped == UInt64(200 - accepted))
        #expect(try await one.send(requests(0..<1, size: 1000), to: NodeID(5)) == [false])
        try await one.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func aFrameLargerThanTheQueueGoesIntoAnEmptyQueue() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var limits = PeerLimits.fast
        limits.queueBytesMax = 64 * 1024
        let one = try await startNode(1, on: group.next(), limits: limits)
        let two = try await startNode(2, on: group.next(), limits: limits)
        try await introduce(one, two)
        #expect(try await eventually { try await connected(one, two) })
        let big = PeerFrame.request(id: 1, payload: Array(repeating: 3, count: 200 * 1024))
        let small = PeerFrame.request(id: 2, payload: [1])
        // Into an empty queue: taken; behind it the queue is over its bound: dropped.
        #expect(try await one.run { [$0.send(big, to: NodeID(2)), $0.send(small, to: NodeID(2))] } == [true, false])
        try await one.run { $0.flush() }
        #expect(try await one.send([small], to: two.id) == [true])
        #expect(try await eventually { requestIDs(two.inbox.frames(from: one.id)) == [1, 2] })
        #expect(two.inbox.frames.first?.1 == big)
        try await one.shutdown()
        try await two.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func aPeerThatStopsReadingOpensTheBreakerAndBoundsTheQueue() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var limits = PeerLimits.fast
        limits.queueBytesMax = 256 * 1024
        limits.writeBufferLowBytes = 16 * 1024
        limits.writeBufferHighBytes = 64 * 1024
        let one = try await startNode(1, on: group.next(), limits: limits)
        let two = try await startNode(2, on: group.next(), limits: limits)
        try await introduce(one, two)
        let stalled = try await StalledPeer.start(node: NodeID(9), group: group)
        try await one.run { $0.setAddress(NodeID(9), host: "127.0.0.1", port: stalled.port) }
        #expect(try await eventually { try await one.run { $0.linkState(NodeID(9)).isConnected } })
        #expect(try await eventually { try await connected(one, two) })
        let frame = PeerFrame.request(id: 1, payload: Array(repeating: 7, count: 16 * 1024))
        var healthySent: UInt64 = 0
        let opened = try await eventually(within: 8) {
            // Every turn floods the stalled peer and sends one frame to the healthy one.
            let id = healthySent
            healthySent += 1
            return try await one.run { transport in
                while transport.send(frame, to: NodeID(9)) {}
                _ = transport.send(.request(id: id, payload: [1]), to: NodeID(2))
                transport.flush()
                return transport.linkState(NodeID(9)).breakerOpen
            }
        }
        #expect(opened)
        // The healthy peer got everything meanwhile, in order: the stall stayed with its peer.
        #expect(try await eventually { requestIDs(two.inbox.frames(from: one.id)) == Array(0..<healthySent) })
        #expect(try await one.run { $0.linkState(NodeID(2)) } == PeerLinkState(connection: .connected, breakerOpen: false))
        let state = try await one.run { $0.linkState(NodeID(9)) }
        #expect(state.isConnected)
        let counters = try #require(try await one.run { $0.counters(NodeID(9)) })
        #expect(counters.framesDropped > 0)
        #expect(counters.queuedBytes <= limits.queueBytesMax)
        #expect(try await one.send([frame], to: NodeID(9)) == [false])
        try await one.shutdown()
        try await two.shutdown()
        try await stalled.channel.close()
        try await group.shutdownGracefully()
    }

    @Test func aConnectionThatSwallowsFramesIsRecycledButAnIdleOneIsNot() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var limits = PeerLimits.fast
        limits.silentLinkTimeout = .milliseconds(200)
        let one = try await startNode(1, on: group.next(), limits: limits)
        let two = try await startNode(2, on: group.next(), limits: limits)
        try await introduce(one, two)
        let blackHole = try await StalledPeer.start(node: NodeID(9), reads: true, group: group)
        try await one.run { $0.setAddress(NodeID(9), host: "127.0.0.1", port: blackHole.port) }
        #expect(try await eventually { try await one.run { $0.linkState(NodeID(9)).isConnected } })
        let recycled = try await eventually {
            try await one.run { transport in
                transport.send(.request(id: 1, payload: [1]), to: NodeID(9))
                transport.flush()
                return (transport.counters(NodeID(9))?.connects ?? 0) >= 2
            }
        }
        #expect(recycled)
        #expect(one.inbox.states.contains { state in
            if state.0 == NodeID(9), case .down = state.1.connection { return true } else { return false }
        })
        // The idle pair sent nothing, so it was never suspected.
        #expect(try await connected(one, two))
        #expect(try await one.run { $0.counters(NodeID(2))?.connects } == 1)
        try await one.shutdown()
        try await two.shutdown()
        try await blackHole.channel.close()
        try await group.shutdownGracefully()
    }

    @Test func sendRaftSplitsByDestinationAndPacksFramesInOrder() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var limits = PeerLimits.fast
        limits.messagesPerFrameMax = 3
        limits.raftFrameBytesTarget = 600
        let nodes = [try await startNode(1, on: group.next(), limits: limits), try await startNode(2, on: group.next(), limits: limits),
                     try await startNode(3, on: group.next(), limits: limits)]
        for (a, b) in [(0, 1), (0, 2), (1, 2)] { try await introduce(nodes[a], nodes[b]) }
        for (a, b) in [(0, 1), (0, 2)] { #expect(try await eventually { try await connected(nodes[a], nodes[b]) }) }
        // Twenty messages alternating between nodes 2 and 3, some large enough to force a split by bytes.
        let messages = (0..<20).map { index -> Message in
            let command = Entry(term: Term(1), index: LogIndex(UInt64(index)), payload: .command(Array(repeating: 1, count: index % 4 == 0 ? 500 : 10)))
            return Message(from: NodeID(1), to: NodeID(UInt64(2 + index % 2)), term: Term(UInt64(index)),
                           body: .appendEntries(prevIndex: .zero, prevTerm: .zero, entries: [command], commit: .zero))
        }
        let dropped = try await nodes[0].run { transport in
            let dropped = transport.sendRaft(shard: ShardID(7), messages: messages)
            transport.flush()
            return dropped
        }
        #expect(dropped == 0)
        for receiver in nodes.dropFirst() {
            let expected = messages.filter { $0.to == receiver.id }
            #expect(try await eventually {
                receiver.inbox.frames.flatMap { frame -> [Message] in
                    if case let .raft(_, batch) = frame.1 { return batch } else { return [] }
                }.count == expected.count
            })
            var received: [Message] = []
            for (_, frame) in receiver.inbox.frames {
                guard case let .raft(shard, batch) = frame else { continue }
                #expect(shard == ShardID(7))
                #expect(batch.count <= 3 && !batch.isEmpty)
                let bytes = batch.reduce(PeerWire.raftFrameOverheadBytes) { $0 + PeerWire.encodedBytes(of: $1) }
                #expect(batch.count == 1 || bytes <= 600)
                received += batch
            }
            #expect(received == expected)
            #expect(receiver.inbox.frames.count >= 4)
        }
        let unknown = Message(from: NodeID(1), to: NodeID(8), term: Term(1), body: .timeoutNow)
        #expect(try await nodes[0].run { $0.sendRaft(shard: ShardID(7), messages: [unknown, unknown]) } == 2)
        for node in nodes { try await node.shutdown() }
        try await group.shutdownGracefully()
    }

    @Test func aWrongClusterNameIsRefused() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let one = try await startNode(1, on: group.next(), cluster: "alpha")
        let two = try await startNode(2, on: group.next(), cluster: "beta")
        try await introduce(one, two)
        try await one.send(requests(0..<3), to: two.id)
        #expect(try await eventually {
            let refusedByTwo = try await two.run { $0.refusedConnections }
            let refusedByOne = try await one.run { $0.refusedConnections }
            return refusedByTwo >= 1 && refusedByOne >= 1
        })
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(try await !one.state(of: two).isConnected)
        #expect(two.inbox.frames.isEmpty && one.inbox.frames.isEmpty)
        try await one.shutdown()
        try await two.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func garbageClosesOnlyThatConnection() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let five = try await startNode(5, on: group.next())
        let six = try await startNode(6, on: group.next())
        try await introduce(five, six)
        #expect(try await eventually { try await connected(five, six) })

        let garbage = try await rawConnect(port: six.port, group: group)
        try await garbage.writeAndFlush(ByteBuffer(bytes: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        #expect(try await eventually { !garbage.isActive })

        // A proper hello, then a frame whose checksum is wrong.
        let liar = try await rawConnect(port: six.port, group: group)
        var bytes = try encoded([.hello(node: NodeID(3), cluster: "test"), .request(id: 1, payload: [1, 2, 3])])
        bytes.setInteger(UInt8(0xEE), at: bytes.writerIndex - 1)
        try await liar.writeAndFlush(bytes)
        #expect(try await eventually { !liar.isActive })
        #expect(try await six.run { $0.protocolErrors } == 2)
        #expect(six.inbox.frames(from: NodeID(3)).isEmpty)

        #expect(try await connected(five, six))
        try await five.send(requests(0..<3), to: six.id)
        #expect(try await eventually { requestIDs(six.inbox.frames(from: five.id)) == [0, 1, 2] })
        try await five.shutdown()
        try await six.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func silentAndMisdirectedConnectionsAreClosed() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let two = try await startNode(2, on: group.next())
        let silent = try await rawConnect(port: two.port, group: group)
        let higher = try await rawConnect(port: two.port, group: group)
        try await higher.writeAndFlush(try encoded([.hello(node: NodeID(9), cluster: "test")]))
        let itself = try await rawConnect(port: two.port, group: group)
        try await itself.writeAndFlush(try encoded([.hello(node: NodeID(2), cluster: "test")]))
        let notHello = try await rawConnect(port: two.port, group: group)
        try await notHello.writeAndFlush(try encoded([.request(id: 1, payload: [])]))
        #expect(try await eventually { !higher.isActive && !itself.isActive && !notHello.isActive })
        #expect(try await eventually { !silent.isActive })
        #expect(try await two.run { $0.refusedConnections } == 3)
        #expect(try await two.run { $0.protocolErrors } == 1)
        #expect(try await two.run { $0.peers }.isEmpty)
        try await two.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func aLargeFrameBeforeTheHelloAndTooManyWaitingConnectionsAreRefused() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var limits = PeerLimits.fast
        limits.helloTimeout = .seconds(30)
        limits.inboundHandshakesMax = 2
        let two = try await startNode(2, on: group.next(), limits: limits)
        let large = try await rawConnect(port: two.port, group: group)
        try await large.writeAndFlush(try encoded([.request(id: 1, payload: Array(repeating: 0, count: 4096))]))
        #expect(try await eventually { !large.isActive })
        #expect(try await two.run { $0.protocolErrors } == 1)
        let waiting = [try await rawConnect(port: two.port, group: group), try await rawConnect(port: two.port, group: group)]
        let extra = try await rawConnect(port: two.port, group: group)
        #expect(try await eventually { !extra.isActive })
        try await Task.sleep(nanoseconds: 50_000_000)
        #expect(waiting[0].isActive && waiting[1].isActive)
        #expect(try await two.run { $0.refusedConnections } == 1)
        try await two.shutdown()
        #expect(try await eventually { !waiting[0].isActive && !waiting[1].isActive })
        try await group.shutdownGracefully()
    }

    @Test func aChangedAddressRedialsAndShutdownStopsSending() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let one = try await startNode(1, on: group.next())
        let two = try await startNode(2, on: group.next())
        try await introduce(one, two)
        #expect(try await eventually { try await connected(one, two) })
        // Node 2 moves: a new process listens elsewhere; the old one stays up but is stale.
        let moved = try await startNode(2, on: group.next())
        try await one.run { $0.setAddress(NodeID(2), host: "127.0.0.1", port: moved.port) }
        #expect(try await eventually { try await connected(one, moved) })
        #expect(try await eventually { try await !two.state(of: one).isConnected })
        try await one.send(requests(0..<2), to: moved.id)
        #expect(try await eventually { requestIDs(moved.inbox.frames(from: one.id)) == [0, 1] })
        #expect(two.inbox.frames.isEmpty)
        try await one.shutdown()
        #expect(try await one.send(requests(2..<3), to: moved.id) == [false])
        try await two.shutdown()
        try await moved.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func aDialledPeerThatIsSilentOrSomeoneElseIsRefusedAndRetried() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var limits = PeerLimits.fast
        limits.helloTimeout = .milliseconds(100)
        let one = try await startNode(1, on: group.next(), limits: limits)
        let silent = try await StalledPeer.start(node: nil, group: group)
        let impostor = try await StalledPeer.start(node: NodeID(4), group: group)
        // Each is refused, then redialled and refused again.
        try await one.run { $0.setAddress(NodeID(2), host: "127.0.0.1", port: silent.port) }
        #expect(try await eventually { try await one.run { $0.refusedConnections } >= 2 })
        try await one.run { $0.removePeer(NodeID(2)) }
        try await Task.sleep(nanoseconds: 150_000_000)
        let refusedSilent = try await one.run { $0.refusedConnections }
        try await one.run { $0.setAddress(NodeID(3), host: "127.0.0.1", port: impostor.port) }
        #expect(try await eventually { try await one.run { $0.refusedConnections } >= refusedSilent + 2 })
        try await one.run { $0.setAddress(NodeID(2), host: "127.0.0.1", port: silent.port) }
        for peer in [NodeID(2), NodeID(3)] {
            #expect(try await one.run { $0.counters(peer)?.connects } == 0)
            #expect(try await !one.run { $0.linkState(peer).isConnected })
        }
        #expect(one.inbox.frames.isEmpty)
        #expect(try await one.run { $0.peers } == [NodeID(2), NodeID(3)])
        try await one.shutdown()
        try await silent.channel.close()
        try await impostor.channel.close()
        try await group.shutdownGracefully()
    }

    @Test func aNewerConnectionFromAPeerReplacesTheOlder() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let two = try await startNode(2, on: group.next())
        let first = try await rawConnect(port: two.port, group: group)
        try await first.writeAndFlush(try encoded([.hello(node: NodeID(1), cluster: "test"), .request(id: 1, payload: [])]))
        #expect(try await eventually { requestIDs(two.inbox.frames.map(\.1)) == [1] })
        let second = try await rawConnect(port: two.port, group: group)
        try await second.writeAndFlush(try encoded([.hello(node: NodeID(1), cluster: "test"), .request(id: 2, payload: [])]))
        #expect(try await eventually { !first.isActive })
        #expect(try await eventually { requestIDs(two.inbox.frames.map(\.1)) == [1, 2] })
        #expect(second.isActive)
        #expect(try await two.run { $0.counters(NodeID(1))?.connects } == 2)
        #expect(try await two.run { $0.linkState(NodeID(1)).isConnected })
        try await two.shutdown()
        second.close(promise: nil)
        try await group.shutdownGracefully()
    }

    @Test func removePeerClosesTheLinkAndForgetsIt() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let one = try await startNode(1, on: group.next())
        let two = try await startNode(2, on: group.next())
        try await introduce(one, two)
        #expect(try await eventually { try await connected(one, two) })
        try await one.run { $0.removePeer(NodeID(2)) }
        #expect(try await one.state(of: two) == .unknown)
        #expect(try await one.send(requests(0..<1), to: two.id) == [false])
        #expect(try await eventually { try await !two.state(of: one).isConnected })
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(try await one.state(of: two) == .unknown)
        try await one.shutdown()
        try await two.shutdown()
        try await group.shutdownGracefully()
    }
}

/// A port that nothing listens on (bound, read, closed).
func unusedPort(group: EventLoopGroup) async throws -> Int {
    let channel = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
    let port = try #require(channel.localAddress?.port)
    try await channel.close()
    return port
}

/// A peer that says hello and then never reads: its socket buffers fill and our channel
/// turns unwritable.
struct StalledPeer {
    let channel: Channel
    let port: Int

    /// `node` nil: the peer accepts and never says hello. `reads`: it reads (and discards)
    /// everything instead of reading nothing, a black hole that TCP reports as healthy.
    static func start(node: NodeID?, reads: Bool = false, group: EventLoopGroup) async throws -> StalledPeer {
        let hello = try encoded(node.map { [.hello(node: $0, cluster: "test")] } ?? [])
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 4096)
            .childChannelOption(ChannelOptions.autoRead, value: reads)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SayHelloOnce(hello: hello))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        return StalledPeer(channel: channel, port: port)
    }
}

/// Writes one buffer when the connection becomes active and reads nothing.
final class SayHelloOnce: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let hello: ByteBuffer

    init(hello: ByteBuffer) { self.hello = hello }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(hello), promise: nil)
        context.fireChannelActive()
    }
}
