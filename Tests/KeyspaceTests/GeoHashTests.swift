// Geohash arithmetic and the 9-cell search: interleaving round trips, the scores, positions
// and geohash strings redis-server gives for known points, haversine distances, the step
// chosen from a radius, neighbours wrapping around the globe, and searches that never trap
// on extreme inputs (infinite or tiny radii, the ranges' edges, scores of any value).
import Core
import Testing
@testable import Keyspace

@Suite struct GeoHashTests {
    @Test func interleavingRoundTrips() {
        for (latitude, longitude) in [(UInt32(0), UInt32(0)), (1, 0), (0, 1), (0x3FF_FFFF, 0x155_5555), (UInt32.max, 12345)] {
            let bits = GeoHash.interleave(latitudeIndex: latitude, longitudeIndex: longitude)
            let back = GeoHash.deinterleave(bits)
            #expect(back.latitudeIndex == latitude && back.longitudeIndex == longitude)
        }
        // Longitude takes the higher bit of each pair.
        #expect(GeoHash.interleave(latitudeIndex: 0, longitudeIndex: 1) == 2)
        #expect(GeoHash.interleave(latitudeIndex: 1, longitudeIndex: 0) == 1)
    }

    @Test func scoresPositionsAndHashesMatchRedis() {
        // Values redis-server 7.0 answers for GEOADD Sicily 13.361389 38.115556 Palermo ...
        #expect(GeoHash.score(longitude: 13.361389, latitude: 38.115556) == 3479099956230698)
        #expect(GeoHash.score(longitude: 15.087269, latitude: 37.502669) == 3479447370796909)
        #expect(GeoHash.standardString(score: 3479099956230698) == "sqc8b49rny0")
        #expect(GeoHash.standardString(score: 3479447370796909) == "sqdtr74hyu0")
        let palermo = GeoHash.center(of: GeoHash.cell(score: 3479099956230698))
        #expect(Numbers.formatLongDouble(LongDouble(palermo.longitude)) == Array("13.36138933897018433".utf8))
        #expect(Numbers.formatLongDouble(LongDouble(palermo.latitude)) == Array("38.11555639549629859".utf8))
        // The upper edges land one cell past the last (bits 52 and 53), as in Redis.
        #expect(GeoHash.score(longitude: 180, latitude: 85.05112878) == 13510798882111488)
        #expect(GeoHash.standardString(score: 13510798882111488) == "bp05b5048p0")
        #expect(GeoHash.score(longitude: 0, latitude: 0) == 3377699720527872)
        #expect(GeoHash.score(longitude: 180.0000001, latitude: 0) == nil)
        #expect(GeoHash.score(longitude: 0, latitude: -85.06) == nil)
    }

    @Test func distancesAreHaversine() {
        let meters = GeoHash.distance(longitude1: 13.36138933897018433, latitude1: 38.11555639549629859,
                                      longitude2: 15.08726745843887329, latitude2: 37.50266842333162032)
        #expect(abs(meters - 166274.1516) < 0.0001)
        #expect(GeoHash.distance(longitude1: 5, latitude1: 10, longitude2: 5, latitude2: 11) == GeoHash.latitudeDistance(10, 11))
        #expect(GeoHash.distance(longitude1: 1, latitude1: 2, longitude2: 1, latitude2: 2) == 0)
    }

    @Test func anyScoreDecodesWithoutTrapping() {
        for score in [-2.0, .infinity, -.infinity, 1e20, 1e300, 2.5, 0, 18014398509481984, -0.0] {
            let position = GeoHash.center(of: GeoHash.cell(score: score))
            #expect(GeoHash.isValid(longitude: position.longitude, latitude: position.latitude))
            #expect(GeoHash.standardString(score: score).count == 11)
        }
        // As x86-64's conversion: +inf and huge values give 0, -inf and negatives wrap.
        #expect(GeoHash.cell(score: .infinity).bits == 0)
        #expect(GeoHash.cell(score: -.infinity).bits == 1 << 63)
        #expect(GeoHash.cell(score: -2).bits == UInt64.max - 1)
    }

    @Test func stepsShrinkWithTheRadiusAndNearThePoles() {
        #expect(GeoSearch.steps(radius: 0, latitude: 0) == 26)
        #expect(GeoSearch.steps(radius: 1, latitude: 0) == 24)
        #expect(GeoSearch.steps(radius: 1_000_000, latitude: 0) == 4)
        #expect(GeoSearch.steps(radius: 1_000_000, latitude: 70) == 3)
        #expect(GeoSearch.steps(radius: 1_000_000, latitude: -84) == 2)
        #expect(GeoSearch.steps(radius: .infinity, latitude: 0) == 1)
        #expect(GeoSearch.steps(radius: .leastNonzeroMagnitude, latitude: 0) == 26)
    }

    @Test func neighboursWrapAroundTheGlobe() {
        let corner = GeoCell(bits: 0, step: 2)
        let west = GeoSearch.moved(corner, east: -1, north: 0)
        #expect(GeoHash.deinterleave(west.bits) == (latitudeIndex: 0, longitudeIndex: 3))
        let south = GeoSearch.moved(corner, east: 0, north: -1)
        #expect(GeoHash.deinterleave(south.bits) == (latitudeIndex: 3, longitudeIndex: 0))
    }

    @Test func searchesFindWhatIsInsideAndNeverTrap() {
        var set = SortedSet()
        let points: [(String, Double, Double)] = [("palermo", 13.361389, 38.115556), ("catania", 15.087269, 37.502669),
                                                   ("ne", 180, 85.05112878), ("sw", -180, -85.05112878), ("origin", 0, 0)]
        for (name, longitude, latitude) in points {
            set.set(Array(name.utf8), score: GeoHash.score(longitude: longitude, latitude: latitude)!)
        }
        func names(_ query: GeoQuery) -> Set<String> {
            Set(GeoSearch.search(query, in: set).map { String(decoding: $0.member, as: UTF8.self) })
        }
        #expect(names(GeoQuery(longitude: 15, latitude: 37, shape: .radius(200_000), limit: 0)) == ["palermo", "catania"])
        #expect(names(GeoQuery(longitude: 15, latitude: 37, shape: .radius(100_000), limit: 0)) == ["catania"])
        #expect(names(GeoQuery(longitude: 15, latitude: 37, shape: .box(width: 400_000, height: 400_000), limit: 0)) == ["palermo", "catania"])
        #expect(GeoSearch.search(GeoQuery(longitude: 15, latitude: 37, shape: .radius(200_000), limit: 1), in: set).count == 1)
        for shape in [GeoShape.radius(.infinity), .radius(0), .radius(.leastNonzeroMagnitude), .radius(.greatestFiniteMagnitude),
                      .box(width: .infinity, height: .infinity), .box(width: 0, height: 0), .box(width: 1e308, height: 1)] {
            for (longitude, latitude) in [(180.0, 85.05112878), (-180, -85.05112878), (0, 0), (179.9, -85)] {
                _ = GeoSearch.search(GeoQuery(longitude: longitude, latitude: latitude, shape: shape, limit: 0), in: set)
            }
        }
        // The north-east corner's score lies past every cell's range (bits 52 and 53): as in
        // Redis, no search finds it.
        #expect(names(GeoQuery(longitude: 0, latitude: 0, shape: .radius(.infinity), limit: 0)) == ["palermo", "catania", "sw", "origin"])
    }
}
