// Elections: term handling for every incoming message, PreVote, votes, CheckQuorum's
// leader stickiness, and the role transitions.
//
// Invariants: a node grants at most one (real) vote per term and persists it before the
// response leaves; a pre-vote never changes the voter's term or vote; a node that heard
// from a live leader within an election timeout ignores vote requests unless they come
// from a leadership transfer.

import Core

extension RaftNode {
    /// Reconciles the message's term with ours. Returns false if the message is done with.
    mutating func admitTerm(_ message: Message) -> Bool {
        if message.term > term {
            switch message.body {
            case let .requestVote(_, _, preVote, transfer):
                let inLease = config.checkQuorum && (leader != .none || holdsVotesAfterRestart)
                    && electionElapsed < config.electionTicks
                if inLease && !transfer { return false }
                if !preVote { becomeFollower(term: message.term, leader: .none) }
            case .voteResponse(true, true):
                break // A granted pre-vote names the term we would campaign in.
            default:
                let fromLeader = message.body.isFromLeader
                becomeFollower(term: message.term, leader: fromLeader ? message.from : .none)
            }
            return true
        }
        if message.term < term {
            if (config.checkQuorum || config.preVote) && message.body.isFromLeader {
                // Tell a stale leader about the newer term so it steps down.
                send(to: message.from, .heartbeatResponse(readSequence: 0))
            } else if case .requestVote(_, _, true, _) = message.body {
                send(to: message.from, .voteResponse(granted: false, preVote: true))
            }
            return false
        }
        return true
    }

    mutating func handleVoteRequest(_ message: Message, lastIndex: LogIndex, lastTerm: Term, preVote: Bool) {
        let canVote = vote == message.from
            || (vote == .none && leader == .none)
            || (preVote && message.term > term)
        let upToDate = config.mutations.voteWithoutLogCheck
            || log.isUpToDate(lastIndex: lastIndex, lastTerm: lastTerm)
        if canVote && upToDate {
            send(to: message.from, term: message.term, .voteResponse(granted: true, preVote: preVote))
            if !preVote {
                electionElapsed = 0
                vote = message.from
            }
        } else {
            send(to: message.from, .voteResponse(granted: false, preVote: preVote))
        }
    }

    mutating func stepCandidate(_ message: Message) {
        switch message.body {
        case .appendEntries, .heartbeat, .snapshotChunk:
            becomeFollower(term: message.term, leader: message.from)
            stepFollower(message)
        case let .voteResponse(granted, preVote):
            recordVote(from: message.from, granted: granted, preVote: preVote)
        default:
            break
        }
    }

    mutating func recordVote(from voter: NodeID, granted: Bool, preVote: Bool) {
        let quorum = MajorityQuorum(voters: log.membership.voters)
        switch role {
        case .preCandidate(var state) where preVote:
            state.record(voter, granted: granted)
            role = .preCandidate(state)
            switch quorum.voteResult(state.votes) {
            case .won: startElection(transfer: false, afterPreVote: true)
            case .lost: becomeFollower(term: term, leader: .none)
            case .pending: break
            }
        case .candidate(var state) where !preVote:
            state.record(voter, granted: granted)
            role = .candidate(state)
            switch quorum.voteResult(state.votes) {
            case .won: becomeLeader()
            case .lost: becomeFollower(term: term, leader: .none)
            case .pending: break
            }
        default:
            break
        }
    }

    /// Starts a pre-vote round, or a real election if pre-vote is off, already won, or this
    /// is a leadership transfer.
    mutating func startElection(transfer: Bool, afterPreVote: Bool = false) {
        guard isPromotable else { return }
        let isPreVote = config.preVote && !transfer && !afterPreVote
        let campaignTerm: Term
        var state = CandidateState()
        state.record(id, granted: true)
        if isPreVote {
            campaignTerm = term.next
            setRole(.preCandidate(state))
        } else {
            term = term.next
            vote = id
            campaignTerm = term
            setRole(.candidate(state))
        }
        electionElapsed = 0
        resetRandomizedElectionTimeout()
        if MajorityQuorum(voters: log.membership.voters).voteResult(state.votes) == .won {
            if isPreVote { startElection(transfer: false, afterPreVote: true) } else { becomeLeader() }
            return
        }
        for voter in log.membership.voters where voter != id {
            send(to: voter, term: campaignTerm, .requestVote(
                lastIndex: log.lastIndex, lastTerm: log.lastTerm, preVote: isPreVote, transfer: transfer))
        }
    }

    mutating func setRole(_ newRole: Role) {
        role = newRole
        roleEpoch &+= 1
    }

    mutating func becomeFollower(term newTerm: Term, leader: NodeID) {
        if newTerm != term {
            term = newTerm
            vote = .none
        }
        setRole(.follower(FollowerState(leader: leader)))
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
    }

    mutating func becomeLeader() {
        var state = LeaderState(progress: ProgressTracker(
            members: log.membership.members, next: log.lastIndex.next, config: config))
        // Any membership change already in the log must commit before another is proposed.
        state.pendingConfigIndex = log.lastIndex
        state.progress.update(id) { progress in
            progress.match = log.stable
            progress.becomeReplicate()
            progress.recentActive = true
        }
        setRole(.leader(state))
        electionElapsed = 0
        heartbeatElapsed = 0
        appendAsLeader(.empty)
        broadcastAppend()
    }
}

extension MessageBody {
    /// Messages only a leader sends.
    var isFromLeader: Bool {
        switch self {
        case .appendEntries, .heartbeat, .snapshotChunk, .timeoutNow: return true
        default: return false
        }
    }
}
