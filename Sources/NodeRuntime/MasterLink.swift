// REPLICAOF's link to a Redis master: the job the node hands the shell, the events the
// shell feeds back, and how a master's RDB file becomes requests.
//
// The shell dials the master and runs a replica's handshake (PING, AUTH with masteruser /
// masterauth, REPLCONF listening-port and capa psync2, PSYNC ? -1), reads the RDB file of
// the full resynchronization, and turns it into requests (`MasterLink.loadRequests`:
// FLUSHALL, the function libraries, one RESTORE per key). Those, then the master's stream,
// are fed to the node as requests of the master's client (`MasterLinkEvent.requests`),
// which go through the node's ordinary path, its log included: what a replica applied
// survives a restart as any write does. The shell answers the master's REPLCONF GETACK
// and sends REPLCONF ACK every second itself, and keeps at most `requestsInFlightMax`
// requests unanswered by the node (it stops reading the master meanwhile).
import Core
import Engine
import Keyspace
import Wire

/// What the shell needs to follow a master.
public struct MasterLinkJob: Sendable, Equatable {
    /// Tells the events of this job from those of an earlier one.
    public let generation: UInt64
    public let host: String
    public let port: Int
    /// AUTH's arguments (masteruser and masterauth, or masterauth alone); empty for none.
    public let authentication: [Bytes]
    /// This server's client port, announced with REPLCONF listening-port.
    public let listeningPort: Int
    /// No byte from the master for this long ends the link (`repl-timeout`).
    public let timeoutMilliseconds: Int
}

/// What happened on a master link; fed back as `NodeInput.masterLink`.
public enum MasterLinkEvent: Sendable {
    /// Dialling the master (again, after a failure).
    case connecting
    /// Connected: the replica's handshake runs.
    case handshaking
    /// The master answered FULLRESYNC: its RDB file follows. `client` is the id the
    /// master's requests come under on this connection (from `MasterLink.clientIDBase` up).
    case transferring(replicationID: String, offset: Int64, client: ClientID)
    /// Requests of the master's client `client`, in order: the dataset's load, then the
    /// stream; `offset` is the stream's offset after them.
    case requests([[Bytes]], client: ClientID, offset: Int64)
    /// The dataset is loaded and answered: the link is up at `offset` of the stream.
    case synchronized(offset: Int64)
    /// The stream's offset moved to `offset` (commands the shell handled itself: PING).
    case offset(Int64)
    /// The link broke or could not be made: why. The shell dials again after a pause.
    case down(String)
}

public enum MasterLink {
    /// Client ids of master connections start here; the shell's own never reach it.
    public static let clientIDBase: UInt64 = 1 << 62
    /// Most requests of the master's client the node may hold unanswered; the shell stops
    /// reading from the master at this many.
    public static let requestsInFlightMax = 1024
    /// Largest RDB file taken from a master (it is held in memory while it is read).
    public static let payloadBytesMax = 8 << 30

    /// The requests that load `contents` in place of the current dataset: FLUSHALL, each
    /// function library (FUNCTION LOAD REPLACE), then per database a SELECT and one
    /// RESTORE ... REPLACE ABSTTL per key, and a final SELECT 0 (the stream starts with a
    /// SELECT of its own).
    public static func loadRequests(_ contents: RDBFile.Contents) -> [[Bytes]] {
        var requests: [[Bytes]] = [[Array("FLUSHALL".utf8)]]
        for library in contents.libraries {
            requests.append([Array("FUNCTION".utf8), Array("LOAD".utf8), Array("REPLACE".utf8), library])
        }
        var database: Int?
        for key in contents.keys {
            if key.database != database {
                requests.append([Array("SELECT".utf8), Array(String(key.database).utf8)])
                database = key.database
            }
            requests.append([Array("RESTORE".utf8), key.key, Array(String(key.expireAt ?? 0).utf8),
                             DumpPayload.encode(key.value), Array("REPLACE".utf8), Array("ABSTTL".utf8)])
        }
        if database != nil, database != 0 { requests.append([Array("SELECT".utf8), Array("0".utf8)]) }
        return requests
    }
}
