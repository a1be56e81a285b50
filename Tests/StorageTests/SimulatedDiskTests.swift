import Core
import Testing
@testable import Storage

@Suite struct SimulatedDiskTests {
    @Test func crashDropsUnsyncedWrites() throws {
        let disk = makeDisk()
        let path = joinPath(testDirectory, "a")
        let file = try disk.open(path, mode: .createTruncate)
        try disk.append(file, [1, 2, 3])
        try disk.sync(file)
        try disk.syncDirectory(testDirectory)
        try disk.append(file, [4, 5, 6])
        disk.crash(tornWrites: false)
        #expect(disk.contents(path) == [1, 2, 3])
        #expect(throws: DiskError.self) { try disk.append(file, [7]) }
    }

    @Test func crashMayKeepAPrefixOfUnsyncedBytes() throws {
        var seen: Set<Int> = []
        for seed in 0..<40 {
            let disk = makeDisk(seed: UInt64(seed))
            let path = joinPath(testDirectory, "a")
            let file = try disk.open(path, mode: .createTruncate)
            try disk.syncDirectory(testDirectory)
            try disk.append(file, [1, 2, 3, 4])
            disk.crash()
            let kept = try #require(disk.contents(path))
            #expect(kept == Array([1, 2, 3, 4].prefix(kept.count)))
            seen.insert(kept.count)
        }
        #expect(seen.count > 2, "different seeds tear differently")
    }

    @Test func unsyncedDirectoryChangesAreLost() throws {
        let disk = makeDisk()
        let path = joinPath(testDirectory, "new")
        let file = try disk.open(path, mode: .createTruncate)
        try disk.append(file, [1])
        try disk.sync(file)
        disk.crash()
        #expect(disk.contents(path) == nil, "the name was never made durable")

        let old = joinPath(testDirectory, "old")
        disk.setContents(old, [9])
        try disk.rename(old, to: path)
        disk.crash()
        #expect(disk.contents(old) == [9], "the rename was never made durable")
        try disk.rename(old, to: path)
        try disk.syncDirectory(testDirectory)
        disk.crash()
        #expect(disk.contents(path) == [9])
        #expect(disk.contents(old) == nil)
    }

    @Test func armedFaultsFireOnce() throws {
        let disk = makeDisk()
        let file = try disk.open(joinPath(testDirectory, "f"), mode: .createTruncate)
        disk.failNextSync = true
        #expect(throws: DiskError.self) { try disk.sync(file) }
        try disk.sync(file)
        disk.failNextAppend = true
        #expect(throws: DiskError.self) { try disk.append(file, [1]) }
        try disk.append(file, [1])
    }
}
