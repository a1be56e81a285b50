// TLS for client connections (swift-nio-ssl): the server's certificate and key, and the
// CA that client certificates must chain to when `--tls-auth-clients` asks for them.
import NIOSSL
import NodeRuntime

enum ClientTLS {
    enum Failure: Error, CustomStringConvertible {
        case load(String, Error)
        case needsCA

        var description: String {
            switch self {
            case let .load(what, error): return "cannot load \(what): \(error)"
            case .needsCA: return "--tls-auth-clients yes or optional needs --tls-ca-cert-file (the CA client certificates must chain to)"
            }
        }
    }

    /// The server side TLS context for `settings`; throws a readable reason when a file
    /// is missing or does not parse.
    static func makeContext(_ settings: TLSSettings) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(settings.certFile) } catch { throw Failure.load("--tls-cert-file \(settings.certFile)", error) }
        do { key = try NIOSSLPrivateKey(file: settings.keyFile, format: .pem) } catch { throw Failure.load("--tls-key-file \(settings.keyFile)", error) }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        switch settings.authClients {
        case .no:
            configuration.certificateVerification = .none
        case .yes, .optional:
            guard let caFile = settings.caCertFile else { throw Failure.needsCA }
            let authorities: [NIOSSLCertificate]
            do { authorities = try NIOSSLCertificate.fromPEMFile(caFile) } catch { throw Failure.load("--tls-ca-cert-file \(caFile)", error) }
            configuration.trustRoots = .certificates(authorities)
            configuration.certificateVerification = settings.authClients == .yes ? .noHostnameVerification : .optionalVerification
        }
        do { return try NIOSSLContext(configuration: configuration) } catch { throw Failure.load("the TLS configuration", error) }
    }
}
