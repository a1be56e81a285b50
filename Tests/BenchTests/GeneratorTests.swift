// Key distributions and operation mixes: the zipfian sampler against its formula (top ranks
// and a chi-square over all ranks, fixed seed), hotspot and latest shapes, mix parsing and
// determinism given a seed.
import Core
import Foundation
import Testing
@testable import Bench

@Suite struct GeneratorTests {
    @Test func zipfianTableMatchesFormula() {
        let keys = 100
        let sampler = ZipfianSampler(keyCount: keys, theta: 0.99)
        var random = SeededRandom(seed: 42)
        let draws = 200_000
        var counts = [Int](repeating: 0, count: keys)
        for _ in 0..<draws { counts[sampler.next(&random)] += 1 }
        for rank in 0..<5 {
            let expected = sampler.probability(ofRank: rank) * Double(draws)
            #expect(abs(Double(counts[rank]) - expected) / expected < 0.03, "rank \(rank): \(counts[rank]) vs \(expected)")
        }
        // Chi-square with 99 degrees of freedom: the 0.999 quantile is about 148.2.
        let chiSquare = (0..<keys).reduce(0.0) { sum, rank in
            let expected = sampler.probability(ofRank: rank) * Double(draws)
            return sum + pow(Double(counts[rank]) - expected, 2) / expected
        }
        #expect(chiSquare < 148.2, "chi-square \(chiSquare)")
    }

    @Test func zipfianApproximationForLargeKeyspacesMatchesTopRanks() {
        let keys = 5_000_000
        let sampler = ZipfianSampler(keyCount: keys, theta: 0.99)
        var random = SeededRandom(seed: 7)
        let draws = 300_000
        var top = [Int](repeating: 0, count: 2)
        var inRange = true
        for _ in 0..<draws {
            let rank = sampler.next(&random)
            inRange = inRange && (0..<keys).contains(rank)
            if rank < 2 { top[rank] += 1 }
        }
        #expect(inRange)
        for rank in 0..<2 {
            let expected = sampler.probability(ofRank: rank) * Double(draws)
            #expect(abs(Double(top[rank]) - expected) / expected < 0.05, "rank \(rank): \(top[rank]) vs \(expected)")
        }
    }

    @Test func zetaTailIntegralIsClose() {
        let exact = (1...3_000_000).reduce(0.0) { $0 + 1 / pow(Double($1), 0.9) }
        let approximated = ZipfianSampler.zeta(3_000_000, 0.9)
        #expect(abs(exact - approximated) / exact < 1e-4)
    }

    @Test func hotspotSendsTheHotFractionOfOperationsToHotKeys() {
        let chooser = KeyChooser(keyspace: 1_000, distribution: .hotspot(hotKeysFraction: 0.1, hotOperationsFraction: 0.9))
        var random = SeededRandom(seed: 3)
        let draws = 100_000
        let hot = (0..<draws).filter { _ in chooser.next(&random) < 100 }.count
        #expect(abs(Double(hot) / Double(draws) - 0.9) < 0.01)
    }

    @Test func uniformCoversTheKeyspaceEvenly() {
        let chooser = KeyChooser(keyspace: 10, distribution: .uniform)
        var random = SeededRandom(seed: 5)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { counts[chooser.next(&random)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
    }

    @Test func latestFavoursRecentInserts() {
        var chooser = KeyChooser(keyspace: 1_000, distribution: .latest(theta: 0.99))
        for _ in 0..<10 { _ = chooser.nextInsert() }
        #expect(chooser.latestIndex == 9)
        var random = SeededRandom(seed: 9)
        var counts: [Int: Int] = [:]
        for _ in 0..<10_000 { counts[chooser.next(&random), default: 0] += 1 }
        let hottest = counts.max { $0.value < $1.value }?.key
        #expect(hottest == 9)
    }

    @Test func distributionsParse() {
        #expect(KeyDistribution.parse("uniform") == .uniform)
        #expect(KeyDistribution.parse("zipfian") == .zipfian(theta: 0.99))
        #expect(KeyDistribution.parse("zipfian(0.8)") == .zipfian(theta: 0.8))
        #expect(KeyDistribution.parse("hotspot(0.2,0.8)") == .hotspot(hotKeysFraction: 0.2, hotOperationsFraction: 0.8))
        #expect(KeyDistribution.parse("latest") == .latest(theta: 0.99))
        #expect(KeyDistribution.parse("zipfian(1)") == nil)
        #expect(KeyDistribution.parse("zipfian(0.5") == nil)
        #expect(KeyDistribution.parse("gaussian") == nil)
    }

    @Test func mixesParseAndNormalise() throws {
        let mix = try #require(Workload.parseMix("get=9,set=1", distribution: .uniform))
        #expect(mix.weights.map(\.kind) == [.get, .set])
        #expect(abs(mix.weights[0].weight - 0.9) < 1e-12)
        #expect(Workload.parseMix("get=0.5,get=0.5", distribution: .uniform) == nil)
        #expect(Workload.parseMix("scan=1", distribution: .uniform) == nil)
        #expect(Workload.parseMix("get=0", distribution: .uniform) == nil)
        for letter in ["A", "B", "C", "D", "F"] { #expect(Workload.preset(letter) != nil) }
        #expect(Workload.preset("E") == nil)
    }

    @Test func operationsFollowTheMixAndRepeatForASeed() throws {
        let workload = try #require(Workload.preset("B"))
        var first = OperationGenerator(workload: workload, keyspace: 1_000, seed: 11)
        var second = OperationGenerator(workload: workload, keyspace: 1_000, seed: 11)
        var gets = 0
        for _ in 0..<20_000 {
            let operation = first.next()
            #expect(operation == second.next())
            if operation.kind == .get { gets += 1 }
        }
        #expect(abs(Double(gets) / 20_000 - 0.95) < 0.01)
        var other = OperationGenerator(workload: workload, keyspace: 1_000, seed: 12)
        var differs = false
        var again = OperationGenerator(workload: workload, keyspace: 1_000, seed: 11)
        for _ in 0..<100 where other.next() != again.next() { differs = true }
        #expect(differs)
    }
}
