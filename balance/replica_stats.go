package balance

import "time"

// ReplicaStats is a snapshot of a ReplicaRouter: what the probe loop knows
// of every member and how reads were routed. The per-node counters of reads
// sent to replicas are the picker's Stats.
type ReplicaStats[N comparable] struct {
	// Primary is the primary's position and probe record (its Lag is 0).
	Primary MemberStats[N]
	// Replicas are the replicas in Topology order.
	Replicas []MemberStats[N]
	// Serving is the number of replicas not held out for lag; Floor is the
	// number that lag may never take out.
	Serving, Floor int

	// Rounds counts completed probe rounds.
	Rounds int64
	// Waits counts reads that waited for a replica to reach their Token.
	Waits int64
	// PassedOver counts replicas the picker offered for a read whose
	// Token they had not reached.
	PassedOver int64
	// WindowReads, BehindReads and FallbackReads count reads sent to the
	// primary: inside a session window, because no replica reached the
	// Token within MaxWait, and because the picker had no replica to give.
	WindowReads, BehindReads, FallbackReads int64
}

// MemberStats is what the probe loop knows of one member.
type MemberStats[N comparable] struct {
	Node N
	// Position is the latest position read; Known is false before the
	// first successful read.
	Position Position
	Known    bool
	// Lag is the replica's lag estimated at the latest round, from its
	// latest position (from when it joined if it has none); LagKnown is
	// false when that position is not current: the latest read failed, is
	// running late, or never answered (see ReplicaConfig.UnknownLag).
	Lag      time.Duration
	LagKnown bool
	// Lagging reports a lag beyond MaxLag (or unknown, with
	// LagUnknownEjects); Ejected that the router holds the replica out of
	// the picker for it, FloorKept that the floor keeps it serving instead.
	Lagging, Ejected, FloorKept bool
	// ProbeErrors counts failed position reads; LastError is the latest.
	ProbeErrors int64
	LastError   error
}

// Stats returns a snapshot of the router's state and counters.
func (r *ReplicaRouter[N]) Stats() ReplicaStats[N] {
	s := r.snap.Load()
	out := ReplicaStats[N]{
		Primary:       memberStats(s.primary),
		Replicas:      make([]MemberStats[N], len(s.replicas)),
		Floor:         r.cfg.floor(len(s.replicas)),
		Rounds:        r.rounds.Load(),
		Waits:         r.waits.Load(),
		PassedOver:    r.passedOver.Load(),
		WindowReads:   r.windowReads.Load(),
		BehindReads:   r.behindReads.Load(),
		FallbackReads: r.fallbackReads.Load(),
	}
	out.Primary.Lag, out.Primary.LagKnown = 0, out.Primary.Known
	for i, st := range s.replicas {
		out.Replicas[i] = memberStats(st)
		if !out.Replicas[i].Ejected {
			out.Serving++
		}
	}
	return out
}

func memberStats[N comparable](st *memberState[N]) MemberStats[N] {
	ms := MemberStats[N]{
		Node:        st.node,
		Position:    Position(st.pos.Load()),
		Known:       st.known.Load(),
		Lagging:     st.lagging.Load(),
		Ejected:     st.ejected.Load(),
		FloorKept:   st.floorKept.Load(),
		ProbeErrors: st.errs.Load(),
	}
	ms.Lag, ms.LagKnown = time.Duration(st.lag.Load()), st.lagFresh.Load()
	if e := st.lastErr.Load(); e != nil {
		ms.LastError = e.err
	}
	return ms
}
