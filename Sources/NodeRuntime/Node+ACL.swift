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
        guard !configuration.standalone, !session.inTransaction, arguments.count >= 3 else { return false }
        let sub = String(decoding: arguments[1], as: UTF8.self).lowercased()
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

    /// After the map changed: enforce its ACL users (this node's `default` user, with its
    /// --requirepass, unless the directory holds one).
    func adoptACLUsers(_ map: ClusterMap) {
        front.adoptACLUsers(map.aclUsers)
    }
}
