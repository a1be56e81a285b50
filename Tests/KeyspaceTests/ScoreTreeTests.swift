// The order-statistic AVL tree under sorted sets: order (score, then member bytes), rank,
// select and prefix counts against a sorted-array model, with the AVL invariants checked
// after every change, including input chosen to unbalance a naive tree.
import Core
import Testing
@testable import Keyspace

@Suite struct ScoreTreeTests {
    private struct Model {
        var pairs: [(Double, Bytes)] = []
        mutating func insert(_ score: Double, _ member: Bytes) {
            pairs.append((score, member))
            pairs.sort { ScoreTree.precedes($0.0, $0.1, $1.0, $1.1) }
        }
        mutating func remove(_ score: Double, _ member: Bytes) {
            pairs.removeAll { $0.0 == score && $0.1 == member }
        }
    }

    private func check(_ tree: ScoreTree, against model: Model) {
        #expect(tree.isValid())
        #expect(tree.count == model.pairs.count)
        for (rank, pair) in model.pairs.enumerated() {
            let element = tree.element(at: rank)
            #expect(element?.score == pair.0 && element?.member == pair.1)
            #expect(tree.rank(score: pair.0, member: pair.1) == rank)
        }
        #expect(tree.element(at: model.pairs.count) == nil)
        #expect(tree.element(at: -1) == nil)
    }

    @Test func tiesAreOrderedByMemberBytes() {
        var tree = ScoreTree()
        for member in ["b", "a", "ab", "", "\u{7f}"] { tree.insert(score: 1, member: Array(member.utf8)) }
        tree.insert(score: 0.5, member: Array("z".utf8))
        var order: [String] = []
        tree.forEach { _, member in order.append(String(decoding: member, as: UTF8.self)) }
        #expect(order == ["z", "", "a", "ab", "b", "\u{7f}"])
        // Bytes compare unsigned: 0xff sorts after 0x7f.
        tree.insert(score: 1, member: [0xff])
        #expect(tree.element(at: 6)?.member == [0xff])
    }

    @Test func matchesASortedModelUnderRandomChanges() {
        var random = SeededRandom(seed: 42)
        var tree = ScoreTree(), model = Model()
        var present: [(Double, Bytes)] = []
        for step in 0..<600 {
            if present.isEmpty || random.int(in: 0...2) > 0 {
                let score = Double(random.int(in: -5...5)) / 2
                let member = Array("m\(random.int(in: 0...400))".utf8)
                guard !present.contains(where: { $0.0 == score && $0.1 == member }) else { continue }
                tree.insert(score: score, member: member)
                model.insert(score, member)
                present.append((score, member))
            } else {
                let index = random.int(in: 0...(present.count - 1))
                let (score, member) = present.remove(at: index)
                tree.remove(score: score, member: member)
                model.remove(score, member)
            }
            if step % 50 == 0 { check(tree, against: model) }
        }
        check(tree, against: model)
    }

    @Test func ascendingInsertsStayBalanced() {
        // A skip list or treap with predictable levels could be driven to O(n) depth by
        // ordered input; the AVL tree cannot.
        var tree = ScoreTree()
        for index in 0..<4096 { tree.insert(score: Double(index), member: []) }
        #expect(tree.isValid())
        #expect(tree.countPrefix { score, _ in score < 1000 } == 1000)
        for index in stride(from: 0, to: 4096, by: 2) { tree.remove(score: Double(index), member: []) }
        #expect(tree.isValid())
        #expect(tree.count == 2048)
        #expect(tree.element(at: 0)?.score == 1)
    }

    @Test func copiesAreIndependent() {
        var tree = ScoreTree()
        tree.insert(score: 1, member: [1])
        var copy = tree
        copy.insert(score: 2, member: [2])
        copy.remove(score: 1, member: [1])
        #expect(tree.count == 1 && tree.element(at: 0)?.member == [1])
        #expect(copy.count == 1 && copy.element(at: 0)?.member == [2])
    }

    @Test func walksFromARankInBothDirections() {
        var tree = ScoreTree()
        for index in 0..<100 { tree.insert(score: Double(index), member: []) }
        for start in [0, 1, 37, 98, 99] {
            var forward: [Double] = [], backward: [Double] = []
            tree.forEach(fromRank: start, limit: 5, descending: false) { score, _ in forward.append(score) }
            tree.forEach(fromRank: start, limit: 5, descending: true) { score, _ in backward.append(score) }
            #expect(forward == (start..<min(start + 5, 100)).map(Double.init))
            #expect(backward == stride(from: start, to: max(start - 5, -1), by: -1).map(Double.init))
        }
        var none = 0
        tree.forEach(fromRank: 100, limit: 5, descending: false) { _, _ in none += 1 }
        tree.forEach(fromRank: 3, limit: 0, descending: true) { _, _ in none += 1 }
        #expect(none == 0)
    }

    @Test func shrinkingCompactsTheNodes() {
        var tree = ScoreTree()
        for index in 0..<1000 { tree.insert(score: Double(index), member: [UInt8(index % 256)]) }
        for index in 0..<990 { tree.remove(score: Double(index), member: [UInt8(index % 256)]) }
        #expect(tree.isValid())
        #expect(tree.count == 10)
        #expect(tree.slotCount < 200)
        #expect(tree.element(at: 0)?.score == 990)
        tree.insert(score: -1, member: [])
        #expect(tree.isValid() && tree.rank(score: 995, member: [UInt8(995 % 256)]) == 6)
    }
}
