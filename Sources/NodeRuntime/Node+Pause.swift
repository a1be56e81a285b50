// CLIENT PAUSE timeout [WRITE|ALL] and CLIENT UNPAUSE (Redis 6.2+): until the pause ends,
// this node's clients' requests wait where they are (in arrival order, nothing lost) —
// every request under ALL, under WRITE only those that may change data (writes, commands
// flagged may_replicate such as EVAL and PUBLISH, EXEC of a transaction holding one). A
// request with the wrong arity is still answered at once. Leaders reclaim no expired keys
// meanwhile. Requests forwarded by other nodes are not paused (as Redis never pauses its
// replicas' traffic).
import Core
import Engine
import Keyspace
import Scripting
import Wire

struct ClientPause {
    /// When the pause ends, on the node's wall clock (milliseconds).
    var until: Int64
    var writesOnly: Bool
}

extension Node {
    /// CLIENT PAUSE / UNPAUSE. Returns nil when `arguments` is not one of them (or has the
    /// wrong arity, which the front engine answers).
    func clientPauseCommand(_ arguments: [Bytes]) -> RESPValue? {
        let sub = String(decoding: arguments[1], as: UTF8.self).lowercased()
        switch (sub, arguments.count) {
        case ("unpause", 2):
            endClientPause()
            return .ok
        case ("pause", 3), ("pause", 4):
            guard let timeout = Int64(String(decoding: arguments[2], as: UTF8.self)) else {
                return .error("ERR timeout is not an integer or out of range")
            }
            guard timeout >= 0 else { return .error("ERR timeout is negative") }
            var writesOnly = false
            if arguments.count == 4 {
                switch String(decoding: arguments[3], as: UTF8.self).lowercased() {
                case "write": writesOnly = true
                case "all": writesOnly = false
                default: return .error("ERR CLIENT PAUSE mode must be WRITE or ALL")
                }
            }
            let (end, overflow) = now().addingReportingOverflow(timeout)
            let until = overflow ? Int64.max : end
            // As Redis: a second pause keeps the later end and the stricter kind.
            if let current = clientPause {
                clientPause = ClientPause(until: max(current.until, until), writesOnly: current.writesOnly && writesOnly)
            } else {
                clientPause = ClientPause(until: until, writesOnly: writesOnly)
            }
            return .ok
        default:
            return nil
        }
    }

    /// Whether a request must wait for the pause to end.
    func pausePostpones(_ request: [Bytes], spec: CommandSpec?, session: Session) -> Bool {
        guard let pause = clientPause, let spec, spec.accepts(argumentCount: request.count) else { return false }
        guard pause.writesOnly else { return true }
        if spec.id == .exec, let queued = session.queuedCommands {
            return queued.contains { command in
                command.first.flatMap(CommandTable.lookup).map { mayChangeData($0, command) } ?? false
            }
        }
        return mayChangeData(spec, request)
    }

    /// `mayChangeData(spec)`, with scripts judged as Redis does under CLIENT PAUSE WRITE:
    /// the `_RO` commands, a script whose shebang says `no-writes` (sent with EVAL, or
    /// cached and called by EVALSHA) and FCALL of a `no-writes` function only read.
    private func mayChangeData(_ spec: CommandSpec, _ arguments: [Bytes]) -> Bool {
        guard let id = spec.id, Engine.scriptRuns.contains(id) else { return Self.mayChangeData(spec) }
        switch id {
        case .eval_ro, .evalsha_ro, .fcall_ro:
            return false
        case .fcall:
            return arguments.count < 2 || !front.functionIsReadOnly(arguments[1])
        default:
            guard arguments.count >= 2 else { return true }
            let sha = String(decoding: arguments[1], as: UTF8.self).lowercased()
            let body = id == .eval ? arguments[1]
                : front.scriptBody(sha: sha) ?? replicas.values.lazy.compactMap { $0.data?.engine.scriptBody(sha: sha) }.first
            guard let body, case .success(let shebang?) = Shebang.parse(body) else { return true }
            return !shebang.flags.contains("no-writes")
        }
    }

    /// Writes and Redis's may_replicate commands (`isWrite` covers the flag; PUBLISH,
    /// SPUBLISH and PFCOUNT carry it in Redis but not in Trestle's table, where it would
    /// route them as writes).
    static func mayChangeData(_ spec: CommandSpec) -> Bool {
        spec.isWrite || spec.id == .publish || spec.id == .spublish || spec.id == .pfcount
    }

    /// Ends the pause (at its time, or on CLIENT UNPAUSE) and starts what waited.
    func endClientPause() {
        clientPause = nil
        let waiting = pausedClients.sorted()
        pausedClients.removeAll()
        for id in waiting { resumeClient(id) }
    }

    /// Called on the timer: ends a pause whose time is up.
    func checkClientPause() {
        if let pause = clientPause, now() >= pause.until { endClientPause() }
    }
}
