// Per-command and per-error counters of the requests this node's clients sent, as Redis's
// INFO commandstats and errorstats show them, and as the admin port's
// trestle_commands_total and trestle_command_errors_total.
//
// Differences from Redis (README): `usec` is measured on the node's millisecond clock
// from arrival to reply (Redis: execution time in microseconds), and commands inside
// MULTI count as EXEC.
import Foundation
import Wire

struct CommandStats {
    struct Counts {
        var calls = 0
        var milliseconds: Int64 = 0
        var rejected = 0
        var failed = 0

        /// A rejected call counts only as rejected (Redis's rejected_calls); a failed one
        /// as a call and a failure.
        mutating func add(rejected wasRejected: Bool, failed wasFailed: Bool, milliseconds elapsed: Int64) {
            if wasRejected { rejected += 1 } else { calls += 1 }
            if wasFailed { failed += 1 }
            milliseconds += elapsed
        }
    }

    /// Most distinct error codes counted (Redis's errorstats bound); later new codes are
    /// not counted by code, only in total.
    static let errorCodesMax = 128

    private(set) var commands: [String: Counts] = [:]
    private(set) var errors: [String: Int] = [:]

    /// Errors Redis gives before a command runs (its rejected_calls).
    static let rejectionPrefixes = ["ERR wrong number of arguments", "NOAUTH", "NOPERM", "MOVED", "ASK ", "CROSSSLOT",
                                    "CLUSTERDOWN", "TRYAGAIN", "LOADING", "READONLY", "BUSY", "MISCONF", "OOM", "EXECABORT"]

    /// Counts one answered request of `command` (nil: not a known command).
    mutating func record(_ command: String?, reply: RESPValue, milliseconds: Int64) {
        var code: String?
        if case .error(let text) = reply { code = String(text.prefix { $0 != " " }) }
        if let code, errors[code] != nil || errors.count < Self.errorCodesMax { errors[code, default: 0] += 1 }
        guard let command else { return }
        var rejected = false
        if let code, case .error(let text) = reply {
            rejected = Self.rejectionPrefixes.contains(where: { text.hasPrefix($0) }) || code == "ASK"
        }
        let failed = code != nil && !rejected
        // One hash of the name per request: the counts are updated in place.
        commands[command, default: Counts()].add(rejected: rejected, failed: failed, milliseconds: max(0, milliseconds))
    }

    /// INFO commandstats: `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..`.
    var commandFields: [(String, String)] {
        commands.keys.sorted().map { name in
            let counts = commands[name]!  // `name` is one of the dictionary's own keys
            let usec = counts.milliseconds * 1000
            let perCall = counts.calls > 0 ? Double(usec) / Double(counts.calls) : 0
            return ("cmdstat_\(name)", "calls=\(counts.calls),usec=\(usec),usec_per_call=\(String(format: "%.2f", perCall)),"
                        + "rejected_calls=\(counts.rejected),failed_calls=\(counts.failed)")
        }
    }

    /// INFO errorstats: `errorstat_<CODE>:count=..`.
    var errorFields: [(String, String)] {
        errors.keys.sorted().map { ("errorstat_\($0)", "count=\(errors[$0]!)") }
    }
}
