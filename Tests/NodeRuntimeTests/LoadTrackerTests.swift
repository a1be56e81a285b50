// The per-slot and sampled per-key load counters behind TRESTLE HOTKEYS and STATUS.
import Cluster
import Core
import Testing
@testable import NodeRuntime

@Suite struct LoadTrackerTests {
    @Test func aHotKeyAndItsSlotLeadTheLastWindow() {
        var tracker = LoadTracker()
        tracker.roll(now: 1)
        let hot = Array("hot".utf8)
        for n in 0..<80_000 {
            let key = n % 2 == 0 ? hot : Array("cold:\(n)".utf8)
            tracker.record(slot: HashSlot.of(key: key), key: key)
        }
        #expect(tracker.hottestSlots(1).isEmpty)  // nothing until a window closes
        tracker.roll(now: 1 + LoadTracker.defaultWindowMilliseconds)
        let slots = tracker.hottestSlots(3)
        #expect(slots.first?.slot == HashSlot.of(key: hot).rawValue)
        #expect(abs((slots.first?.rate ?? 0) - 4000) < 1)  // 40,000 requests over 10 s
        let keys = tracker.hottestKeys(3)
        #expect(keys.first?.key == hot)
        #expect(tracker.rate(of: [SlotRange(0, 16383)]) == 8000)
        // Bounded however many distinct keys come by.
        #expect(tracker.sampledKeys.count <= LoadTracker.sampledKeysMax)
    }
}
