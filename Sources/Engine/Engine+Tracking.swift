// Server-assisted client-side caching, the connection's half: CLIENT TRACKING, CACHING,
// GETREDIR and TRACKINGINFO with Redis 7's rules and error texts. The engine validates and
// keeps each session's `TrackingState`; the node keeps the table of keys each client read
// and sends the invalidations (NodeRuntime/Node+Tracking.swift).
import Core
import Keyspace
import Wire

/// A connection's tracking mode (CLIENT TRACKING ON ...).
public struct TrackingState: Sendable, Equatable {
    /// The client invalidations go to instead of this one; nil: this one.
    public var redirect: ClientID?
    /// BCAST: every key matching a prefix is invalidated, read or not.
    public var broadcast = false
    /// BCAST prefixes (one empty prefix: every key).
    public var prefixes: [Bytes] = []
    public var optIn = false
    public var optOut = false
    /// No invalidations for keys this client itself changed.
    public var noLoop = false
    /// The redirect target went away (reported by TRACKINGINFO).
    public var redirectBroken = false

    /// Whether a read by this client is remembered, given CLIENT CACHING's flag.
    public func remembersReads(caching: Bool) -> Bool {
        !broadcast && !(optIn && !caching) && !(optOut && caching)
    }

    /// Whether `key` falls under one of the BCAST prefixes.
    public func broadcasts(_ key: Bytes) -> Bool {
        broadcast && prefixes.contains { key.starts(with: $0) }
    }
}

extension Engine {
    /// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p]... [OPTIN] [OPTOUT] [NOLOOP].
    func clientTracking(_ arguments: [Bytes], _ session: Session) throws(CommandError) -> RESPValue {
        var redirect: ClientID? = nil
        var broadcast = false, optIn = false, optOut = false, noLoop = false
        var prefixes: [Bytes] = []
        var index = 3
        while index < arguments.count {
            let option = Arguments.lowercased(arguments[index])
            let hasValue = index + 1 < arguments.count
            switch option {
            case "redirect" where hasValue:
                index += 1
                guard redirect == nil else { throw .message("ERR A client can only redirect to a single other client") }
                let id = try Arguments.integer(arguments[index])
                guard id > 0, sessions[ClientID(rawValue: UInt64(id))] != nil else {
                    throw .message("ERR The client ID you want redirect to does not exist")
                }
                redirect = ClientID(rawValue: UInt64(id))
            case "bcast": broadcast = true
            case "optin": optIn = true
            case "optout": optOut = true
            case "noloop": noLoop = true
            case "prefix" where hasValue:
                index += 1
                prefixes.append(arguments[index])
            default: throw .syntax
            }
            index += 1
        }
        switch Arguments.lowercased(arguments[2]) {
        case "on":
            if !broadcast, !prefixes.isEmpty { throw .message("ERR PREFIX option requires BCAST mode to be enabled") }
            if let current = session.tracking, current.broadcast != broadcast {
                throw .message("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
            }
            if broadcast, optIn || optOut { throw .message("ERR OPTIN and OPTOUT are not compatible with BCAST") }
            if optIn, optOut { throw .message("ERR You can't specify both OPTIN mode and OPTOUT mode") }
            if let current = session.tracking, (optIn && current.optOut) || (optOut && current.optIn) {
                throw .message("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
            }
            var existing = session.tracking?.prefixes ?? []
            if broadcast {
                try Self.checkPrefixes(prefixes, existing: existing)
                existing += prefixes.isEmpty ? [[]] : prefixes
            }
            session.tracking = TrackingState(redirect: redirect, broadcast: broadcast, prefixes: broadcast ? Self.unique(existing) : [],
                                             optIn: optIn, optOut: optOut, noLoop: noLoop)
        case "off":
            session.tracking = nil
            session.trackingCaching = false
        default:
            throw .syntax
        }
        return .ok
    }

    /// Redis's checkPrefixCollisionsOrReply: no new prefix may be a prefix of (or equal
    /// to) an existing one or another new one, or the other way round.
    private static func checkPrefixes(_ prefixes: [Bytes], existing: [Bytes]) throws(CommandError) {
        func overlap(_ a: Bytes, _ b: Bytes) -> Bool { a.starts(with: b) || b.starts(with: a) }
        for (index, prefix) in prefixes.enumerated() {
            if let collision = existing.first(where: { overlap($0, prefix) && $0 != prefix }) {
                throw .message("ERR Prefix '\(Arguments.string(prefix))' overlaps with an existing prefix '\(Arguments.string(collision))'. Prefixes for a single client must not overlap.")
            }
            for other in prefixes[(index + 1)...] where overlap(prefix, other) {
                throw .message("ERR Prefix '\(Arguments.string(prefix))' overlaps with another provided prefix '\(Arguments.string(other))'. Prefixes for a single client must not overlap.")
            }
        }
    }

    private static func unique(_ prefixes: [Bytes]) -> [Bytes] {
        var seen: Set<Bytes> = []
        return prefixes.filter { seen.insert($0).inserted }
    }

    /// CLIENT CACHING YES|NO: whether the next command's reads are remembered.
    func clientCaching(_ arguments: [Bytes], _ session: Session) throws(CommandError) -> RESPValue {
        guard let tracking = session.tracking else {
            throw .message("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
        }
        switch Arguments.lowercased(arguments[2]) {
        case "yes":
            guard tracking.optIn else { throw .message("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.") }
        case "no":
            guard tracking.optOut else { throw .message("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.") }
        default:
            throw .syntax
        }
        session.trackingCaching = true
        return .ok
    }

    /// CLIENT GETREDIR: the redirect target, 0 for none, -1 while tracking is off.
    func clientGetRedirect(_ session: Session) -> RESPValue {
        guard let tracking = session.tracking else { return .integer(-1) }
        return .integer(Int64(tracking.redirect?.rawValue ?? 0))
    }

    /// CLIENT TRACKINGINFO: flags, redirect and prefixes (sorted, as Redis's radix tree
    /// lists them), in Redis's order.
    func clientTrackingInfo(_ session: Session) -> RESPValue {
        var flags: [RESPValue] = [.bulk(session.tracking == nil ? "off" : "on")]
        if let tracking = session.tracking {
            if tracking.broadcast { flags.append(.bulk("bcast")) }
            if tracking.optIn {
                flags.append(.bulk("optin"))
                if session.trackingCaching { flags.append(.bulk("caching-yes")) }
            }
            if tracking.optOut {
                flags.append(.bulk("optout"))
                if session.trackingCaching { flags.append(.bulk("caching-no")) }
            }
            if tracking.noLoop { flags.append(.bulk("noloop")) }
            if tracking.redirectBroken { flags.append(.bulk("broken_redirect")) }
        }
        return .map([RESPPair("flags", .set(flags)), RESPPair("redirect", clientGetRedirect(session)),
                     RESPPair("prefixes", .array((session.tracking?.prefixes ?? []).sorted { $0.lexicographicallyPrecedes($1) }.map { .bulk($0) }))])
    }
}
