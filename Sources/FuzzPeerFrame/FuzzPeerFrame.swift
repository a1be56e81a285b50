// libFuzzer target: the peer frame decoder (what any connection to the peer port may
// send) must decode frames, ask for more bytes, or throw, never trap; a frame it decodes
// encodes back to one that decodes equal.
import Cluster
import NIOCore
import PeerCodec

// fatalError below is the fuzzer's oracle: a value that does not round-trip is a bug
// libFuzzer must report (this target is never part of the server).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPeerFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var limits = PeerLimits()
    limits.frameBytesMax = 1 << 16
    let decoder = PeerFrameDecoder(limits: limits)
    var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    // The checksum would stop almost every mutation at the header: half the runs fix it
    // up first, so the body parsers are reached too.
    if size > 8, data[0] & 1 == 1 {
        let length = min(UInt32(size - 8), buffer.getInteger(at: 0, endianness: .little, as: UInt32.self) ?? 0)
        buffer.setInteger(length, at: 0, endianness: .little)
        if let crc = PeerFrameEncoder.checksumForFuzzing(of: buffer, length: Int(length)) {
            buffer.setInteger(crc, at: 4, endianness: .little)
        }
    }
    while let decoded = try? decoder.decodeFrame(from: &buffer) {
        var again = ByteBuffer()
        guard (try? PeerFrameEncoder(limits: limits).encode(decoded.frame, into: &again)) != nil,
              (try? decoder.decodeFrame(from: &again))?.frame == decoded.frame else {
            fatalError("peer frame does not round-trip: \(decoded.frame)")
        }
    }
    return 0
}
