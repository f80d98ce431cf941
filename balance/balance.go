package balance

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
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
	decay         float64 // ns
	loadFactor    float64
	replicas      int

	latency    bool // PeakEWMA: Leases carry a start time, Done observes it
	trackTotal bool // Consistent: keep a total in-flight count

	base time.Time // clock origin: now() is monotonic ns since base, plus 1

	// rand is math/rand/v2's lock-free per-goroutine source; tests replace
	// it with a seeded one.
	rand func() uint64
}

func newSettings(cfg Config) (*settings, error) {
	s := &settings{base: time.Now(), rand: rand.Uint64}
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
	s.decay = float64(decay)
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
