// How a node names scripts among those known to write (Node+BusyScripts.swift).
import Testing
import Wire
@testable import NodeRuntime

@Suite struct ScriptMemoKeyTests {
    func request(_ words: String...) -> [[UInt8]] { words.map { Array($0.utf8) } }

    @Test func anEvalshaIsNamedByItsDigestInEitherCase() {
        let sha = "dd3f37806815095bb7ff120e34cbde0e39dfab88"
        let lower = Node.scriptMemoKey(request("EVALSHA", sha, "0"), id: .evalsha)
        #expect(lower == Node.scriptMemoKey(request("evalsha", sha.uppercased(), "0"), id: .evalsha))
        #expect(lower == Int(bitPattern: 0xdd3f_3780_6815_095b))
        #expect(lower != Node.scriptMemoKey(request("EVALSHA", "ee3f37806815095bb7ff120e34cbde0e39dfab88", "0"), id: .evalsha))
        #expect(Node.digestPrefix(Array("xd3f37806815095bb7ff120e34cbde0e39dfab88".utf8)) == nil)
        #expect(Node.digestPrefix(Array("dd3f".utf8)) == nil)
        // Not a digest: hashed like any name, and still the same in either case.
        #expect(Node.scriptMemoKey(request("EVALSHA", "NoSuch", "0"), id: .evalsha)
                == Node.scriptMemoKey(request("EVALSHA", "nosuch", "0"), id: .evalsha))
    }

    @Test func evalIsNamedByItsBodyAndFcallByItsFunction() {
        let body = "return 1"
        #expect(Node.scriptMemoKey(request("EVAL", body, "0"), id: .eval) == Node.scriptMemoKey(request("EVAL", body, "0"), id: .eval))
        #expect(Node.scriptMemoKey(request("EVAL", body, "0"), id: .eval) != Node.scriptMemoKey(request("EVAL", "return 2", "0"), id: .eval))
        #expect(Node.scriptMemoKey(request("FCALL", "F", "0"), id: .fcall) == Node.scriptMemoKey(request("fcall", "f", "0"), id: .fcall))
    }
}
