// Majority arithmetic over a set of voters: the commit index a quorum has reached and the
// outcome of a vote. Pure functions over sorted arrays, so results never depend on hashing.
//
// Invariant: any two majorities of the same voter set intersect; single-server membership
// changes keep that true between consecutive configurations.

import Core

enum VoteResult: Equatable {
    case pending
    case won
    case lost
}

struct MajorityQuorum {
    let voters: [NodeID]

    var quorumSize: Int { voters.count / 2 + 1 }

    /// The largest index that a majority of voters has matched. `match` answers for a voter.
    func committedIndex(_ match: (NodeID) -> LogIndex) -> LogIndex {
        switch voters.count {
        case 0: return .zero
        case 1: return match(voters[0])
        case 3:
            // The median of three without allocating.
            let a = match(voters[0]), b = match(voters[1]), c = match(voters[2])
            return max(min(a, b), min(max(a, b), c))
        default:
            let sorted = voters.map(match).sorted(by: >)
            return sorted[quorumSize - 1]
        }
    }

    /// The outcome given the votes received so far (true = granted).
    func voteResult(_ votes: [(NodeID, Bool)]) -> VoteResult {
        var granted = 0
        var rejected = 0
        for voter in voters {
            guard let vote = votes.first(where: { $0.0 == voter }) else { continue }
            if vote.1 { granted += 1 } else { rejected += 1 }
        }
        if granted >= quorumSize { return .won }
        if rejected > voters.count - quorumSize { return .lost }
        return .pending
    }

    /// True if the voters for which `active` holds form a majority.
    func isActive(_ active: (NodeID) -> Bool) -> Bool {
        voters.filter(active).count >= quorumSize
    }
}
