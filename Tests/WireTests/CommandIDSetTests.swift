// CommandIDSet and CommandIDTable answer as Set and Dictionary would, for every id.
import Testing
import Wire

@Suite struct CommandIDSetTests {
    @Test func membershipMatchesASetForEveryId() {
        #expect(CommandID.allCases.count <= CommandIDSet.capacity)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let chosen = Set(CommandID.allCases.filter { _ in Bool.random(using: &generator) })
            let bits = CommandIDSet(chosen)
            for id in CommandID.allCases { #expect(bits.contains(id) == chosen.contains(id), "\(id)") }
        }
        let literal: CommandIDSet = [.get, .zscan, .trestle]
        #expect(literal.contains(.get) && literal.contains(.zscan) && literal.contains(.trestle))
        #expect(!literal.contains(.set))
        #expect(!CommandIDSet().contains(.get))
    }

    @Test func tableAnswersAsItsDictionary() {
        let entries: [CommandID: Int] = [.get: 1, .trestle: 2, .ping: 3]
        let table = CommandIDTable(entries)
        for id in CommandID.allCases { #expect(table[id] == entries[id], "\(id)") }
    }
}
