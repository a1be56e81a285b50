// TLS options shared by `trestle server` and `trestle node`, named as Redis names them.
import ArgumentParser
import NodeRuntime

struct TLSOptions: ParsableArguments {
    @Option(name: .customLong("tls-port"), help: "Also accept TLS clients on this port (0 picks a free port; needs --tls-cert-file and --tls-key-file).")
    var tlsPort: Int?

    @Option(name: .customLong("tls-cert-file"), help: "The server's certificate chain (PEM).")
    var tlsCertFile: String?

    @Option(name: .customLong("tls-key-file"), help: "The server certificate's private key (PEM).")
    var tlsKeyFile: String?

    @Option(name: .customLong("tls-ca-cert-file"), help: "CA certificates (PEM) that client certificates must chain to.")
    var tlsCACertFile: String?

    @Flag(name: .customLong("tls-cluster"), help: "trestle node: peer links use mutual TLS with --tls-cert-file, --tls-key-file and --tls-ca-cert-file (every node needs it).")
    var tlsCluster = false

    @Option(name: .customLong("tls-auth-clients"), help: "yes: clients must present a certificate the CA signed (default); optional: checked if presented; no: not asked for.")
    var tlsAuthClients: String = "yes"

    func validate() throws {
        if tlsCluster, tlsCertFile == nil || tlsKeyFile == nil || tlsCACertFile == nil {
            throw ValidationError("--tls-cluster needs --tls-cert-file, --tls-key-file and --tls-ca-cert-file")
        }
        guard let tlsPort else {
            guard tlsCluster || (tlsCertFile == nil && tlsKeyFile == nil && tlsCACertFile == nil) else {
                throw ValidationError("--tls-cert-file, --tls-key-file and --tls-ca-cert-file need --tls-port or --tls-cluster")
            }
            return
        }
        guard (0...65535).contains(tlsPort) else { throw ValidationError("--tls-port must be between 0 and 65535") }
        guard tlsCertFile != nil, tlsKeyFile != nil else { throw ValidationError("--tls-port needs --tls-cert-file and --tls-key-file") }
        guard let auth = TLSSettings.ClientAuth(rawValue: tlsAuthClients.lowercased()) else {
            throw ValidationError("--tls-auth-clients must be yes, no or optional")
        }
        if auth != .no, tlsCACertFile == nil {
            throw ValidationError("--tls-auth-clients \(auth.rawValue) needs --tls-ca-cert-file (or pass --tls-auth-clients no)")
        }
    }

    /// The peer links' files, under --tls-cluster.
    var clusterFiles: ClusterTLSFiles? {
        guard tlsCluster, let tlsCertFile, let tlsKeyFile, let tlsCACertFile else { return nil }
        return ClusterTLSFiles(certFile: tlsCertFile, keyFile: tlsKeyFile, caCertFile: tlsCACertFile)
    }

    /// The settings, when TLS was asked for.
    var settings: TLSSettings? {
        guard let tlsPort, let tlsCertFile, let tlsKeyFile else { return nil }
        return TLSSettings(port: tlsPort, certFile: tlsCertFile, keyFile: tlsKeyFile, caCertFile: tlsCACertFile,
                           authClients: TLSSettings.ClientAuth(rawValue: tlsAuthClients.lowercased()) ?? .yes)
    }
}
