// The admin HTTP port's options, shared by `trestle server` and `trestle node`.
import ArgumentParser

struct AdminOptions: ParsableArguments {
    @Option(name: .customLong("admin-port"), help: "Serve HTTP on this port: /metrics (Prometheus), /health, /ready, /cluster (JSON). 0 picks a free port.")
    var adminPort: Int?

    @Option(name: .customLong("admin-host"), help: "Address the admin port listens on (default loopback; metrics and cluster layout are not secret-free).")
    var adminHost: String = "127.0.0.1"

    func validate() throws {
        if let adminPort, !(0...65535).contains(adminPort) { throw ValidationError("--admin-port must be between 0 and 65535") }
    }
}
