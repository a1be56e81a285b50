// Checksums used by on-disk formats (CRC-32C) and by slot hashing (CRC16/XMODEM, the
// function Redis Cluster uses for key slots).

/// CRC-32C (Castagnoli), reflected, as used by iSCSI, ext4 and many log formats.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// Extends `crc` (start with 0) over `bytes`.
    public static func update<Bytes: Sequence>(_ crc: UInt32, _ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var value = ~crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes { value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8) }
        }
        return ~value
    }

    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        update(0, bytes)
    }

    /// Fast path for arrays (the generic form is not specialized across modules).
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0) }
    }

    /// Eight tables for slicing-by-8: table k maps a byte to its CRC contribution k bytes
    /// further along, so eight bytes are folded per step instead of one.
    private static let slicingTables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 { tables[index] = table[index] }
        for slice in 1..<8 {
            for index in 0..<256 {
                let previous = tables[(slice - 1) * 256 + index]
                tables[slice * 256 + index] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// Fast path over raw memory (slicing-by-8).
    public static func update(_ crc: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
        var value = ~crc
        slicingTables.withUnsafeBufferPointer { t in
            var offset = 0
            let count = buffer.count
            while count - offset >= 8 {
                let low = buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian ^ value
                let high = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
                value = t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                offset += 8
            }
            while offset < count {
                value = t[Int((value ^ UInt32(buffer[offset])) & 0xFF)] ^ (value >> 8)
                offset += 1
            }
        }
        return ~value
    }
}

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection. Redis Cluster
/// maps a key to `crc16(key) mod 16384`.
public enum CRC16 {
    private static let table: [UInt16] = (0..<256).map { index -> UInt16 in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }

    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt16 where Bytes.Element == UInt8 {
        var crc: UInt16 = 0
        for byte in bytes { crc = (crc << 8) ^ table[Int(((crc >> 8) ^ UInt16(byte)) & 0xFF)] }
        return crc
    }
}

extension CRC16 {
    /// Eight tables for slicing-by-8: table k holds a byte's contribution to the CRC when k
    /// more bytes follow it (table 0 is the bytewise table), so the CRC of eight bytes is
    /// eight independent lookups instead of a chain of eight. The CRC is linear: the state
    /// before the eight bytes folds into the first two of them.
    private static let slicingTables: [UInt16] = {
        var tables = [UInt16](repeating: 0, count: 8 * 256)
        for index in 0..<256 { tables[index] = table[index] }
        for slice in 1..<8 {
            for index in 0..<256 {
                let previous = tables[(slice - 1) * 256 + index]
                tables[slice * 256 + index] = (previous << 8) ^ table[Int(previous >> 8)]
            }
        }
        return tables
    }()

    /// Fast path over contiguous bytes (every key's hash slot; the generic form is not
    /// specialized across modules).
    public static func checksum(_ buffer: UnsafeBufferPointer<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        slicingTables.withUnsafeBufferPointer { t in
            var offset = 0
            let count = buffer.count
            while count - offset >= 8 {
                let high = UInt16(buffer[offset]) ^ (crc >> 8), low = UInt16(buffer[offset + 1]) ^ (crc & 0xFF)
                crc = t[7 * 256 + Int(high)] ^ t[6 * 256 + Int(low)]
                    ^ t[5 * 256 + Int(buffer[offset + 2])] ^ t[4 * 256 + Int(buffer[offset + 3])]
                    ^ t[3 * 256 + Int(buffer[offset + 4])] ^ t[2 * 256 + Int(buffer[offset + 5])]
                    ^ t[1 * 256 + Int(buffer[offset + 6])] ^ t[Int(buffer[offset + 7])]
                offset += 8
            }
            while offset < count {
                crc = (crc << 8) ^ t[Int(((crc >> 8) ^ UInt16(buffer[offset])) & 0xFF)]
                offset += 1
            }
        }
        return crc
    }
}

extension HashSlot {
    /// The slot of `key` (see the generic form for the rules). Concrete, for hot paths.
    public static func of(key: [UInt8]) -> HashSlot {
        key.withUnsafeBufferPointer { bytes in
            var start = 0, end = bytes.count
            if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
               let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
                start = open + 1
                end = close
            }
            let hashed = UnsafeBufferPointer(rebasing: bytes[start..<end])
            return HashSlot(CRC16.checksum(hashed) & 0x3FFF)
        }
    }

    /// The slot of `key` exactly as Redis Cluster computes it: if the key contains a
    /// non-empty `{...}` section, only the bytes between the first `{` and the next `}`
    /// are hashed.
    public static func of<Key: Collection>(key: Key) -> HashSlot where Key.Element == UInt8, Key.Index == Int {
        var hashed = key[key.startIndex..<key.endIndex]
        if let open = key.firstIndex(of: UInt8(ascii: "{")) {
            let rest = key[(open + 1)...]
            if let close = rest.firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
                hashed = key[(open + 1)..<close]
            }
        }
        return HashSlot(UInt16(CRC16.checksum(hashed) & 0x3FFF))
    }
}

/// CRC-64/Jones as Redis computes it for RDB files and DUMP payloads (reflected, poly
/// 0xad93d23594c935a9, initial value 0, no final xor): `checksum("123456789")` is
/// 0xe9c6d914c4b8d9ca.
public enum CRC64 {
    private static let table: [UInt64] = (0..<256).map { index -> UInt64 in
        var crc = UInt64(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5 : crc >> 1 }
        return crc
    }

    public static func update<Bytes: Sequence>(_ crc: UInt64, _ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var crc = crc
        for byte in bytes { crc = table[Int((crc ^ UInt64(byte)) & 0xff)] ^ (crc >> 8) }
        return crc
    }

    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        update(0, bytes)
    }
}
