// Helpers that turn raw arguments into typed values, failing with Redis's errors.
import Core
import Keyspace

enum Arguments {
    static func integer(_ bytes: Bytes) throws(CommandError) -> Int64 {
        guard let value = Numbers.parseInteger(bytes) else { throw .notInteger }
        return value
    }

    static func longDouble(_ bytes: Bytes) throws(CommandError) -> LongDouble {
        guard let value = Numbers.parseLongDouble(bytes) else { throw .notFloat }
        return value
    }

    /// Case-insensitive comparison against a lowercase ASCII keyword.
    @inline(__always)
    static func isKeyword(_ bytes: Bytes, _ keyword: StaticString) -> Bool { Keyword.matches(bytes, keyword) }

    static func lowercased(_ bytes: Bytes) -> String {
        // One allocation (the string's), not an array and then the string. Bytes that are
        // not UTF-8 are repaired as String(decoding:) repairs them.
        guard bytes.allSatisfy({ $0 < 0x80 }) else {
            return String(decoding: bytes.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self)
        }
        return String(unsafeUninitializedCapacity: bytes.count) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = (byte >= 65 && byte <= 90) ? byte + 32 : byte }
            return bytes.count
        }
    }

    static func string(_ bytes: Bytes) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Converts a relative or absolute expiry argument into absolute milliseconds with
    /// Redis's checks, every step overflow-checked since the amount is the client's.
    ///
    /// SET's EX/PX/EXAT/PXAT, SETEX, PSETEX and GETEX (Redis's getExpireMillisecondsOrReply):
    /// the amount must be positive and the resulting time positive. The EXPIRE family
    /// (`allowNonPositive`, Redis's expireGenericCommand) takes any amount, a time in the
    /// past deleting the key. Either way an overflow is "invalid expire time".
    static func expiry(_ bytes: Bytes, unitMilliseconds: Int64, relative: Bool, now: Int64, command: String,
                       allowNonPositive: Bool = false) throws(CommandError) -> Int64 {
        let amount = try integer(bytes)
        if !allowNonPositive, amount <= 0 { throw .invalidExpireTime(command: command) }
        let (scaled, overflow) = amount.multipliedReportingOverflow(by: unitMilliseconds)
        if overflow { throw .invalidExpireTime(command: command) }
        guard relative else { return scaled }
        let (absolute, overflowSum) = scaled.addingReportingOverflow(now)
        if overflowSum { throw .invalidExpireTime(command: command) }
        if !allowNonPositive, absolute <= 0 { throw .invalidExpireTime(command: command) }
        return absolute
    }

    /// Milliseconds to whole seconds rounded half up, as Redis's TTL and EXPIRETIME print
    /// them (`(ms + 500) / 1000`), without the addition that overflows near Int64.max.
    static func roundedSeconds(milliseconds: Int64) -> Int64 {
        if milliseconds < 0 { return (milliseconds + 500) / 1000 }  // cannot overflow below zero
        let (seconds, remainder) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        return remainder >= 500 ? seconds + 1 : seconds
    }
}
