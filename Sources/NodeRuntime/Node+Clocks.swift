// Time as the node sees it: the injected clocks, each read once per input. Everything one
// input does (a request's prologue, routing, read and statistics) shares one reading of
// each clock; a command's duration still ends with a fresh monotonic reading (`finished`).

extension Node {
    /// Wall-clock milliseconds: read once per input (`inputClocks`), fresh outside `handle`.
    func now() -> Int64 {
        if let wall = inputClocks?.wallMilliseconds { return wall }
        let wall = clock.now().rawValue
        inputClocks?.wallMilliseconds = wall
        return wall
    }

    /// Monotonic microseconds when the input being handled arrived: read once per input.
    func inputMonotonicMicroseconds() -> Int64 {
        if let micros = inputClocks?.monotonicMicroseconds { return micros }
        let micros = monotonicClock.monotonicMicroseconds()
        inputClocks?.monotonicMicroseconds = micros
        return micros
    }
}

/// Clock readings shared by everything one input does.
struct InputClocks {
    var wallMilliseconds: Int64?
    var monotonicMicroseconds: Int64?
}
