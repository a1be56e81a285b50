// Runs every testdata/*.txt node script through NodeScriptHarness and compares
// each command's output with the recorded one. TRESTLE_REWRITE=1 re-records the files in
// the source tree instead of comparing.

import Foundation
import ScriptTesting
import Testing

@Suite struct NodeScriptTests {
    static let scripts = ["single_node", "standalone", "three_nodes_proxy", "three_nodes_redirect", "busy_scripts", "migrate", "replicaof"]

    @Test(arguments: scripts)
    func script(_ name: String) throws {
        let harness = NodeScriptHarness()
        let failures = try ScriptFile.check(name, bundle: Bundle.module, sourceFile: #filePath) { harness.run($0) }
        #expect(failures == [])
    }
}
