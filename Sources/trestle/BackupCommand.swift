// `trestle cluster backup`: an online backup of every shard, each at one committed index,
// and `trestle cluster check-backup`: verify one without restoring it.
import ArgumentParser
import ClusterServer
import Foundation
import NodeRuntime
import Wire

extension ClusterAdminCommand {
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a backup of every shard to a directory, without stopping clients.",
            discussion: """
                Each shard's leader captures the shard's state after a linearizable read \
                barrier, so a shard's backup holds every write acknowledged before it was asked \
                for, at one committed index. Shards are captured one after another, so the \
                backup is not one instant across shards (Trestle has no cross-shard \
                transactions). A shard in the middle of a slot move is waited for, and if the \
                cluster map changes during the backup (a move, split or merge finished) the \
                backup starts over, so no key is missed or taken twice. The directory gets one \
                file per shard and MANIFEST.json (written last) with checksums. Start a new \
                cluster from it with `trestle local --restore DIR` or `trestle node --bootstrap \
                ... --restore DIR`.
                """)
        @OptionGroup var seed: Seed
        @Option(help: "Directory to write the backup to (created; must be empty if it exists).")
        var to: String
        @Option(help: "Seconds to keep trying (shards without a leader, slot moves in progress).")
        var timeout: Int = 300

        static let attemptsMax = 5
        static let retryPauseSeconds = 0.5

        func validate() throws {
            guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        }

        func run() throws {
            try prepareDirectory()
            let started = Date()
            let deadline = started.addingTimeInterval(Double(timeout))
            for attempt in 1...Self.attemptsMax {
                let (mapVersion, captured) = try captureAll(deadline: deadline)
                if let problem = Self.inconsistency(mapVersion: mapVersion, captured) {
                    print("attempt \(attempt): \(problem); starting over")
                    try removeShardFiles(captured)
                    continue
                }
                let (functionsFile, functionsSha256) = try backUpFunctions()
                let formatter = ISO8601DateFormatter()
                let manifest = BackupManifest(createdAt: formatter.string(from: Date()), mapVersion: mapVersion, shards: captured,
                                              functionsFile: functionsFile, functionsSha256: functionsSha256)
                try BackupArchive.writeManifest(manifest, in: to)
                let bytes = captured.reduce(0) { $0 + $1.bytes }
                print(String(format: "backup of %d shards, %d keys, %.1f MB written to %@ in %.1f s",
                             captured.count, manifest.keys, Double(bytes) / 1_048_576, to, Date().timeIntervalSince(started)))
                return
            }
            throw ValidationError("the cluster map kept changing during the backup (\(Self.attemptsMax) attempts); try again when no slots are moving")
        }

        private func prepareDirectory() throws {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: to, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw ValidationError("--to \(to) exists and is not a directory") }
                guard (try FileManager.default.contentsOfDirectory(atPath: to)).isEmpty else {
                    throw ValidationError("--to \(to) is not empty; give a new directory for every backup")
                }
            } else {
                try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
            }
        }

        /// The function libraries (every node has them all), through the seed.
        private func backUpFunctions() throws -> (String?, String?) {
            let reply = try seed.call(["FUNCTION", "DUMP"])
            guard case .bulk(let payload) = reply else {
                if case .error(let text) = reply { throw ValidationError("FUNCTION DUMP at \(seed.seed): \(text)") }
                return (nil, nil)
            }
            let file = "functions.trfn"
            try BackupArchive.writeFile(payload, named: file, in: to)
            return (file, BackupArchive.sha256(payload))
        }

        private func removeShardFiles(_ captured: [BackupManifest.Shard]) throws {
            for shard in captured { try FileManager.default.removeItem(atPath: (to as NSString).appendingPathComponent(shard.file)) }
        }

        /// Captures every shard of the plan; returns the map version they were captured under
        /// (the first shard's) and the written files.
        private func captureAll(deadline: Date) throws -> (UInt64, [BackupManifest.Shard]) {
            let plan = try BackupPlan(try seed.call(["TRESTLE", "BACKUP", "PLAN"]))
            var captured: [BackupManifest.Shard] = []
            var versions: Set<UInt64> = []
            for shard in plan.shards {
                let (entry, version) = try capture(shard: shard.id, deadline: deadline)
                versions.insert(version)
                captured.append(entry)
                print("shard \(entry.shard): \(entry.keys) keys at index \(entry.index), \(entry.bytes) bytes")
            }
            return (versions.count == 1 ? versions.first! : 0, captured)
        }

        /// Asks the shard's leader for its state, retrying through leader changes and moves.
        private func capture(shard: UInt64, deadline: Date) throws -> (BackupManifest.Shard, UInt64) {
            var lastProblem = "no answer"
            while Date() < deadline {
                let plan = try BackupPlan(try seed.call(["TRESTLE", "BACKUP", "PLAN"]))
                guard let current = plan.shards.first(where: { $0.id == shard }) else {
                    throw ValidationError("shard \(shard) left the cluster map during the backup; run the backup again")
                }
                if current.leader.isEmpty {
                    lastProblem = "shard \(shard) has no leader"
                } else if current.moving {
                    lastProblem = "shard \(shard) is moving slots"
                } else {
                    let reply: RESPValue
                    let address = current.ledByAnswerer ? seed.seed : current.leader
                    do { reply = try seed.call(["TRESTLE", "BACKUP", "SHARD", String(shard)], at: address) } catch {
                        lastProblem = "\(error)"
                        Thread.sleep(forTimeInterval: Self.retryPauseSeconds)
                        continue
                    }
                    if case .error(let text) = reply {
                        guard text.hasPrefix("TRYAGAIN") else { throw ValidationError("shard \(shard) at \(address): \(text)") }
                        lastProblem = text
                    } else {
                        return try write(shard: shard, reply, from: address)
                    }
                }
                Thread.sleep(forTimeInterval: Self.retryPauseSeconds)
            }
            throw ValidationError("shard \(shard) could not be backed up within \(timeout) s: \(lastProblem)")
        }

        /// Writes one shard's reply [index, term, map version, slots, keys, bytes] to its file.
        private func write(shard: UInt64, _ reply: RESPValue, from leader: String) throws -> (BackupManifest.Shard, UInt64) {
            guard case .array(let items) = reply, items.count == 6,
                  case .integer(let index) = items[0], case .integer(let term) = items[1], case .integer(let version) = items[2],
                  case .array(let ranges) = items[3], case .integer(let keys) = items[4], case .bulk(let data) = items[5],
                  let slots = BackupPlan.slotPairs(ranges) else {
                throw ValidationError("shard \(shard) at \(leader) sent a malformed backup reply")
            }
            let file = BackupArchive.fileName(shard: shard)
            try BackupArchive.writeFile(data, named: file, in: to)
            let entry = BackupManifest.Shard(shard: shard, slots: slots, index: UInt64(index), term: UInt64(term), keys: Int(keys),
                                             file: file, bytes: data.count, sha256: BackupArchive.sha256(data))
            return (entry, UInt64(version))
        }

        /// Why the captured shards do not make one backup, if they do not: captured under
        /// different map versions, or their slots do not partition the slot space.
        static func inconsistency(mapVersion: UInt64, _ captured: [BackupManifest.Shard]) -> String? {
            if mapVersion == 0 { return "the cluster map changed while shards were captured" }
            var owned = [Bool](repeating: false, count: 16384)
            for shard in captured {
                for pair in shard.slots {
                    for slot in Int(pair[0])...Int(pair[1]) {
                        if owned[slot] { return "slot \(slot) is in two shards" }
                        owned[slot] = true
                    }
                }
            }
            if let missing = owned.firstIndex(of: false) { return "no shard holds slot \(missing)" }
            return nil
        }
    }

    struct CheckBackup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-backup",
            abstract: "Verify a backup directory: manifest, checksums, slots and every key record, without starting anything.")
        @Option(help: "The backup directory.")
        var from: String
        func run() throws {
            do {
                let (manifest, image) = try BackupArchive.check(from)
                let keys = try image.validate()
                print("backup \(from) is intact: \(manifest.shards.count) shards, \(keys) keys, map version \(manifest.mapVersion), taken \(manifest.createdAt) by Trestle \(manifest.trestleVersion)")
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }
}

/// `TRESTLE BACKUP PLAN`'s reply: [map version, [shard id, leader, slot pairs, moving]...].
struct BackupPlan {
    struct Shard {
        var id: UInt64
        var leader: String
        var moving: Bool
        /// The node that answered the plan leads the shard.
        var ledByAnswerer: Bool
    }

    var mapVersion: UInt64
    var shards: [Shard]

    init(_ reply: RESPValue) throws {
        if case .error(let text) = reply { throw ValidationError("TRESTLE BACKUP PLAN: \(text)") }
        guard case .array(let items) = reply, items.count == 2, case .integer(let version) = items[0], case .array(let list) = items[1] else {
            throw ValidationError("TRESTLE BACKUP PLAN: malformed reply")
        }
        mapVersion = UInt64(version)
        shards = try list.map { item in
            guard case .array(let fields) = item, fields.count == 5, case .integer(let id) = fields[0],
                  case .bulk(let leader) = fields[1], case .integer(let moving) = fields[3], case .integer(let local) = fields[4] else {
                throw ValidationError("TRESTLE BACKUP PLAN: malformed shard entry")
            }
            return Shard(id: UInt64(id), leader: String(decoding: leader, as: UTF8.self), moving: moving != 0, ledByAnswerer: local != 0)
        }
    }

    static func slotPairs(_ ranges: [RESPValue]) -> [[UInt16]]? {
        var pairs: [[UInt16]] = []
        for range in ranges {
            guard case .array(let ends) = range, ends.count == 2, case .integer(let first) = ends[0], case .integer(let last) = ends[1],
                  let low = UInt16(exactly: first), let high = UInt16(exactly: last), low <= high, high < 16384 else { return nil }
            pairs.append([low, high])
        }
        return pairs
    }
}
