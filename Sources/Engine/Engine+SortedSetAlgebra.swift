// Sorted-set commands over several keys: ZUNION, ZINTER, ZDIFF (and their STORE forms),
// ZINTERCARD, ZMPOP, and ZRANDMEMBER.
import Keyspace
import Wire

extension Engine {
    func runSortedSetAlgebraCommand(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        throw CommandError.syntax
    }
}
