import Core
import Testing

@Suite struct SHA1Tests {
    /// FIPS 180 examples and the digests Redis prints for script bodies.
    @Test(arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("return 1", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
    ])
    func knownDigests(input: String, expected: String) {
        #expect(SHA1.hex(Array(input.utf8)) == expected)
    }

    /// Zero-filled bodies whose padding crosses a block boundary (digests from sha1sum).
    @Test(arguments: [
        (55, "8e8832c642a6a38c74c17fc92ccedc266c108e6c"),
        (56, "9438e360f578e12c0e0e8ed28e2c125c1cefee16"),
        (63, "0b8bf9fc37ad802cefa6733ec62b09d5f43a1b75"),
        (64, "c8d7d0ef0eedfa82d2ea1aa592845b9a6d4b02b7"),
        (65, "f0fa45906bd0f4c3668fcd0d8f68d4b298b30e5b"),
    ])
    func paddingBoundaries(length: Int, expected: String) {
        #expect(SHA1.hex([UInt8](repeating: 0, count: length)) == expected)
    }

    @Test func aMillionAs() {
        #expect(SHA1.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }
}
