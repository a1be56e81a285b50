// PFDEBUG's views of a HyperLogLog: its registers (converting a sparse value to dense, as
// Redis does), its sparse opcodes as text, its encoding, and an explicit conversion.

/// What PFDEBUG asks of a value.
public enum HyperLogLogDebugRequest: Sendable {
    /// GETREG: the 16384 registers; a sparse value is stored converted to dense.
    case registers
    /// DECODE: the sparse opcodes as Redis prints them (`z:len Z:len v:value,len`).
    case decode
    /// ENCODING: `dense` or `sparse`.
    case encoding
    /// TODENSE: converts a sparse value; answers whether it did.
    case toDense
}

/// PFDEBUG's answer.
public enum HyperLogLogDebugReply: Equatable, Sendable {
    case registers([UInt8])
    case text(String)
    /// DECODE of a dense value.
    case notSparse
    case encoding(String)
    case converted(Bool)
}

extension Keyspace {
    /// The HyperLogLog under `key` (nil if absent), checked as PFADD checks it.
    public mutating func hyperLogLogValue(_ key: Bytes, now: Int64) throws(KeyspaceError) -> HyperLogLog? {
        try hyperLogLog(key, now: now)
    }

    /// Answers `request` for the HyperLogLog under `key`; nil when the key is absent.
    public mutating func hyperLogLogDebug(_ key: Bytes, _ request: HyperLogLogDebugRequest, now: Int64) throws(KeyspaceError) -> HyperLogLogDebugReply? {
        guard var hll = try hyperLogLog(key, now: now) else { return nil }
        switch request {
        case .registers, .toDense:
            let wasSparse = hll.encoding == .sparse
            if wasSparse {
                guard hll.convertToDense() else { throw .corruptHyperLogLog }
                replaceValue(key, .string(hll.bytes))
            }
            if request == .toDense { return .converted(wasSparse) }
            return .registers((0..<HyperLogLog.registerCount).map {
                HyperLogLog.denseRegister(hll.bytes, base: HyperLogLog.headerSize, $0)
            })
        case .decode:
            guard hll.encoding == .sparse else { return .notSparse }
            return .text(HyperLogLogSparse.describe(hll.bytes, from: HyperLogLog.headerSize))
        case .encoding:
            return .encoding(hll.encoding == .dense ? "dense" : "sparse")
        }
    }
}

extension HyperLogLogSparse {
    /// The opcodes from `start` as PFDEBUG DECODE prints them, space-separated.
    static func describe(_ bytes: Bytes, from start: Int) -> String {
        var parts: [String] = []
        var position = start
        while position < bytes.count {
            let op = opcode(bytes, at: position)
            if op.isVal {
                parts.append("v:\(op.value),\(op.length)")
            } else {
                parts.append("\(op.size == 2 ? "Z" : "z"):\(op.length)")
            }
            position += op.size
        }
        return parts.joined(separator: " ")
    }
}
