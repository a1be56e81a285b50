// LATENCY: Redis's latency monitor. When `latency-monitor-threshold` is above 0, a request
// that took at least that many milliseconds is recorded as a `command` event (a `fast-
// command` one for commands flagged fast), one sample per second (the largest), the last
// `samplesMax` seconds kept per event. Trestle has no other event sources (no fork, no
// AOF rewrite, no eviction). LATENCY HISTOGRAM is answered from CommandStats.
import Core
import Wire

struct LatencyMonitor {
    struct Sample {
        var unixSeconds: Int64
        var milliseconds: Int64
    }

    struct Event {
        var samples: [Sample] = []  // oldest first
        var maxMilliseconds: Int64 = 0
    }

    /// Samples kept per event (Redis's LATENCY_TS_LEN).
    static let samplesMax = 160

    private(set) var events: [String: Event] = [:]

    mutating func record(_ event: String, milliseconds: Int64, unixSeconds: Int64) {
        var entry = events[event] ?? Event()
        if let last = entry.samples.last, last.unixSeconds == unixSeconds {
            entry.samples[entry.samples.count - 1].milliseconds = max(last.milliseconds, milliseconds)
        } else {
            entry.samples.append(Sample(unixSeconds: unixSeconds, milliseconds: milliseconds))
            if entry.samples.count > Self.samplesMax { entry.samples.removeFirst(entry.samples.count - Self.samplesMax) }
        }
        entry.maxMilliseconds = max(entry.maxMilliseconds, milliseconds)
        events[event] = entry
    }

    /// Forgets `names` (every event when empty); returns how many were known.
    mutating func reset(_ names: [String]) -> Int {
        if names.isEmpty {
            defer { events.removeAll() }
            return events.count
        }
        return Set(names).reduce(0) { $0 + (events.removeValue(forKey: $1) == nil ? 0 : 1) }
    }

    /// LATENCY LATEST: [event, time of the latest sample, its ms, all-time max ms] each.
    var latest: RESPValue {
        .array(events.keys.sorted().compactMap { name in
            guard let event = events[name], let last = event.samples.last else { return nil }
            return .array([.bulk(name), .integer(last.unixSeconds), .integer(last.milliseconds), .integer(event.maxMilliseconds)])
        })
    }

    /// LATENCY HISTORY: [time, ms] per sample of `name`, oldest first.
    func history(_ name: String) -> RESPValue {
        .array((events[name]?.samples ?? []).map { .array([.integer($0.unixSeconds), .integer($0.milliseconds)]) })
    }

    /// LATENCY GRAPH: the samples of `name` as rows of text, or nil for an unknown event.
    func graph(_ name: String) -> String? {
        guard let event = events[name], !event.samples.isEmpty else { return nil }
        let low = event.samples.map(\.milliseconds).min() ?? 0
        var text = "\(name) - high \(event.maxMilliseconds) ms, low \(low) ms (all time high \(event.maxMilliseconds) ms)\n"
        text += String(repeating: "-", count: 80) + "\n"
        let now = event.samples.last?.unixSeconds ?? 0
        for sample in event.samples.suffix(40) {
            let width = event.maxMilliseconds > 0 ? Int(sample.milliseconds * 60 / event.maxMilliseconds) : 0
            text += "\(String(repeating: "#", count: max(1, width))) \(sample.milliseconds) ms, \(now - sample.unixSeconds) s ago\n"
        }
        return text
    }

    /// LATENCY DOCTOR's report.
    func doctor(threshold: Int) -> String {
        guard threshold > 0 else {
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Trestle instance. "
                + "You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it.\n"
        }
        guard !events.isEmpty else {
            return "Dave, no latency spike was observed during the lifetime of this Trestle instance, not in the slightest bit. "
                + "I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
        }
        var text = "Dave, I have observed latency spikes in this Trestle instance. You don't mind talking about it, do you Dave?\n\n"
        for (number, name) in events.keys.sorted().enumerated() {
            guard let event = events[name] else { continue }
            let total = event.samples.reduce(Int64(0)) { $0 + $1.milliseconds }
            let average = event.samples.isEmpty ? 0 : total / Int64(event.samples.count)
            text += "\(number + 1). \(name): \(event.samples.count) latency spikes (average \(average)ms, "
                + "worst \(event.maxMilliseconds)ms).\n"
        }
        text += "\nA request's time here runs from its start to its reply: a write's includes its replication and fsync.\n"
        return text
    }
}
