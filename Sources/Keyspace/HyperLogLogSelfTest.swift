// PFSELFTEST: checks the HyperLogLog implementation as Redis's does. First every dense
// register must read back what was written to it; then one value kept sparse as long as it
// may be and one dense from the start take the same elements, and at each power of ten they
// must estimate the same cardinality, within six standard errors of the truth.
import Core

extension HyperLogLog {
    /// Elements the approximation test adds (Redis adds 10,000,000; a tenth keeps the
    /// node's thread free within about a quarter of a second).
    public static let selfTestElementsMax = 1_000_000

    /// Runs the self test with a generator seeded by `seed`; nil when it passed, else
    /// Redis's `TESTFAILED ...` text.
    /// `plantedLostRegister`: a test-only bug, a register whose write is lost.
    public static func selfTest(seed: UInt64, sparseBytesMax: Int = sparseBytesMaxDefault, plantedLostRegister: Int? = nil) -> String? {
        var random = SeededRandom(seed: seed)
        if let failure = registerAccessTest(&random, losing: plantedLostRegister) { return failure }
        return approximationTest(seed: random.next(), sparseBytesMax: sparseBytesMax)
    }

    /// Writes random values to every dense register of a fresh value and reads them back.
    private static func registerAccessTest(_ random: inout SeededRandom, losing lost: Int?) -> String? {
        var value = HyperLogLog()
        guard value.convertToDense() else { return "TESTFAILED cannot make a dense HyperLogLog" }
        var written = [UInt8](repeating: 0, count: registerCount)
        for index in 0..<registerCount {
            let count = UInt8(random.next() % 64) | (index == lost ? 1 : 0)
            written[index] = count
            if index == lost { continue }
            if count > 0 { _ = value.denseRaise(index, to: count) }
        }
        var read = [UInt8](repeating: 0, count: registerCount)
        guard value.merge(into: &read) else { return "TESTFAILED cannot read the registers back" }
        if let wrong = (0..<registerCount).first(where: { read[$0] != written[$0] }) {
            return "TESTFAILED Register error at index \(wrong): set \(written[wrong]), read \(read[wrong])"
        }
        return nil
    }

    private static func approximationTest(seed: UInt64, sparseBytesMax: Int) -> String? {
        var sparse = HyperLogLog()
        var dense = HyperLogLog()
        guard dense.convertToDense() else { return "TESTFAILED cannot make a dense HyperLogLog" }
        // Standard error 1.04 / sqrt(m).
        let relativeError = 1.04 / Double(registerCount).squareRoot()
        var checkpoint = 1
        for element in 1...selfTestElementsMax {
            let bytes = withUnsafeBytes(of: (UInt64(element) ^ seed).littleEndian) { Array($0) }
            guard dense.add(bytes, sparseBytesMax: sparseBytesMax) != .corrupt,
                  sparse.add(bytes, sparseBytesMax: sparseBytesMax) != .corrupt else {
                return "TESTFAILED corrupt HyperLogLog after \(element) elements"
            }
            guard element == checkpoint else { continue }
            if element < sparseBytesMax / 2, sparse.encoding != .sparse {
                return "TESTFAILED sparse encoding not used at cardinality \(element)"
            }
            guard let estimate = dense.cardinality(), sparse.cardinality() == estimate else {
                return "TESTFAILED sparse and dense estimates differ at cardinality \(element)"
            }
            let error = abs(Int64(element) - Int64(estimate))
            // Few elements, few registers set: Redis allows an error of 1 at 10.
            let allowed = element == 10 ? 1 : Int64((relativeError * 6 * Double(element)).rounded(.up))
            if error > allowed { return "TESTFAILED Too big error. card:\(element) abserr:\(error)" }
            checkpoint *= 10
        }
        return nil
    }
}
