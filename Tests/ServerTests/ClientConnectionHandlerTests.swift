import Core
import Engine
import Logging
import NIOCore
import NIOEmbedded
import Testing
import Wire
@testable import Transport

/// Durability whose progress the test controls.
private final class ManualDurability: Durability {
    var lastAppended: UInt64 = 0
    var durableSequence: UInt64 = 0
    func append(_ record: [UInt8]) -> UInt64 { lastAppended += 1; return lastAppended }
    var visibilityBarrier: UInt64 { lastAppended > durableSequence ? lastAppended : 0 }
    var backlogged = false
    var isBacklogged: Bool { backlogged }
}

private struct Connection {
    let channel: EmbeddedChannel
    let node: NodeContext
    let durability: ManualDurability

    init(settings: Settings = Settings()) throws {
        let loop = EmbeddedEventLoop()
        durability = ManualDurability()
        let engine = Engine(settings: settings, seed: 1, now: 0)
        node = NodeContext(engine: engine, durability: durability, clock: ManualClock(), logger: Logger(label: "test"), eventLoop: loop)
        channel = EmbeddedChannel(handler: ClientConnectionHandler(node: node), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    func send(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    func received() throws -> String {
        var text = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { text += buffer.readString(length: buffer.readableBytes) ?? "" }
        return text
    }
}

@Suite struct ClientConnectionHandlerTests {
    @Test func writeReplyWaitsForDurabilityEvenWhenTheLogWasIdle() throws {
        let connection = try Connection()
        try connection.send("SET k v\r\n")
        // Regression: the barrier used to be read before the append, so an idle log let
        // the reply out before its record was durable.
        #expect(try connection.received() == "")
        connection.durability.durableSequence = 1
        connection.node.durabilityAdvanced()
        #expect(try connection.received() == "+OK\r\n")
    }

    @Test func readsAfterAPendingWriteWaitAndRepliesStayInOrder() throws {
        let connection = try Connection()
        try connection.send("PING\r\nSET k v\r\nGET k\r\nPING\r\n")
        #expect(try connection.received() == "+PONG\r\n")
        connection.durability.durableSequence = 1
        connection.node.durabilityAdvanced()
        #expect(try connection.received() == "+OK\r\n$1\r\nv\r\n+PONG\r\n")
    }

    @Test func readOnlyTrafficIsNotDelayed() throws {
        let connection = try Connection()
        try connection.send("*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1\r\n$4\r\nPING\r\n")
        #expect(try connection.received() == "$-1\r\n+PONG\r\n")
    }

    @Test func protocolErrorRepliesAndClosesOnlyThisConnection() throws {
        let connection = try Connection()
        try connection.send("*1\r\n$-7\r\n")
        #expect(try connection.received() == "-ERR Protocol error: invalid bulk length\r\n")
        #expect(connection.channel.isActive == false)
        let other = try Connection()
        try other.send("PING\r\n")
        #expect(try other.received() == "+PONG\r\n")
    }

    @Test func maxClientsRefusesWithRedisError() throws {
        var settings = Settings()
        settings.maxClients = 0
        let connection = try Connection(settings: settings)
        #expect(try connection.received() == "-ERR max number of clients reached\r\n")
    }

    @Test func backloggedLogPausesRequestsUntilItDrains() throws {
        let connection = try Connection()
        connection.durability.backlogged = true
        try connection.send("PING\r\nPING\r\n")
        #expect(try connection.received() == "")
        connection.durability.backlogged = false
        connection.node.durabilityAdvanced()
        #expect(try connection.received() == "+PONG\r\n+PONG\r\n")
    }

    @Test func quitRepliesThenCloses() throws {
        let connection = try Connection()
        try connection.send("QUIT\r\n")
        #expect(try connection.received() == "+OK\r\n")
        #expect(connection.channel.isActive == false)
    }
}

@Suite struct HeldReplyBoundTests {
    /// Regression: big replies held for durability were not counted, so a client that kept
    /// pipelining reads behind a pending write could grow them without bound.
    @Test func repliesHeldForDurabilityAreBounded() throws {
        let connection = try Connection()
        let big = String(repeating: "z", count: 512 * 1024)
        try connection.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$\(big.utf8.count)\r\n\(big)\r\n")
        connection.durability.durableSequence = 1
        connection.node.durabilityAdvanced()
        _ = try connection.received()
        // A pending write, then many reads of the big value: only ~heldReplyBytesMax of
        // replies may be built before the connection stops running requests.
        try connection.send("SET other 1\r\n" + String(repeating: "GET big\r\n", count: 50))
        #expect(connection.node.engine.stats.commandsProcessed < 2 + 1 + 5)
        connection.durability.durableSequence = 2
        connection.node.durabilityAdvanced()
        var total = 0
        while var buffer = try connection.channel.readOutbound(as: ByteBuffer.self) { total += buffer.readableBytes; buffer.clear() }
        #expect(total > 0)
    }
}
