// Redis's protected mode: with no password for the default user, only clients on the
// loopback interface may connect; others get one explanatory error and are disconnected.

public enum ProtectedMode {
    /// The reply Redis sends before closing a refused connection.
    public static let deniedMessage =
        "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. "
        + "In this mode connections are only accepted from the loopback interface. "
        + "If you want to connect from external computers to Redis you may adopt one of the following solutions: "
        + "1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface "
        + "by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible "
        + "from internet if you do so. Use CONFIG REWRITE to make this change permanent. "
        + "2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the "
        + "protected mode option to 'no', and then restarting the server. "
        + "3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. "
        + "4) Set up an authentication password for the default user. "
        + "NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside."

    /// True if a client at `address` ("ip:port", "[ip]:port" or a bare ip) must be refused
    /// under `settings`.
    public static func refuses(_ address: String, settings: Settings) -> Bool {
        settings.protectedMode && settings.requirePassword.isEmpty && !isLoopback(address)
    }

    /// 127.0.0.0/8, ::1 and IPv4-mapped loopback; an address that cannot be read (a Unix
    /// socket, an unknown peer) counts as local, as Redis treats Unix sockets.
    public static func isLoopback(_ address: String) -> Bool {
        var host = Substring(address)
        if host.hasPrefix("[") , let close = host.firstIndex(of: "]") {
            host = host[host.index(after: host.startIndex)..<close]
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        let lowered = host.lowercased()
        if lowered == "?" || lowered.isEmpty { return true }
        if lowered == "::1" || lowered == "0:0:0:0:0:0:0:1" { return true }
        if lowered.hasPrefix("::ffff:") { return lowered.dropFirst(7).hasPrefix("127.") }
        return lowered.hasPrefix("127.")
    }
}
