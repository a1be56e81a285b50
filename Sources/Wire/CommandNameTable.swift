// The command table's index by name: looked up once per request, so it avoids SipHash.

/// Linear probing in a power-of-two table at most a quarter full. Buckets are compared
/// in place, by hash first (a copy of a bucket would retain its name and spec).
struct CommandNameTable {
    /// Each bucket's folded hash, 0 for an empty bucket (a name hashing to 0 is stored as 1).
    let hashes: [UInt64]
    let names: [CommandName]
    let specs: [CommandSpec?]
    let mask: Int

    init(_ specs: [CommandSpec]) {
        var capacity = 16
        while capacity < specs.count * 4 { capacity *= 2 }
        var hashes = [UInt64](repeating: 0, count: capacity)
        var names = [CommandName](repeating: CommandName([]), count: capacity)
        var table = [CommandSpec?](repeating: nil, count: capacity)
        for spec in specs {
            let name = CommandName(Array(spec.name.utf8))
            let hash = Self.bucketHash(name)
            var index = Int(truncatingIfNeeded: hash) & (capacity - 1)
            while hashes[index] != 0 {
                precondition(names[index] != name, "command \(spec.name) listed twice")
                index = (index + 1) & (capacity - 1)
            }
            (hashes[index], names[index], table[index]) = (hash, name, spec)
        }
        (self.hashes, self.names, self.specs, mask) = (hashes, names, table, capacity - 1)
    }

    private static func bucketHash(_ name: CommandName) -> UInt64 { max(1, name.foldedHash) }

    func lookup(_ bytes: [UInt8]) -> CommandSpec? {
        let name = CommandName(bytes)
        let hash = Self.bucketHash(name)
        var index = Int(truncatingIfNeeded: hash) & mask
        while hashes[index] != 0 {
            if hashes[index] == hash, names[index] == name { return specs[index] }
            index = (index + 1) & mask
        }
        return nil
    }
}
