// A table of objects by a 64-bit id, for ids handed out in sequence (the shell's client
// connections). Every reply and every pub/sub message is handed to its connection by id
// (a publish to N subscribers: N lookups), so lookups avoid hashing: a direct-mapped array
// answers with an index and a compare, and ids that collide there fall back to a
// dictionary. Inlinable, so that it is specialized for its value type where it is used
// (unspecialized generic code across modules costs more than the hashing it avoids).

public struct DirectMappedTable<Value: AnyObject> {
    /// Slots of the direct-mapped array (a power of two).
    @inlinable public static var directSlots: Int { 4096 }

    @usableFromInline var directIDs = [UInt64](repeating: UInt64.max, count: directSlots)
    @usableFromInline var directValues = [Value?](repeating: nil, count: directSlots)
    /// Every value, those in the direct array included.
    @usableFromInline var everyValue: [UInt64: Value] = [:]
    /// Every value by id.
    public var all: [UInt64: Value] { everyValue }

    @inlinable public init() {}

    @inlinable static func slot(_ id: UInt64) -> Int { Int(truncatingIfNeeded: id) & (directSlots - 1) }

    @inlinable public subscript(id: UInt64) -> Value? {
        let slot = Self.slot(id)
        if directIDs[slot] == id { return directValues[slot] }
        return everyValue[id]
    }

    /// Adds or replaces the value of `id` (UInt64.max is not an id).
    @inlinable public mutating func insert(_ value: Value, for id: UInt64) {
        precondition(id != UInt64.max, "UInt64.max marks an empty slot")
        everyValue[id] = value
        let slot = Self.slot(id)
        if directValues[slot] == nil || directIDs[slot] == id {
            directIDs[slot] = id
            directValues[slot] = value
        }
    }

    @inlinable public mutating func remove(_ id: UInt64) {
        everyValue.removeValue(forKey: id)
        let slot = Self.slot(id)
        if directIDs[slot] == id {
            directIDs[slot] = UInt64.max
            directValues[slot] = nil
        }
    }
}
