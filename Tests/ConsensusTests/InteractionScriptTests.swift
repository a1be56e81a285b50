// Runs every testdata/*.txt interaction script through InteractionHarness and compares
// each command's output with the recorded one. TRESTLE_REWRITE=1 re-records the files in
// the source tree instead of comparing.

import Foundation
import ScriptTesting
import Testing

@Suite struct InteractionScriptTests {
    static let scripts = ["election", "prevote_checkquorum", "figure8", "figure8_mutated", "backtracking", "snapshot", "snapshot_replaced", "learner_promotion",
                          "membership", "readindex_lease", "transfer", "replica_recreated"]

    @Test(arguments: scripts)
    func script(_ name: String) throws {
        let harness = InteractionHarness()
        let failures = try ScriptFile.check(name, bundle: Bundle.module, sourceFile: #filePath) { harness.run($0) }
        #expect(failures == [])
    }
}
