// Function libraries (FUNCTION LOAD ...) survive restarts: every node writes them, as a
// FUNCTION DUMP payload, to `functions.trfn` in its data directory after each change, and
// loads them when it starts (docs/FORMAT.md).
import Core
import Engine
import Storage

extension Node {
    static let functionsFileName = "functions.trfn"

    var functionsPath: String { joinPath(configuration.directory, Self.functionsFileName) }

    /// Writes the libraries (a new file renamed over the old one, fsynced). A failure is
    /// logged: the libraries stay loaded, and the next change tries again.
    func saveFunctions() {
        do {
            // As durable as the node's writes: fsynced under `--fsync always` (as Redis's
            // AOF with appendfsync always), left to the OS under `everysec` and `no` (a
            // FUNCTION LOAD then costs no fsync on the event loop).
            try disk.replaceFile(functionsPath, with: front.dumpedFunctions(), durable: configuration.fsync == .always)
        } catch {
            logger.error("cannot save the function libraries", metadata: ["file": "\(functionsPath)", "error": "\(error)"])
        }
    }

    /// Loads the libraries saved by `saveFunctions`, if any.
    func loadFunctions() throws {
        guard (try? disk.list(configuration.directory))?.contains(Self.functionsFileName) == true else { return }
        do {
            let payload = try disk.readAll(functionsPath)
            try front.loadFunctions(payload, now: now())
            logger.info("function libraries loaded", metadata: ["file": "\(functionsPath)", "libraries": "\(front.libraries.count)"])
        } catch {
            throw NodeStartFailure(reason: "cannot load the function libraries from \(functionsPath): \(error); move the file away to start without them")
        }
    }
}
