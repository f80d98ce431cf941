// Package breakershare lets the instances of a fleet share what their
// circuit breakers learn about one dependency, through Redis, while every
// instance keeps deciding with its own bulwark breaker.
//
// The three-line use, with a client adapted by script.Rueidis:
//
//	b, err := breakershare.New(script.Rueidis(client), breakershare.Config{Prefix: "svc:", Name: "payments", Breaker: breaker.Config{ConsecutiveFailures: 5}})
//	defer b.Close()
//	err = b.Do(ctx, callPayments) // decided locally; nothing is held in Redis across the call
//
// Do (or Allow and Permit.Done) is the call most users want: in the Closed
// state it is the local breaker's own fast path, with no Redis call.
//
// # What is shared
//
// Transitions are published: each instance keeps its report (state, and
// whether its own calls opened it) in a Redis hash with an expiry renewed
// every Config.Heartbeat, and publishes every transition on a pub/sub
// channel, so peers learn within a round trip. Three rules use them:
//
//   - Quorum. A Closed instance opens its breaker (Breaker.Trip) when at
//     least Config.Quorum live peers — or Config.QuorumFraction of the live
//     reporters, this instance included — report Open from their own calls
//     since the fleet's last successful probe. An instance opened by the
//     quorum reports itself as following and counts toward no quorum, nor
//     does a HalfOpen one (it is testing recovery, not seeing failures), so
//     one instance's local network fault does not open everyone's circuit,
//     and opened circuits do not hold each other open.
//   - Probe lease. A HalfOpen instance probes only while it holds the
//     fleet's probe lease (SET NX PX, Config.ProbeLease); the others refuse
//     with a *breaker.OpenError (State HalfOpen, Until the lease's end), so
//     exactly one instance probes the dependency at a time. A lease whose
//     holder died expires, and the next instance to ask takes it.
//   - Fleet probe. When the lease holder's probe closes its breaker, it
//     says so, and every peer that is Open or HalfOpen closes too
//     (Breaker.Reset): one probe recovers the fleet.
//
// # When Redis is slow or gone
//
// The local guard decides, the store informs. No Redis call is made on a
// Closed or Open call path; the only one a caller may wait for is the lease
// request of a HalfOpen call, bounded by Config.Timeout. When Redis does
// not answer, the instance is an ordinary local breaker — it probes by
// itself — and reports EventUnavailable; reports resume, and EventRecovered
// is reported, when Redis answers again.
//
// A Breaker is safe for concurrent use. Close stops its goroutine.
package breakershare

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/breaker"
	"github.com/bulwark-go/bulwark/redis/internal/eventq"
	"github.com/bulwark-go/bulwark/redis/script"
)

// ErrInvalidConfig is wrapped by every error New returns for a bad
// setting; the message names the field and value. An invalid
// Config.Breaker returns the breaker package's error, which matches
// breaker.ErrInvalidConfig.
var ErrInvalidConfig = errors.New("breakershare: invalid config")

// Config configures a shared Breaker. Zero fields take the defaults
// documented.
type Config struct {
	// Prefix is put before every key and channel, so that several services
	// share one Redis without colliding.
	Prefix string
	// Name names the dependency: instances with the same Prefix and Name
	// share what they learn. It must not be empty.
	Name string
	// Instance identifies this instance among its peers; it must be unique
	// in the fleet and contain no '|'. Empty means a random id.
	Instance string

	// Breaker configures the local breaker, which decides every call. Its
	// Observer still receives every event, after this package has seen
	// it.
	Breaker breaker.Config

	// Quorum is the number of live peers reporting Open from their own
	// calls that opens this instance's breaker. 0 means 2, unless
	// QuorumFraction is set; the two are exclusive.
	Quorum int
	// QuorumFraction, in (0, 1], opens this instance's breaker when the
	// share of live reporters (this instance included) reporting Open from
	// their own calls reaches it.
	QuorumFraction float64

	// Heartbeat is how often the instance renews its report and reads the
	// others'. 0 means 1s.
	Heartbeat time.Duration
	// TTL is how long a report lives without renewal: a peer silent for
	// TTL no longer counts. 0 means 3×Heartbeat; it must exceed Heartbeat.
	TTL time.Duration
	// ProbeLease is how long one instance may probe for the fleet; it
	// should exceed a probe call. 0 means the breaker's OpenFor (5s by
	// default).
	ProbeLease time.Duration
	// Timeout bounds every Redis call. 0 means 100ms.
	Timeout time.Duration

	// OnEvent, if set, receives events, serially and in order, outside
	// every lock. It must not block for long.
	OnEvent func(Event)
}

// EventKind says what an Event reports.
type EventKind int

const (
	// EventUnavailable: a Redis call failed or timed out (Err); the
	// instance decides alone until Redis answers again.
	EventUnavailable EventKind = iota + 1
	// EventRecovered: Redis answered again.
	EventRecovered
	// EventPeer: a peer's report arrived or changed (Instance, State, Own).
	EventPeer
	// EventQuorumOpen: the quorum opened this instance's breaker (Open of
	// Live reporters reported Open).
	EventQuorumOpen
	// EventFleetClosed: Instance's probe succeeded; this instance's
	// breaker was closed.
	EventFleetClosed
	// EventLease: this instance took the probe lease.
	EventLease
)

// String returns the kind's name, e.g. "quorum-open".
func (k EventKind) String() string {
	switch k {
	case EventUnavailable:
		return "unavailable"
	case EventRecovered:
		return "recovered"
	case EventPeer:
		return "peer"
	case EventQuorumOpen:
		return "quorum-open"
	case EventFleetClosed:
		return "fleet-closed"
	case EventLease:
		return "lease"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event reports what the shared breaker learnt or did.
type Event struct {
	Kind     EventKind
	Instance string        // EventPeer, EventFleetClosed: the peer
	State    breaker.State // EventPeer: the peer's state
	Own      bool          // EventPeer: opened by the peer's own calls
	Open     int           // EventQuorumOpen: reporters open
	Live     int           // EventQuorumOpen: live reporters, this one included
	Err      error         // EventUnavailable: the cause
}

// Peer is a live report of another instance.
type Peer struct {
	Instance string
	State    breaker.State
	Own      bool // opened by its own calls (false: following the quorum)
}

// Stats are counters since New.
type Stats struct {
	Published   int64 // transitions published
	QuorumTrips int64 // opens caused by the quorum
	FleetCloses int64 // closes caused by a peer's probe
	Leases      int64 // probe leases taken
	LeaseDenied int64 // HalfOpen calls refused because a peer holds the lease
	RedisErrors int64
}

// Breaker is a local breaker.Breaker that shares its knowledge with its
// peers through Redis. Create it with New.
type Breaker struct {
	local    *breaker.Breaker
	client   script.Client
	name     string
	instance string
	states   []string // the report script's keys
	lease    []string // the lease key
	channel  string
	quorum   int
	fraction float64
	hb, ttl  time.Duration
	ttlArg   string
	leaseFor time.Duration
	leaseArg string
	timeout  time.Duration
	userObs  func(breaker.Event)
	events   *eventq.Queue[Event]

	// own is whether the current Open/HalfOpen came from this instance's
	// own calls; tripping is set just before a quorum Trip and consumed
	// by the transition it causes; resetting likewise for a fleet close.
	own, tripping, resetting atomic.Bool
	// seen is the state the observer delivered last.
	seen atomic.Int32

	leaseUntil   atomic.Int64 // UnixNano until which this instance holds the lease
	blockedUntil atomic.Int64 // UnixNano until which a peer holds it
	acquiring    atomic.Bool  // a lease request is in flight
	down         atomic.Bool

	viewMu      sync.Mutex // guards view and lastProbeOK
	view        map[string]peerReport
	lastProbeOK int64 // server ms of the fleet's last successful probe

	queueMu sync.Mutex // guards queue
	queue   []transition
	wake    chan struct{}

	published, quorumTrips, fleetCloses, leases, leaseDenied, redisErrors atomic.Int64

	stop      chan struct{}
	closeOnce sync.Once
	done      sync.WaitGroup
}

type peerReport struct {
	state   breaker.State
	own     bool
	since   int64 // server ms
	expires time.Time
}

type transition struct {
	to      breaker.State
	own     bool
	probeOK bool
	release bool
}

// New returns a shared Breaker on client and starts its goroutine, or an
// error matching ErrInvalidConfig that names the bad field.
func New(client script.Client, cfg Config) (*Breaker, error) {
	if client == nil {
		return nil, configErrorf("client is nil")
	}
	if cfg.Name == "" {
		return nil, configErrorf("Config.Name empty")
	}
	if strings.ContainsRune(cfg.Instance, '|') {
		return nil, configErrorf("Config.Instance %q contains '|'", cfg.Instance)
	}
	if cfg.Instance == "" {
		cfg.Instance = fmt.Sprintf("%016x", rand.Uint64())
	}
	if cfg.Quorum < 0 {
		return nil, configErrorf("Config.Quorum %d negative", cfg.Quorum)
	}
	if cfg.QuorumFraction != 0 && !(cfg.QuorumFraction > 0 && cfg.QuorumFraction <= 1) {
		return nil, configErrorf("Config.QuorumFraction %v outside (0, 1]", cfg.QuorumFraction)
	}
	if cfg.Quorum != 0 && cfg.QuorumFraction != 0 {
		return nil, configErrorf("Config.Quorum %d set together with Config.QuorumFraction %v (use one)", cfg.Quorum, cfg.QuorumFraction)
	}
	if cfg.Quorum == 0 && cfg.QuorumFraction == 0 {
		cfg.Quorum = 2
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"Heartbeat", &cfg.Heartbeat, time.Second}, {"TTL", &cfg.TTL, 0}, {"ProbeLease", &cfg.ProbeLease, 0}, {"Timeout", &cfg.Timeout, 100 * time.Millisecond}} {
		if *d.v < 0 {
			return nil, configErrorf("Config.%s %v negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.TTL == 0 {
		cfg.TTL = 3 * cfg.Heartbeat
	}
	if cfg.TTL <= cfg.Heartbeat {
		return nil, configErrorf("Config.TTL %v not above Config.Heartbeat %v", cfg.TTL, cfg.Heartbeat)
	}
	if cfg.ProbeLease == 0 {
		cfg.ProbeLease = cfg.Breaker.OpenFor
		if cfg.ProbeLease == 0 {
			cfg.ProbeLease = 5 * time.Second
		}
	}
	if cfg.ProbeLease < time.Millisecond || cfg.TTL < time.Millisecond {
		return nil, configErrorf("Config.ProbeLease %v and Config.TTL %v must be at least 1ms", cfg.ProbeLease, cfg.TTL)
	}
	tag := cfg.Prefix + "{" + cfg.Name + "}"
	b := &Breaker{
		client:   client,
		name:     cfg.Name,
		instance: cfg.Instance,
		states:   []string{tag + ":states", tag + ":probeok"},
		lease:    []string{tag + ":probe"},
		channel:  tag + ":transitions",
		quorum:   cfg.Quorum,
		fraction: cfg.QuorumFraction,
		hb:       cfg.Heartbeat,
		ttl:      cfg.TTL,
		ttlArg:   strconv.FormatInt(cfg.TTL.Milliseconds(), 10),
		leaseFor: cfg.ProbeLease,
		leaseArg: strconv.FormatInt(cfg.ProbeLease.Milliseconds(), 10),
		timeout:  cfg.Timeout,
		userObs:  cfg.Breaker.Observer,
		events:   eventq.New(cfg.OnEvent),
		view:     map[string]peerReport{},
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	b.own.Store(true)
	bc := cfg.Breaker
	if bc.Name == "" {
		bc.Name = cfg.Name
	}
	bc.Observer = b.observe
	local, err := breaker.New(bc)
	if err != nil {
		return nil, err
	}
	b.local = local
	b.done.Add(1)
	go b.run()
	return b, nil
}

// Local returns the local breaker, which decides every call. Trip and Reset
// on it are seen (and published) like any other transition.
func (b *Breaker) Local() *breaker.Breaker { return b.local }

// Instance returns this instance's id.
func (b *Breaker) Instance() string { return b.instance }

// State returns the local breaker's state.
func (b *Breaker) State() breaker.State { return b.local.State() }

// Allow admits a call, or refuses it with an error matching breaker.ErrOpen
// (and bulwark.ErrNotAttempted). Closed and Open are the local breaker's
// answer, with no Redis call. HalfOpen admits a probe only while this
// instance holds the fleet's probe lease, asking Redis for it (bounded by
// Config.Timeout) when no peer is known to hold it; when Redis does not
// answer, the local breaker probes by itself.
func (b *Breaker) Allow() (breaker.Permit, error) {
	if b.local.State() != breaker.HalfOpen {
		return b.local.Allow()
	}
	now := time.Now().UnixNano()
	if now < b.leaseUntil.Load() || b.down.Load() {
		return b.local.Allow()
	}
	if until := b.blockedUntil.Load(); now < until {
		b.leaseDenied.Add(1)
		return breaker.Permit{}, b.refusal(until)
	}
	if !b.acquiring.CompareAndSwap(false, true) {
		b.leaseDenied.Add(1)
		return breaker.Permit{}, b.refusal(0)
	}
	got, until, err := b.acquireLease()
	b.acquiring.Store(false)
	switch {
	case err != nil:
		return b.local.Allow()
	case !got:
		b.leaseDenied.Add(1)
		return breaker.Permit{}, b.refusal(until)
	}
	return b.local.Allow()
}

func (b *Breaker) refusal(until int64) error {
	e := &breaker.OpenError{Name: b.local.Name(), State: breaker.HalfOpen}
	if until > 0 {
		e.Until = time.Unix(0, until)
	}
	return e
}

// acquireLease asks for the probe lease; until is the end of the lease
// (taken) or of the holder's (refused).
func (b *Breaker) acquireLease() (got bool, until int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	start := time.Now()
	r, err := b.client.Eval(ctx, leaseScript, b.lease, b.instance, b.leaseArg)
	var ms int64
	if err == nil {
		if len(r) != 2 || (r[0] != "0" && r[0] != "1") {
			err = replyError(r)
		} else if ms, err = strconv.ParseInt(r[1], 10, 64); err != nil || ms < -2 {
			err = replyError(r)
		}
	}
	if err != nil {
		b.markDown(err)
		return false, 0, err
	}
	b.markUp()
	if r[0] == "1" {
		// Measured from before the request: the lease is never thought
		// longer than Redis keeps it.
		until = start.Add(time.Duration(ms) * time.Millisecond).UnixNano()
		b.leaseUntil.Store(until)
		b.leases.Add(1)
		b.events.Push(Event{Kind: EventLease})
		return true, until, nil
	}
	if ms < 0 { // gone meanwhile: let the next call ask again
		return false, 0, nil
	}
	until = time.Now().Add(time.Duration(ms) * time.Millisecond).UnixNano()
	b.blockedUntil.Store(until)
	return false, until, nil
}

// Do runs fn if Allow admits it and reports its outcome, like
// breaker.Breaker.Do: a panic in fn is a failure and is re-raised.
func (b *Breaker) Do(ctx context.Context, fn func(context.Context) error) (err error) {
	p, err := b.Allow()
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			p.Done(errPanicked)
		}
	}()
	err = fn(ctx)
	done = true
	p.Done(err)
	return err
}

var errPanicked = errors.New("breakershare: call panicked")

// observe is the local breaker's Observer: it passes every event on to the
// user's Observer after handling transitions.
func (b *Breaker) observe(e breaker.Event) {
	if e.Kind == breaker.EventStateChange {
		b.onStateChange(e.From, e.To)
	}
	if b.userObs != nil {
		b.userObs(e)
	}
}

// onStateChange queues a transition for the goroutine to publish. The
// breaker delivers transitions one at a time, in order, under no lock.
func (b *Breaker) onStateChange(from, to breaker.State) {
	b.seen.Store(int32(to))
	t := transition{to: to, own: true}
	switch to {
	case breaker.Open:
		t.own = !b.tripping.Swap(false)
		b.own.Store(t.own)
	case breaker.HalfOpen:
		t.own = b.own.Load()
	case breaker.Closed:
		b.own.Store(true)
	}
	if from == breaker.HalfOpen && time.Now().UnixNano() < b.leaseUntil.Load() {
		b.leaseUntil.Store(0)
		t.release = true
		t.probeOK = to == breaker.Closed
	}
	if b.resetting.Swap(false) {
		t.probeOK = false
	}
	b.queueMu.Lock()
	b.queue = append(b.queue, t)
	b.queueMu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Peers returns the live reports of the other instances, as last seen.
func (b *Breaker) Peers() []Peer {
	b.viewMu.Lock()
	defer b.viewMu.Unlock()
	now := time.Now()
	out := make([]Peer, 0, len(b.view))
	for id, r := range b.view {
		if id != b.instance && now.Before(r.expires) {
			out = append(out, Peer{Instance: id, State: r.state, Own: r.own})
		}
	}
	return out
}

// Stats returns the counters.
func (b *Breaker) Stats() Stats {
	return Stats{
		Published:   b.published.Load(),
		QuorumTrips: b.quorumTrips.Load(),
		FleetCloses: b.fleetCloses.Load(),
		Leases:      b.leases.Load(),
		LeaseDenied: b.leaseDenied.Load(),
		RedisErrors: b.redisErrors.Load(),
	}
}

// Close stops the goroutine and gives back the probe lease if this
// instance holds it. The local breaker goes on working, alone.
func (b *Breaker) Close() {
	b.closeOnce.Do(func() {
		close(b.stop)
		b.done.Wait()
		if time.Now().UnixNano() < b.leaseUntil.Load() {
			b.release()
		}
	})
}

func (b *Breaker) release() {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	if _, err := b.client.Eval(ctx, releaseScript, b.lease, b.instance); err != nil {
		b.markDown(err)
	}
}

func (b *Breaker) markDown(err error) {
	b.redisErrors.Add(1)
	if b.down.Swap(true) {
		return
	}
	b.events.Push(Event{Kind: EventUnavailable, Err: err})
}

func (b *Breaker) markUp() {
	if b.down.Load() && b.down.Swap(false) {
		b.events.Push(Event{Kind: EventRecovered})
	}
}

// configError is an invalid setting; it matches ErrInvalidConfig.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }
func (e *configError) Unwrap() error { return ErrInvalidConfig }

func configErrorf(format string, args ...any) error {
	return &configError{msg: "breakershare: " + fmt.Sprintf(format, args...)}
}

func replyError(r []string) error {
	s := strings.Join(r, " ")
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Errorf("breakershare: malformed reply [%s]", s)
}
