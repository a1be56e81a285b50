// The search behind GEOSEARCH and GEORADIUS: choose a cell size from the search's extent,
// take the cell holding the centre and its eight neighbours, read each cell's run of
// scores from the sorted set, and keep the members inside the circle or the box.
//
// The cells are visited in a fixed order (centre, north, south, east, west, north-east,
// north-west, south-east, south-west) and each cell's members in score order, so an
// unsorted reply lists members in the same order as Redis. As in Redis, neighbours that
// cannot reach the search area are dropped, a neighbour equal to the cell visited just
// before it is skipped (huge radii wrap around the globe), and a limited search (COUNT
// with ANY) stops as soon as it has enough members.
#if canImport(Glibc)
import Glibc
#endif

/// The area searched, sizes in meters.
public enum GeoShape: Equatable, Sendable {
    case radius(Double)
    case box(width: Double, height: Double)
}

/// A search: its centre (a valid coordinate pair), its shape and an optional limit.
public struct GeoQuery: Equatable, Sendable {
    public var longitude: Double
    public var latitude: Double
    public var shape: GeoShape
    /// Stop once this many members matched (COUNT with ANY); 0 for no limit.
    public var limit: Int
    public init(longitude: Double, latitude: Double, shape: GeoShape, limit: Int) {
        self.longitude = longitude
        self.latitude = latitude
        self.shape = shape
        self.limit = limit
    }
}

/// A member found by a search: its stored score, decoded position and distance (meters)
/// from the centre.
public struct GeoMatch: Equatable, Sendable {
    public var member: Bytes
    public var score: Double
    public var longitude: Double
    public var latitude: Double
    public var distance: Double
}

public enum GeoSearch {
    /// The members of `sortedSet` inside `query`'s shape, in visiting order.
    public static func search(_ query: GeoQuery, in sortedSet: SortedSet) -> [GeoMatch] {
        var matches: [GeoMatch] = []
        var lastVisited: GeoCell? = nil
        for (position, cell) in neighbourhood(query).enumerated() {
            guard let cell else { continue }
            // The centre does not count as "just visited" (as Redis, whose marker is 0 there).
            if position > 0, let lastVisited, lastVisited == cell { continue }
            if query.limit > 0, matches.count >= query.limit { break }
            collect(cell, query, sortedSet, into: &matches)
            lastVisited = position > 0 ? cell : nil
        }
        return matches
    }

    /// Appends the members of `cell` inside the shape, stopping at the query's limit.
    static func collect(_ cell: GeoCell, _ query: GeoQuery, _ sortedSet: SortedSet, into matches: inout [GeoMatch]) {
        let shift = UInt64(2 * (GeoHash.stepMax - cell.step))
        let low = Double(cell.bits << shift), high = Double((cell.bits + 1) << shift)
        let ranks = sortedSet.ranks(scoresFrom: ScoreBound(value: low, exclusive: false),
                                    to: ScoreBound(value: high, exclusive: true))
        for element in sortedSet.elements(ranks) {
            if query.limit > 0, matches.count >= query.limit { return }
            let position = GeoHash.center(of: GeoHash.cell(score: element.score))
            guard let distance = distanceIfInside(query, longitude: position.longitude, latitude: position.latitude) else { continue }
            matches.append(GeoMatch(member: element.member, score: element.score, longitude: position.longitude,
                                    latitude: position.latitude, distance: distance))
        }
    }

    /// The distance from the centre to the point if it lies inside the shape, else nil.
    public static func distanceIfInside(_ query: GeoQuery, longitude: Double, latitude: Double) -> Double? {
        switch query.shape {
        case .radius(let radius):
            let distance = GeoHash.distance(longitude1: query.longitude, latitude1: query.latitude, longitude2: longitude, latitude2: latitude)
            return distance > radius ? nil : distance
        case .box(let width, let height):
            // The cheaper north-south test first, then east-west along the point's parallel.
            guard GeoHash.latitudeDistance(latitude, query.latitude) <= height / 2 else { return nil }
            let eastWest = GeoHash.distance(longitude1: longitude, latitude1: latitude, longitude2: query.longitude, latitude2: latitude)
            guard eastWest <= width / 2 else { return nil }
            return GeoHash.distance(longitude1: query.longitude, latitude1: query.latitude, longitude2: longitude, latitude2: latitude)
        }
    }

    // MARK: - The cells to visit

    /// The radius of the circle around the shape, which sets the cell size.
    static func enclosingRadius(_ shape: GeoShape) -> Double {
        switch shape {
        case .radius(let radius): return radius
        case .box(let width, let height): return ((width / 2) * (width / 2) + (height / 2) * (height / 2)).squareRoot()
        }
    }

    /// The precision (1...26 bits per coordinate) whose cells are about as large as
    /// `radius`: halve from the whole Mercator width, two steps coarser, one or two more
    /// near the poles where cells shrink.
    public static func steps(radius: Double, latitude: Double) -> Int {
        if radius == 0 { return GeoHash.stepMax }
        var range = radius, step = 1
        while range < GeoHash.mercatorMax {
            range *= 2
            step += 1
        }
        step -= 2
        if latitude > 66 || latitude < -66 {
            step -= 1
            if latitude > 80 || latitude < -80 { step -= 1 }
        }
        return min(max(step, 1), GeoHash.stepMax)
    }

    /// The degrees the shape spans: (west, south, east, north). East-west extents are
    /// taken at the parallel nearer the pole, where they are widest.
    static func boundingBox(_ query: GeoQuery) -> (west: Double, south: Double, east: Double, north: Double) {
        let (halfWidth, halfHeight): (Double, Double)
        switch query.shape {
        case .radius(let radius): (halfWidth, halfHeight) = (radius, radius)
        case .box(let width, let height): (halfWidth, halfHeight) = (width / 2, height / 2)
        }
        let latitudeDelta = GeoHash.degrees(halfHeight / GeoHash.earthRadiusMeters)
        let northDelta = GeoHash.degrees(halfWidth / GeoHash.earthRadiusMeters / cos(GeoHash.radians(query.latitude + latitudeDelta)))
        let southDelta = GeoHash.degrees(halfWidth / GeoHash.earthRadiusMeters / cos(GeoHash.radians(query.latitude - latitudeDelta)))
        let longitudeDelta = query.latitude < 0 ? southDelta : northDelta
        return (query.longitude - longitudeDelta, query.latitude - latitudeDelta,
                query.longitude + longitudeDelta, query.latitude + latitudeDelta)
    }

    /// `cell` moved by `east` columns and `north` rows, wrapping around; the coordinate
    /// moved keeps `step` bits, the other is kept whole (as Redis's bit arithmetic does).
    static func moved(_ cell: GeoCell, east: Int, north: Int) -> GeoCell {
        var (latitudeIndex, longitudeIndex) = GeoHash.deinterleave(cell.bits)
        let mask = UInt32(truncatingIfNeeded: (UInt64(1) << cell.step) - 1)
        if east != 0 { longitudeIndex = (east > 0 ? longitudeIndex &+ 1 : longitudeIndex &- 1) & mask }
        if north != 0 { latitudeIndex = (north > 0 ? latitudeIndex &+ 1 : latitudeIndex &- 1) & mask }
        return GeoCell(bits: GeoHash.interleave(latitudeIndex: latitudeIndex, longitudeIndex: longitudeIndex), step: cell.step)
    }

    /// The offsets of the nine cells in visiting order (east, north).
    static let offsets = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]

    /// The nine cells in visiting order, nil for those dropped because they cannot reach
    /// the search area.
    public static func neighbourhood(_ query: GeoQuery) -> [GeoCell?] {
        let bounds = boundingBox(query)
        var step = steps(radius: enclosingRadius(query.shape), latitude: query.latitude)
        func cells(_ step: Int) -> [GeoCell] {
            guard let center = GeoHash.encode(longitude: query.longitude, latitude: query.latitude, step: step) else { return [] }
            return offsets.map { moved(center, east: $0.0, north: $0.1) }
        }
        var nine = cells(step)
        guard nine.count == 9 else { return [] }
        // When a neighbour does not reach past the area's edge, the cells are too small.
        let north = GeoHash.area(of: nine[1]), south = GeoHash.area(of: nine[2])
        let east = GeoHash.area(of: nine[3]), west = GeoHash.area(of: nine[4])
        let tooSmall = north.latitude.max < bounds.north || south.latitude.min > bounds.south
            || east.longitude.max < bounds.east || west.longitude.min > bounds.west
        if step > 1, tooSmall {
            step -= 1
            nine = cells(step)
        }
        var result: [GeoCell?] = nine.map { $0 }
        guard step >= 2 else { return result }
        // Drop the neighbours on a side the centre cell already covers.
        let area = GeoHash.area(of: nine[0])
        if area.latitude.min < bounds.south { for index in [2, 7, 8] { result[index] = nil } }
        if area.latitude.max > bounds.north { for index in [1, 5, 6] { result[index] = nil } }
        if area.longitude.min < bounds.west { for index in [4, 8, 6] { result[index] = nil } }
        if area.longitude.max > bounds.east { for index in [3, 7, 5] { result[index] = nil } }
        return result
    }
}
