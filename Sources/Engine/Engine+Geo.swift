// The GEO commands: geospatial indexes kept as sorted sets whose scores are 52-bit
// geohashes (Keyspace/GeoHash.swift), so every sorted-set command sees them.
//
// Arguments are checked in Redis's order: the key's type first, then the arguments from
// left to right (a search's FROMMEMBER is looked up where it appears), then the checks on
// their combination; an absent key answers empty only after all of that. Every number a
// client sends is parsed with Redis's rules (no NaN; "inf" where Redis takes it) and
// checked before use: coordinates against the Mercator ranges, sizes against negatives.
import Keyspace
import Wire

/// A distance unit and its length in meters (M, KM, FT, MI).
struct GeoUnit {
    let meters: Double

    static func parse(_ argument: Bytes) throws(CommandError) -> GeoUnit {
        switch Arguments.lowercased(argument) {
        case "m": return GeoUnit(meters: 1)
        case "km": return GeoUnit(meters: 1000)
        case "ft": return GeoUnit(meters: 0.3048)
        case "mi": return GeoUnit(meters: 1609.34)
        default: throw .message("ERR unsupported unit provided. please use M, KM, FT, MI")
        }
    }
}

extension Engine {
    func runGeoCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws(CommandError) -> RESPValue {
        try mappingErrors { try runGeoCommandThrowing(id, arguments, session, now: now) }
    }

    private func runGeoCommandThrowing(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        switch id {
        case .geoadd: return try geoAdd(arguments, now: now)
        case .geodist: return try geoDistance(arguments, now: now)
        case .geohash:
            let scores = try keyspace.sortedSetScores(arguments[1], Array(arguments.dropFirst(2)), now: now)
            return .array(scores.map { $0.map { .bulk(Array(GeoHash.standardString(score: $0).utf8)) } ?? .null })
        case .geopos:
            let scores = try keyspace.sortedSetScores(arguments[1], Array(arguments.dropFirst(2)), now: now)
            return .array(scores.map { $0.map(Self.coordinates) ?? .nullArray })
        default: return try geoSearch(id, arguments, session, now: now)
        }
    }

    // MARK: - Numbers

    /// A coordinate: Redis's float parsing ("value is not a valid float" for NaN or junk).
    static func geoNumber(_ argument: Bytes) throws(CommandError) -> Double {
        guard let value = Numbers.parseDouble(argument) else { throw .notFloat }
        return value
    }

    /// A longitude and latitude pair inside the accepted ranges.
    static func geoPoint(_ longitude: Bytes, _ latitude: Bytes) throws(CommandError) -> (longitude: Double, latitude: Double) {
        let point = (longitude: try geoNumber(longitude), latitude: try geoNumber(latitude))
        guard GeoHash.isValid(longitude: point.longitude, latitude: point.latitude) else {
            throw .message("ERR invalid longitude,latitude pair \(Numbers.formatFixed(point.longitude, decimals: 6)),\(Numbers.formatFixed(point.latitude, decimals: 6))")
        }
        return point
    }

    /// A size (radius, width, height): a float, else `ERR need numeric <name>`.
    static func geoSize(_ argument: Bytes, name: String) throws(CommandError) -> Double {
        guard let value = Numbers.parseDouble(argument) else { throw .message("ERR need numeric \(name)") }
        return value
    }

    /// A stored position as GEOPOS and WITHCOORD print it.
    static func coordinates(score: Double) -> RESPValue {
        let position = GeoHash.center(of: GeoHash.cell(score: score))
        return coordinates(longitude: position.longitude, latitude: position.latitude)
    }

    static func coordinates(longitude: Double, latitude: Double) -> RESPValue {
        func text(_ value: Double) -> RESPValue {
            .humanDouble(String(decoding: Numbers.formatLongDouble(LongDouble(value)), as: UTF8.self))
        }
        return .array([text(longitude), text(latitude)])
    }

    /// A distance as Redis prints it, as a bulk string in both protocols: four decimals,
    /// rounded from the value times 10^4 with halves up (so 15242319.788549999, which is
    /// 152423197885.5 times 10^4 in doubles, prints ...7886 where "%.4f" gives ...7885).
    static func distanceReply(_ distance: Double) -> RESPValue {
        .bulk(Array(distanceText(distance).utf8))
    }

    /// Scaled values up to this are exact integers in a double; beyond, "%.4f".
    static let distanceScaledMax = 9e15

    static func distanceText(_ distance: Double) -> String {
        let scaled = distance.magnitude * 10000
        guard scaled.isFinite, scaled < distanceScaledMax else { return Numbers.formatFixed(distance, decimals: 4) }
        let units = Int64((scaled + 0.5).rounded(.down))
        let fraction = String(units % 10000)
        let sign = distance < 0 && units != 0 ? "-" : ""
        return sign + String(units / 10000) + "." + String(repeating: "0", count: 4 - fraction.count) + fraction
    }

    // MARK: - GEOADD, GEODIST

    /// GEOADD key [NX|XX] [CH] longitude latitude member [...]: a ZADD of geohash scores.
    private func geoAdd(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        var onlyNew = false, onlyExisting = false, reportChanged = false
        var index = 2
        while index < arguments.count {
            if Arguments.isKeyword(arguments[index], "nx") { onlyNew = true }
            else if Arguments.isKeyword(arguments[index], "xx") { onlyExisting = true }
            else if Arguments.isKeyword(arguments[index], "ch") { reportChanged = true }
            else { break }
            index += 1
        }
        let remaining = arguments.count - index
        guard remaining > 0, remaining % 3 == 0, !(onlyNew && onlyExisting) else { throw CommandError.syntax }
        var pairs: [ScoredMember] = []
        pairs.reserveCapacity(remaining / 3)
        for triple in stride(from: index, to: arguments.count, by: 3) {
            let point = try Self.geoPoint(arguments[triple], arguments[triple + 1])
            guard let score = GeoHash.score(longitude: point.longitude, latitude: point.latitude) else { throw CommandError.syntax }
            pairs.append(ScoredMember(member: arguments[triple + 2], score: score))
        }
        var options = ZAddOptions()
        options.condition = onlyNew ? .onlyNew : onlyExisting ? .onlyExisting : .always
        let result = try keyspace.sortedSetAdd(arguments[1], pairs, options: options, now: now)
        return .integer(Int64(reportChanged ? result.added + result.updated : result.added))
    }

    /// GEODIST key member1 member2 [unit]: null when the key or either member is absent.
    private func geoDistance(_ arguments: [Bytes], now: Int64) throws -> RESPValue {
        guard arguments.count <= 5 else { throw CommandError.syntax }
        let unit = arguments.count == 5 ? try GeoUnit.parse(arguments[4]) : GeoUnit(meters: 1)
        let scores = try keyspace.sortedSetScores(arguments[1], [arguments[2], arguments[3]], now: now)
        guard let first = scores[0], let second = scores[1] else { return .null }
        let from = GeoHash.center(of: GeoHash.cell(score: first)), to = GeoHash.center(of: GeoHash.cell(score: second))
        let meters = GeoHash.distance(longitude1: from.longitude, latitude1: from.latitude, longitude2: to.longitude, latitude2: to.latitude)
        return Self.distanceReply(meters / unit.meters)
    }
}
