// The admin port (`--admin-port`, issue 14): a small HTTP/1.1 server on NIO's HTTP codec,
// on the node's own event loop, answering from the node's state:
//   GET /metrics  Prometheus text format (node, Raft, peer links, process)
//   GET /health   200 while the process runs
//   GET /ready    200 when this node can serve (map known, every shard's leader known), else 503
//   GET /cluster  JSON: nodes, shards, slot ranges, leaders, replicas
//   GET /nodes    JSON: every node's counters, CPU and memory (asked of each node)
//   GET /         the dashboard page (Dashboard.swift), fed by /cluster, /stats and /nodes
// Requests are small and bounded: a body is refused, anything but GET/HEAD gets 405.
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NodeRuntime
import Transport

final class AdminHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let host: NodeHost
    private var head: HTTPRequestHead?

    init(host: NodeHost) { self.host = host }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break  // ignored: no endpoint takes a body
        case .end:
            guard let request = head else { return }
            head = nil
            if request.method == .GET || request.method == .HEAD, path(of: request) == "/nodes" {
                // Every node's figures: answered once the other nodes did (or the wait ended).
                host.node.gatherNodeFiguresJSON { [self] json in send((.ok, "application/json", json + "\n"), for: request, context: context) }
                host.perform()
                return
            }
            send(respond(to: request), for: request, context: context)
        }
    }

    private func path(of request: HTTPRequestHead) -> String {
        request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
    }

    private func send(_ response: (HTTPResponseStatus, String, String), for request: HTTPRequestHead, context: ChannelHandlerContext) {
        let (status, type, body) = response
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Cache-Control", value: "no-store")
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let keepAlive = request.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func respond(to request: HTTPRequestHead) -> (HTTPResponseStatus, String, String) {
        guard request.method == .GET || request.method == .HEAD else {
            return (.methodNotAllowed, "text/plain; charset=utf-8", "only GET and HEAD\n")
        }
        let path = path(of: request)
        let node = host.node
        switch path {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", node.metricsText { self.shellMetrics(&$0) })
        case "/health":
            return node.failed ? (.serviceUnavailable, "text/plain; charset=utf-8", "failed\n") : (.ok, "text/plain; charset=utf-8", "ok\n")
        case "/ready":
            let readiness = node.readiness
            return (readiness.ready ? .ok : .serviceUnavailable, "text/plain; charset=utf-8", readiness.reason + "\n")
        case "/cluster":
            return (.ok, "application/json", node.clusterJSON() + "\n")
        case "/":
            return (.ok, "text/html; charset=utf-8", Dashboard.page)
        case "/stats":
            return (.ok, "application/json", Dashboard.statsJSON(host) + "\n")
        default:
            return (.notFound, "text/plain; charset=utf-8", "not found: \(path)\n")
        }
    }

    /// Families only the process shell knows: memory, CPU, peer links.
    private func shellMetrics(_ out: inout PrometheusText) {
        let cpu = ProcessStats.cpuSeconds()
        out.single("process_resident_memory_bytes", .gauge, "Resident memory size in bytes.", Double(ProcessStats.residentBytes()))
        out.single("process_cpu_seconds_total", .counter, "User and system CPU time spent in seconds.", cpu.user + cpu.system)
        let transport = host.transport
        let peers = transport.peers
        func perPeer(_ value: (PeerCounters) -> Double) -> [([(String, String)], Double)] {
            peers.map { ([("peer", "\($0.rawValue)")], value(transport.counters($0) ?? PeerCounters())) }
        }
        out.family("trestle_peer_connected", .gauge, "1 while the link to the peer is up.",
                   peers.map { ([("peer", "\($0.rawValue)")], transport.linkState($0).isConnected ? 1 : 0) })
        out.family("trestle_peer_sent_bytes_total", .counter, "Bytes sent to the peer.", perPeer { Double($0.bytesSent) })
        out.family("trestle_peer_received_bytes_total", .counter, "Bytes received from the peer.", perPeer { Double($0.bytesReceived) })
        out.family("trestle_peer_dropped_frames_total", .counter, "Frames to the peer dropped (breaker open, queue full).",
                   perPeer { Double($0.framesDropped) })
        out.family("trestle_peer_connects_total", .counter, "Connections established with the peer.", perPeer { Double($0.connects) })
        out.family("trestle_peer_breaker_open", .gauge, "1 while sends to the peer fail fast (its link stayed unhealthy).",
                   peers.map { ([("peer", "\($0.rawValue)")], transport.linkState($0).breakerOpen ? 1 : 0) })
        out.family("trestle_peer_breaker_trips_total", .counter, "Times the breaker of the link to the peer opened.",
                   perPeer { Double($0.breakerTrips) })
        out.single("trestle_peer_refused_connections_total", .counter, "Peer connections refused at the handshake.",
                   Double(transport.refusedConnections))
        out.single("trestle_peer_unauthenticated_total", .counter, "Peer connections refused for not proving the cluster secret.",
                   Double(transport.unauthenticatedPeers))
        out.single("trestle_client_received_bytes_total", .counter, "Bytes read from client connections.", Double(host.clientBytesReceived))
        out.single("trestle_client_sent_bytes_total", .counter, "Bytes written to client connections.", Double(host.clientBytesSent))
        out.histogram("trestle_request_duration_seconds",
                      "Time from a request's arrival to its reply being queued, by command class (read, write, other).",
                      RequestClass.allCases.map { kind in
                          let histogram = host.requestLatency[kind]
                          return ([("class", kind.rawValue)], histogram.cumulative, histogram.sum, histogram.count)
                      })
        out.histogram("trestle_fsync_duration_seconds", "Time to write and fsync the staged Raft log (group commits).",
                      [([], host.fsyncLatency.cumulative, host.fsyncLatency.sum, host.fsyncLatency.count)])
        out.histogram("trestle_snapshot_duration_seconds", "Time to serialize and write a shard snapshot (off the event loop).",
                      [([], host.snapshotDuration.cumulative, host.snapshotDuration.sum, host.snapshotDuration.count)])
    }
}

enum AdminHTTPServer {
    /// Listens on `host:port` (0: any free port) on `loop`, the node's event loop.
    static func bind(host: String, port: Int, node: NodeHost, loop: EventLoop, logger: Logger) async throws -> Channel {
        let bound = LoopConfinedNode(node: node)
        return try await ServerBootstrap(group: loop, childGroup: loop)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                ConnectionCap.install(on: channel, limit: ConnectionCap.adminConnectionsMax, listener: "admin HTTP", logger: logger)
            }
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHTTPHandler(host: bound.node))
                }
            }
            .bind(host: host, port: port).get()
    }
}
