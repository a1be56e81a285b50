// Function libraries (FUNCTION LOAD ...) survive restarts: every node keeps them in its data
// directory, as a FUNCTION DUMP payload in `functions.trfn` and the changes made since in
// `functions.trfl` (FunctionLog.swift), and loads them when it starts (docs/FORMAT.md). A
// change appends one record; once the log outgrows the payload (and 1 MiB), the payload
// is rewritten and the log removed, so each change costs amortized O(its own size), as a
// Redis AOF and its rewrite.
import Core
import Engine
import Keyspace
import Storage
import Wire

/// What the node knows of its function files.
struct FunctionFiles {
    /// Bytes of `functions.trfl` (0: none), and the size and checksum of `functions.trfn`
    /// (0 and 0: none).
    var logBytes = 0
    var baseBytes = 0
    var baseChecksum: UInt32 = 0
}

extension Node {
    static let functionsFileName = "functions.trfn"
    static let functionsLogFileName = "functions.trfl"
    /// The log is folded into `functions.trfn` once it is larger than this and than it.
    static let functionsLogCompactBytesMin = 1 << 20

    var functionsPath: String { joinPath(configuration.directory, Self.functionsFileName) }
    var functionsLogPath: String { joinPath(configuration.directory, Self.functionsLogFileName) }

    /// As durable as the node's writes: fsynced under `--fsync always` (as Redis's AOF with
    /// appendfsync always), left to the OS under `everysec` and `no` (a FUNCTION LOAD then
    /// costs no fsync on the event loop, and a process crash still loses nothing).
    private var functionsDurable: Bool { configuration.fsync == .always }

    /// Records a FUNCTION LOAD, DELETE, FLUSH or RESTORE (`command`, from its name on)
    /// that changed the libraries. A failure is logged: the libraries stay loaded, and the
    /// whole set is written again at the next change.
    func recordFunctionsChange(_ command: [Bytes]) {
        // LOAD is recorded as LOAD REPLACE with its code alone (it succeeded, so the
        // library was new or replaceable: the same result), however many REPLACEs it
        // repeated; DELETE, FLUSH and RESTORE have at most four arguments.
        var recorded = command
        if command.count >= 3, Self.lowercased(command[1]) == Array("load".utf8), let code = command.last {
            recorded = [command[0], command[1], Array("REPLACE".utf8), code]
        }
        do {
            try appendFunctionsLog(recorded)
            if functionFiles.logBytes > max(Self.functionsLogCompactBytesMin, functionFiles.baseBytes) { try rewriteFunctions() }
        } catch {
            logger.error("cannot record a change of the function libraries", metadata: ["file": "\(functionsLogPath)", "error": "\(error)"])
            saveFunctions()
        }
    }

    /// Writes every library to `functions.trfn` (a new file renamed over the old one) and
    /// removes the log. A failure is logged.
    func saveFunctions() {
        do {
            try rewriteFunctions()
        } catch {
            logger.error("cannot save the function libraries", metadata: ["file": "\(functionsPath)", "error": "\(error)"])
        }
    }

    private func rewriteFunctions() throws(DiskError) {
        let payload = front.dumpedFunctions()
        try disk.replaceFile(functionsPath, with: payload, durable: functionsDurable)
        functionFiles.baseBytes = payload.count
        functionFiles.baseChecksum = FunctionLog.baseChecksum(payload)
        // A crash before the log is gone leaves a log naming the previous payload: stale,
        // and ignored at start-up. (A log whose first append failed may be there too.)
        guard functionFiles.logBytes > 0 || (try? disk.list(configuration.directory))?.contains(Self.functionsLogFileName) == true else {
            return
        }
        try disk.remove(functionsLogPath)
        if functionsDurable { try disk.syncDirectory(configuration.directory) }
        functionFiles.logBytes = 0
    }

    private func appendFunctionsLog(_ command: [Bytes]) throws(DiskError) {
        let record = FunctionLog.record(command)
        let starting = functionFiles.logBytes == 0
        let file = try disk.open(functionsLogPath, mode: starting ? .createTruncate : .appendCreate)
        defer { disk.close(file) }
        let bytes = starting ? FunctionLog.header(base: functionFiles.baseChecksum) + record : record
        try disk.append(file, bytes)
        if functionsDurable { try disk.sync(file) }
        if starting, functionsDurable { try disk.syncDirectory(configuration.directory) }
        functionFiles.logBytes += bytes.count
    }

    /// Loads the libraries `functions.trfn` and `functions.trfl` hold, if any. A payload
    /// that does not load, or a log that is not one, stops the start; a torn last record
    /// (a crash while it was appended, before its command was answered) is dropped.
    func loadFunctions() throws {
        let names = (try? disk.list(configuration.directory)) ?? []
        var payload: Bytes? = nil
        if names.contains(Self.functionsFileName) {
            do {
                let bytes = try disk.readAll(functionsPath)
                try front.loadFunctions(bytes, now: now())
                payload = bytes
            } catch {
                throw NodeStartFailure(reason: "cannot load the function libraries from \(functionsPath): \(error); move the file away to start without them")
            }
        }
        functionFiles = FunctionFiles(logBytes: 0, baseBytes: payload?.count ?? 0, baseChecksum: FunctionLog.baseChecksum(payload))
        if names.contains(Self.functionsLogFileName) { try replayFunctionsLog() }
        guard !front.libraries.isEmpty else { return }
        logger.info("function libraries loaded", metadata: ["file": "\(functionsPath)", "libraries": "\(front.libraries.count)"])
    }

    private func replayFunctionsLog() throws {
        let bytes = try disk.readAll(functionsLogPath)
        guard bytes.count >= FunctionLog.headerBytes else {
            // The header goes out with the first record in one append: a shorter file is a
            // crash during that append, whose command was never answered.
            logger.warning("removing a function library log cut short before its first record", metadata: ["file": "\(functionsLogPath)"])
            try disk.remove(functionsLogPath)
            return
        }
        guard let contents = FunctionLog.decode(bytes) else {
            throw NodeStartFailure(reason: "\(functionsLogPath) is not a function library log; move the file away to start without the changes it holds")
        }
        guard contents.base == functionFiles.baseChecksum else {
            // Written before the payload was last rewritten: its changes are in it.
            logger.notice("removing a function library log the libraries file already holds", metadata: ["file": "\(functionsLogPath)"])
            try disk.remove(functionsLogPath)
            return
        }
        let session = front.internalSession(address: "functions-log")
        for command in contents.commands {
            let outcome = front.execute(command, spec: CommandTable.lookup(command[0]), session: session, now: now())
            if case .error(let text) = outcome.reply {
                logger.warning("a recorded function library change failed again", metadata: ["file": "\(functionsLogPath)", "error": "\(text)"])
            }
        }
        if contents.validBytes < bytes.count {
            logger.warning("dropped the torn end of the function library log", metadata: [
                "file": "\(functionsLogPath)", "bytes_dropped": "\(bytes.count - contents.validBytes)"])
            let file = try disk.open(functionsLogPath, mode: .appendCreate)
            defer { disk.close(file) }
            try disk.truncate(file, size: contents.validBytes)
            try disk.sync(file)
        }
        functionFiles.logBytes = contents.validBytes
    }
}
