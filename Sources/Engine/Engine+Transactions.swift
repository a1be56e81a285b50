// MULTI / EXEC / DISCARD / WATCH / UNWATCH. EXEC runs the queued commands back to back
// (nothing else runs on the loop in between),
// so a transaction is atomic on disk too.
import Keyspace
import Wire

extension Engine {
    func runTransactionCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> Outcome {
        switch id {
        case .multi:
            guard session.queued == nil else { throw .message("ERR MULTI calls can not be nested") }
            session.queued = []
            session.transactionFailed = false
            return Outcome(reply: .ok)
        case .discard:
            guard session.queued != nil else { throw .message("ERR DISCARD without MULTI") }
            endTransaction(session)
            return Outcome(reply: .ok)
        case .watch:
            guard session.queued == nil else { throw .message("ERR WATCH inside MULTI is not allowed") }
            for key in arguments.dropFirst() where session.watched[key] == nil {
                session.watched[key] = .some(keyspace.peek(key, now: now)?.expireAt)
                watchers[key, default: []].insert(session.id)
                keyspace.watchedKeys.insert(key)
            }
            return Outcome(reply: .ok)
        case .unwatch:
            unwatchAll(session)
            return Outcome(reply: .ok)
        default:
            throw .syntax
        }
    }

    func executeTransaction(_ session: Session, now: Int64) -> Outcome {
        guard let queued = session.queued else {
            stats.errorReplies += 1
            return Outcome(reply: .error("ERR EXEC without MULTI"))
        }
        defer { endTransaction(session) }
        if session.transactionFailed {
            return Outcome(reply: .error("EXECABORT Transaction discarded because of previous errors."))
        }
        if session.watchDirty || watchedKeyExpired(session, now: now) { return Outcome(reply: .nullArray) }
        var replies: [RESPValue] = []
        var close = false
        for command in queued {
            guard let spec = CommandTable.lookup(command[0]), let id = spec.id else { continue }
            do {
                let outcome = try run(id, command, session, now: now)
                replies.append(outcome.reply)
                close = close || outcome.close
            } catch {
                stats.errorReplies += 1
                replies.append(error.reply)
            }
        }
        noteTouchedWatchedKeys()
        return Outcome(reply: .array(replies), close: close)
    }

    private func watchedKeyExpired(_ session: Session, now: Int64) -> Bool {
        for (key, expireAt) in session.watched {
            if let expireAt, expireAt <= now, keyspace.peek(key, now: now) == nil { return true }
        }
        return false
    }

    func endTransaction(_ session: Session) {
        session.queued = nil
        session.transactionFailed = false
        unwatchAll(session)
    }

    func unwatchAll(_ session: Session) {
        for key in session.watched.keys {
            watchers[key]?.remove(session.id)
            if watchers[key]?.isEmpty == true {
                watchers.removeValue(forKey: key)
                keyspace.watchedKeys.remove(key)
            }
        }
        session.watched.removeAll()
        session.watchDirty = false
    }

    /// Marks every session watching a key that changed.
    func noteTouchedWatchedKeys() {
        guard !keyspace.touchedWatched.isEmpty else { return }
        for key in keyspace.touchedWatched {
            for id in watchers[key] ?? [] { sessions[id]?.watchDirty = true }
        }
        keyspace.touchedWatched.removeAll()
    }
}
