// MurmurHash64A, Austin Appleby's 64-bit hash for 64-bit machines, as HyperLogLog uses it
// to place elements (written from the published algorithm description). Blocks are read
// little-endian, so the hash does not depend on the host's byte order.

public enum MurmurHash64A {
    private static let multiplier: UInt64 = 0xc6a4_a793_5bd1_e995
    private static let shift: UInt64 = 47

    /// The 64-bit hash of `bytes` with `seed`. Total for any input, including empty.
    public static func hash(_ bytes: Bytes, seed: UInt64) -> UInt64 {
        let m = multiplier
        var h = seed ^ (UInt64(bytes.count) &* m)
        let blockCount = bytes.count / 8
        for block in 0..<blockCount {
            var k: UInt64 = 0
            for offset in 0..<8 { k |= UInt64(bytes[block * 8 + offset]) << (8 * UInt64(offset)) }
            k = k &* m
            k ^= k >> shift
            k = k &* m
            h ^= k
            h = h &* m
        }
        let tail = bytes.count & 7
        if tail > 0 {
            let start = blockCount * 8
            for offset in stride(from: tail - 1, through: 0, by: -1) {
                h ^= UInt64(bytes[start + offset]) << (8 * UInt64(offset))
            }
            h = h &* m
        }
        h ^= h >> shift
        h = h &* m
        h ^= h >> shift
        return h
    }
}
