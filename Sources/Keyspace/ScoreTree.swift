// An order-statistic AVL tree of (score, member) pairs: the ordered half of a sorted set.
// Insert, remove, rank and select are O(log n) in the worst case, whatever the input (a
// skip list or a treap would need randomness, which replicas cannot use for a write, and
// a deterministic one can be driven to O(n) by chosen members and scores).
//
// Invariants:
// - Nodes live in one array and refer to each other by index (-1: none), so the tree is a
//   value: copying it copies the array lazily, and no reference is shared between copies.
// - In-order traversal gives the pairs ascending by score, ties by member bytes (unsigned,
//   shorter first on a common prefix, as Redis's sdscmp). A pair appears at most once.
// - `size` of a node counts the nodes of its subtree; `height` is the AVL height, and the
//   heights of a node's children differ by at most one. Depth is therefore at most about
//   1.44 log2(n), which bounds the recursion of insert and remove.
// - Freed slots are reused; their member bytes are dropped when freed.

struct ScoreTree: Sendable {
    struct Node: Sendable {
        var score: Double
        var member: Bytes
        var left: Int
        var right: Int
        var size: Int
        var height: Int
    }

    private var nodes: [Node] = []
    private var freeSlots: [Int] = []
    private var root = -1

    /// The number of pairs held.
    var count: Int { size(root) }

    /// Whether (score1, member1) sorts before (score2, member2).
    @inline(__always)
    static func precedes(_ score1: Double, _ member1: Bytes, _ score2: Double, _ member2: Bytes) -> Bool {
        if score1 != score2 { return score1 < score2 }
        return member1.lexicographicallyPrecedes(member2)
    }

    // MARK: - Queries

    /// The pair at 0-based `rank` (ascending order); nil outside 0..<count.
    func element(at rank: Int) -> (score: Double, member: Bytes)? {
        guard rank >= 0, rank < count else { return nil }
        var index = root
        var remaining = rank
        while index >= 0 {
            let leftSize = size(nodes[index].left)
            if remaining < leftSize {
                index = nodes[index].left
            } else if remaining == leftSize {
                return (nodes[index].score, nodes[index].member)
            } else {
                remaining -= leftSize + 1
                index = nodes[index].right
            }
        }
        assertionFailure("rank within count not found: the tree's sizes are inconsistent")
        return nil
    }

    /// How many pairs satisfy `isBefore`, which must hold for a prefix of the ascending
    /// order and not after it (a partition point, found in O(log n)).
    func countPrefix(where isBefore: (Double, Bytes) -> Bool) -> Int {
        var index = root
        var counted = 0
        while index >= 0 {
            if isBefore(nodes[index].score, nodes[index].member) {
                counted += size(nodes[index].left) + 1
                index = nodes[index].right
            } else {
                index = nodes[index].left
            }
        }
        return counted
    }

    /// The 0-based rank of a pair that is in the tree.
    func rank(score: Double, member: Bytes) -> Int {
        countPrefix { Self.precedes($0, $1, score, member) }
    }

    /// Calls `body` with up to `limit` pairs from ascending rank `start` on, ascending or,
    /// with `descending`, descending from it: O(log n + limit). Nothing if `start` is
    /// outside 0..<count.
    func forEach(fromRank start: Int, limit: Int, descending: Bool, _ body: (Double, Bytes) -> Void) {
        guard start >= 0, start < count, limit > 0 else { return }
        // The path to `start`, keeping the ancestors still to visit after it: the greater
        // ones going up, or the smaller ones going down.
        var stack: [Int] = []
        var index = root
        var remaining = start
        while index >= 0 {
            let leftSize = size(nodes[index].left)
            if remaining < leftSize {
                if !descending { stack.append(index) }
                index = nodes[index].left
            } else if remaining == leftSize {
                stack.append(index)
                break
            } else {
                if descending { stack.append(index) }
                remaining -= leftSize + 1
                index = nodes[index].right
            }
        }
        var visited = 0
        while visited < limit, let top = stack.popLast() {
            body(nodes[top].score, nodes[top].member)
            visited += 1
            var child = descending ? nodes[top].left : nodes[top].right
            while child >= 0 {
                stack.append(child)
                child = descending ? nodes[child].right : nodes[child].left
            }
        }
    }

    /// Calls `body` with each pair in ascending order.
    func forEach(_ body: (Double, Bytes) -> Void) {
        var stack: [Int] = []
        var index = root
        while index >= 0 || !stack.isEmpty {
            while index >= 0 {
                stack.append(index)
                index = nodes[index].left
            }
            guard let top = stack.popLast() else { break }
            body(nodes[top].score, nodes[top].member)
            index = nodes[top].right
        }
    }

    // MARK: - Changes

    /// Inserts a pair that is not in the tree.
    mutating func insert(score: Double, member: Bytes) {
        root = insert(at: root, score, member)
    }

    /// Removes a pair that is in the tree. When most slots are free the nodes are
    /// rebuilt into a compact array (amortised O(1) per removal), so a set that shrank
    /// does not keep the memory of its largest size.
    mutating func remove(score: Double, member: Bytes) {
        let before = count
        root = remove(at: root, score, member)
        assert(count == before - 1, "removed pair was not in the tree")
        if freeSlots.count >= Self.compactionSlotsMin, freeSlots.count > 2 * count { compact() }
    }

    /// Free slots below which a tree is never compacted (small trees are not worth it).
    static let compactionSlotsMin = 64

    /// Rebuilds the tree as a perfectly balanced one in a fresh array, without free slots.
    private mutating func compact() {
        var pairs: [(Double, Bytes)] = []
        pairs.reserveCapacity(count)
        forEach { pairs.append(($0, $1)) }
        var rebuilt = ScoreTree()
        rebuilt.nodes.reserveCapacity(pairs.count)
        rebuilt.root = rebuilt.build(pairs, 0..<pairs.count)
        self = rebuilt
    }

    /// Builds a balanced subtree of the sorted `pairs[range]`; returns its root.
    private mutating func build(_ pairs: [(Double, Bytes)], _ range: Range<Int>) -> Int {
        guard !range.isEmpty else { return -1 }
        let middle = range.lowerBound + range.count / 2
        let index = allocate(pairs[middle].0, pairs[middle].1)
        let left = build(pairs, range.lowerBound..<middle)
        let right = build(pairs, (middle + 1)..<range.upperBound)
        nodes[index].left = left
        nodes[index].right = right
        update(index)
        return index
    }

    /// Slots allocated, free ones included (for tests).
    var slotCount: Int { nodes.count }

    private mutating func insert(at index: Int, _ score: Double, _ member: Bytes) -> Int {
        guard index >= 0 else { return allocate(score, member) }
        if Self.precedes(score, member, nodes[index].score, nodes[index].member) {
            let child = insert(at: nodes[index].left, score, member)
            nodes[index].left = child
        } else {
            let child = insert(at: nodes[index].right, score, member)
            nodes[index].right = child
        }
        return rebalance(index)
    }

    private mutating func remove(at index: Int, _ score: Double, _ member: Bytes) -> Int {
        guard index >= 0 else { return -1 }
        let node = nodes[index]
        if node.score == score, node.member == member {
            if node.left < 0 { release(index); return node.right }
            if node.right < 0 { release(index); return node.left }
            let (rightRoot, successor) = removeFirst(at: node.right)
            nodes[successor].left = node.left
            nodes[successor].right = rightRoot
            release(index)
            return rebalance(successor)
        }
        if Self.precedes(score, member, node.score, node.member) {
            let child = remove(at: node.left, score, member)
            nodes[index].left = child
        } else {
            let child = remove(at: node.right, score, member)
            nodes[index].right = child
        }
        return rebalance(index)
    }

    /// Detaches the first node of the subtree at `index`: returns the subtree's new root
    /// and the detached node (still allocated).
    private mutating func removeFirst(at index: Int) -> (root: Int, first: Int) {
        let left = nodes[index].left
        guard left >= 0 else { return (nodes[index].right, index) }
        let (child, first) = removeFirst(at: left)
        nodes[index].left = child
        return (rebalance(index), first)
    }

    // MARK: - Balance

    @inline(__always) private func size(_ index: Int) -> Int { index < 0 ? 0 : nodes[index].size }
    @inline(__always) private func height(_ index: Int) -> Int { index < 0 ? 0 : nodes[index].height }

    private mutating func update(_ index: Int) {
        let left = nodes[index].left, right = nodes[index].right
        nodes[index].size = size(left) + size(right) + 1
        nodes[index].height = max(height(left), height(right)) + 1
    }

    private mutating func rotateRight(_ index: Int) -> Int {
        let pivot = nodes[index].left
        nodes[index].left = nodes[pivot].right
        nodes[pivot].right = index
        update(index)
        update(pivot)
        return pivot
    }

    private mutating func rotateLeft(_ index: Int) -> Int {
        let pivot = nodes[index].right
        nodes[index].right = nodes[pivot].left
        nodes[pivot].left = index
        update(index)
        update(pivot)
        return pivot
    }

    /// Restores the AVL condition at `index` (its children are balanced); returns the
    /// subtree's new root.
    private mutating func rebalance(_ index: Int) -> Int {
        update(index)
        let balance = height(nodes[index].left) - height(nodes[index].right)
        if balance > 1 {
            let left = nodes[index].left
            if height(nodes[left].left) < height(nodes[left].right) { nodes[index].left = rotateLeft(left) }
            return rotateRight(index)
        }
        if balance < -1 {
            let right = nodes[index].right
            if height(nodes[right].right) < height(nodes[right].left) { nodes[index].right = rotateRight(right) }
            return rotateLeft(index)
        }
        return index
    }

    private mutating func allocate(_ score: Double, _ member: Bytes) -> Int {
        let node = Node(score: score, member: member, left: -1, right: -1, size: 1, height: 1)
        if let slot = freeSlots.popLast() {
            nodes[slot] = node
            return slot
        }
        nodes.append(node)
        return nodes.count - 1
    }

    private mutating func release(_ index: Int) {
        nodes[index].member = []
        nodes[index].left = -1
        nodes[index].right = -1
        freeSlots.append(index)
    }

    /// Checks every invariant (for tests): order, sizes, heights and balance.
    func isValid() -> Bool {
        var previous: (Double, Bytes)? = nil
        var ordered = true
        forEach { score, member in
            if let (lastScore, lastMember) = previous, !Self.precedes(lastScore, lastMember, score, member) { ordered = false }
            previous = (score, member)
        }
        return ordered && checkShape(root) != nil
    }

    private func checkShape(_ index: Int) -> (size: Int, height: Int)? {
        guard index >= 0 else { return (0, 0) }
        guard let left = checkShape(nodes[index].left), let right = checkShape(nodes[index].right) else { return nil }
        guard abs(left.height - right.height) <= 1, nodes[index].size == left.size + right.size + 1,
              nodes[index].height == max(left.height, right.height) + 1 else { return nil }
        return (nodes[index].size, nodes[index].height)
    }
}
