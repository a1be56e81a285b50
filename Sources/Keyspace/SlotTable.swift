// The keyspace's partitions (one dictionary per hash slot on a server), held in chunks.
//
// Why chunks: a Keyspace is copied in O(1) (snapshots, a script's trial, a busy script's
// copy), and the first write after a copy must copy the table holding the partitions.
// As one flat array of 16384 dictionaries that is 16384 reference-count increments and
// as many decrements later; in chunks of 128 it is 128 chunk references plus the 128
// dictionaries of the chunk written to.
//
// Contract: a random-access, mutable collection of dictionaries indexed 0..<count; a
// write through the subscript mutates the dictionary in place when nothing else shares
// it (no copy of the dictionary, nor of its chunk, nor of the table).

public struct SlotTable: RandomAccessCollection, MutableCollection, Sendable {
    public typealias Partition = [Key: Entry]

    /// Partitions per chunk (a power of two).
    static let chunkShift = 7
    static let chunkMask = (1 << chunkShift) - 1

    private var chunks: [[Partition]]
    public let count: Int

    /// `count` empty partitions.
    public init(count: Int) {
        precondition(count > 0, "a slot table has partitions")
        self.count = count
        let perChunk = Swift.min(count, 1 << Self.chunkShift)
        chunks = Array(repeating: Array(repeating: [:], count: perChunk), count: (count + perChunk - 1) / perChunk)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(position: Int) -> Partition {
        get { chunks[position >> Self.chunkShift][position & Self.chunkMask] }
        _modify { yield &chunks[position >> Self.chunkShift][position & Self.chunkMask] }
        set { chunks[position >> Self.chunkShift][position & Self.chunkMask] = newValue }
    }
}
