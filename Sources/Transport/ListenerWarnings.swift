// A listener's warnings, paced: a shortage or a flood repeats its cause on every accept,
// and the log should say so once in a while, not once per connection.
import Logging
import NIOCore

/// Logs for one listener at most once every `intervalMilliseconds`; used on its event loop.
final class ListenerWarnings {
    /// Fewest milliseconds between two warnings of one listener.
    static let intervalMilliseconds: Int64 = 10_000

    private let listener: String
    private let logger: Logger
    private var last: NIODeadline?

    init(listener: String, logger: Logger) {
        self.listener = listener
        self.logger = logger
    }

    /// Logs `message` with the listener's name and `metadata`, unless a warning went out in
    /// the last `intervalMilliseconds`.
    func warn(_ message: Logger.Message, metadata: Logger.Metadata = [:]) {
        let now = NIODeadline.now()
        if let last, now - last < .milliseconds(Self.intervalMilliseconds) { return }
        last = now
        logger.warning(message, metadata: metadata.merging(["listener": "\(listener)"]) { mine, _ in mine })
    }
}
