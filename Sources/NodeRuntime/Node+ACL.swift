// ACL users in a cluster: ACL SETUSER and DELUSER change the cluster directory (forwarded
// to its leader and answered once committed), so every node enforces the same users and
// they survive restarts with the directory's log. A standalone server keeps its users in
// its engine, as Redis does.
import Cluster
import Core
import Engine
import Keyspace
import Wire

extension Node {
    /// Handles ACL SETUSER/DELUSER on a cluster node; returns false for anything else (the
    /// front engine answers it).
    func replicateACLChange(_ arguments: [Bytes], session: Session, forwarded: Bool, reply: @escaping ReplySink) -> Bool {
        let sub = String(decoding: arguments[1], as: UTF8.self).lowercased()
        if configuration.aclFile != nil, arguments.count == 2, sub == "load" || sub == "save" {
            do throws(CommandError) {
                try sub == "load" ? loadACLFile() : saveACLFile()
                reply(.ok)
            } catch {
                reply(error.reply)
            }
            return true
        }
        guard !configuration.standalone, !session.inTransaction, arguments.count >= 3 else { return false }
        let name = String(decoding: arguments[2], as: UTF8.self)
        switch sub {
        case "setuser":
            viaDirectoryLeader(arguments, forwarded: forwarded, reply: reply) { node in
                do throws(CommandError) {
                    let line = try node.front.acl.line(of: name, afterApplying: Array(arguments.dropFirst(3)))
                    node.proposeDirectory(.putACLUser(name: name, line: line), reply: reply)
                } catch {
                    reply(error.reply)
                }
            }
            return true
        case "deluser":
            let names = arguments.dropFirst(2).map { String(decoding: $0, as: UTF8.self) }
            viaDirectoryLeader(arguments, forwarded: forwarded, reply: reply) { node in
                guard !names.contains("default") else { return reply(.error("ERR The 'default' user cannot be removed")) }
                let existing = Set(names).filter { node.front.acl.users[$0] != nil }.count
                node.proposeDirectory(.deleteACLUsers(names), reply: { value in
                    reply(value == .ok ? .integer(existing) : value)
                })
            }
            return true
        default:
            return false
        }
    }

    /// Replaces the users with those of `--aclfile`; on any error the users stay as they were.
    func loadACLFile() throws(CommandError) {
        guard let path = configuration.aclFile else { return }
        let bytes: [UInt8]
        do { bytes = try disk.readAll(path) } catch {
            throw .message("ERR Error loading ACLs, opening file '\(path)': \(error)")
        }
        try front.loadACLFile(String(decoding: bytes, as: UTF8.self), path: path)
        logger.info("ACL users loaded", metadata: ["file": "\(path)", "users": "\(front.acl.users.count)"])
    }

    /// Writes every user to `--aclfile` (a new file renamed over the old one, fsynced).
    func saveACLFile() throws(CommandError) {
        guard let path = configuration.aclFile else { return }
        let text = front.acl.users.keys.sorted().compactMap { front.acl.users[$0]?.description }.joined(separator: "\n") + "\n"
        do {
            try disk.replaceFile(path, with: Array(text.utf8))
        } catch {
            throw .message("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
        }
    }

    /// After the users changed (ACL SETUSER, DELUSER, LOAD, a cluster's directory), as
    /// Redis: closes the clients of users that are gone, and the subscribers whose user
    /// may no longer subscribe to one of their channels, shard channels or patterns (a
    /// pattern must still be allowed literally). A client that made the change gets its
    /// reply first. Other changes (passwords, commands, keys) close nothing.
    func closeClientsDeniedByACL() {
        aclRevisionSeen = front.acl.revision
        let users = front.acl.users
        var denied: [ClientID] = []
        for (id, client) in clients where !client.closed {
            let session = client.session
            guard let name = session.user else { continue }
            guard let user = users[name] else {
                denied.append(id)
                continue
            }
            guard session.isSubscribed else { continue }
            let allowed = session.channels.allSatisfy { user.allowsChannel($0, isPattern: false) }
                && session.shardChannels.allSatisfy { user.allowsChannel($0, isPattern: false) }
                && session.patterns.allSatisfy { user.allowsChannel($0, isPattern: true) }
            if !allowed { denied.append(id) }
        }
        guard !denied.isEmpty else { return }
        logger.info("closing clients the changed ACL users no longer allow", metadata: ["clients": "\(denied.count)"])
        kill(denied.sorted())
    }

    /// After the map changed: enforce its ACL users (this node's `default` user, with its
    /// --requirepass, unless the directory holds one).
    func adoptACLUsers(_ map: ClusterMap) {
        guard !configuration.standalone else { return }  // a standalone server's users are its own
        front.adoptACLUsers(map.aclUsers)
    }
}

/// Why a node could not start (a configuration it was given does not load).
public struct NodeStartFailure: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
