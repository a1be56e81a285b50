// Redis's ACL command categories (`+@read`, `-@dangerous`), derived from each command's
// flags and group in the command table, with Redis's fixed list of dangerous commands.
import Keyspace
import Wire

public enum ACLCategories {
    /// Every category name, in Redis's `ACL CAT` order.
    public static let all = [
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
        "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
        "transaction", "scripting",
    ]

    /// Commands Redis marks dangerous besides every `admin` one. (CLUSTER and CLIENT are
    /// not: cluster clients need CLUSTER SLOTS, and every client CLIENT SETINFO; their
    /// dangerous subcommands are refused to non-admin users by other means or absent.)
    static let dangerousCommands: Set<String> = [
        "keys", "flushall", "flushdb", "sort", "sort_ro", "info", "config", "monitor",
        "lastsave", "bgsave", "bgrewriteaof", "save", "restore", "role", "trestle", "slowlog", "latency",
    ]

    static let groupCategory = [
        "generic": "keyspace", "string": "string", "hash": "hash", "list": "list", "set": "set",
        "sorted_set": "sortedset", "stream": "stream", "bitmap": "bitmap", "pubsub": "pubsub",
        "connection": "connection", "transactions": "transaction", "scripting": "scripting",
        "hyperloglog": "hyperloglog", "geo": "geo",
    ]

    /// The categories of one command (a top-level spec; subcommands take their parent's).
    public static func of(_ spec: CommandSpec) -> Set<String> {
        var categories: Set<String> = []
        if let category = groupCategory[spec.group] { categories.insert(category) }
        let flags = Set(spec.flags)
        if flags.contains("readonly") && !flags.contains("admin") && spec.group != "connection" && spec.group != "server" {
            categories.insert("read")
        }
        if flags.contains("write") { categories.insert("write") }
        if flags.contains("admin") { categories.formUnion(["admin", "dangerous"]) }
        if flags.contains("pubsub") { categories.insert("pubsub") }
        if flags.contains("blocking") { categories.insert("blocking") }
        categories.insert(flags.contains("fast") ? "fast" : "slow")
        if dangerousCommands.contains(spec.name) { categories.insert("dangerous") }
        if spec.group == "bitmap" { categories.insert("bitmap") }
        return categories
    }

    /// Command names in `category`, sorted: a container's subcommands by their own
    /// categories (`function|list`), as Redis's ACL CAT lists them, other commands by name.
    public static func commands(in category: String) -> [String] {
        CommandTable.all.flatMap { spec in
            spec.subcommands.isEmpty ? (of(spec).contains(category) ? [spec.name] : [])
                : spec.subcommands.filter { of($0).contains(category) }.map(\.name)
        }.sorted()
    }
}
