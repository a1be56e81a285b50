// Start-up recovery as the server runs it: load the snapshot and replay the log through
// `Recovery` (module Storage), timing it and logging what was dropped. The record payloads
// are decoded by the keyspace in `onRecord`.

import Dispatch
import Logging
import Storage

public enum PersistenceStartup {
    /// Recovers `directory` (created if missing), streaming records to `onRecord`, and logs
    /// one warning per truncation ("dropped N bytes ...") and a summary. On a refusal the
    /// error, whose description says what is wrong and whether `--repair` helps, is logged
    /// and rethrown; the server should exit non-zero.
    public static func recover(
        directory: String, repair: Bool, logger: Logger, onRecord: (RecordSource, [UInt8]) throws -> Void
    ) throws -> RecoveryReport {
        let disk = PosixDisk()
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            try disk.makeDirectory(directory)
            let report = try Recovery.load(directory: directory, disk: disk, repair: repair, onRecord: onRecord)
            let elapsedMilliseconds = (DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
            for truncation in report.truncations {
                logger.warning("\(truncation)")
            }
            logger.info(
                "recovered data directory",
                metadata: [
                    "directory": "\(directory)",
                    "snapshot": "\(report.snapshotGeneration.map { String($0.rawValue) } ?? "none")",
                    "snapshotRecords": "\(report.snapshotRecords)",
                    "logRecords": "\(report.logRecords)",
                    "segments": "\(report.segmentsReplayed)",
                    "bytesDropped": "\(report.bytesDropped)",
                    "milliseconds": "\(elapsedMilliseconds)",
                ])
            return report
        } catch let error as StorageError {
            logger.critical("cannot start: \(error)")
            throw error
        } catch let error as DiskError {
            logger.critical("cannot start: \(error)")
            throw StorageError.disk(error)
        }
    }
}
