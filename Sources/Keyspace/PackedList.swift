// A list value stored compactly, as Redis's quicklist stores one: a deque of chunks, each
// chunk one byte buffer of up to `PackedList.chunkBytes` bytes holding its elements back to
// back. An element is written as its length (LEB128), its bytes, and its length again with
// the LEB128 bytes reversed, so a chunk can be walked from either end (Redis's listpack
// keeps a back-length for the same reason). An element under 128 bytes costs its bytes
// plus 2; a chunk costs one array header per about 8 KiB.
//
// Pushes and pops at either end touch one chunk; an index walks chunk counts from the
// nearer end, then elements inside one chunk. A copy of the list (the keyspace's O(1)
// snapshot copy) shares the chunks, so a later push copies one chunk, not the list.
//
// Invariants (checked by `assertValid` in debug builds): no chunk is empty, `count` is the
// sum of the chunks' counts, and every chunk decodes to exactly its count of elements.
import Collections

/// A list of byte strings, head first, stored in packed chunks (see the file comment).
public struct PackedList: Sendable {
    /// A chunk stops taking elements at this many bytes (Redis's list-max-listpack-size
    /// default, -2, is 8 KiB); one larger element gets a chunk of its own.
    public static let chunkBytes = 8192
    /// An insertion in the middle splits a chunk that grew past this many bytes.
    static let splitBytes = 2 * chunkBytes

    fileprivate struct Chunk: Sendable {
        var bytes: [UInt8] = []
        var count = 0
    }

    private var chunks: Deque<Chunk> = []
    /// How many elements the list holds.
    public private(set) var count = 0

    public init() {}

    public init<Elements: Sequence>(_ elements: Elements) where Elements.Element == Bytes {
        for element in elements { append(element) }
    }

    public var isEmpty: Bool { count == 0 }

    // MARK: - Ends

    /// Adds `element` at the tail.
    public mutating func append(_ element: Bytes) {
        let size = Self.encodedSize(element.count)
        if chunks.isEmpty || chunks[chunks.count - 1].bytes.count + size > Self.chunkBytes {
            chunks.append(Chunk())
        }
        Self.grow(&chunks[chunks.count - 1].bytes, by: size)
        Self.write(element, into: &chunks[chunks.count - 1].bytes)
        chunks[chunks.count - 1].count += 1
        count += 1
    }

    public mutating func append<Elements: Sequence>(contentsOf elements: Elements) where Elements.Element == Bytes {
        for element in elements { append(element) }
    }

    /// Adds `element` at the head.
    public mutating func prepend(_ element: Bytes) {
        if chunks.isEmpty || chunks[0].bytes.count + Self.encodedSize(element.count) > Self.chunkBytes {
            chunks.prepend(Chunk())
        }
        var encoded: [UInt8] = []
        Self.write(element, into: &encoded)
        Self.grow(&chunks[0].bytes, by: encoded.count)
        chunks[0].bytes.insert(contentsOf: encoded, at: 0)
        chunks[0].count += 1
        count += 1
    }

    /// Removes and returns the head element; nil when empty.
    public mutating func popFirst() -> Bytes? {
        guard !chunks.isEmpty else { return nil }
        let (element, end) = Self.read(chunks[0].bytes, at: 0)
        if chunks[0].count == 1 {
            chunks.removeFirst()
        } else {
            chunks[0].bytes.removeFirst(end)
            chunks[0].count -= 1
        }
        count -= 1
        return element
    }

    /// Removes and returns the tail element; nil when empty.
    public mutating func popLast() -> Bytes? {
        guard !chunks.isEmpty else { return nil }
        let last = chunks.count - 1
        let start = Self.start(before: chunks[last].bytes.count, in: chunks[last].bytes)
        let (element, _) = Self.read(chunks[last].bytes, at: start)
        if chunks[last].count == 1 {
            chunks.removeLast()
        } else {
            chunks[last].bytes.removeLast(chunks[last].bytes.count - start)
            chunks[last].count -= 1
        }
        count -= 1
        return element
    }

    /// Removes `k` elements from the head (0 <= k <= count).
    public mutating func removeFirst(_ k: Int) {
        precondition(k >= 0 && k <= count, "removeFirst beyond the list")
        var left = k
        while left > 0, chunks[0].count <= left {
            left -= chunks[0].count
            count -= chunks[0].count
            chunks.removeFirst()
        }
        guard left > 0 else { return }
        var offset = 0
        for _ in 0..<left { offset = Self.read(chunks[0].bytes, at: offset).end }
        chunks[0].bytes.removeFirst(offset)
        chunks[0].count -= left
        count -= left
    }

    /// Removes `k` elements from the tail (0 <= k <= count).
    public mutating func removeLast(_ k: Int) {
        precondition(k >= 0 && k <= count, "removeLast beyond the list")
        var left = k
        while left > 0, chunks[chunks.count - 1].count <= left {
            left -= chunks[chunks.count - 1].count
            count -= chunks[chunks.count - 1].count
            chunks.removeLast()
        }
        guard left > 0 else { return }
        let last = chunks.count - 1
        var end = chunks[last].bytes.count
        for _ in 0..<left { end = Self.start(before: end, in: chunks[last].bytes) }
        chunks[last].bytes.removeLast(chunks[last].bytes.count - end)
        chunks[last].count -= left
        count -= left
    }

    public mutating func removeAll() {
        chunks.removeAll()
        count = 0
    }

    // MARK: - Positions (0 is the head)

    /// The element at `position` (0 ..< count).
    public func element(at position: Int) -> Bytes {
        let (chunk, offset) = locate(position)
        return Self.read(chunks[chunk].bytes, at: offset).element
    }

    /// Replaces the element at `position` (0 ..< count).
    public mutating func replace(at position: Int, with element: Bytes) {
        let (chunk, offset) = locate(position)
        let end = Self.read(chunks[chunk].bytes, at: offset).end
        var encoded: [UInt8] = []
        Self.write(element, into: &encoded)
        chunks[chunk].bytes.replaceSubrange(offset..<end, with: encoded)
        splitIfLarge(chunk)
    }

    /// Inserts `element` so that it ends up at `position` (0 ... count).
    public mutating func insert(_ element: Bytes, at position: Int) {
        precondition(position >= 0 && position <= count, "insert beyond the list")
        if position == 0 { return prepend(element) }
        if position == count { return append(element) }
        let (chunk, offset) = locate(position)
        var encoded: [UInt8] = []
        Self.write(element, into: &encoded)
        chunks[chunk].bytes.insert(contentsOf: encoded, at: offset)
        chunks[chunk].count += 1
        count += 1
        splitIfLarge(chunk)
    }

    /// The elements at `positions`, head to tail (the range within 0 ..< count).
    public func elements(in positions: ClosedRange<Int>) -> [Bytes] {
        precondition(positions.lowerBound >= 0 && positions.upperBound < count, "range beyond the list")
        var result: [Bytes] = []
        result.reserveCapacity(positions.count)
        var (chunk, offset) = locate(positions.lowerBound)
        while result.count < positions.count {
            if offset == chunks[chunk].bytes.count { (chunk, offset) = (chunk + 1, 0) }
            let (element, end) = Self.read(chunks[chunk].bytes, at: offset)
            result.append(element)
            offset = end
        }
        return result
    }

    /// The chunk holding `position` and the element's byte offset in it, walking from the
    /// nearer end of the list and then of the chunk.
    private func locate(_ position: Int) -> (chunk: Int, offset: Int) {
        precondition(position >= 0 && position < count, "position beyond the list")
        var chunk: Int, inChunk: Int
        if position < count / 2 {
            (chunk, inChunk) = (0, position)
            while inChunk >= chunks[chunk].count { inChunk -= chunks[chunk].count; chunk += 1 }
        } else {
            (chunk, inChunk) = (chunks.count - 1, position - (count - chunks[chunks.count - 1].count))
            while inChunk < 0 { chunk -= 1; inChunk += chunks[chunk].count }
        }
        let bytes = chunks[chunk].bytes
        if inChunk <= chunks[chunk].count / 2 {
            var offset = 0
            for _ in 0..<inChunk { offset = Self.read(bytes, at: offset).end }
            return (chunk, offset)
        }
        var offset = bytes.count
        for _ in 0..<(chunks[chunk].count - inChunk) { offset = Self.start(before: offset, in: bytes) }
        return (chunk, offset)
    }

    /// Splits chunk `index` in two at an element boundary near its middle once it grew past
    /// `splitBytes` (an insertion or a replacement in the middle).
    private mutating func splitIfLarge(_ index: Int) {
        let bytes = chunks[index].bytes
        guard bytes.count > Self.splitBytes, chunks[index].count > 1 else { return }
        var (offset, taken) = (0, 0)
        while offset < bytes.count / 2, taken < chunks[index].count - 1 {
            offset = Self.read(bytes, at: offset).end
            taken += 1
        }
        let tail = Chunk(bytes: Array(bytes[offset...]), count: chunks[index].count - taken)
        chunks[index] = Chunk(bytes: Array(bytes[..<offset]), count: taken)
        chunks.insert(tail, at: index + 1)
    }

    // MARK: - Element encoding

    /// Makes room for `size` more bytes, doubling the capacity but never past `chunkBytes`
    /// unless one element needs more: a full chunk wastes little, a small list stays small.
    private static func grow(_ bytes: inout [UInt8], by size: Int) {
        let needed = bytes.count + size
        guard needed > bytes.capacity else { return }
        bytes.reserveCapacity(Swift.max(needed, Swift.min(chunkBytes, 2 * bytes.capacity)))
    }

    /// Bytes an element of `length` takes in a chunk: two lengths and the payload.
    static func encodedSize(_ length: Int) -> Int { 2 * lengthSize(length) + length }

    private static func lengthSize(_ length: Int) -> Int {
        var (value, size) = (length, 1)
        while value >= 0x80 { value >>= 7; size += 1 }
        return size
    }

    private static func write(_ element: Bytes, into bytes: inout [UInt8]) {
        var length: [UInt8] = []
        var value = element.count
        repeat {
            length.append(UInt8(value & 0x7F) | (value >= 0x80 ? 0x80 : 0))
            value >>= 7
        } while value > 0
        bytes.append(contentsOf: length)
        bytes.append(contentsOf: element)
        bytes.append(contentsOf: length.reversed())
    }

    /// The element starting at `offset` and the offset just past it.
    private static func read(_ bytes: [UInt8], at offset: Int) -> (element: Bytes, end: Int) {
        var (length, shift, index) = (0, 0, offset)
        while true {
            let byte = bytes[index]
            length |= Int(byte & 0x7F) << shift
            index += 1
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        let header = index - offset
        return (Array(bytes[index..<(index + length)]), index + length + header)
    }

    /// The offset where the element ending at `end` starts (reading its trailing length).
    private static func start(before end: Int, in bytes: [UInt8]) -> Int {
        var (length, shift, index) = (0, 0, end - 1)
        while true {
            let byte = bytes[index]
            length |= Int(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            index -= 1
            shift += 7
        }
        let trailer = end - index
        return end - 2 * trailer - length
    }

    // MARK: - Checking

    /// Whether the invariants in the file comment hold (for assertions and tests).
    public var isValid: Bool {
        var total = 0
        for chunk in chunks {
            guard chunk.count > 0 else { return false }
            var (offset, elements) = (0, 0)
            while offset < chunk.bytes.count {
                offset = Self.read(chunk.bytes, at: offset).end
                elements += 1
            }
            guard offset == chunk.bytes.count, elements == chunk.count else { return false }
            total += chunk.count
        }
        return total == count
    }

    /// How many chunks hold the list (for tests and MEMORY USAGE).
    public var chunkCount: Int { chunks.count }

    /// Bytes the chunks hold (element payloads and their lengths).
    public var packedBytes: Int { chunks.reduce(0) { $0 + $1.bytes.count } }
}

// MARK: - Collection

extension PackedList: BidirectionalCollection {
    /// A position in the list: a chunk and an element's byte offset in it.
    public struct Index: Comparable, Sendable {
        fileprivate let chunk: Int
        fileprivate let offset: Int

        public static func < (lhs: Index, rhs: Index) -> Bool {
            (lhs.chunk, lhs.offset) < (rhs.chunk, rhs.offset)
        }
    }

    public var startIndex: Index { Index(chunk: 0, offset: 0) }
    public var endIndex: Index { Index(chunk: chunks.count, offset: 0) }

    public subscript(index: Index) -> Bytes {
        Self.read(chunks[index.chunk].bytes, at: index.offset).element
    }

    public func index(after index: Index) -> Index {
        let end = Self.read(chunks[index.chunk].bytes, at: index.offset).end
        return end == chunks[index.chunk].bytes.count ? Index(chunk: index.chunk + 1, offset: 0) : Index(chunk: index.chunk, offset: end)
    }

    public func index(before index: Index) -> Index {
        if index.offset == 0 {
            let chunk = index.chunk - 1
            return Index(chunk: chunk, offset: Self.start(before: chunks[chunk].bytes.count, in: chunks[chunk].bytes))
        }
        return Index(chunk: index.chunk, offset: Self.start(before: index.offset, in: chunks[index.chunk].bytes))
    }
}

/// Two lists are equal when they hold the same elements in the same order, however chunked.
extension PackedList: Equatable {
    public static func == (lhs: PackedList, rhs: PackedList) -> Bool {
        lhs.count == rhs.count && lhs.elementsEqual(rhs)
    }
}

extension PackedList: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: Bytes...) {
        self.init(elements)
    }
}
