// Each key's access field, Redis's robj.lru: what OBJECT IDLETIME and OBJECT FREQ report,
// what RESTORE's IDLETIME and FREQ set, and what the LRU and LFU eviction policies compare.
//
// Under an LRU policy (every policy but the *-lfu ones) it holds the last access in seconds
// since the epoch; under an LFU policy, as Redis, the last decrement time in minutes (16
// bits, wrapping) and a logarithmic access counter (8 bits): the counter grows with
// probability 1 / ((counter - 5) * lfu-log-factor + 1) per access and loses one per
// lfu-decay-time minutes without access. Switching policy reinterprets the field, as in Redis.
//
// The field is local to the node that holds the key: reads on a shard's leader update it
// there only, it is not in snapshots or the log, and `Entry ==` ignores it, so replicas
// that agree on keys and values are equal. A key loaded from a snapshot starts at 0
// ("not known"): idle 0 and frequency 0 until it is accessed.

/// How accesses are recorded (from `maxmemory-policy`, `lfu-log-factor`, `lfu-decay-time`).
public struct AccessSettings: Sendable, Equatable {
    public var lfu = false
    public var logFactor = 10
    public var decayMinutes = 1

    public init(lfu: Bool = false, logFactor: Int = 10, decayMinutes: Int = 1) {
        self.lfu = lfu
        self.logFactor = max(0, logFactor)
        self.decayMinutes = max(0, decayMinutes)
    }
}

public struct AccessClock: Sendable, Equatable {
    public var raw: UInt32 = 0

    public init(raw: UInt32 = 0) { self.raw = raw }

    /// Redis's LFU_INIT_VAL: a new key's counter, so it is not evicted before it is read.
    public static let lfuInitialCounter: UInt32 = 5
    static let lfuCounterMax: UInt32 = 255

    /// The field of a key created (or written) at `now` (milliseconds).
    public static func fresh(now: Int64, _ settings: AccessSettings) -> AccessClock {
        settings.lfu ? lfu(counter: lfuInitialCounter, now: now) : lru(now: now)
    }

    static func lru(now: Int64) -> AccessClock {
        AccessClock(raw: UInt32(clamping: max(1, now / 1000)))
    }

    static func lfu(counter: UInt32, now: Int64) -> AccessClock {
        AccessClock(raw: minutes(now) << 8 | min(counter, lfuCounterMax))
    }

    private static func minutes(_ now: Int64) -> UInt32 { UInt32(truncatingIfNeeded: max(0, now) / 60_000) & 0xFFFF }

    // MARK: - LRU

    /// Seconds since the last access (OBJECT IDLETIME); 0 when not known, which includes a
    /// field still holding LFU data after a switch of policy (at most 24 bits, far below
    /// any time since the epoch LRU data holds).
    public func idleSeconds(now: Int64) -> Int64 {
        raw <= Self.lfuFieldMax ? 0 : max(0, now / 1000 - Int64(raw))
    }

    static let lfuFieldMax: UInt32 = 0xFF_FFFF

    /// The field of a key last accessed `seconds` ago (RESTORE ... IDLETIME).
    public static func idle(seconds: Int64, now: Int64) -> AccessClock {
        AccessClock(raw: UInt32(clamping: max(1, now / 1000 - max(0, seconds))))
    }

    // MARK: - LFU

    /// The counter after the decay due at `now` (OBJECT FREQ; Redis's LFUDecrAndReturn).
    public func frequency(now: Int64, _ settings: AccessSettings) -> UInt32 {
        let counter = raw & 0xFF
        guard settings.decayMinutes > 0 else { return counter }
        // Masked: a field written under an LRU policy holds seconds, wider than 24 bits.
        let last = (raw >> 8) & 0xFFFF, current = Self.minutes(now)
        let elapsed = current >= last ? current - last : 0xFFFF - last + current
        let periods = elapsed / UInt32(settings.decayMinutes)
        return periods >= counter ? 0 : counter - periods
    }

    /// The field of a key with frequency `counter` (RESTORE ... FREQ).
    public static func frequency(_ counter: Int64, now: Int64) -> AccessClock {
        lfu(counter: UInt32(clamping: max(0, counter)), now: now)
    }

    /// The field after one access at `now`; `random` is uniform in [0, 1).
    func accessed(now: Int64, _ settings: AccessSettings, random: Double) -> AccessClock {
        guard settings.lfu else { return Self.lru(now: now) }
        var counter = frequency(now: now, settings)
        if counter < Self.lfuCounterMax {
            let base = Double(counter > Self.lfuInitialCounter ? counter - Self.lfuInitialCounter : 0)
            if random < 1.0 / (base * Double(settings.logFactor) + 1) { counter += 1 }
        }
        return Self.lfu(counter: counter, now: now)
    }
}
