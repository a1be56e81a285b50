// Where a node's load goes: requests per hash slot served by the shards this node leads,
// and a sample of the keys they touch, over a rolling window. `TRESTLE HOTKEYS` (and
// `trestle cluster hotkeys`) gather every node's view; `TRESTLE STATUS` shows ops/s per
// shard. Bounded: one counter per slot, and at most `sampledKeysMax` sampled keys (when
// full, every count is halved and keys that reach zero are forgotten, so a key that is
// really hot stays; counts of hot keys are therefore lower bounds).
import Cluster
import Core
import Keyspace

struct LoadTracker {
    /// Length of one window by default; rates are over the last complete window.
    static let defaultWindowMilliseconds: Int64 = 10_000
    let windowMilliseconds: Int64
    /// One request in this many has its key sampled.
    static let sampleEvery = 8
    static let sampledKeysMax = 1024

    private(set) var current = [UInt32](repeating: 0, count: HashSlot.count)
    private(set) var previous = [UInt32](repeating: 0, count: HashSlot.count)
    /// Keyed by `Key`, which hashes its bytes in one call and holds a short key inline
    /// (`Bytes` as a key is hashed a byte at a time).
    private(set) var sampledKeys: [Key: UInt32] = [:]
    private(set) var previousKeys: [Key: UInt32] = [:]
    private var windowStart: Int64 = 0
    private var previousLength: Int64
    private var sampler: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(windowMilliseconds: Int64 = defaultWindowMilliseconds) {
        precondition(windowMilliseconds > 0, "a load window has a length")
        self.windowMilliseconds = windowMilliseconds
        previousLength = windowMilliseconds
    }

    /// Counts one request on `slot`, sampling `key`.
    mutating func record(slot: HashSlot, key: Bytes) {
        let index = Int(slot.rawValue)
        current[index] = current[index] &+ 1
        // xorshift: sampling by a counter would alias with periodic workloads.
        sampler ^= sampler << 13
        sampler ^= sampler >> 7
        sampler ^= sampler << 17
        guard sampler % UInt64(Self.sampleEvery) == 0 else { return }
        let key = Key(key)
        if let index = sampledKeys.index(forKey: key) {
            sampledKeys.values[index] &+= 1  // one hash of the key, not two
            return
        }
        if sampledKeys.count >= Self.sampledKeysMax {
            // Full: halve every count and forget those that reach zero (amortized O(1) per
            // sample; keys seen once go, hot keys stay near the top).
            sampledKeys = sampledKeys.compactMapValues { $0 / 2 == 0 ? nil : $0 / 2 }
            if sampledKeys.count >= Self.sampledKeysMax { return }
            // Room for the keys to come: growing from a handful again would rehash them
            // at every doubling.
            sampledKeys.reserveCapacity(Self.sampledKeysMax)
        }
        sampledKeys[key] = 1
    }

    /// Closes the window once it is over.
    mutating func roll(now: Int64) {
        if windowStart == 0 { windowStart = now }
        guard now - windowStart >= windowMilliseconds else { return }
        previousLength = max(1, now - windowStart)
        previous = current
        current = [UInt32](repeating: 0, count: HashSlot.count)
        previousKeys = sampledKeys
        sampledKeys = Dictionary(minimumCapacity: Self.sampledKeysMax)
        windowStart = now
    }

    /// Requests per second on `slots` over the last window.
    func rate(of slots: [SlotRange]) -> Double {
        var total: UInt64 = 0
        for range in slots { for slot in range.first...range.last { total += UInt64(previous[Int(slot)]) } }
        return Double(total) * 1000 / Double(previousLength)
    }

    /// The `count` busiest slots of the last window, with their requests per second.
    func hottestSlots(_ count: Int) -> [(slot: UInt16, rate: Double)] {
        var busy: [(slot: UInt16, requests: UInt32)] = []
        for (index, requests) in previous.enumerated() where requests > 0 { busy.append((UInt16(index), requests)) }
        busy.sort { $0.requests > $1.requests || ($0.requests == $1.requests && $0.slot < $1.slot) }
        let seconds = Double(previousLength) / 1000
        return busy.prefix(count).map { ($0.slot, Double($0.requests) / seconds) }
    }

    /// The `count` most sampled keys of the last window, with estimated requests per second.
    func hottestKeys(_ count: Int) -> [(key: Bytes, rate: Double)] {
        let ranked = previousKeys.map { (key: $0.key.bytes, count: $0.value) }
            .sorted { $0.count > $1.count || ($0.count == $1.count && $0.key.lexicographicallyPrecedes($1.key)) }
        let seconds = Double(previousLength) / 1000
        let scale = Double(Self.sampleEvery)
        return ranked.prefix(count).map { (key: $0.key, rate: Double($0.count) * scale / seconds) }
    }
}
