// The listener guards on real loopback sockets: AcceptBackoff takes a listener out of the
// poll set after an accept failure that means a shortage (EMFILE...) and puts it back
// later, and lets other errors through; ConnectionCap closes connections past its bound and
// makes room again when one closes.
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
@testable import Transport

@Suite struct ListenerGuardTests {
    static let logger = Logger(label: "test")

    /// A listener on 127.0.0.1 (port 0) whose server pipeline is set up by `install`.
    static func listener(on loop: EventLoop, _ install: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) async throws -> Channel {
        try await ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelInitializer(install)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    static func autoRead(_ channel: Channel) async throws -> Bool {
        try await channel.getOption(ChannelOptions.autoRead).get()
    }

    @Test func aShortageOfDescriptorsPausesTheListenerThenResumesIt() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await Self.listener(on: group.next()) { AcceptBackoff.install(on: $0, listener: "test", logger: Self.logger) }
        #expect(try await Self.autoRead(server))
        server.pipeline.fireErrorCaught(IOError(errnoCode: EMFILE, reason: "accept"))
        #expect(try await !Self.autoRead(server))
        try await Task.sleep(nanoseconds: UInt64(AcceptBackoff.retryMilliseconds + 150) * 1_000_000)
        #expect(try await Self.autoRead(server))
        // Accepting works again.
        let client = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test func otherAcceptErrorsDoNotPauseTheListener() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await Self.listener(on: group.next()) { AcceptBackoff.install(on: $0, listener: "test", logger: Self.logger) }
        server.pipeline.fireErrorCaught(IOError(errnoCode: ECONNABORTED, reason: "accept"))
        #expect(try await Self.autoRead(server))
        try await server.close()
        try await group.shutdownGracefully()
    }

    @Test func connectionsPastTheCapAreClosedAndAClosedOneMakesRoom() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await Self.listener(on: group.next()) {
            ConnectionCap.install(on: $0, limit: 2, listener: "test", logger: Self.logger)
        }
        let port = server.localAddress!.port!
        func connect() async throws -> Channel {
            try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
        }
        func closedByServer(_ channel: Channel) async -> Bool {
            (try? await eventually(within: 2) { !channel.isActive }) ?? false
        }
        let first = try await connect()
        let second = try await connect()
        let third = try await connect()
        #expect(await closedByServer(third))
        #expect(first.isActive && second.isActive)
        try await first.close()
        try await Task.sleep(nanoseconds: 100_000_000)
        let fourth = try await connect()
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(fourth.isActive && second.isActive)
        try await second.close()
        try await fourth.close()
        try await server.close()
        try await group.shutdownGracefully()
    }
}
