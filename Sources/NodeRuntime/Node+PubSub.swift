// Pub/sub on a node: SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE register a connection here;
// PUBLISH and SPUBLISH deliver to this node's listeners and, in a cluster, to every other
// node's (forwarded over the peer links), and answer with the number of receivers once
// every reachable node has delivered. Messages and (un)subscribe confirmations leave as
// `.push` outputs: RESP3 push frames, or plain arrays for RESP2 connections.
//
// Invariants: `channelSubscribers[c]` holds exactly the clients whose session lists `c`
// (likewise patterns and shard channels); a closed client is in none of them.
import Cluster
import Core
import Engine
import Keyspace
import Wire

/// A channel as `Node.deliveryLists` knows it.
struct DeliveryKey: Hashable {
    var channel: Bytes
    var sharded: Bool
}

extension Node {
    enum SubscriptionKind {
        case channel, pattern, shardChannel

        var subscribeWord: String {
            switch self {
            case .channel: "subscribe"
            case .pattern: "psubscribe"
            case .shardChannel: "ssubscribe"
            }
        }

        var unsubscribeWord: String {
            switch self {
            case .channel: "unsubscribe"
            case .pattern: "punsubscribe"
            case .shardChannel: "sunsubscribe"
            }
        }
    }

    /// What a RESP2 connection may run while it is subscribed to anything.
    static let allowedWhileSubscribed: CommandIDSet = [
        .subscribe, .unsubscribe, .psubscribe, .punsubscribe, .ssubscribe, .sunsubscribe, .ping, .quit, .reset,
    ]

    /// Serves a pub/sub command, or returns nil when `id` is not one. A command that ends
    /// later (PUBLISH in a cluster) answers through `reply` and returns `.some(nil)`.
    func servePubSub(_ id: CommandID, _ arguments: [Bytes], session: Session, forwarded: Bool,
                     reply: @escaping ReplySink) -> Outcome?? {
        switch id {
        case .subscribe: return Outcome(reply: subscribe(Array(arguments.dropFirst()), .channel, session))
        case .psubscribe: return Outcome(reply: subscribe(Array(arguments.dropFirst()), .pattern, session))
        case .ssubscribe:
            guard configuration.standalone || Self.sameSlot(arguments.dropFirst()) else { return Outcome(reply: Redirect.crossSlot.reply) }
            return Outcome(reply: subscribe(Array(arguments.dropFirst()), .shardChannel, session))
        case .unsubscribe: return Outcome(reply: unsubscribe(Array(arguments.dropFirst()), .channel, session))
        case .punsubscribe: return Outcome(reply: unsubscribe(Array(arguments.dropFirst()), .pattern, session))
        case .sunsubscribe:
            guard configuration.standalone || Self.sameSlot(arguments.dropFirst()) else { return Outcome(reply: Redirect.crossSlot.reply) }
            return Outcome(reply: unsubscribe(Array(arguments.dropFirst()), .shardChannel, session))
        case .publish, .spublish:
            var answered: Int? = nil
            publishEverywhere(arguments, forwarded: forwarded) { count in
                answered = count
                reply(.integer(count))
            }
            // Delivered here only (standalone, forwarded): the answer is already known.
            if let answered { return Outcome(reply: .integer(answered)) }
            return .some(nil)
        case .pubsub:
            return Outcome(reply: pubsubCommand(arguments))
        default:
            return nil
        }
    }

    /// Delivers the keyspace notifications a replica's applied writes produced to this
    /// node's subscribers (each node publishes the events of the replicas it holds).
    func publishKeyspaceNotifications(_ engine: Engine) {
        let notifications = engine.keyspaceNotifications
        engine.keyspaceNotifications.removeAll()
        for notification in notifications { _ = deliver(channel: notification.channel, message: notification.message, sharded: false) }
    }

    /// Sends the PUBLISH calls of scripts this node proposed, now that they are applied.
    func publishOwed(_ replica: Replica) {
        let owed = replica.publishesOwed
        replica.publishesOwed.removeAll()
        send(scriptPublishes: owed)
    }

    /// Sends what scripts run outside the log (keyless, or read-only on a leader) published.
    func publishFromScripts(_ engine: Engine) {
        guard !engine.scriptPublishes.isEmpty else { return }
        let owed = engine.scriptPublishes
        engine.scriptPublishes.removeAll()
        send(scriptPublishes: owed)
    }

    private func send(scriptPublishes: [[Bytes]]) {
        for arguments in scriptPublishes { publishEverywhere(arguments, forwarded: false) { _ in } }
    }

    /// Delivers a PUBLISH / SPUBLISH here and, unless `forwarded` or standalone, on every
    /// other node; `done` gets the total number of receivers once every node answered.
    /// `done` may run before this returns.
    func publishEverywhere(_ arguments: [Bytes], forwarded: Bool, done: @escaping (Int) -> Void) {
        let sharded = CommandTable.lookup(arguments[0])?.id == .spublish
        let local = deliver(channel: arguments[1], message: arguments[2], sharded: sharded)
        if configuration.standalone, !replicationLinks.isEmpty { streamToReplicas(arguments) }
        guard !forwarded, !configuration.standalone, let others = map?.nodes.filter({ $0.id != me }), !others.isEmpty else {
            return done(local)
        }
        var total = local
        var waiting = others.count
        for node in others {
            forward(arguments, to: node.id) { value in
                if case .integer(let count) = value { total += Int(count) }
                waiting -= 1
                if waiting == 0 { done(total) }
            }
        }
    }

    /// A committed transaction's replies with its PUBLISHes done: each is delivered now,
    /// after the writes before it are visible, and its place holds the receiver count.
    func completingPublishes(_ commands: [[Bytes]], reply: @escaping ReplySink) -> ReplySink {
        let publishes = commands.indices.filter { index in
            let id = CommandTable.lookup(commands[index][0])?.id
            return (id == .publish || id == .spublish) && commands[index].count == 3
        }
        guard !publishes.isEmpty else { return reply }
        return { [self] value in
            guard case .array(var replies) = value, replies.count == commands.count else { return reply(value) }
            var waiting = publishes.count
            for index in publishes {
                publishEverywhere(commands[index], forwarded: false) { count in
                    replies[index] = .integer(count)
                    waiting -= 1
                    if waiting == 0 { reply(.array(replies)) }
                }
            }
        }
    }

    private static func sameSlot(_ names: ArraySlice<Bytes>) -> Bool {
        guard let first = names.first else { return true }
        let slot = HashSlot.of(key: first)
        return names.allSatisfy { HashSlot.of(key: $0) == slot }
    }

    /// Subscribes; every confirmation but the last leaves at once as a push, the last is
    /// the request's reply (the request is the only one outstanding: see Node+Clients).
    private func subscribe(_ names: [Bytes], _ kind: SubscriptionKind, _ session: Session) -> RESPValue {
        var confirmations: [RESPValue] = []
        for name in names {
            switch kind {
            case .channel:
                if session.channels.insert(name).inserted {
                    channelSubscribers[name, default: []].insert(session.id)
                    deliveryLists[DeliveryKey(channel: name, sharded: false)] = nil
                }
            case .pattern:
                if session.patterns.insert(name).inserted { patternSubscribers[name, default: []].insert(session.id) }
            case .shardChannel:
                if session.shardChannels.insert(name).inserted {
                    shardChannelSubscribers[name, default: []].insert(session.id)
                    deliveryLists[DeliveryKey(channel: name, sharded: true)] = nil
                }
            }
            confirmations.append(.push([.bulk(kind.subscribeWord), .bulk(name), .integer(Self.count(kind, session))]))
        }
        return answer(confirmations, session)
    }

    /// Unsubscribes from `names`, or from every subscription of the kind when none given.
    private func unsubscribe(_ names: [Bytes], _ kind: SubscriptionKind, _ session: Session) -> RESPValue {
        let targets: [Bytes]
        if !names.isEmpty {
            targets = names
        } else {
            switch kind {
            case .channel: targets = session.channels.sorted { $0.lexicographicallyPrecedes($1) }
            case .pattern: targets = session.patterns.sorted { $0.lexicographicallyPrecedes($1) }
            case .shardChannel: targets = session.shardChannels.sorted { $0.lexicographicallyPrecedes($1) }
            }
        }
        guard !targets.isEmpty else {
            return .push([.bulk(kind.unsubscribeWord), .null, .integer(Self.count(kind, session))])
        }
        var confirmations: [RESPValue] = []
        for name in targets {
            switch kind {
            case .channel:
                if session.channels.remove(name) != nil { unsubscribe(session.id, from: name, sharded: false) }
            case .pattern:
                if session.patterns.remove(name) != nil { Self.remove(session.id, from: &patternSubscribers, name) }
            case .shardChannel:
                if session.shardChannels.remove(name) != nil { unsubscribe(session.id, from: name, sharded: true) }
            }
            confirmations.append(.push([.bulk(kind.unsubscribeWord), .bulk(name), .integer(Self.count(kind, session))]))
        }
        return answer(confirmations, session)
    }

    private func answer(_ confirmations: [RESPValue], _ session: Session) -> RESPValue {
        for confirmation in confirmations.dropLast() { emit(.push(session.id, confirmation, session.protocolVersion)) }
        return confirmations.last ?? .nullArray
    }

    /// Redis's count in a confirmation: channels and patterns together; shard channels alone.
    private static func count(_ kind: SubscriptionKind, _ session: Session) -> Int {
        kind == .shardChannel ? session.shardChannels.count : session.channels.count + session.patterns.count
    }

    private static func remove(_ id: ClientID, from subscribers: inout [Bytes: Set<ClientID>], _ name: Bytes) {
        subscribers[name]?.remove(id)
        if subscribers[name]?.isEmpty == true { subscribers.removeValue(forKey: name) }
    }

    /// Takes a client off a channel's (or shard channel's) subscribers.
    private func unsubscribe(_ id: ClientID, from name: Bytes, sharded: Bool) {
        if sharded {
            Self.remove(id, from: &shardChannelSubscribers, name)
        } else {
            Self.remove(id, from: &channelSubscribers, name)
        }
        deliveryLists[DeliveryKey(channel: name, sharded: sharded)] = nil
    }

    /// Forgets every subscription of a session (RESET, a closed connection).
    func unsubscribeAll(_ session: Session) {
        for name in session.channels { unsubscribe(session.id, from: name, sharded: false) }
        for name in session.patterns { Self.remove(session.id, from: &patternSubscribers, name) }
        for name in session.shardChannels { unsubscribe(session.id, from: name, sharded: true) }
        session.channels = []
        session.patterns = []
        session.shardChannels = []
    }

    /// Delivers a message to this node's listeners; returns how many got it (a client
    /// matching by channel and by two patterns counts three times, as in Redis).
    func deliver(channel: Bytes, message: Bytes, sharded: Bool) -> Int {
        var receivers = 0
        let list = deliveryList(channel, sharded: sharded)
        if !list.isEmpty {
            // One value per message (per pattern), shared by every receiver's output.
            let value = RESPValue.push([.bulk(sharded ? "smessage" : "message"), .bulk(channel), .bulk(message)])
            receivers += pushToEach(list, value)
        }
        guard !sharded else { return receivers }
        for (pattern, ids) in patternSubscribers where Glob.matches(pattern: pattern, channel) {
            let value = RESPValue.push([.bulk("pmessage"), .bulk(pattern), .bulk(channel), .bulk(message)])
            receivers += pushToEach(ids.sorted().compactMap { clients[$0] }, value)
        }
        return receivers
    }

    /// A channel's subscribers in delivery order (`deliveryLists`, built here when missing).
    private func deliveryList(_ channel: Bytes, sharded: Bool) -> [ClientPipeline] {
        let key = DeliveryKey(channel: channel, sharded: sharded)
        if let list = deliveryLists[key] { return list }
        guard let ids = sharded ? shardChannelSubscribers[channel] : channelSubscribers[channel] else { return [] }
        let list = ids.sorted().compactMap { clients[$0] }
        deliveryLists[key] = list
        return list
    }

    /// Pushes `value` to each of `receivers` in order, as one output per run of clients
    /// speaking the same protocol; returns how many received it.
    private func pushToEach(_ receivers: [ClientPipeline], _ value: RESPValue) -> Int {
        var run: [ClientID] = []
        run.reserveCapacity(receivers.count)
        var runVersion = ProtocolVersion.resp2
        for client in receivers {
            let id = client.session.id
            let version = client.session.protocolVersion
            if holdsPushes(client) {
                // It owes replies: the message follows them (Node+HeldPushes).
                if !client.closed { hold(client, value, version) }
                continue
            }
            if version != runVersion, !run.isEmpty {
                emit(.pushAll(run, value, runVersion))
                run = []
            }
            runVersion = version
            run.append(id)
        }
        if !run.isEmpty { emit(.pushAll(run, value, runVersion)) }
        return receivers.count
    }

    // MARK: - PUBSUB

    private func pubsubCommand(_ arguments: [Bytes]) -> RESPValue {
        let subcommand = String(decoding: arguments[1], as: UTF8.self).lowercased()
        switch subcommand {
        case "channels" where arguments.count <= 3, "shardchannels" where arguments.count <= 3:
            let source = subcommand == "channels" ? channelSubscribers : shardChannelSubscribers
            let pattern = arguments.count == 3 ? arguments[2] : nil
            let names = source.keys.filter { name in pattern.map { Glob.matches(pattern: $0, name) } ?? true }
            return .array(names.sorted { $0.lexicographicallyPrecedes($1) }.map { RESPValue.bulk($0) })
        case "numsub", "shardnumsub":
            let source = subcommand == "numsub" ? channelSubscribers : shardChannelSubscribers
            return .array(arguments.dropFirst(2).flatMap { [RESPValue.bulk($0), .integer(source[$0]?.count ?? 0)] })
        case "numpat" where arguments.count == 2:
            return .integer(patternSubscribers.count)
        case "help" where arguments.count == 2:
            return .array(Self.pubsubHelp.map { .simple($0) })
        case "channels", "shardchannels", "numpat", "help":
            return .error("ERR wrong number of arguments for 'pubsub|\(subcommand)' command")
        default:
            return .error("ERR unknown subcommand '\(String(decoding: arguments[1], as: UTF8.self))'. Try PUBSUB HELP.")
        }
    }

    static let pubsubHelp = [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ]
}
