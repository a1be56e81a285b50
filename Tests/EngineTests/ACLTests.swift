// ACL users (issue 13): rules, checks, descriptions and the adoption of a cluster
// directory's users, on the engine alone.
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct ACLTests {
    static func bytes(_ words: String) -> [Bytes] { words.split(separator: " ").map { Array($0.utf8) } }

    /// Why `user` may not run the request `line` under `acl` (nil: it may).
    static func denial(_ acl: AccessControl, _ user: String, _ line: String) -> AccessControl.Denial? {
        let arguments = bytes(line)
        return acl.denial(user: user, spec: CommandTable.lookup(arguments[0])!, arguments: arguments)
    }

    @Test func rulesBuildTheUserRedisDescribes() throws {
        var acl = AccessControl()
        try acl.setUser("alice", rules: Self.bytes("on >pw ~app:* %R~ro:* &chan -@all +@read +set -keys"))
        let alice = try #require(acl.users["alice"])
        #expect(alice.description == "user alice on #\(ACLUser.hash(Array("pw".utf8))) ~app:* %R~ro:* resetchannels &chan -@all +@read +set -keys")
        #expect(alice.checkPassword(Array("pw".utf8)) && !alice.checkPassword(Array("px".utf8)))
        #expect(acl.users["default"]?.description == "user default on nopass ~* &* +@all")
        try acl.setUser("bob", rules: [])
        #expect(acl.users["bob"]?.description == "user bob off resetchannels -@all")
    }

    @Test func checksFollowCommandsKeysAndChannels() throws {
        var acl = AccessControl()
        try acl.setUser("u", rules: Self.bytes("on nopass ~app:* %R~ro:* %W~wo:* &news.* +@all -@dangerous +info -config|set"))
        func denial(_ line: String) -> AccessControl.Denial? { Self.denial(acl, "u", line) }
        #expect(denial("GET app:1") == nil)
        #expect(denial("GET ro:1") == nil)
        #expect(denial("SET ro:1 x") != nil)
        #expect(denial("SET wo:1 x") == nil)
        #expect(denial("GET wo:1") != nil)
        #expect(denial("MGET app:1 other") != nil)
        #expect(denial("KEYS *") != nil)           // @dangerous
        #expect(denial("INFO") == nil)             // re-allowed by name after the category
        #expect(denial("CONFIG GET hz") != nil)   // @admin and @dangerous in Redis too
        #expect(denial("CONFIG SET hz 10") != nil) // one subcommand denied
        #expect(denial("PUBLISH news.today x") == nil)
        #expect(denial("PUBLISH gossip x") != nil)
        #expect(denial("FLUSHALL") != nil)
        if case .command(let name)? = denial("CONFIG SET hz 10") { #expect(name == "config|set") } else { Issue.record("not a command denial") }
    }

    /// Unrestricted users skip the checks: that shortcut must follow every change of a user
    /// (a rule that narrows the default user applies to the very next request).
    @Test func theUnrestrictedShortcutFollowsRuleChanges() throws {
        var acl = AccessControl()
        let get = Self.bytes("GET k"), publish = Self.bytes("PUBLISH news hi")
        func denial(_ user: String, _ arguments: [[UInt8]]) -> String? {
            switch acl.denial(user: user, spec: CommandTable.lookup(arguments[0])!, arguments: arguments) {
            case nil: return nil
            case .command(let name)?: return "command " + name
            case .key(let key)?: return "key " + String(decoding: key, as: UTF8.self)
            case .channel(let channel)?: return "channel " + String(decoding: channel, as: UTF8.self)
            }
        }
        #expect(denial("default", get) == nil)
        try acl.setUser("default", rules: Self.bytes("-get"))
        #expect(denial("default", get) == "command get")
        try acl.setUser("default", rules: Self.bytes("+@all resetkeys ~app:*"))
        #expect(denial("default", get) == "key k")
        try acl.setUser("default", rules: Self.bytes("~* resetchannels"))
        #expect(denial("default", get) == nil)
        #expect(denial("default", publish) == "channel news")
        try acl.setUser("open", rules: Self.bytes("on nopass +@all ~* &*"))
        #expect(denial("open", publish) == nil)
        acl.adopt([:])  // the directory's users replace these: "open" is gone
        #expect(denial("open", get) == "command get")
    }

    @Test func badRulesAreRefusedWithRedisTexts() {
        var acl = AccessControl()
        for (rule, reason) in [("bogus", "Syntax error"), ("+nosuch", "Unknown command or category name in ACL"),
                               ("+@nosuch", "Unknown command or category name in ACL"), ("%X~a", "Syntax error"),
                               ("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
                               ("<never", "The password you are trying to remove from the user does not exist"),
                               ("+config|get|appendonly", "Allowing first-arg of a subcommand is not supported"),
                               ("+config|asdf", "Unknown command or category name in ACL"),
                               ("-config|asdf", "Unknown command or category name in ACL"),
                               ("+get|key1|key2", "Unknown command or category name in ACL"),
                               ("-select|0", "Unknown command or category name in ACL"),
                               ("+select|", "Syntax error")] {
            #expect(throws: CommandError.self) { try acl.setUser("x", rules: [Array(rule.utf8)]) }
            do { try acl.setUser("x", rules: [Array(rule.utf8)]) } catch {
                #expect(error.reply == .error("ERR Error in ACL SETUSER modifier '\(rule)': \(reason)"))
            }
        }
        #expect(throws: CommandError.self) { try acl.setUser("x", rules: Self.bytes("~* ~a")) }
        #expect(throws: CommandError.self) { _ = try acl.deleteUsers(["default"]) }
    }

    /// Redis's first-argument rules: `+select|0` lets an otherwise denied SELECT run with
    /// that first argument only, and a later rule for the whole command replaces it.
    @Test func firstArgumentRulesAllowOneArgument() throws {
        var acl = AccessControl()
        try acl.setUser("u", rules: Self.bytes("on nopass ~* -@all +acl +select|0"))
        func denial(_ line: String) -> AccessControl.Denial? { Self.denial(acl, "u", line) }
        #expect(acl.users["u"]?.commandsDescription == "-@all +acl +select|0")
        #expect(denial("SELECT 0") == nil)
        #expect(denial("SELECT 1") != nil)
        try acl.setUser("u", rules: Self.bytes("-select"))
        #expect(acl.users["u"]?.commandsDescription == "-@all +acl -select")
        #expect(denial("SELECT 0") != nil)
        #expect(throws: CommandError.self) { try acl.setUser("a a", rules: []) }
    }

    @Test func adoptingDirectoryLinesReplacesUsersAndNeverWidensOnGarbage() throws {
        var acl = AccessControl()
        try acl.setUser("local", rules: Self.bytes("on nopass +@all ~*"))
        let line = try acl.line(of: "alice", afterApplying: Self.bytes("on >pw ~app:* +get"))
        #expect(acl.users["alice"] == nil)  // computing a line changes nothing
        acl.adopt(["alice": line, "mallory": "user mallory on nopass +@all ~* garbage!"])
        #expect(acl.users["local"] == nil)
        #expect(acl.users["alice"]?.description == line)
        #expect(acl.users["mallory"]?.enabled == false && acl.users["mallory"]?.commandRules.isEmpty == true)
        #expect(acl.users["default"] != nil)
    }

    @Test func categoriesComeFromTheCommandTable() {
        #expect(ACLCategories.commands(in: "read").contains("get"))
        #expect(!ACLCategories.commands(in: "read").contains("set"))
        #expect(ACLCategories.commands(in: "write").contains("set"))
        #expect(ACLCategories.commands(in: "dangerous").contains("flushall"))
        #expect(ACLCategories.commands(in: "list").contains("lpush"))
        #expect(ACLCategories.commands(in: "sortedset").contains("zadd"))
        #expect(ACLCategories.commands(in: "geo") == ["geoadd", "geodist", "geohash", "geopos", "georadius", "georadius_ro",
                                                      "georadiusbymember", "georadiusbymember_ro", "geosearch", "geosearchstore"])
        #expect(!ACLCategories.commands(in: "sortedset").contains("geoadd"))
        #expect(ACLCategories.commands(in: "hyperloglog") == ["pfadd", "pfcount", "pfdebug", "pfmerge", "pfselftest"])
        for category in ACLCategories.all where category != "geo" && category != "hyperloglog" {
            #expect(!ACLCategories.commands(in: category).isEmpty, "\(category)")
        }
    }
}
