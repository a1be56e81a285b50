// GEO commands through the engine: geo sets are sorted sets, replies in both protocols
// (GEOPOS's coordinates as Redis's long-double text), errors in Redis's order, hostile
// numbers answered with errors, the STORE destination as a routed key, write flags, and
// replicas ending identical after replaying the log.
import Core
import Keyspace
import Testing
import Wire
@testable import Engine

@Suite struct GeoCommandTests {
    private func sicily(_ h: Harness) {
        h.run("GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania")
    }

    @Test func geoSetsAreSortedSets() {
        let h = Harness()
        #expect(h.run("GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania") == .integer(2))
        #expect(h.run("TYPE Sicily") == .simple("zset"))
        #expect(h.run("ZSCORE Sicily Palermo") == .double(3479099956230698))
        #expect(h.run("GEODIST Sicily Palermo Catania km") == .bulk("166.2742"))
        #expect(h.run("GEOHASH Sicily Palermo none") == .array([.bulk("sqc8b49rny0"), .null]))
        #expect(h.run("GEOPOS Sicily Palermo none") == .array([
            .array([.humanDouble("13.36138933897018433"), .humanDouble("38.11555639549629859")]), .nullArray]))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHDIST WITHHASH") == .array([
            .array([.bulk("Catania"), .bulk("56.4413"), .integer(3479447370796909)]),
            .array([.bulk("Palermo"), .bulk("190.4424"), .integer(3479099956230698)])]))
        #expect(h.run("GEOADD Sicily CH XX 13.5 38 Palermo") == .integer(1))
    }

    @Test func hostileNumbersAreErrors() {
        let h = Harness()
        sicily(h)
        #expect(h.run("GEOADD g nan 1 x") == .error("ERR value is not a valid float"))
        #expect(h.run("GEOADD g inf 1 x") == .error("ERR invalid longitude,latitude pair inf,1.000000"))
        #expect(h.run("GEOADD g 1e308 1 x") == .error("ERR invalid longitude,latitude pair \(Numbers.formatFixed(1e308, decimals: 6)),1.000000"))
        #expect(h.run("GEOADD g 200 100 x") == .error("ERR invalid longitude,latitude pair 200.000000,100.000000"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS nan km") == .error("ERR need numeric radius"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS -1 km") == .error("ERR radius cannot be negative"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 -inf km") == .error("ERR height or width cannot be negative"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km COUNT 0") == .error("ERR COUNT must be > 0"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km COUNT -9223372036854775808") == .error("ERR COUNT must be > 0"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km COUNT 99999999999999999999") == .error("ERR value is not an integer or out of range"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS inf km COUNT 9223372036854775807") == bulks("Catania", "Palermo"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS inf km COUNT 9223372036854775807 ANY") == bulks("Palermo", "Catania"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX inf inf km") == bulks("Palermo", "Catania"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 180 85.05112878 BYRADIUS 5e-324 m") == .array([]))
        #expect(h.run("GEODIST Sicily Palermo Catania parsec") == .error("ERR unsupported unit provided. please use M, KM, FT, MI"))
        #expect(h.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km ANY") == .error("ERR the ANY argument requires COUNT argument"))
        #expect(h.run("GEOSEARCH Sicily FROMMEMBER nope BYRADIUS 1 km") == .error("ERR could not decode requested zset member"))
        h.run("SET str v")
        #expect(h.run("GEOPOS str a") == wrongType)
        #expect(h.run("GEOSEARCH str FROMLONLAT 0 0 BYRADIUS 1 parsec") == wrongType)
    }

    @Test func storeDestinationsAreKeysAndWritesAreFlagged() {
        func keys(_ line: String) -> [Int] {
            let arguments = line.split(separator: " ").map { Array($0.utf8) }
            return CommandTable.lookup(arguments[0])?.keyPositions(in: arguments) ?? []
        }
        #expect(keys("GEORADIUS src 1 2 3 km STORE dst") == [1, 7])
        #expect(keys("GEORADIUS src 1 2 3 km STOREDIST d1 STORE d2") == [1, 9, 7])
        #expect(keys("GEORADIUSBYMEMBER src m 3 km STOREDIST dst") == [1, 6])
        #expect(keys("GEORADIUS src 1 2 3 km") == [1])
        #expect(keys("GEORADIUS_RO src 1 2 3 km") == [1])
        #expect(keys("GEOSEARCHSTORE dst src FROMLONLAT 0 0 BYRADIUS 1 km") == [1, 2])
        #expect(keys("GEOADD k 1 2 m") == [1])
        for name in ["geoadd", "georadius", "georadiusbymember", "geosearchstore"] {
            #expect(CommandTable.lookup(Array(name.utf8))?.isWrite == true)
        }
        for name in ["geodist", "geohash", "geopos", "georadius_ro", "georadiusbymember_ro", "geosearch"] {
            #expect(CommandTable.lookup(Array(name.utf8))?.isWrite == false)
            #expect(ACLCategories.of(CommandTable.lookup(Array(name.utf8))!).contains("geo"))
        }
    }

    @Test func replayLeavesTheSameSets() {
        let h = Harness()
        sicily(h)
        h.run("GEORADIUS Sicily 15 37 200 km STOREDIST d1")
        h.run("GEOSEARCHSTORE d2 Sicily FROMMEMBER Palermo BYBOX 500 500 km")
        h.run("GEOADD Sicily XX 1 1 Palermo")
        let replica = Engine(settings: Settings(), seed: 99, now: 0)
        h.replay(into: replica)
        for key in ["Sicily", "d1", "d2"] {
            #expect(replica.watchDigest(Array(key.utf8), now: h.now) == h.engine.watchDigest(Array(key.utf8), now: h.now))
        }
    }
}
