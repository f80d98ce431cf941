package balance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark"
)

// Position is a point in a primary's replication stream: a byte offset
// (Redis master_repl_offset and slave_repl_offset), a log sequence number
// (PostgreSQL pg_current_wal_lsn() and pg_last_wal_replay_lsn()). Positions
// grow with every write, and a replica at position p has applied every write
// the primary had made when it stood at p.
//
// A ReplicaRouter compares positions of the primary with those of its
// replicas, so they must be comparable across the whole topology, including
// across a failover: Redis offsets and PostgreSQL LSNs are, because a
// promoted replica continues its old primary's stream.
type Position uint64

// Member is one node of a replicated store with the probe that reads its
// replication position.
type Member[N comparable] struct {
	// Node is the node: an address, a client, your own struct.
	Node N

	// Position reads the node's replication position: on the primary the
	// position of its latest write, on a replica the position it has
	// applied. It must return by the time ctx ends. It is nil for a store
	// that has no positions (see ReplicaConfig.SessionWindow); then it must
	// be nil for every member.
	Position func(ctx context.Context) (Position, error)
}

// Topology is a primary and its replicas: the input of NewReplicaRouter and
// ReplicaRouter.Update.
type Topology[N comparable] struct {
	Primary  Member[N]
	Replicas []Member[N]
}

// ReplicaPicker is the picker a ReplicaRouter spreads reads with: every
// picker of this package over plain nodes (RoundRobin, Random, LeastLoaded,
// P2C, PeakEWMA, Consistent) is one. The router owns it: it sets its nodes
// with Update and takes lagging replicas out with MarkUnavailable.
type ReplicaPicker[N comparable] interface {
	Picker[N]
	Update(nodes []N) error
	MarkUnavailable(node N, until time.Time, reason error) bool
}

// Token is what a read must see: the writes of its session. Write and
// Written return one; pass it to the session's next reads (keep it in the
// session, a cookie, a request header) and fold the next write's token into
// it with Merge. The zero Token asks for nothing: the read may go to any
// serving replica.
type Token struct {
	// Position is the primary's position after the session's latest write
	// (zero in session-window mode): a read carrying the Token goes only to
	// a replica that has applied it, or to the primary.
	Position Position
	// PrimaryUntil is the end of the session window (zero without one): a
	// read carrying the Token before this moment goes to the primary.
	PrimaryUntil time.Time
}

// Merge returns the Token that asks for both t and u: the later position
// and the later window end.
func (t Token) Merge(u Token) Token {
	if u.Position > t.Position {
		t.Position = u.Position
	}
	if u.PrimaryUntil.After(t.PrimaryUntil) {
		t.PrimaryUntil = u.PrimaryUntil
	}
	return t
}

// ErrNoPosition is matched by the error of Written and Write when the
// primary's position could not be read after a write: the write itself has
// happened (do not retry it blindly), but there is no Token that proves it.
// Send the session's reads to the primary (PickWrite's node) for a while, or
// call Written again.
var ErrNoPosition = errors.New("balance: no replication position")

// ReplicaRouter routes the calls of a replicated store: writes to the
// primary, reads to the replicas through a picker, with read-your-writes and
// lag-aware ejection. Write and Read are the calls most users want:
//
//	router, err := balance.NewReplicaRouter(topology, nil, balance.ReplicaConfig{MaxLag: 5 * time.Second})
//	defer router.Close()
//	tok, err := router.Write(ctx, insert)            // on the primary; tok proves the write
//	err = router.Read(ctx, session.Merge(tok), load) // on a replica that has it, or the primary
//
// Read-your-writes: a write returns a Token (Write, or PickWrite then
// Written); a read carrying it (Read, PickRead) goes only to a replica whose
// applied position is at least the Token's, waiting up to
// ReplicaConfig.MaxWait for one to catch up, and otherwise to the primary.
// For a store without positions, ReplicaConfig.SessionWindow sends a
// session's reads to the primary for a while after its write instead.
//
// Lag-aware ejection: a probe loop reads every member's position each
// ReplicaConfig.ProbeInterval and measures each replica's lag as the time
// since the primary first stood at a position the replica has not reached.
// Replicas lagging by more than ReplicaConfig.MaxLag stop taking reads
// without a Token (they are made unavailable in the picker) until they catch
// up, but never so many that fewer than the floor keep serving: lag alone
// never sends every read to the primary.
//
// A ReplicaRouter is safe for concurrent use. PickRead with the zero Token,
// or with a Token its picked replica has reached, is the picker's Pick plus
// an index lookup: it does not block and allocates nothing. Close stops the
// probe loop.
type ReplicaRouter[N comparable] struct {
	snap    atomic.Pointer[replicaSnapshot[N]]
	cfg     replicaSettings
	picker  ReplicaPicker[N]
	primary *RoundRobin[N] // one node: the primary's in-flight count and local rejections

	// progress is closed and replaced at the end of every probe round;
	// reads waiting for a position wait on it. kick asks the loop for a
	// round now.
	progress atomic.Pointer[chan struct{}]
	kick     chan struct{}
	stop     chan struct{}
	loopDone chan struct{}
	probes   sync.WaitGroup // probe calls in flight, waited for by Close
	closed   atomic.Bool
	closeMu  sync.Mutex

	mu sync.Mutex // serialises Update

	windowReads   atomic.Int64
	behindReads   atomic.Int64
	fallbackReads atomic.Int64
	waits         atomic.Int64
	passedOver    atomic.Int64
	rounds        atomic.Int64
}

// replicaSnapshot is an immutable view of the topology; the per-member
// states it points to are shared with later snapshots for members that stay.
type replicaSnapshot[N comparable] struct {
	primary  *memberState[N]
	replicas []*memberState[N]
	index    map[N]*memberState[N] // replicas by node
	epoch    uint64                // counts primary changes: the probe loop restarts its history
}

// memberState is what the probe loop knows of one member. The loop and the
// probe calls write it; reads and Stats load it.
type memberState[N comparable] struct {
	node  N
	probe atomic.Pointer[probeFunc] // replaced by Update

	pos     atomic.Uint64 // the latest position read
	known   atomic.Bool   // pos holds a position
	okAt    atomic.Int64  // unix ns of the latest successful read, 0 before
	failed  atomic.Bool   // the latest completed read failed
	running atomic.Int64  // unix ns at which the read in flight started, 0 when none
	errs    atomic.Int64  // failed reads
	lastErr atomic.Pointer[errBox]
	added   int64 // unix ns when the member joined

	// Written by the probe loop only.
	lag       atomic.Int64 // ns, the estimate of the latest round
	lagFresh  atomic.Bool  // the estimate rests on a current read
	lagging   atomic.Bool  // beyond MaxLag (or unknown and ejected by policy)
	ejected   atomic.Bool  // held unavailable in the picker by the router
	floorKept atomic.Bool  // lagging but kept serving by the floor
}

type errBox struct{ err error }

type probeFunc = func(context.Context) (Position, error)

// probeOf returns the member's probe, nil without one.
func (st *memberState[N]) probeOf() probeFunc {
	if f := st.probe.Load(); f != nil {
		return *f
	}
	return nil
}

// NewReplicaRouter returns a router over t that spreads reads over the
// replicas with picker (nil means a P2C with the zero Config) and starts the
// probe loop when the members have probes. The router calls picker.Update
// with the replicas' nodes. It returns an error matching ErrInvalidConfig
// naming the field: no primary (a zero Node), a duplicate node, a replica
// probe missing while the primary has one (or the reverse), a negative
// duration or a percent outside [0,100].
func NewReplicaRouter[N comparable](t Topology[N], picker ReplicaPicker[N], cfg ReplicaConfig) (*ReplicaRouter[N], error) {
	s, err := newReplicaSettings(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkTopology(t, s); err != nil {
		return nil, err
	}
	r := &ReplicaRouter[N]{cfg: s, kick: make(chan struct{}, 1)}
	if r.primary, err = NewRoundRobin([]N{t.Primary.Node}, Config{}); err != nil {
		return nil, err
	}
	if picker == nil {
		p, err := NewP2C([]N{t.Primary.Node}, Config{}) // emptied by the Update below
		if err != nil {
			return nil, err
		}
		picker = p
	}
	r.picker = picker
	if err := picker.Update(memberNodes(t.Replicas)); err != nil {
		return nil, err
	}
	r.snap.Store(r.build(t, nil))
	ch := make(chan struct{})
	r.progress.Store(&ch)
	if t.Primary.Position != nil {
		r.stop = make(chan struct{})
		r.loopDone = make(chan struct{})
		go r.loop()
	}
	return r, nil
}

// checkTopology validates t: a primary, no duplicate node, probes on every
// member or on none.
func checkTopology[N comparable](t Topology[N], s replicaSettings) error {
	var zero N
	if t.Primary.Node == zero {
		return configErrorf("Topology.Primary.Node is the zero value %v: no primary", zero)
	}
	probed := t.Primary.Position != nil
	seen := make(map[N]int, len(t.Replicas))
	for i, m := range t.Replicas {
		if m.Node == zero {
			return configErrorf("Topology.Replicas[%d].Node is the zero value %v", i, zero)
		}
		if m.Node == t.Primary.Node {
			return configErrorf("Topology.Replicas[%d] %v is also the primary", i, m.Node)
		}
		if j, dup := seen[m.Node]; dup {
			return configErrorf("duplicate node %v at Topology.Replicas[%d] and [%d]", m.Node, j, i)
		}
		seen[m.Node] = i
		if (m.Position != nil) != probed {
			if probed {
				return configErrorf("Topology.Replicas[%d].Position is nil while Topology.Primary.Position is set", i)
			}
			return configErrorf("Topology.Replicas[%d].Position is set while Topology.Primary.Position is nil", i)
		}
	}
	return nil
}

func memberNodes[N comparable](ms []Member[N]) []N {
	out := make([]N, len(ms))
	for i, m := range ms {
		out[i] = m.Node
	}
	return out
}

// build makes the snapshot of t, keeping the states of old's members.
func (r *ReplicaRouter[N]) build(t Topology[N], old *replicaSnapshot[N]) *replicaSnapshot[N] {
	now := time.Now().UnixNano()
	keep := func(m Member[N], prev *memberState[N]) *memberState[N] {
		st := prev
		if st == nil {
			st = &memberState[N]{node: m.Node, added: now}
		}
		if m.Position != nil {
			f := m.Position
			st.probe.Store(&f)
		}
		return st
	}
	s := &replicaSnapshot[N]{
		replicas: make([]*memberState[N], len(t.Replicas)),
		index:    make(map[N]*memberState[N], len(t.Replicas)),
	}
	var prevPrimary *memberState[N]
	if old != nil {
		s.epoch = old.epoch
		if old.primary.node == t.Primary.Node {
			prevPrimary = old.primary
		} else {
			s.epoch++
		}
	}
	s.primary = keep(t.Primary, prevPrimary)
	for i, m := range t.Replicas {
		var prev *memberState[N]
		if old != nil {
			prev = old.index[m.Node]
		}
		st := keep(m, prev)
		s.replicas[i] = st
		s.index[m.Node] = st
	}
	return s
}

// Update swaps in a new topology (a new primary after a failover, replicas
// added or removed) while calls go on. Members that stay keep what the probe
// loop knows of them; a new primary restarts the lag history. It returns an
// error matching ErrInvalidConfig, as NewReplicaRouter does, and then changes
// nothing. A router built without probes takes a topology without probes.
func (r *ReplicaRouter[N]) Update(t Topology[N]) error {
	if err := checkTopology(t, r.cfg); err != nil {
		return err
	}
	if (t.Primary.Position != nil) != (r.stop != nil) {
		if r.stop != nil {
			return configErrorf("Topology.Primary.Position is nil: the router was built with probes")
		}
		return configErrorf("Topology.Primary.Position is set: the router was built without probes")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	if err := r.picker.Update(memberNodes(t.Replicas)); err != nil {
		return err
	}
	if err := r.primary.Update([]N{t.Primary.Node}); err != nil {
		return err
	}
	r.snap.Store(r.build(t, old))
	r.kickLoop()
	return nil
}

// Topology returns the current topology.
func (r *ReplicaRouter[N]) Topology() Topology[N] {
	s := r.snap.Load()
	t := Topology[N]{
		Primary:  Member[N]{Node: s.primary.node, Position: s.primary.probeOf()},
		Replicas: make([]Member[N], len(s.replicas)),
	}
	for i, st := range s.replicas {
		t.Replicas[i] = Member[N]{Node: st.node, Position: st.probeOf()}
	}
	return t
}

// PickWrite returns a Permit for the primary. Finish it with Done; then
// Written gives the Token of the write. It returns an *UnavailableError when
// the primary is unavailable (a local rejection reported to an earlier
// Permit's Done). It never blocks.
func (r *ReplicaRouter[N]) PickWrite() (Permit[N], error) {
	return r.primary.Pick()
}

// Written returns the Token of every write that finished on the primary
// before the call: it reads the primary's position (within
// ReplicaConfig.ProbeTimeout and ctx) and, in session-window mode, opens the
// window. Its error matches ErrNoPosition (and wraps the probe's error) when
// the position could not be read, or is ctx's error.
func (r *ReplicaRouter[N]) Written(ctx context.Context) (Token, error) {
	var t Token
	if r.cfg.window > 0 {
		t.PrimaryUntil = time.Now().Add(r.cfg.window)
	}
	p := r.snap.Load().primary
	probe := p.probeOf()
	if probe == nil {
		return t, nil
	}
	pctx, cancel := context.WithTimeout(ctx, r.cfg.probeTimeout)
	pos, err := probe(pctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return t, ctx.Err()
		}
		return t, &positionError{node: any(p.node), err: err}
	}
	t.Position = pos
	return t, nil
}

type positionError struct {
	node any
	err  error
}

func (e *positionError) Error() string {
	return "balance: no replication position from primary " + fmt.Sprint(e.node) + ": " + e.err.Error()
}
func (e *positionError) Unwrap() []error { return []error{ErrNoPosition, e.err} }

// Write runs write on the primary, finishes its Permit with write's error
// and, when write succeeded, returns the Token of the write (see Written).
// A write that failed returns the zero Token and write's error; a write that
// succeeded but whose position could not be read returns an error matching
// ErrNoPosition.
func (r *ReplicaRouter[N]) Write(ctx context.Context, write func(ctx context.Context, primary N) error) (Token, error) {
	permit, err := r.PickWrite()
	if err != nil {
		return Token{}, err
	}
	err = write(ctx, permit.Node)
	permit.Done(err)
	if err != nil {
		return Token{}, err
	}
	return r.Written(ctx)
}

// Read runs read on the node PickRead chooses for tok and finishes its
// Permit with read's error, which it returns.
func (r *ReplicaRouter[N]) Read(ctx context.Context, tok Token, read func(ctx context.Context, node N) error) error {
	permit, err := r.PickRead(ctx, tok)
	if err != nil {
		return err
	}
	err = read(ctx, permit.Node)
	permit.Done(err)
	return err
}

// PickRead returns a Permit for a read that must see the writes behind tok
// (the zero Token for none):
//
//   - before tok.PrimaryUntil, the primary;
//   - for tok.Position zero, a replica from the picker;
//   - otherwise a replica from the picker whose latest probed position is at
//     least tok.Position. When no replica has reached it, PickRead asks the
//     probe loop for a round and waits up to ReplicaConfig.MaxWait for one
//     to catch up; then it gives up on the replicas: the primary.
//
// When the picker has no replica to give (none, or every one unavailable)
// the read goes to the primary. PickRead blocks only in that bounded wait,
// and returns ctx's error if ctx ends during it, or an *UnavailableError
// when the primary it falls back to is unavailable.
//
// A replica the picker offered that has not reached tok.Position is handed
// back to it through Permit.Done as a local rejection that names no hold (it
// counts in the picker's Stats.Rejections, is no failure, and stays
// available for other reads).
func (r *ReplicaRouter[N]) PickRead(ctx context.Context, tok Token) (Permit[N], error) {
	if !tok.PrimaryUntil.IsZero() && time.Now().Before(tok.PrimaryUntil) {
		r.windowReads.Add(1)
		return r.primary.Pick()
	}
	if tok.Position == 0 {
		p, err := r.picker.Pick()
		if err != nil {
			r.fallbackReads.Add(1)
			return r.primary.Pick()
		}
		return p, nil
	}
	return r.pickFresh(ctx, tok.Position)
}

// pickFresh is PickRead for a Token with a position.
func (r *ReplicaRouter[N]) pickFresh(ctx context.Context, want Position) (Permit[N], error) {
	s := r.snap.Load()
	if !s.reached(want) {
		var err error
		if s, err = r.waitFor(ctx, want); err != nil {
			return Permit[N]{}, err
		}
		if s == nil {
			r.behindReads.Add(1)
			return r.primary.Pick()
		}
	}
	// Some replica has reached want. Ask the picker until it offers one,
	// keeping the ones passed over in flight meanwhile: load-aware pickers
	// then steer away from them, round robin moves on. A picker whose
	// replicas that reached want are unavailable stops us after a bounded
	// number of tries.
	var held [4]Permit[N]
	nheld := 0
	defer func() {
		for i := range nheld {
			held[i].Done(errPassedOver)
		}
	}()
	tries := 2*len(s.replicas) + 2
	for range tries {
		p, err := r.picker.Pick()
		if err != nil {
			break
		}
		if st := s.index[p.Node]; st != nil && st.reachedPos(want) {
			return p, nil
		}
		r.passedOver.Add(1)
		if nheld == len(held) {
			held[0].Done(errPassedOver)
			copy(held[:], held[1:])
			nheld--
		}
		held[nheld] = p
		nheld++
	}
	r.behindReads.Add(1)
	return r.primary.Pick()
}

// reached reports whether some replica's latest probed position is at least
// want.
func (s *replicaSnapshot[N]) reached(want Position) bool {
	for _, st := range s.replicas {
		if st.reachedPos(want) {
			return true
		}
	}
	return false
}

func (st *memberState[N]) reachedPos(want Position) bool {
	return st.known.Load() && Position(st.pos.Load()) >= want
}

// waitFor waits until a probe round shows a replica at want, MaxWait
// passes (nil snapshot), or ctx ends (its error).
func (r *ReplicaRouter[N]) waitFor(ctx context.Context, want Position) (*replicaSnapshot[N], error) {
	if r.stop == nil || r.closed.Load() {
		return nil, nil
	}
	r.waits.Add(1)
	timer := time.NewTimer(r.cfg.maxWait)
	defer timer.Stop()
	for {
		ch := *r.progress.Load() // before the check, so no round is missed
		if s := r.snap.Load(); s.reached(want) {
			return s, nil
		}
		r.kickLoop()
		select {
		case <-ch:
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.loopDone:
			return nil, nil
		}
	}
}

func (r *ReplicaRouter[N]) kickLoop() {
	if r.stop == nil {
		return
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// errPassedOver hands back a replica offered for a read whose Token it has
// not reached: a local rejection (no failure, no latency sample) whose
// RetryAt lies in the past, so that the picker holds the replica for no time.
var errPassedOver error = passedOver{}

type passedOver struct{}

func (passedOver) Error() string        { return "balance: replica behind the read's token" }
func (passedOver) Is(target error) bool { return target == bulwark.ErrNotAttempted }
func (passedOver) RetryAt() time.Time   { return time.Unix(0, 1) }

// Close stops the probe loop and waits for it and for the probes in flight,
// and ends the router's lag ejections. Picks go on afterwards with what the
// router knew last; reads with a Token no replica had reached go to the
// primary without waiting. Close is idempotent.
func (r *ReplicaRouter[N]) Close() {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closed.Swap(true) || r.stop == nil {
		return
	}
	close(r.stop)
	<-r.loopDone
	r.probes.Wait()
	for _, st := range r.snap.Load().replicas {
		if st.ejected.Swap(false) {
			r.picker.MarkUnavailable(st.node, time.Time{}, nil)
		}
	}
}
