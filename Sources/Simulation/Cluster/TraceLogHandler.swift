// Routes the node runtime's log lines into the simulator's trace (with the simulated time
// and node), so a replayed seed shows what each node said, in order.
import Logging

final class TraceSink {
    var lines: [String] = []
    var prefix: () -> String = { "" }
}

struct TraceLogHandler: LogHandler {
    let sink: TraceSink
    let node: String
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let fields = (metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        sink.lines.append("\(sink.prefix())\(node) log \(level): \(message) \(fields)")
    }
}
