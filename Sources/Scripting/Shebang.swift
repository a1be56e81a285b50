// Redis 7's script shebang: a first line `#!lua` with an optional `flags=a,b,...` declares
// what an EVAL script may do (no-writes, allow-oom, allow-stale, no-cluster,
// allow-cross-slot-keys). A script with a shebang is judged by its flags; one without keeps
// Redis's older rules. Lua never sees the line (its newline stays, so line numbers hold).

public struct Shebang: Equatable, Sendable {
    public var flags: Set<String>

    public static let knownFlags: Set<String> = ["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]

    /// The shebang of `body`, nil when it has none, or Redis's error text for a bad one.
    public static func parse(_ body: [UInt8]) -> Result<Shebang?, ShebangError> {
        guard body.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "!")]) else { return .success(nil) }
        let line = body.prefix { $0 != UInt8(ascii: "\n") }.dropFirst(2)
        let words = String(decoding: line, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
        guard let engine = words.first, engine == "lua" else {
            return .failure(ShebangError(message: "ERR Unexpected engine in script shebang: #!\(words.first.map(String.init) ?? "")"))
        }
        var flags: Set<String> = []
        for option in words.dropFirst() {
            guard option.hasPrefix("flags=") else {
                return .failure(ShebangError(message: "ERR Unknown lua shebang option: \(option)"))
            }
            for flag in option.dropFirst("flags=".count).split(separator: ",", omittingEmptySubsequences: true) {
                guard knownFlags.contains(String(flag)) else {
                    return .failure(ShebangError(message: "ERR Unexpected flag in script shebang: \(flag)"))
                }
                flags.insert(String(flag))
            }
        }
        return .success(Shebang(flags: flags))
    }

    /// What Lua compiles: the body without its shebang line (the newline kept).
    public static func chunk(_ body: [UInt8]) -> ArraySlice<UInt8> {
        guard body.starts(with: [UInt8(ascii: "#"), UInt8(ascii: "!")]) else { return body[...] }
        return body[(body.firstIndex(of: UInt8(ascii: "\n")) ?? body.endIndex)...]
    }
}

public struct ShebangError: Error, Equatable, Sendable {
    public var message: String
}
