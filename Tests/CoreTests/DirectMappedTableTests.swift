// The shell's connection table: ids that share a direct slot, removal, replacement.
import Testing
@testable import Core

private final class Box {
    let value: Int
    init(_ value: Int) { self.value = value }
}

@Suite struct DirectMappedTableTests {
    @Test func idsSharingASlotAreEachFound() {
        var table = DirectMappedTable<Box>()
        let slots = UInt64(DirectMappedTable<Box>.directSlots)
        let ids: [UInt64] = [1, 1 + slots, 1 + 2 * slots, 2, 0]
        for id in ids { table.insert(Box(Int(id)), for: id) }
        for id in ids { #expect(table[id]?.value == Int(id)) }
        #expect(table[3] == nil && table[1 + 3 * slots] == nil)
        // The id holding the direct slot leaves: the others still answer.
        table.remove(1)
        #expect(table[1] == nil)
        #expect(table[1 + slots]?.value == Int(1 + slots) && table[1 + 2 * slots]?.value == Int(1 + 2 * slots))
        table.insert(Box(7), for: 1 + slots)
        #expect(table[1 + slots]?.value == 7)
        table.remove(1 + slots)
        table.remove(1 + 2 * slots)
        #expect(table[1 + slots] == nil && table[1 + 2 * slots] == nil)
        #expect(table.all.keys.sorted() == [0, 2])
    }

    @Test func matchesADictionaryUnderRandomChanges() {
        var random = SeededRandom(seed: 3)
        var table = DirectMappedTable<Box>()
        var reference: [UInt64: Int] = [:]
        for step in 0..<20_000 {
            let id = UInt64(random.int(in: 0...20_000))
            if random.int(in: 0...2) == 0 {
                table.remove(id)
                reference.removeValue(forKey: id)
            } else {
                table.insert(Box(step), for: id)
                reference[id] = step
            }
            let probe = UInt64(random.int(in: 0...20_000))
            #expect(table[probe]?.value == reference[probe])
        }
        #expect(table.all.mapValues(\.value) == reference)
    }
}
