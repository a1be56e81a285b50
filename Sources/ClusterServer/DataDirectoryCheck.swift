// Recognises a data directory written by `trestle server` before 0.3, whose log holds
// command records instead of a Raft write-ahead log (docs/FORMAT.md, "Data directories of
// trestle server before 0.3"). Such a directory is refused with a clear message instead of
// a decoding error from the middle of recovery.
import Core
import Foundation
import Storage

enum DataDirectoryCheck {
    struct LegacyDirectory: Error, CustomStringConvertible {
        let directory: String
        let evidence: String
        var description: String {
            "\(directory) holds data of trestle server before 0.3 (\(evidence)), whose format this version "
                + "cannot read: start with an empty --dir, or copy the keys over with the old version running "
                + "(for example redis-cli --scan with DUMP and RESTORE). See docs/FORMAT.md."
        }
    }

    /// Largest first record the probe reads; a larger one is left to recovery to judge.
    static let probePayloadBytesMax = 1 << 20

    /// Throws `LegacyDirectory` when `directory` holds files of the old standalone format.
    static func refuseStandaloneLog(in directory: String) throws {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        if let snapshot = names.first(where: { if case .snapshot = FileNaming.parse($0) { return true } else { return false } }) {
            throw LegacyDirectory(directory: directory, evidence: "snapshot file \(snapshot)")
        }
        for name in names {
            guard case .log(let generation) = FileNaming.parse(name) else { continue }
            if isStandaloneSegment(path: directory + "/" + name, generation: generation.rawValue) {
                throw LegacyDirectory(directory: directory, evidence: "log segment \(name) holds command records")
            }
        }
    }

    /// A Raft WAL segment's first record is a segment start (kind 1) carrying the file's
    /// generation; an old segment's first record is a command record (version 1, then a
    /// wall-clock time in milliseconds, never equal to a generation). Only an intact first
    /// record (its checksum matches) is judged: damage is recovery's to report.
    static func isStandaloneSegment(path: String, generation: UInt64) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 32 + 12), head.count == 32 + 12 else { return false }
        let frame = Array(head.suffix(12))
        let length = Int(littleEndian(frame[0..<4]))
        guard length >= 9, length <= probePayloadBytesMax,
              let body = try? handle.read(upToCount: length), body.count == length else { return false }
        let payload = Array(body)
        guard CRC32C.checksum(payload) == UInt32(littleEndian(frame[4..<8])) else { return false }
        return payload[0] == 1 && littleEndian(payload[1..<9]) != generation
    }

    private static func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in bytes.enumerated() { value |= UInt64(byte) << (8 * UInt64(shift)) }
        return value
    }
}
