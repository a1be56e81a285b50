// The sparse HyperLogLog encoding: registers as runs, in three opcodes.
//   ZERO   00xxxxxx            xxxxxx+1 (1...64) registers set to 0
//   XZERO  01xxxxxx yyyyyyyy   xxxxxxyyyyyyyy+1 (1...16384) registers set to 0
//   VAL    1vvvvvxx            xx+1 (1...4) registers set to vvvvv+1 (1...32)
// Raising a register splits the run that holds it into at most three opcodes, then joins
// equal neighbouring VAL runs, exactly as Redis does, so the bytes stay identical to what
// Redis would store for the same commands.

enum HyperLogLogSparse {
    static let valueMax: UInt8 = 32
    static let valueRunMax = 4
    static let zeroRunMax = 64
    static let xzeroRunMax = 16384

    /// One decoded opcode: how many registers it covers, their value, its size in bytes.
    struct Opcode {
        var length: Int
        var value: UInt8
        var size: Int
        var isVal: Bool { value > 0 }
    }

    /// The opcode at `position` (< bytes.count). An XZERO cut off by the end reads its
    /// second byte as 0, as Redis does (it reads the string's terminator).
    static func opcode(_ bytes: Bytes, at position: Int) -> Opcode {
        let byte = bytes[position]
        if byte & 0x80 != 0 { return Opcode(length: Int(byte & 0x03) + 1, value: ((byte >> 2) & 0x1f) + 1, size: 1) }
        if byte & 0x40 == 0 { return Opcode(length: Int(byte & 0x3f) + 1, value: 0, size: 1) }
        let low = position + 1 < bytes.count ? Int(bytes[position + 1]) : 0
        return Opcode(length: (Int(byte & 0x3f) << 8 | low) + 1, value: 0, size: 2)
    }

    static func zero(_ length: Int) -> Bytes { [UInt8(length - 1)] }
    static func xzero(_ length: Int) -> Bytes { [UInt8((length - 1) >> 8) | 0x40, UInt8((length - 1) & 0xff)] }
    static func val(_ value: UInt8, _ length: Int) -> UInt8 { 0x80 | (value - 1) << 2 | UInt8(length - 1) }
    /// A zero run as one ZERO or XZERO opcode (1...16384 registers).
    static func zeros(_ length: Int) -> Bytes { length > zeroRunMax ? xzero(length) : zero(length) }

    /// Calls `body(firstRegister, length, value)` for each run from `start`; returns whether
    /// the runs cover exactly the 16384 registers. A run that would pass the last register
    /// ends the walk as corrupt (as Redis since the fix for CVE-2025-32023: a VAL run right
    /// after the last register is corrupt too), so `body` only sees runs within range.
    static func forEachRun(_ bytes: Bytes, from start: Int, _ body: (Int, Int, UInt8) -> Void) -> Bool {
        var position = start, register = 0
        while position < bytes.count {
            let op = opcode(bytes, at: position)
            guard register + op.length <= HyperLogLog.registerCount else { return false }
            body(register, op.length, op.value)
            register += op.length
            position += op.size
        }
        return register == HyperLogLog.registerCount
    }
}

extension HyperLogLog {
    /// Raises register `index` of a sparse value to `count`, converting to dense when the
    /// count does not fit a VAL opcode or the value would grow past `sparseBytesMax`.
    /// Invalidates the cached cardinality when it changes a register.
    mutating func sparseRaise(_ index: Int, to count: UInt8, sparseBytesMax: Int) -> Update {
        guard count <= HyperLogLogSparse.valueMax else { return promoteAndRaise(index, to: count) }
        // Find the opcode covering `index`, and the one before it.
        var position = Self.headerSize, first = 0
        var previous: Int? = nil
        var found: HyperLogLogSparse.Opcode? = nil
        while position < bytes.count {
            let op = HyperLogLogSparse.opcode(bytes, at: position)
            if index <= first + op.length - 1 { found = op; break }
            previous = position
            position += op.size
            first += op.length
        }
        guard let op = found else { return .corrupt }
        if op.isVal {
            if op.value >= count { return .unchanged }
            if op.length == 1 {
                bytes[position] = HyperLogLogSparse.val(count, 1)
                return joinRuns(from: previous)
            }
        } else if op.size == 1, op.length == 1 {
            bytes[position] = HyperLogLogSparse.val(count, 1)
            return joinRuns(from: previous)
        }
        // Split the run into (before, the register, after).
        let last = first + op.length - 1
        var sequence: Bytes = []
        if op.isVal {
            if index != first { sequence.append(HyperLogLogSparse.val(op.value, index - first)) }
            sequence.append(HyperLogLogSparse.val(count, 1))
            if index != last { sequence.append(HyperLogLogSparse.val(op.value, last - index)) }
        } else {
            if index != first { sequence += HyperLogLogSparse.zeros(index - first) }
            sequence.append(HyperLogLogSparse.val(count, 1))
            if index != last { sequence += HyperLogLogSparse.zeros(last - index) }
        }
        let growth = sequence.count - op.size
        if growth > 0, bytes.count + growth > sparseBytesMax { return promoteAndRaise(index, to: count) }
        // The new length is the old one plus `growth` even when a cut-off XZERO ended the
        // value (Redis then keeps only the sequence's leading bytes).
        let newCount = bytes.count + growth
        var replaced = Array(bytes[..<position]) + sequence
        if position + op.size < bytes.count { replaced += bytes[(position + op.size)...] }
        if replaced.count > newCount { replaced.removeLast(replaced.count - newCount) }
        bytes = replaced
        return joinRuns(from: previous)
    }

    /// Converts to dense and raises the register there.
    private mutating func promoteAndRaise(_ index: Int, to count: UInt8) -> Update {
        guard convertToDense() else { return .corrupt }
        return denseRaise(index, to: count) ? .updated : .unchanged
    }

    /// After a change: joins neighbouring VAL opcodes of equal value whose runs fit one
    /// opcode, looking at up to five opcodes from `start` (the opcode before the changed
    /// one, or the first), then invalidates the cache.
    private mutating func joinRuns(from start: Int?) -> Update {
        var position = start ?? Self.headerSize
        var budget = 5
        while position < bytes.count, budget > 0 {
            budget -= 1
            let op = HyperLogLogSparse.opcode(bytes, at: position)
            guard op.isVal else { position += op.size; continue }
            if position + 1 < bytes.count {
                let next = HyperLogLogSparse.opcode(bytes, at: position + 1)
                if next.isVal, next.value == op.value, op.length + next.length <= HyperLogLogSparse.valueRunMax {
                    bytes[position + 1] = HyperLogLogSparse.val(op.value, op.length + next.length)
                    bytes.remove(at: position)
                    continue
                }
            }
            position += 1
        }
        invalidateCache()
        return .updated
    }
}
