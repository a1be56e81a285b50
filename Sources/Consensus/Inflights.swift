// The window of AppendEntries messages sent to one follower and not yet acknowledged.
// Bounded in messages and bytes, so a slow follower costs the leader a fixed amount.
//
// Invariant: recorded last indexes are strictly increasing; count <= messagesMax and
// bytes <= bytesMax except for a single oversized message admitted into an empty window.

import Core

struct Inflights: Sendable, Equatable {
    let messagesMax: Int
    let bytesMax: Int
    private var lastIndexes: [LogIndex] = []
    private var sizes: [Int] = []
    private var start = 0
    private(set) var bytes = 0

    init(messagesMax: Int, bytesMax: Int) {
        self.messagesMax = messagesMax
        self.bytesMax = bytesMax
    }

    var count: Int { lastIndexes.count - start }
    var isFull: Bool { count >= messagesMax || (count > 0 && bytes >= bytesMax) }

    mutating func add(lastIndex: LogIndex, bytes size: Int) {
        assert(count == 0 || lastIndexes[lastIndexes.count - 1] < lastIndex)
        lastIndexes.append(lastIndex)
        sizes.append(size)
        bytes += size
    }

    /// Frees every message whose last index is at or below `index`.
    mutating func free(through index: LogIndex) {
        while start < lastIndexes.count, lastIndexes[start] <= index {
            bytes -= sizes[start]
            start += 1
        }
        if start > 32, start * 2 > lastIndexes.count {
            lastIndexes.removeFirst(start)
            sizes.removeFirst(start)
            start = 0
        }
    }

    /// Frees the oldest message, to unstick a full window whose acknowledgements were lost.
    mutating func freeFirst() {
        guard count > 0 else { return }
        free(through: lastIndexes[start])
    }

    mutating func reset() {
        lastIndexes.removeAll(keepingCapacity: true)
        sizes.removeAll(keepingCapacity: true)
        start = 0
        bytes = 0
    }
}
