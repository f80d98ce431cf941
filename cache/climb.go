package cache

import (
	"math"
	"sync"
	"sync/atomic"
)

// Hill climbing of TinyLFU's window share (Einziger, Eytan, Friedman,
// Manes, "Adaptive Software Cache Management", Middleware 2018,
// https://dl.acm.org/doi/10.1145/3274808.3274816). A small window suits
// frequency-skewed traffic, scans and loops (the sketch filters what
// enters the main segment); a large one suits traffic whose popular keys
// keep moving to new keys, where recency predicts better than frequency
// and a small window makes new keys lose to old ones the sketch still
// counts. No fixed share is best for both, so the cache measures its hit
// ratio over a sample of requests, moves the share by a step, and keeps
// moving that way while the hit ratio improves; when it worsens it turns
// back with half the step.
//
// Departures from the paper's plain climber, against the noise of a
// sampled hit ratio, which otherwise makes the share wander away from the
// small window skewed traffic wants: a change smaller than twice the
// sampling error of the difference of two samples' ratios counts as no
// change, and no change drifts the share down by climbDrift (the default
// small window is the better bet without evidence); the step grows by half
// while the hit ratio keeps improving, so that a clear trend reaches a
// large window in a few samples; and sampling starts only once the cache
// is full, since a filling cache's hit ratio rises whatever its window.
const (
	// climbInitialShare is the window's share before any sample: 1 %, the
	// W-TinyLFU default.
	climbInitialShare = 0.01
	// climbMaxShare bounds the window; the main segment keeps the rest.
	climbMaxShare = 0.95
	// climbStep is the first step, a share of the capacity, upwards.
	climbStep = 0.0625
	// climbMaxStep bounds a step grown by a run of improvements.
	climbMaxStep = 0.25
	// climbGrow multiplies the step after an improvement, climbShrink
	// after a worsening (which also reverses it).
	climbGrow, climbShrink = 1.5, 0.5
	// climbMinStep is the smallest step that moves the share.
	climbMinStep = 1.0 / 1024
	// climbDrift is the step down taken after a sample with no significant
	// change.
	climbDrift = 0.02
	// climbNoise is how many standard errors of the difference between two
	// samples' hit ratios a change must exceed to count.
	climbNoise = 2
	// climbSample is the sample, in requests per entry of capacity.
	climbSample = 2
	// climbCheck is how many insertions a shard makes between looks at the
	// request count.
	climbCheck = 64
)

// hill is the climber's state machine, apart from how it is driven, so
// that it can be tested with a scripted sequence of hit ratios.
type hill struct {
	share float64 // the window's share of the capacity
	prev  float64 // the previous sample's hit ratio; −1 before the first
	step  float64 // signed: the direction and size of the next move
}

func newHill() hill { return hill{share: climbInitialShare, prev: -1, step: climbStep} }

// next takes the hit ratio of a sample of n requests and returns the new
// share. The first sample only sets the baseline and takes the first step,
// upwards.
func (h *hill) next(ratio float64, n int64) float64 {
	if h.prev >= 0 {
		change := ratio - h.prev
		p := (ratio + h.prev) / 2
		noise := climbNoise * math.Sqrt(2*p*(1-p)/float64(n))
		switch {
		case change > noise:
			h.step = math.Copysign(min(math.Abs(h.step)*climbGrow, climbMaxStep), h.step)
		case change < -noise:
			h.step = -h.step * climbShrink
		default:
			h.step = -climbDrift
		}
	}
	h.prev = ratio
	if math.Abs(h.step) >= climbMinStep {
		h.share = min(max(h.share+h.step, 0), climbMaxShare)
	}
	return h.share
}

// climber drives one hill for the whole cache: every shard applies the
// same share, so the cache-wide hit ratio (the striped hit and miss
// counters a lookup updates anyway) measures its effect; a per-shard climber
// would need per-shard hit counts on the lock-free hit path. It runs on
// the insertion path: every climbCheck insertions a shard, under its own
// lock, compares the request count with the sample and, once a sample is
// complete, takes mu (TryLock: a shard never waits for another's climb)
// and takes a step. Shards pick the new share up (gen) on their next
// eviction.
type climber struct {
	counts *counters
	share  atomic.Uint64 // float64 bits of hill.share
	gen    atomic.Uint64 // bumped when share changes

	mu       sync.Mutex
	started  bool // a shard evicted: samples are taken from then on
	hill     hill
	sample   int64 // requests per sample
	lastReq  int64 // requests when the current sample began
	lastHits int64
}

func newClimber(counts *counters, capacity int) *climber {
	cl := &climber{counts: counts, hill: newHill()}
	cl.share.Store(math.Float64bits(cl.hill.share))
	cl.setCapacity(capacity)
	return cl
}

// setCapacity sets the sample for a capacity (New, Resize).
func (cl *climber) setCapacity(capacity int) {
	cl.mu.Lock()
	cl.sample = climbSample * int64(capacity)
	cl.mu.Unlock()
}

// windowShare returns the current share.
func (cl *climber) windowShare() float64 { return math.Float64frombits(cl.share.Load()) }

// check is called by a full shard every climbCheck insertions, under the
// shard's lock: if a sample is complete it takes a step.
func (cl *climber) check() {
	hits, misses := cl.counts.sum()
	if !cl.mu.TryLock() {
		return
	}
	defer cl.mu.Unlock()
	req := hits + misses
	if !cl.started {
		// The first sample starts when the cache is full: while it fills,
		// its hit ratio rises whatever the window, which would read as
		// the last step having helped.
		cl.started = true
		cl.lastReq, cl.lastHits = req, hits
		return
	}
	if n := req - cl.lastReq; n >= cl.sample && n > 0 {
		ratio := float64(hits-cl.lastHits) / float64(n)
		cl.lastReq, cl.lastHits = req, hits
		old := cl.hill.share
		if s := cl.hill.next(ratio, n); s != old {
			cl.share.Store(math.Float64bits(s))
			cl.gen.Add(1)
		}
	}
}
