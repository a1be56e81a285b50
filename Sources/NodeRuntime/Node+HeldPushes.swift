// Pushes a client's own requests cause reach it after their replies. Redis (7.2 and later)
// sends the current client the pushes its command causes after that command's reply: a
// PUBLISH to a channel the publisher listens to inside MULTI or a script, or a write that
// invalidates a key the writer tracks, never lands inside a transaction's reply or ahead
// of the write's own answer.
//
// Here replies may come turns later (a write waits for its commit), so the rule is: a
// pub/sub message or an invalidation for a client that owes replies is held until the
// replies it owed when the push was produced have left; pushes keep their order among
// themselves. A blocked client (BLPOP waiting for data) is not held back: its messages go
// at once, as in Redis. Subscribe confirmations are replies and never held.
//
// Bound: at most `heldPushesMax` pushes wait per client; past it they are all sent at
// once (their order among themselves kept, their place after the replies given up).
import Collections
import Wire

/// A push waiting for replies owed before it.
struct HeldPush {
    let value: RESPValue
    let version: ProtocolVersion
    /// It leaves once the client's `slotsAnswered` reaches this.
    let after: Int
}

extension Node {
    /// Most pushes held for one client.
    static let heldPushesMax = 10_000

    /// Whether a push to `client` now must wait behind replies (or earlier held pushes).
    func holdsPushes(_ client: ClientPipeline) -> Bool {
        !client.heldPushes.isEmpty || (!client.slots.isEmpty && client.blockedRequests == 0)
    }

    /// Sends `value` to `client` now, or holds it behind the replies the client owes.
    func pushOrHold(_ client: ClientPipeline, _ value: RESPValue, _ version: ProtocolVersion) {
        guard !client.closed else { return }
        guard holdsPushes(client) else { return emit(.push(client.session.id, value, version)) }
        hold(client, value, version)
    }

    /// Holds a push for `client` (the caller checked `holdsPushes`).
    func hold(_ client: ClientPipeline, _ value: RESPValue, _ version: ProtocolVersion) {
        let after = client.slotsAnswered + client.slots.count
        client.heldPushes.append(HeldPush(value: value, version: version, after: max(after, client.heldPushes.last?.after ?? 0)))
        if client.heldPushes.count > Self.heldPushesMax || client.blockedRequests > 0 { releaseHeldPushes(client, all: true) }
    }

    /// Sends the held pushes whose replies have left (`all`: every one of them).
    func releaseHeldPushes(_ client: ClientPipeline, all: Bool = false) {
        while let first = client.heldPushes.first, all || first.after <= client.slotsAnswered {
            client.heldPushes.removeFirst()
            if !client.closed { emit(.push(client.session.id, first.value, first.version)) }
        }
    }
}
