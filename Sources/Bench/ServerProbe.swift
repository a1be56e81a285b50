// Reads a server's CPU time and resident memory: from /proc/PID for a local process given
// by `--server-pid`, else from the server's INFO reply (used_cpu_user + used_cpu_sys and
// used_memory_rss, which Redis and Trestle both report). Also the benchmark's own CPU time.
import Foundation
import NIOCore
import NIOPosix
import Wire

/// One reading of a server's resource use.
public struct ServerSample: Codable, Sendable {
    /// nil when the server does not report its CPU time (INFO without used_cpu_*).
    public var cpuSeconds: Double?
    public var rssBytes: Double
}

/// Where server readings come from.
public enum ServerProbe: Sendable {
    case process(pid: Int32)
    case info(BenchAddress)
    case none

    public func sample() async -> ServerSample? {
        switch self {
        case .process(let pid): return ProcessStats.sample(pid: pid)
        case .info(let address): return await InfoQuery.sample(address)
        case .none: return nil
        }
    }

    public var sourceName: String {
        switch self {
        case .process(let pid): return "/proc/\(pid)"
        case .info: return "INFO"
        case .none: return "none"
        }
    }
}

enum ProcessStats {
    /// utime + stime of a process from /proc/PID/stat, and VmRSS from /proc/PID/status.
    static func sample(pid: Int32) -> ServerSample? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var rssKilobytes = 0.0
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            rssKilobytes = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return ServerSample(cpuSeconds: (user + system) / max(ticks, 1), rssBytes: rssKilobytes * 1024)
    }

    /// CPU seconds (user + system) this process has used.
    static func selfCPUSeconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }
}

/// Sends one command on a fresh connection and returns the reply.
public enum InfoQuery {
    /// Longest wait for a one-off reply.
    static let replyTimeoutSeconds: Int64 = 5

    static func sample(_ address: BenchAddress) async -> ServerSample? {
        guard let reply = try? await command(["INFO"], to: address), case .bulk(let bytes) = reply else { return nil }
        var fields: [String: Double] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let pair = line.split(separator: ":", maxSplits: 1)
            if pair.count == 2, let number = Double(pair[1].trimmingCharacters(in: .whitespaces)) {
                fields[String(pair[0])] = number
            }
        }
        guard let rss = fields["used_memory_rss"] else { return nil }
        let cpu = fields["used_cpu_user"].flatMap { user in fields["used_cpu_sys"].map { user + $0 } }
        return ServerSample(cpuSeconds: cpu, rssBytes: rss)
    }

    public static func command(_ arguments: [String], to address: BenchAddress) async throws -> RESPValue {
        guard address.isLoopback else { throw BenchError.invalid("\(address) is not a loopback address") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let loop = group.next()
        let promise = loop.makePromise(of: RESPValue.self)
        let bootstrap = ClientBootstrap(group: loop).connectTimeout(.seconds(replyTimeoutSeconds)).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(OneReplyHandler(promise: promise))
            }
        }
        let channel = try await bootstrap.connect(host: address.host, port: address.port).get()
        var buffer = channel.allocator.buffer(capacity: 64)
        RESPEncoder.writeCommand(arguments.map { Array($0.utf8) }, into: &buffer)
        channel.writeAndFlush(buffer, promise: nil)
        loop.scheduleTask(in: .seconds(replyTimeoutSeconds)) { promise.fail(BenchError.unavailable("no reply from \(address)")) }
        defer { channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }
}

final class OneReplyHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let promise: EventLoopPromise<RESPValue>
    private var buffer: ByteBuffer?
    private let reader = RESPReader()

    init(promise: EventLoopPromise<RESPValue>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer?.writeBuffer(&incoming) }
        guard var bytes = buffer else { return }
        do {
            if let value = try reader.next(from: &bytes) { promise.succeed(value) }
            buffer = bytes
        } catch {
            promise.fail(error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(BenchError.unavailable("connection closed before the reply"))
    }
}
