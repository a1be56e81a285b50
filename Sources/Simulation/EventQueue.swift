// A priority queue of simulated events ordered by (time, sequence). The sequence number
// breaks ties in insertion order, so the simulation never depends on heap internals.
// Payloads live in slots; the heap moves only small (time, sequence, slot) keys.
//
// Invariant: `heap` is a binary min-heap on (time, sequence); every heap key names an
// occupied slot, and every free slot is on the free list.

struct EventQueue<Payload> {
    struct Item {
        var time: Int64
        var sequence: UInt64
        var payload: Payload
    }

    private struct Key {
        var time: Int64
        var sequence: UInt64
        var slot: Int
    }

    private var heap: [Key] = []
    private var slots: [Payload?] = []
    private var freeSlots: [Int] = []
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func push(_ payload: Payload, at time: Int64) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slots[free] = payload
            slot = free
        } else {
            slots.append(payload)
            slot = slots.count - 1
        }
        heap.append(Key(time: time, sequence: nextSequence, slot: slot))
        nextSequence += 1
        siftUp(heap.count - 1)
    }

    mutating func pop() -> Item? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let key = heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
        guard let payload = slots[key.slot].take() else { return nil }
        freeSlots.append(key.slot)
        return Item(time: key.time, sequence: key.sequence, payload: payload)
    }

    private func less(_ a: Key, _ b: Key) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let item = heap[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(item, heap[parent]) else { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = item
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let item = heap[parent]
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            let child = right < count && less(heap[right], heap[left]) ? right : left
            guard less(heap[child], item) else { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = item
    }
}
