// Mutual TLS on peer links (`--tls-cluster`): every node presents its certificate, and
// both ends require the other's to chain to the cluster's CA. Node addresses are IPs, so
// no host name is checked; who a peer is comes from its hello, and (with a cluster
// secret) from its proof.
import NIOSSL

public struct PeerTLS: Sendable {
    let server: NIOSSLContext
    let client: NIOSSLContext

    public enum Failure: Error, CustomStringConvertible {
        case load(String, Error)
        public var description: String {
            switch self {
            case let .load(what, error): return "cannot load \(what) for --tls-cluster: \(error)"
            }
        }
    }

    /// Contexts from PEM files: this node's certificate chain and key, and the CA.
    public init(certFile: String, keyFile: String, caCertFile: String) throws {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let authorities: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certFile) } catch { throw Failure.load(certFile, error) }
        do { key = try NIOSSLPrivateKey(file: keyFile, format: .pem) } catch { throw Failure.load(keyFile, error) }
        do { authorities = try NIOSSLCertificate.fromPEMFile(caCertFile) } catch { throw Failure.load(caCertFile, error) }
        var serverSide = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        var clientSide = TLSConfiguration.makeClientConfiguration()
        clientSide.certificateChain = chain.map { .certificate($0) }
        clientSide.privateKey = .privateKey(key)
        serverSide.trustRoots = .certificates(authorities)
        clientSide.trustRoots = .certificates(authorities)
        serverSide.certificateVerification = .noHostnameVerification
        clientSide.certificateVerification = .noHostnameVerification
        serverSide.minimumTLSVersion = .tlsv12
        clientSide.minimumTLSVersion = .tlsv12
        do {
            server = try NIOSSLContext(configuration: serverSide)
            client = try NIOSSLContext(configuration: clientSide)
        } catch {
            throw Failure.load("the TLS configuration", error)
        }
    }
}
