package cache

import (
	"math"
	"sync"
	"sync/atomic"
)

// Climbing of TinyLFU's window share. A small window suits
// frequency-skewed traffic, scans and loops (the sketch filters what
// enters the main segment); a large one suits traffic whose popular keys
// keep moving to new keys, where recency predicts better than frequency
// and a small window makes new keys lose to old ones the sketch still
// counts. No fixed share is best for both, so the share moves in steps,
// as in the hill climber of Einziger, Eytan, Friedman, Manes, "Adaptive
// Software Cache Management", Middleware 2018
// (https://dl.acm.org/doi/10.1145/3274808.3274816): once per sample of
// requests it takes a step, keeps the direction while the evidence points
// the same way, and grows the step by half each time.
//
// The direction is read from ghosts (ghost.go), not from the change of the
// hit ratio between two samples as in the paper. Each shard remembers the
// keys its window pushed out and the sketch rejected, and the keys its
// main segment evicted, each for one step's worth of departures. During a
// sample the climber counts the misses on keys still remembered: those
// of the window's ghost are hits a window larger by one step would have
// had, those of the main segment's ghost are hits the main segment would
// have had were it a step larger, which growing the window takes from it
// (Megiddo, Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache",
// FAST 2003,
// https://www.usenix.org/legacy/events/fast03/tech/full_papers/megiddo/megiddo.pdf,
// moves its split by the same two kinds of ghost hits). Both counts
// describe the same requests under the current share, so traffic that
// changes between samples does not bias them; the hit ratio of successive
// samples does: where the popular keys move every few samples, the hit
// ratio falls after each move and recovers over the next samples whatever
// the window did, and the slope the climber looks for (about a third of a
// point per step near a small window at 1,000 entries) is smaller than a
// sample's noise.
//
// A difference of the two counts within twice its standard error (that of
// the difference of two Poisson counts) counts as no evidence and drifts
// the share down by climbDrift: the default small window is the better
// bet without evidence. Sampling starts once the cache is full; before,
// nothing is evicted and the ghosts stay empty.
const (
	// climbInitialShare is the window's share before any sample: 1 %, the
	// W-TinyLFU default.
	climbInitialShare = 0.01
	// climbMaxShare bounds the window; the main segment keeps the rest.
	climbMaxShare = 0.99
	// climbStep is the first step of a run in one direction, a share of
	// the capacity; it is also the ghosts' span (ghostSpan).
	climbStep = 0.0625
	// climbMaxStep bounds a step grown by a run of samples that point the
	// same way.
	climbMaxStep = 0.25
	// climbGrow multiplies the step when a sample points the same way as
	// the last step.
	climbGrow = 1.5
	// climbDrift is the step down taken after a sample with no significant
	// evidence.
	climbDrift = 0.02
	// climbNoise is how many standard errors the difference of the two
	// ghosts' counts must exceed to count.
	climbNoise = 2
	// climbSample is the sample, in requests per entry of capacity: a
	// window change takes effect within about that many requests.
	climbSample = 1
	// climbCheck is how many insertions a shard makes between looks at the
	// request count; it also hands its ghost counts to the climber then.
	climbCheck = 64
)

// hill is the climber's state machine, apart from how it is driven, so
// that it can be tested with scripted samples.
type hill struct {
	share float64 // the window's share of the capacity
	step  float64 // signed: the direction and size of the last move
}

func newHill() hill { return hill{share: climbInitialShare} }

// next takes a sample's counts of misses on keys the window's ghost and
// the main segment's ghost remembered, and returns the new share.
func (h *hill) next(window, main int64) float64 {
	diff, noise := float64(window-main), climbNoise*math.Sqrt(float64(window+main))
	var dir float64
	switch {
	case diff > noise:
		dir = 1
	case diff < -noise:
		dir = -1
	}
	switch {
	case dir == 0:
		h.step = -climbDrift
	case math.Signbit(h.step) == math.Signbit(dir) && math.Abs(h.step) >= climbStep:
		// A run: a drift does not start one, so a first step down after
		// drifting is climbStep.
		h.step = math.Copysign(min(math.Abs(h.step)*climbGrow, climbMaxStep), dir)
	default:
		h.step = dir * climbStep
	}
	h.share = min(max(h.share+h.step, 0), climbMaxShare)
	return h.share
}

// climber drives one hill for the whole cache: every shard applies the
// same share. It runs on the insertion path: every climbCheck insertions
// a shard, under its own lock, adds its ghost counts (add), compares the
// request count (the striped hit and miss counters a lookup updates
// anyway) with the sample and, once a sample is complete, takes mu
// (TryLock: a shard never waits for another's climb) and takes a step.
// Shards pick the new share up (gen) on their next eviction.
type climber struct {
	counts *counters
	share  atomic.Uint64 // float64 bits of hill.share
	gen    atomic.Uint64 // bumped when share changes
	// Misses on keys the windows' and the main segments' ghosts
	// remembered, added by the shards.
	windowRecalls, mainRecalls atomic.Int64

	mu         sync.Mutex
	started    bool // a shard evicted: samples are taken from then on
	hill       hill
	sample     int64 // requests per sample
	lastReq    int64 // requests when the current sample began
	lastWindow int64 // windowRecalls then
	lastMain   int64 // mainRecalls then
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

// add adds a shard's counts of misses on keys its ghosts remembered.
func (cl *climber) add(window, main int64) {
	if window != 0 {
		cl.windowRecalls.Add(window)
	}
	if main != 0 {
		cl.mainRecalls.Add(main)
	}
}

// check is called by a full shard every climbCheck insertions, under the
// shard's lock: if a sample is complete it takes a step.
func (cl *climber) check() {
	hits, misses, _ := cl.counts.sum()
	if !cl.mu.TryLock() {
		return
	}
	defer cl.mu.Unlock()
	req := hits + misses
	window, main := cl.windowRecalls.Load(), cl.mainRecalls.Load()
	if !cl.started {
		cl.started = true
		cl.lastReq, cl.lastWindow, cl.lastMain = req, window, main
		return
	}
	if n := req - cl.lastReq; n >= cl.sample && n > 0 {
		dw, dm := window-cl.lastWindow, main-cl.lastMain
		cl.lastReq, cl.lastWindow, cl.lastMain = req, window, main
		old := cl.hill.share
		if s := cl.hill.next(dw, dm); s != old {
			cl.share.Store(math.Float64bits(s))
			cl.gen.Add(1)
		}
	}
}
