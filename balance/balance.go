package balance

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync/atomic"
	"time"
	"unsafe"
)

// ErrNoNodes is returned by Pick and PickKey when the picker's node set is
// empty (Update to an empty set is allowed and makes every Pick fail with it),
// and by the constructors when they are given no nodes.
var ErrNoNodes = errors.New("balance: no nodes")

// Picker is what every picker in this package implements: Pick chooses a node
// and returns a Lease for the request sent to it. Pick never blocks.
// NewTransport takes a Picker.
type Picker[N comparable] interface {
	Pick() (Lease[N], error)
}

// Weighted is a node with its weight, the input of NewWeightedRoundRobin and
// NewWeightedRandom. Weight must be positive; a node with weight 2 receives
// twice the share of a node with weight 1.
type Weighted[N comparable] struct {
	Node   N
	Weight int
}

// Config tunes passive health checking (shared by every picker) and the
// picker-specific knobs. The zero Config is valid: every zero field means the
// documented default.
type Config struct {
	// EjectAfter is the number of consecutive failed Leases after which a
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

	// MaxEjectedPercent bounds the share of nodes ejected at once, in
	// [0,100]: a node that would push the share over it stays in (so with
	// 50 and 3 nodes one may be ejected, with 1 node none). Zero
	// means 50 (Envoy's default is 10; 50 keeps half a small fleet
	// ejectable).
	MaxEjectedPercent int

	// PanicPercent, in [0,100], turns on the panic threshold: when fewer
	// than PanicPercent of the nodes are healthy (not ejected), pickers
	// ignore ejection and pick from all nodes, as Envoy does with
	// healthy_panic_threshold (whose default is 50). Zero means off.
	PanicPercent int

	// SlowStart is the ramp time of a node added by Update or back from
	// ejection: its share rises linearly from 0 to full over SlowStart
	// (Envoy slow_start_window with aggression 1). The nodes given to the
	// constructor start at full share. Zero means off.
	SlowStart time.Duration

	// DisableEjection turns outlier ejection off; failures are still counted
	// in Stats.
	DisableEjection bool

	// DecayTime is PeakEWMA's time constant: an old latency sample's weight
	// falls by 1/e every DecayTime. Zero means 10s, Finagle's PeakEwma
	// decayTime default. Other pickers ignore it.
	DecayTime time.Duration

	// FailurePenalty is the latency PeakEWMA records at least for a failed
	// Lease (any error but context.Canceled), so that a node that fails
	// fast (connection refused, a breaker's ErrOpen) looks expensive rather
	// than cheap. Zero means 10× the picker's reference latency, a recent
	// successful latency estimate of one of its nodes (so a dead node costs
	// about ten healthy ones in flight, and its estimate takes
	// DecayTime·ln 10 to decay back to a healthy level). Other pickers
	// ignore it.
	FailurePenalty time.Duration

	// LoadFactor is Consistent's bound c: a node whose in-flight count would
	// exceed ceil(c·average) is skipped and the key moves on along the ring
	// (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded
	// Loads", SODA 2018). Zero means 1.25, the value used by liblb and in
	// Vimeo's HAProxy deployment range. It must be at least 1.
	LoadFactor float64

	// Replicas is the number of points per node on Consistent's ring.
	// Zero means 100: with 100 virtual nodes the load's standard deviation is
	// about 10% (Gryski, "Consistent Hashing: Algorithmic Tradeoffs", 2018).
	Replicas int
}

// settings is a validated Config with defaults filled in, shared (read-only)
// by a picker and all of its node states.
type settings struct {
	ejectAfter    int64
	ejectFor      int64 // ns
	maxEjectFor   int64 // ns
	maxEjectedPct int64
	panicPct      int64
	slowStart     int64 // ns
	noEject       bool
	invDecay      float64 // 1/DecayTime in 1/ns
	failPenalty   float64 // ns, 0: automatic
	loadFactor    float64
	replicas      int

	latency    bool // PeakEWMA: Leases carry a start time, Done observes it
	trackTotal bool // Consistent: keep a total in-flight count

	base time.Time // clock origin: now() is monotonic ns since base, plus 1

	// The two words written at run time have a cache line each, away from
	// the read-only fields above that every Pick and Done reads: rng is
	// written by every random Pick, ref read by every PeakEWMA Done.
	_ [64]byte
	// rng are the wyrand states (see rand), one cache line each; tests
	// seed them and set rngMask to 0 (one stream).
	rng     [rngStripes]paddedUint64
	rngMask uint64
	_       [56]byte
	// ref is PeakEWMA's reference latency (float64 bits, ns): a recent
	// successful estimate, the base of the default failure penalty.
	ref atomic.Uint64
	_   [56]byte
}

// rand is wyrand (Wang Yi; the generator of Go's runtime.cheaprand) on an
// atomic state: one atomic add and a 64×64→128 multiply, about 3–4 ns
// against 10–11 ns for math/rand/v2's ChaCha8-backed rand.Uint64 on the
// benchmark machine. Callers sharing a stripe each get a distinct state
// step, so each stripe's output is a wyrand sequence; its statistical
// quality (BigCrush-clean) is ample for picking nodes, and it is not meant
// to be unpredictable.
func (s *settings) rand() uint64 {
	var probe byte // its address tells goroutines apart: see rngStripes
	i := (uint64(uintptr(unsafe.Pointer(&probe))>>12) * 0x9e3779b97f4a7c15 >> 61) & s.rngMask
	x := s.rng[i].Add(0xa0761d6478bd642f)
	hi, lo := bits.Mul64(x, x^0xe7037ed1a0b428db)
	return hi ^ lo
}

// rngStripes is the number of wyrand states per picker. A goroutine uses the
// stripe chosen by a hash of its stack address (goroutines have separate
// stacks, so two goroutines on two cores usually use two stripes), so that
// Picks running in parallel do not all write one cache line. A goroutine
// whose stack moves (growth) just changes stripe; sharing a stripe is only
// slower, never wrong.
const rngStripes = 8

type paddedUint64 struct {
	atomic.Uint64
	_ [56]byte
}

func newSettings(cfg Config) (*settings, error) {
	s := &settings{base: time.Now(), rngMask: rngStripes - 1}
	for i := range s.rng {
		s.rng[i].Store(rand.Uint64())
	}
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
		return nil, fmt.Errorf("balance: Config.MaxEjectFor %v below EjectFor %v", cfg.MaxEjectFor, time.Duration(s.ejectFor))
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
	s.loadFactor = cfg.LoadFactor
	if s.loadFactor == 0 {
		s.loadFactor = 1.25
	}
	if !(s.loadFactor >= 1) || math.IsInf(s.loadFactor, 0) {
		return nil, fmt.Errorf("balance: Config.LoadFactor %v below 1 or not finite", cfg.LoadFactor)
	}
	r, err := defaultInt("Replicas", cfg.Replicas, 100)
	if err != nil {
		return nil, err
	}
	s.replicas = int(r)
	s.noEject = cfg.DisableEjection
	return s, nil
}

func defaultInt(name string, v, def int) (int64, error) {
	if v < 0 {
		return 0, fmt.Errorf("balance: Config.%s %d is negative", name, v)
	}
	if v == 0 {
		return int64(def), nil
	}
	return int64(v), nil
}

func defaultDur(name string, v, def time.Duration) (int64, error) {
	if v < 0 {
		return 0, fmt.Errorf("balance: Config.%s %v is negative", name, v)
	}
	if v == 0 {
		return int64(def), nil
	}
	return int64(v), nil
}

func percent(name string, v, def int) (int64, error) {
	if v < 0 || v > 100 {
		return 0, fmt.Errorf("balance: Config.%s %d outside [0,100]", name, v)
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
