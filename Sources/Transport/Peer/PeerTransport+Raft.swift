// Sending a Ready's messages: split by destination and packed into `.raft` frames that
// respect the codec's limits, preserving each destination's message order.
import Consensus
import Core

extension PeerTransport {
    /// Queues `messages` of `shard` to their destinations (`message.to`), packing each
    /// destination's messages, in order, into frames of at most `messagesPerFrameMax`
    /// messages and about `raftFrameBytesTarget` bytes (a single larger message gets a
    /// frame of its own). Returns how many messages were dropped (see `send`); once a
    /// frame to a destination is dropped, that destination's later messages are dropped
    /// too, so a peer never receives a gap followed by newer messages of the same batch.
    @discardableResult
    public func sendRaft(shard: ShardID, messages: [Message]) -> Int {
        eventLoop.assertInEventLoop()
        var order: [NodeID] = []
        var byDestination: [NodeID: [Message]] = [:]
        for message in messages {
            if byDestination[message.to] == nil { order.append(message.to) }
            byDestination[message.to, default: []].append(message)
        }
        var dropped = 0
        for destination in order {
            guard let batch = byDestination[destination] else { continue }
            var frame: [Message] = []
            var frameBytes = PeerWire.raftFrameOverheadBytes
            var refused = false
            func emit() {
                guard !frame.isEmpty else { return }
                if refused || !send(.raft(shard: shard, messages: frame), to: destination) {
                    refused = true
                    dropped += frame.count
                }
                frame.removeAll(keepingCapacity: true)
                frameBytes = PeerWire.raftFrameOverheadBytes
            }
            for message in batch {
                let size = PeerWire.encodedBytes(of: message)
                if !frame.isEmpty,
                   frame.count == limits.messagesPerFrameMax || frameBytes + size > limits.raftFrameBytesTarget {
                    emit()
                }
                frame.append(message)
                frameBytes += size
            }
            emit()
        }
        return dropped
    }
}
