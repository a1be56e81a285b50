// PackedList against a plain array model: random pushes, pops, trims, inserts and
// replacements with elements of every length class (empty, under 128 bytes, multi-byte
// lengths, larger than a chunk), checking the chunk invariants and the contents after
// every step.
import Core
import Testing
@testable import Keyspace

@Suite struct PackedListTests {
    private func element(_ random: inout SeededRandom, _ serial: Int) -> Bytes {
        let length: Int
        switch random.next() % 10 {
        case 0: length = 0
        case 1: length = 128 + Int(random.next() % 400)       // a two-byte length
        case 2: length = PackedList.chunkBytes + Int(random.next() % 100)  // a chunk of its own
        default: length = Int(random.next() % 40)
        }
        return (0..<length).map { UInt8(truncatingIfNeeded: $0 &+ serial) }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func matchesAnArrayModel(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var list = PackedList()
        var model: [Bytes] = []
        for step in 0..<3_000 {
            switch random.next() % 12 {
            case 0, 1:
                let value = element(&random, step)
                list.append(value); model.append(value)
            case 2, 3:
                let value = element(&random, step)
                list.prepend(value); model.insert(value, at: 0)
            case 4: #expect(list.popFirst() == (model.isEmpty ? nil : model.removeFirst()))
            case 5: #expect(list.popLast() == model.popLast())
            case 6 where !model.isEmpty:
                let k = Int(random.next() % UInt64(model.count + 1))
                list.removeFirst(k); model.removeFirst(k)
            case 7 where !model.isEmpty:
                let k = Int(random.next() % UInt64(min(model.count, 30) + 1))
                list.removeLast(k); model.removeLast(k)
            case 8:
                let position = Int(random.next() % UInt64(model.count + 1))
                let value = element(&random, step)
                list.insert(value, at: position); model.insert(value, at: position)
            case 9 where !model.isEmpty:
                let position = Int(random.next() % UInt64(model.count))
                let value = element(&random, step)
                list.replace(at: position, with: value); model[position] = value
            case 10 where !model.isEmpty:
                let position = Int(random.next() % UInt64(model.count))
                #expect(list.element(at: position) == model[position])
                let last = min(model.count - 1, position + Int(random.next() % 50))
                #expect(list.elements(in: position...last) == Array(model[position...last]))
            default:
                for _ in 0..<20 {
                    let value = element(&random, step)
                    list.append(value); model.append(value)
                }
            }
            #expect(list.isValid)
            #expect(list.count == model.count)
            if step % 100 == 0 {
                #expect(Array(list) == model)
                #expect(Array(list.reversed()) == Array(model.reversed()))
            }
        }
        #expect(Array(list) == model)
    }

    @Test func chunksStayNearTheirLimitAndEqualityIgnoresChunking() {
        let elements = (0..<10_000).map { Array("element:\($0)".utf8) }
        var pushed = PackedList()
        for element in elements { pushed.append(element) }
        // Each chunk holds up to 8 KiB: 10,000 elements of ~15 bytes need about 20 chunks.
        #expect(pushed.chunkCount <= (pushed.packedBytes / PackedList.chunkBytes) + 2)
        var prepended = PackedList()
        for element in elements.reversed() { prepended.prepend(element) }
        #expect(pushed == prepended)
        var other = pushed
        other.replace(at: 5_000, with: Array("x".utf8))
        #expect(other != pushed)
        #expect(pushed.element(at: 5_000) == Array("element:5000".utf8))  // the copy did not share the change
    }

    @Test func anEmptiedListHasNoChunks() {
        var list: PackedList = [Array("a".utf8), Array("b".utf8)]
        _ = list.popFirst()
        _ = list.popLast()
        #expect(list.isEmpty && list.chunkCount == 0 && list.isValid)
        #expect(list.popFirst() == nil && list.popLast() == nil)
    }
}
