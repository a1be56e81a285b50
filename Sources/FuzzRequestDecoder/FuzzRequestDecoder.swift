// libFuzzer target: the client request decoder (RESP arrays and inline commands) must
// return requests, ask for more bytes, or throw a protocol error on any input, never trap.
// Build and run: scripts/fuzz (swift build --sanitize=fuzzer; see docs/FUZZING.md).
import NIOCore
import Wire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var limits = ProtocolLimits()
    limits.bulkLengthBytesMax = 1 << 16
    limits.multibulkCountMax = 1 << 12
    limits.queryBufferBytesMax = 1 << 16
    var decoder = RequestDecoder(limits: limits)
    var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    // The same bytes once whole and once split in two, as a socket may deliver them.
    while let request = try? decoder.next(from: &buffer) { _ = request }
    var split = RequestDecoder(limits: limits)
    let cut = size / 2
    var first = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: cut))
    while (try? split.next(from: &first)) != nil {}
    first.writeBytes(UnsafeBufferPointer(start: data + cut, count: size - cut))
    while (try? split.next(from: &first)) != nil {}
    var reader = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    while let value = try? RESPReader(limits: limits).next(from: &reader) { _ = value }
    return 0
}
