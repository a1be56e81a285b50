// Framing a record in place at the end of a caller's buffer, so a writer can encode many
// records into one reusable buffer without building a payload array per record. The bytes
// produced are identical to `Framing.appendRecord(payload, to:)`.
//
// Use: `let start = Framing.beginRecord(in: &buffer)`, append the payload to `buffer`, then
// `try Framing.finishRecord(in: &buffer, start: start)`.

import Core

extension Framing {
    /// Reserves a record header at the end of `bytes` and returns the record's start offset.
    public static func beginRecord(in bytes: inout [UInt8]) -> Int {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: recordHeaderBytes))
        return start
    }

    /// Fills in the header reserved by `beginRecord` for the payload appended after it.
    /// A payload over `StorageLimits.recordBytesMax` is removed again (the buffer ends at
    /// `start`) and reported as `recordTooLarge`.
    public static func finishRecord(in bytes: inout [UInt8], start: Int) throws(StorageError) {
        precondition(start + recordHeaderBytes <= bytes.count, "beginRecord reserved the header")
        let payloadStart = start + recordHeaderBytes
        let payloadBytes = bytes.count - payloadStart
        guard payloadBytes <= StorageLimits.recordBytesMax else {
            bytes.removeSubrange(start...)
            throw .recordTooLarge(bytes: payloadBytes)
        }
        let payloadChecksum = checksum(bytes, payloadStart..<bytes.count)
        store32(UInt32(payloadBytes), into: &bytes, at: start)
        store32(payloadChecksum, into: &bytes, at: start + 4)
        store32(checksum(bytes, start..<(start + 8)), into: &bytes, at: start + 8)
    }

    static func store32(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt32(8 * index)) }
    }
}
