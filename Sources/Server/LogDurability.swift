// Adapts the durable log to the transport's Durability protocol. All calls happen on the
// engine's event loop; the log's writer thread reports progress by hopping onto it.
import Logging
import NIOCore
import Storage
import Transport

final class LogDurability: Durability {
    let log: DurableLog
    private var lastAppended: UInt64
    private(set) var durableSequence: UInt64

    private let eventLoop: EventLoop
    private var flushScheduled = false

    init(log: DurableLog, lastSequence: UInt64, eventLoop: EventLoop) {
        self.log = log
        self.eventLoop = eventLoop
        self.lastAppended = lastSequence
        self.durableSequence = lastSequence
    }

    func append(_ record: [UInt8]) -> UInt64 {
        lastAppended = log.append(record).rawValue
        if !flushScheduled {
            // Wake the writer once, after every request read in this loop tick was handled:
            // this is what makes all of them share one write and one fsync.
            flushScheduled = true
            let confined = LoopConfined(self)
            eventLoop.execute {
                confined.value.flushScheduled = false
                confined.value.flushNow()
            }
        }
        return lastAppended
    }

    var isBacklogged: Bool { log.isOverSoftLimit }

    /// Every policy holds a reply until the records before it are written (and, under
    /// `always`, fsynced): a reply never reveals state a crash could undo, and replies stay
    /// in the order of their effects.
    var visibilityBarrier: UInt64 { lastAppended > durableSequence ? lastAppended : 0 }

    /// Called after records were written on this thread (fsync always) to release replies.
    var onWrittenHere: (() -> Void)? = nil

    /// Wakes the writer, or with `writesOnCaller` writes and fsyncs right here.
    func flushNow() {
        log.flush()
        if log.writesOnCaller {
            advance(to: log.durableSequence.rawValue)
            onWrittenHere?()
        }
    }

    /// Called on the event loop with the sequence the log reported durable.
    func advance(to sequence: UInt64) {
        if sequence > durableSequence { durableSequence = sequence }
    }
}
