package balance

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/internal/fastrand"
)

// Config tunes passive health checking (shared by every picker) and the
// picker-specific knobs. The zero Config is valid: every zero field means the
// documented default.
type Config struct {
	// EjectAfter is the number of consecutive failed Permits after which a
	// node is ejected (not picked) for a while. Zero means 5, Envoy's
	// outlier-detection consecutive_5xx default. Negative is an error; use
	// DisableEjection to turn ejection off.
	EjectAfter int

	// EjectFor is how long a first ejection lasts. Each further ejection of
	// the same node doubles it, up to MaxEjectFor; a node that then stays
	// healthy for EjectFor starts again from EjectFor. Zero means 30s,
	// Envoy's base_ejection_time default.
	EjectFor time.Duration

	// MaxEjectFor caps the doubling of EjectFor. Zero means 300s, Envoy's
	// max_ejection_time default. It must not be below EjectFor.
	MaxEjectFor time.Duration

	// MaxEjectedPercent bounds the share of nodes that observed failures may
	// eject at once, in [0,100]: a node that would push the share over it
	// stays in (so with 50 and 3 nodes one may be ejected, with 1 node none).
	// Nodes that are unavailable (refused locally by a layer below, see
	// UnavailableFor) are not ejected and do not count. Zero means 50
	// (Envoy's default is 10, which would let a fleet of fewer than ten
	// nodes eject none).
	MaxEjectedPercent int

	// PanicPercent, in [0,100], turns on the panic threshold: when fewer
	// than PanicPercent of the nodes are not ejected, pickers ignore
	// ejection and pick from all available nodes, as Envoy does with
	// healthy_panic_threshold. Panic never sends a request to an unavailable
	// node. Zero means off: with MaxEjectedPercent at its default of 50,
	// ejection alone can never bring the healthy share below 50%, and the
	// cap already keeps half the fleet in; see the package doc.
	PanicPercent int

	// SlowStart is the ramp time of a node added by Update or back from
	// ejection: its share rises linearly from 0 to full over SlowStart
	// (Envoy slow_start_window with aggression 1). The nodes given to the
	// constructor start at full share. Zero means off.
	SlowStart time.Duration

	// DisableEjection turns outlier ejection off; failures are still counted
	// in Stats. Rejection-aware routing stays on.
	DisableEjection bool

	// UnavailableFor is how long a node is skipped after a local rejection
	// that does not say when its guard admits again: Permit.Done with an
	// error matching bulwark.ErrNotAttempted for which bulwark.RetryAt
	// reports nothing (a full bulkhead, a half-open breaker's refusal). A
	// rejection that names a moment (an open breaker's deadline) holds the
	// node until that moment instead. Zero means 100ms: a few request times,
	// long enough that the next attempts go elsewhere, short enough that a
	// guard that frees up within milliseconds loses little traffic (a
	// premature retry costs only another local rejection). Such a hold, a
	// guess, ends early when a request to the node succeeds: the guard let
	// a call through (the half-open breaker's probe, a call that freed a
	// bulkhead slot).
	UnavailableFor time.Duration

	// DecayTime is PeakEWMA's time constant: an old latency sample's weight
	// falls by 1/e every DecayTime. Zero means 10s, Finagle's PeakEwma
	// decayTime default. Other pickers ignore it.
	DecayTime time.Duration

	// FailurePenalty is the latency PeakEWMA records at least for a failed
	// Permit (any error but context.Canceled and local rejections), so that
	// a node that fails fast (connection refused) looks expensive rather
	// than cheap. Zero means 10× the picker's reference latency, a recent
	// successful latency estimate of one of its nodes (so a dead node costs
	// about ten healthy ones in flight, and its estimate takes
	// DecayTime·ln 10 to decay back to a healthy level). Other pickers
	// ignore it.
	FailurePenalty time.Duration

	// SlowFactor turns on PeakEWMA's latency outlier ejection: a
	// successful Permit slower than SlowFactor × the median of the nodes'
	// latency estimates counts as a failure towards EjectAfter, so a node
	// that answers EjectAfter times in a row that slowly is ejected like one
	// that fails, within MaxEjectedPercent. P2C alone keeps sending a slow
	// node the picks in which both candidates are slow (with two slow nodes
	// of five, one pick in ten); ejection stops that. Zero means off, the
	// default: a pause of the whole process (a long GC, a descheduled VM)
	// makes every request it holds slow at once, which a small EjectAfter
	// would take for an outlier. 5 with EjectAfter 3 to 5 suits a fleet of
	// alike nodes; it must be above 1. Other pickers ignore it.
	SlowFactor float64

	// LoadFactor is Consistent's bound c: a node whose in-flight count would
	// exceed ceil(c·average) is skipped and the key moves on along the ring
	// (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded
	// Loads", SODA 2018). Zero means 1.25, the value used by liblb and in
	// Vimeo's HAProxy deployment range. It must be at least 1.
	LoadFactor float64

	// Replicas is the number of points per node on Consistent's ring. Zero
	// means 160, package shard's RingConfig.VirtualNodes default, so that
	// Consistent and shard.Ring place keys alike; with 160 points the load's
	// standard deviation is about 8% (Gryski, "Consistent Hashing:
	// Algorithmic Tradeoffs", 2018).
	Replicas int

	// Name names the picker in its events (Event.Name), so that an
	// observer shared by several pickers can tell them apart.
	Name string

	// Observer, if set, receives the picker's events: a node ejected,
	// returned or unavailable, and Picks that found no usable node (see
	// Event for the delivery rule). Nil costs nothing.
	Observer func(Event)
}

const defaultReplicas = 160

// settings is a validated Config with defaults filled in, shared (read-only)
// by a picker and all of its node states.
type settings struct {
	ejectAfter     int64
	ejectFor       int64 // ns
	maxEjectFor    int64 // ns
	maxEjectedPct  int64
	panicPct       int64
	slowStart      int64 // ns
	unavailableFor int64 // ns
	noEject        bool
	invDecay       float64 // 1/DecayTime in 1/ns
	failPenalty    float64 // ns, 0: automatic
	slowFactor     float64 // 0: no latency ejection
	loadFactor     float64
	replicas       int

	latency    bool // PeakEWMA: Permits carry a start time, Done observes it
	trackTotal bool // Consistent: keep a total in-flight count

	base time.Time // clock origin: now() is monotonic ns since base, plus 1

	// The words written at run time sit on their own cache lines, away from
	// the read-only fields above that every Pick and Done reads: rng is
	// written by every random Pick (each stripe has its own line), ref read
	// by every PeakEWMA Done.
	rng fastrand.Striped
	_   [56]byte
	// ref is PeakEWMA's reference latency (float64 bits, ns): a recent
	// successful estimate, the base of the default failure penalty.
	ref atomic.Uint64
	_   [56]byte
	// median is the median of the nodes' latency estimates (float64 bits,
	// ns), kept only with SlowFactor, read by every PeakEWMA Done and
	// written rarely (see slow.go); medMu guards medBuf, its scratch space.
	median atomic.Uint64
	_      [56]byte
	// lastFast is the now() of a recent answer within the slow bar,
	// written at most every fastStep ns (see slow.go).
	lastFast atomic.Int64
	_        [56]byte
	medMu    sync.Mutex
	medBuf   []float64

	// obs delivers Config.Observer's events. With an observer, every
	// reported change of a node's gate or until word is made under obsMu
	// (only then), so that a node's events are queued in the order they
	// took effect; Pick and Done that change nothing never take it.
	obs   observer
	obsMu sync.Mutex
}

func newSettings(cfg Config) (*settings, error) {
	s := &settings{base: time.Now()}
	s.obs = newObserver(cfg.Observer, cfg.Name)
	s.rng.SeedRandom()
	var err error
	if s.ejectAfter, err = defaultInt("EjectAfter", cfg.EjectAfter, 5); err != nil {
		return nil, err
	}
	if s.ejectFor, err = defaultDur("EjectFor", cfg.EjectFor, 30*time.Second); err != nil {
		return nil, err
	}
	if s.maxEjectFor, err = defaultDur("MaxEjectFor", cfg.MaxEjectFor, 300*time.Second); err != nil {
		return nil, err
	}
	if cfg.MaxEjectFor == 0 && s.maxEjectFor < s.ejectFor {
		s.maxEjectFor = s.ejectFor // the default cap never undercuts an explicit EjectFor
	}
	if s.maxEjectFor < s.ejectFor {
		return nil, configErrorf("Config.MaxEjectFor %v below EjectFor %v", cfg.MaxEjectFor, time.Duration(s.ejectFor))
	}
	if s.maxEjectedPct, err = percent("MaxEjectedPercent", cfg.MaxEjectedPercent, 50); err != nil {
		return nil, err
	}
	if s.panicPct, err = percent("PanicPercent", cfg.PanicPercent, 0); err != nil {
		return nil, err
	}
	if s.slowStart, err = defaultDur("SlowStart", cfg.SlowStart, 0); err != nil {
		return nil, err
	}
	if s.unavailableFor, err = defaultDur("UnavailableFor", cfg.UnavailableFor, 100*time.Millisecond); err != nil {
		return nil, err
	}
	decay, err := defaultDur("DecayTime", cfg.DecayTime, 10*time.Second)
	if err != nil {
		return nil, err
	}
	s.invDecay = 1 / float64(decay)
	penalty, err := defaultDur("FailurePenalty", cfg.FailurePenalty, 0)
	if err != nil {
		return nil, err
	}
	s.failPenalty = float64(penalty)
	s.slowFactor = cfg.SlowFactor
	if s.slowFactor != 0 && !(s.slowFactor > 1) || math.IsInf(s.slowFactor, 0) {
		return nil, configErrorf("Config.SlowFactor %v not above 1 or not finite", cfg.SlowFactor)
	}
	s.loadFactor = cfg.LoadFactor
	if s.loadFactor == 0 {
		s.loadFactor = 1.25
	}
	if !(s.loadFactor >= 1) || math.IsInf(s.loadFactor, 0) {
		return nil, configErrorf("Config.LoadFactor %v below 1 or not finite", cfg.LoadFactor)
	}
	r, err := defaultInt("Replicas", cfg.Replicas, defaultReplicas)
	if err != nil {
		return nil, err
	}
	s.replicas = int(r)
	s.noEject = cfg.DisableEjection
	return s, nil
}

func defaultInt(name string, v, def int) (int64, error) {
	if v < 0 {
		return 0, configErrorf("Config.%s %d is negative", name, v)
	}
	if v == 0 {
		return int64(def), nil
	}
	return int64(v), nil
}

func defaultDur(name string, v, def time.Duration) (int64, error) {
	if v < 0 {
		return 0, configErrorf("Config.%s %v is negative", name, v)
	}
	if v == 0 {
		return int64(def), nil
	}
	return int64(v), nil
}

func percent(name string, v, def int) (int64, error) {
	if v < 0 || v > 100 {
		return 0, configErrorf("Config.%s %d outside [0,100]", name, v)
	}
	if v == 0 {
		return int64(def), nil
	}
	return int64(v), nil
}

// now is a monotonic reading in nanoseconds since the picker was built, never
// 0 (0 marks "unset" in node state). time.Since with a monotonic base is a
// single runtime nanotime call; inside a synctest bubble it follows the
// bubble's fake clock.
func (s *settings) now() int64 {
	return int64(time.Since(s.base)) + 1
}

// at converts a time.Time to the now() scale.
func (s *settings) at(t time.Time) int64 {
	return int64(t.Sub(s.base)) + 1
}

// timeOf converts a now() reading back to a time.Time.
func (s *settings) timeOf(v int64) time.Time {
	return s.base.Add(time.Duration(v - 1))
}

// rand is the picker's striped wyrand source (see internal/fastrand).
func (s *settings) rand() uint64 { return s.rng.Uint64() }
