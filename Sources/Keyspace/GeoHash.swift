// Geohash arithmetic for the GEO commands, written from the documented math: a point's
// longitude and latitude each become an integer cell index of `GeoHash.stepMax` bits, and
// the two are interleaved (longitude in the odd, higher bit of each pair) into one 52-bit
// number that a geo set stores as its member's score. Distances use the haversine formula
// on a sphere of `GeoHash.earthRadiusMeters`.
//
// Invariants:
// - Every function is a pure function of its arguments (replicas agree bit for bit).
// - Nothing traps: callers pass finite coordinates already checked against the ranges
//   below; cell indexes are truncated to 32 bits as the C conversion Redis relies on, so
//   a coordinate on the upper edge (longitude 180) lands one past the last cell, exactly
//   as in Redis (its score uses bit 52 or 53).
#if canImport(Glibc)
import Glibc
#endif

/// A closed interval of degrees.
public struct GeoRange: Equatable, Sendable {
    public var min: Double
    public var max: Double
    public init(min: Double, max: Double) { self.min = min; self.max = max }
}

/// A cell index at some precision: `bits` holds `2 * step` interleaved bits.
public struct GeoCell: Equatable, Sendable {
    public var bits: UInt64
    public var step: Int
    public init(bits: UInt64, step: Int) { self.bits = bits; self.step = step }
}

/// The rectangle of degrees a cell covers.
public struct GeoArea: Equatable, Sendable {
    public var longitude: GeoRange
    public var latitude: GeoRange
}

public enum GeoHash {
    /// Bits per coordinate in a stored score (52 bits in all).
    public static let stepMax = 26
    /// The coordinates GEOADD accepts (latitude: the Web Mercator limit).
    public static let longitudeRange = GeoRange(min: -180, max: 180)
    public static let latitudeRange = GeoRange(min: -85.05112878, max: 85.05112878)
    /// The latitude range of the standard geohash strings GEOHASH returns.
    public static let standardLatitudeRange = GeoRange(min: -90, max: 90)
    public static let earthRadiusMeters = 6372797.560856
    /// Half the Earth's circumference at the equator in Web Mercator meters: the radius at
    /// which a search needs the coarsest cells.
    public static let mercatorMax = 20037726.37

    /// Whether GEOADD (and a search centre) accepts the pair.
    public static func isValid(longitude: Double, latitude: Double) -> Bool {
        longitude >= longitudeRange.min && longitude <= longitudeRange.max
            && latitude >= latitudeRange.min && latitude <= latitudeRange.max
    }

    // MARK: - Bit interleaving

    /// Spreads the 32 bits of `value` to the even bit positions of a 64-bit word.
    static func spread(_ value: UInt32) -> UInt64 {
        var word = UInt64(value)
        word = (word | (word << 16)) & 0x0000_FFFF_0000_FFFF
        word = (word | (word << 8)) & 0x00FF_00FF_00FF_00FF
        word = (word | (word << 4)) & 0x0F0F_0F0F_0F0F_0F0F
        word = (word | (word << 2)) & 0x3333_3333_3333_3333
        word = (word | (word << 1)) & 0x5555_5555_5555_5555
        return word
    }

    /// The inverse of `spread`: the even bits of `word` packed into 32 bits.
    static func squeeze(_ word: UInt64) -> UInt32 {
        var value = word & 0x5555_5555_5555_5555
        value = (value | (value >> 1)) & 0x3333_3333_3333_3333
        value = (value | (value >> 2)) & 0x0F0F_0F0F_0F0F_0F0F
        value = (value | (value >> 4)) & 0x00FF_00FF_00FF_00FF
        value = (value | (value >> 8)) & 0x0000_FFFF_0000_FFFF
        value = (value | (value >> 16)) & 0x0000_0000_FFFF_FFFF
        return UInt32(value)
    }

    /// Latitude index in the even bits, longitude index in the odd bits.
    public static func interleave(latitudeIndex: UInt32, longitudeIndex: UInt32) -> UInt64 {
        spread(latitudeIndex) | (spread(longitudeIndex) << 1)
    }

    public static func deinterleave(_ bits: UInt64) -> (latitudeIndex: UInt32, longitudeIndex: UInt32) {
        (squeeze(bits), squeeze(bits >> 1))
    }

    // MARK: - Encoding and decoding

    /// The cell index of `value` within `range` at `step` bits, truncated as C's
    /// double-to-uint32 conversion (the caller keeps `value` inside `range`).
    static func index(_ value: Double, in range: GeoRange, step: Int) -> UInt32 {
        let scaled = (value - range.min) / (range.max - range.min) * Double(UInt64(1) << step)
        guard scaled >= 0, scaled < 4_294_967_296 else { return 0 }
        return UInt32(scaled)
    }

    /// The cell holding the point at `step` (1...26), nil outside the ranges.
    public static func encode(longitude: Double, latitude: Double, step: Int,
                              longitudeRange: GeoRange = longitudeRange, latitudeRange: GeoRange = latitudeRange) -> GeoCell? {
        guard isValid(longitude: longitude, latitude: latitude),
              longitude >= longitudeRange.min, longitude <= longitudeRange.max,
              latitude >= latitudeRange.min, latitude <= latitudeRange.max else { return nil }
        let bits = interleave(latitudeIndex: index(latitude, in: latitudeRange, step: step),
                              longitudeIndex: index(longitude, in: longitudeRange, step: step))
        return GeoCell(bits: bits, step: step)
    }

    /// The rectangle `cell` covers.
    public static func area(of cell: GeoCell, longitudeRange: GeoRange = longitudeRange,
                            latitudeRange: GeoRange = latitudeRange) -> GeoArea {
        let (latitudeIndex, longitudeIndex) = deinterleave(cell.bits)
        let cells = Double(UInt64(1) << cell.step)
        func bounds(_ index: UInt32, _ range: GeoRange) -> GeoRange {
            let scale = range.max - range.min
            return GeoRange(min: range.min + Double(index) / cells * scale,
                            max: range.min + (Double(index) + 1) / cells * scale)
        }
        return GeoArea(longitude: bounds(longitudeIndex, longitudeRange), latitude: bounds(latitudeIndex, latitudeRange))
    }

    /// The centre of `cell`, clamped to the accepted ranges: the position GEOPOS reports.
    public static func center(of cell: GeoCell) -> (longitude: Double, latitude: Double) {
        let area = area(of: cell)
        let longitude = (area.longitude.min + area.longitude.max) / 2
        let latitude = (area.latitude.min + area.latitude.max) / 2
        return (Swift.min(Swift.max(longitude, longitudeRange.min), longitudeRange.max),
                Swift.min(Swift.max(latitude, latitudeRange.min), latitudeRange.max))
    }

    /// A stored score as the full-precision cell it names. A sorted set not made by GEOADD
    /// may hold any score: it converts as a C double-to-uint64 conversion does on x86-64
    /// (what redis-server answers there): below 2^63 a signed truncation, from 2^63 a
    /// truncation of the value less 2^63 with the top bit flipped, and a value out of the
    /// signed range (infinities included) truncating to 2^63.
    public static func cell(score: Double) -> GeoCell {
        GeoCell(bits: unsignedTruncation(score), step: stepMax)
    }

    static func unsignedTruncation(_ value: Double) -> UInt64 {
        let twoTo63 = 9_223_372_036_854_775_808.0
        func signedTruncation(_ value: Double) -> UInt64 {
            guard value >= -twoTo63, value < twoTo63 else { return UInt64(1) << 63 }
            return UInt64(bitPattern: Int64(value))
        }
        if value < twoTo63 { return signedTruncation(value) }
        return signedTruncation(value - twoTo63) ^ (UInt64(1) << 63)
    }

    /// The score GEOADD stores for a valid point.
    public static func score(longitude: Double, latitude: Double) -> Double? {
        encode(longitude: longitude, latitude: latitude, step: stepMax).map { Double($0.bits) }
    }

    /// The 11-character standard geohash of a stored score: the decoded position encoded
    /// again with latitudes -90...90; its last character carries no bits ("0").
    public static func standardString(score: Double) -> String {
        let position = center(of: cell(score: score))
        let bits = encode(longitude: position.longitude, latitude: position.latitude, step: stepMax,
                          latitudeRange: standardLatitudeRange)?.bits ?? 0
        let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz")
        var text = ""
        for position in 0..<11 {
            let digit = position == 10 ? 0 : Int((bits >> UInt64(52 - (position + 1) * 5)) & 0x1F)
            text.append(alphabet[digit])
        }
        return text
    }

    // MARK: - Distances

    static func radians(_ degrees: Double) -> Double { degrees * (Double.pi / 180) }
    static func degrees(_ radians: Double) -> Double { radians * (180 / Double.pi) }

    /// The north-south distance between two latitudes, in meters.
    public static func latitudeDistance(_ latitude1: Double, _ latitude2: Double) -> Double {
        earthRadiusMeters * abs(radians(latitude2) - radians(latitude1))
    }

    /// The haversine distance between two points, in meters (on one meridian, simply the
    /// arc between the latitudes).
    public static func distance(longitude1: Double, latitude1: Double, longitude2: Double, latitude2: Double) -> Double {
        let halfLongitude = sin((radians(longitude2) - radians(longitude1)) / 2)
        if halfLongitude == 0 { return latitudeDistance(latitude1, latitude2) }
        let latitude1Radians = radians(latitude1), latitude2Radians = radians(latitude2)
        let halfLatitude = sin((latitude2Radians - latitude1Radians) / 2)
        let a = halfLatitude * halfLatitude + cos(latitude1Radians) * cos(latitude2Radians) * halfLongitude * halfLongitude
        return 2 * earthRadiusMeters * asin(sqrt(a))
    }
}
