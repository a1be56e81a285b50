// Every way a command can fail, and the one place that renders failures as RESP error
// replies with Redis's exact wording.
import Keyspace
import Wire

public enum CommandError: Error, Equatable, Sendable {
    case keyspace(KeyspaceError)
    case syntax
    case notInteger
    case notFloat
    case wrongArity(command: String)
    case unknownCommand(name: String, arguments: [String])
    case unknownSubcommand(command: String, subcommand: String)
    case invalidExpireTime(command: String)
    /// A number outside what the command accepts, without a stated range (HRANDFIELD
    /// WITHVALUES with a count beyond half of Int64's range).
    case valueOutOfRange
    /// A number outside `minimum...maximum` (Redis's getRangeLongFromObjectOrReply).
    case valueOutOfRangeBetween(minimum: Int64, maximum: Int64)
    /// A float argument that is itself infinite (HINCRBYFLOAT).
    case notFiniteArgument
    case noAuth
    case wrongPassword
    case noPasswordConfigured
    /// A complete error text including its code, for one-off messages.
    case message(String)

    public var reply: RESPValue { .error(text) }

    public var text: String {
        switch self {
        case .keyspace(let error): return Self.text(of: error)
        case .syntax: return "ERR syntax error"
        case .notInteger: return "ERR value is not an integer or out of range"
        case .notFloat: return "ERR value is not a valid float"
        case .wrongArity(let command): return "ERR wrong number of arguments for '\(command)' command"
        case .unknownCommand(let name, let arguments):
            let shown = arguments.prefix(20).map { "'\($0)' " }.joined()
            return "ERR unknown command '\(name)', with args beginning with: \(shown)"
        case .unknownSubcommand(let command, let subcommand):
            return "ERR unknown subcommand '\(subcommand)'. Try \(command.uppercased()) HELP."
        case .invalidExpireTime(let command): return "ERR invalid expire time in '\(command)' command"
        case .valueOutOfRange: return "ERR value is out of range"
        case .valueOutOfRangeBetween(let minimum, let maximum):
            return "ERR value is out of range, value must between \(minimum) and \(maximum)"
        case .notFiniteArgument: return "ERR value is NaN or Infinity"
        case .noAuth: return "NOAUTH Authentication required."
        case .wrongPassword: return "WRONGPASS invalid username-password pair or user is disabled."
        case .noPasswordConfigured:
            return "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
        case .message(let text): return text
        }
    }

    static func text(of error: KeyspaceError) -> String {
        switch error {
        case .wrongType: return "WRONGTYPE Operation against a key holding the wrong kind of value"
        case .notInteger: return "ERR value is not an integer or out of range"
        case .notFloat: return "ERR value is not a valid float"
        case .overflow: return "ERR increment or decrement would overflow"
        case .nanOrInfinity: return "ERR increment would produce NaN or Infinity"
        case .hashValueNotInteger: return "ERR hash value is not an integer"
        case .hashValueNotFloat: return "ERR hash value is not a float"
        case .noSuchKey: return "ERR no such key"
        case .stringTooLong: return "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
        case .offsetOutOfRange: return "ERR offset is out of range"
        case .invalidExpireTime: return "ERR invalid expire time"
        case .countOutOfRange: return "ERR value is out of range"
        case .indexOutOfRange: return "ERR index out of range"
        case .scoreNotANumber: return "ERR resulting score is not a number (NaN)"
        case .notHyperLogLog: return "WRONGTYPE Key is not a valid HyperLogLog string value."
        case .corruptHyperLogLog: return "INVALIDOBJ Corrupted HLL object detected"
        }
    }
}

extension KeyspaceError {
    var command: CommandError { .keyspace(self) }
}

/// Runs a command body that may throw either kind of error and maps both to CommandError:
/// the one place where keyspace errors become command errors.
func mappingErrors<Result>(_ body: () throws -> Result) throws(CommandError) -> Result {
    do {
        return try body()
    } catch let error as KeyspaceError {
        throw error.command
    } catch let error as CommandError {
        throw error
    } catch {
        throw .syntax
    }
}
