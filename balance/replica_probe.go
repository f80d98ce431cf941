package balance

import (
	"cmp"
	"context"
	"slices"
	"sort"
	"time"
)

// The probe loop. One goroutine runs rounds: each round starts a position
// read for every member that has none in flight, waits for them at most
// ProbeInterval (a read of a stopped server lands in a later round), then
// measures every replica's lag, decides which replicas lag too far, applies
// the floor, holds the lagging ones unavailable in the picker and wakes the
// reads waiting for a position.
//
// Lag is measured in time from positions alone. The loop keeps the history
// of the primary's positions, one sample each time a round sees the
// position grow, stamped with the moment it was read. A replica at position
// p misses everything the primary wrote since the first sample above p, so
// its lag is now minus that sample's time: zero when p has reached the
// latest sample, whatever the primary's write rate. The estimate runs short
// of the truth by at most one round (the write happened before the round
// that saw it). Samples every replica has passed are dropped; when the
// history grows past historyCap (a replica gone for long), its older half is
// thinned, which coarsens only lags far beyond any sensible MaxLag.

const historyCap = 4096

type lagHistory struct {
	epoch uint64
	at    []int64 // unix ns at which the position was read
	pos   []Position
}

func (h *lagHistory) reset(epoch uint64) {
	h.epoch = epoch
	h.at, h.pos = h.at[:0], h.pos[:0]
}

// add records that the primary stood at pos at the given moment.
func (h *lagHistory) add(at int64, pos Position) {
	n := len(h.pos)
	if n > 0 && pos <= h.pos[n-1] {
		if pos < h.pos[n-1] {
			h.reset(h.epoch) // the stream went back (a primary restarted empty): start over
		} else {
			return
		}
	}
	if len(h.pos) == historyCap {
		h.thin()
	}
	h.at = append(h.at, at)
	h.pos = append(h.pos, pos)
}

// thin drops every second sample of the older half.
func (h *lagHistory) thin() {
	half := len(h.pos) / 2
	j := 0
	for i := range h.pos {
		if i < half && i%2 == 1 {
			continue
		}
		h.at[j], h.pos[j] = h.at[i], h.pos[i]
		j++
	}
	h.at, h.pos = h.at[:j], h.pos[:j]
}

// lag is the lag of a replica at position p at now (unix ns).
func (h *lagHistory) lag(p Position, now int64) time.Duration {
	i := sort.Search(len(h.pos), func(i int) bool { return h.pos[i] > p })
	if i == len(h.pos) {
		return 0
	}
	return time.Duration(max(now-h.at[i], 0))
}

// prune drops the samples at or below min, which no replica needs.
func (h *lagHistory) prune(min Position) {
	i := sort.Search(len(h.pos), func(i int) bool { return h.pos[i] > min })
	if i == 0 {
		return
	}
	// Keep the last sample at or below min: it is the primary's position
	// that the replicas have reached, the reference for "caught up".
	i--
	h.at = append(h.at[:0], h.at[i:]...)
	h.pos = append(h.pos[:0], h.pos[i:]...)
}

func (r *ReplicaRouter[N]) loop() {
	defer close(r.loopDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends the reads in flight; Close waits for them
	ticker := time.NewTicker(r.cfg.interval)
	defer ticker.Stop()
	var h lagHistory
	for {
		start := time.Now()
		if !r.round(ctx, &h) {
			return
		}
		select {
		case <-r.stop:
			return
		case <-ticker.C:
		case <-r.kick:
			if gap := r.cfg.minGap - time.Since(start); gap > 0 {
				t := time.NewTimer(gap)
				select {
				case <-r.stop:
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
	}
}

// round runs one probe round; it reports false when the router is closing.
func (r *ReplicaRouter[N]) round(ctx context.Context, h *lagHistory) bool {
	s := r.snap.Load()
	if s.epoch != h.epoch {
		h.reset(s.epoch)
	}
	done := make(chan struct{}, 1+len(s.replicas))
	launched := 0
	now := time.Now().UnixNano()
	for _, st := range append([]*memberState[N]{s.primary}, s.replicas...) {
		probe := st.probeOf()
		if probe == nil || st.running.Load() != 0 {
			continue // a read still in flight from an earlier round
		}
		st.running.Store(now)
		launched++
		r.probes.Add(1)
		go r.probe(ctx, st, probe, done)
	}
	wait := time.NewTimer(r.cfg.interval)
	defer wait.Stop()
	for got := 0; got < launched; got++ {
		select {
		case <-done:
		case <-wait.C:
			got = launched
		case <-r.stop:
			return false
		}
	}
	r.evaluate(s, h)
	r.rounds.Add(1)
	next := make(chan struct{})
	close(*r.progress.Swap(&next))
	return true
}

// probe reads one member's position and records it.
func (r *ReplicaRouter[N]) probe(ctx context.Context, st *memberState[N], probe probeFunc, done chan<- struct{}) {
	defer r.probes.Done()
	pctx, cancel := context.WithTimeout(ctx, r.cfg.probeTimeout)
	pos, err := probe(pctx)
	cancel()
	if err == nil {
		st.pos.Store(uint64(pos))
		st.known.Store(true)
		st.okAt.Store(time.Now().UnixNano())
		st.failed.Store(false)
	} else {
		st.errs.Add(1)
		st.lastErr.Store(&errBox{err})
		st.failed.Store(true)
	}
	st.running.Store(0)
	done <- struct{}{} // buffered for every read of the round: never blocks
}

// errLagging is the reason a replica held out for lag shows in the picker's
// *UnavailableError.
var errLagging = &localRejection{"balance: replica lag beyond ReplicaConfig.MaxLag"}

// lagView is one replica's standing in a round.
type lagView struct {
	i       int
	lag     time.Duration
	unknown bool // lag unknown and ejected for it (LagUnknownEjects)
}

// evaluate measures the lags of s's replicas, decides the ejections with
// the floor and applies them to the picker. It runs on the loop goroutine
// only, and calls the picker without holding any lock.
func (r *ReplicaRouter[N]) evaluate(s *replicaSnapshot[N], h *lagHistory) {
	now := time.Now().UnixNano()
	if p := s.primary; p.known.Load() {
		h.add(p.okAt.Load(), Position(p.pos.Load()))
	}
	var lagging []lagView
	minPos, anyKnown := Position(0), false
	for i, st := range s.replicas {
		known := st.known.Load()
		if known {
			p := Position(st.pos.Load())
			if !anyKnown || p < minPos {
				minPos = p
			}
			anyKnown = true
		}
		running := st.running.Load()
		fresh := known && !st.failed.Load() && (running == 0 || time.Duration(now-running) < r.cfg.interval)
		lag := time.Duration(now - st.added)
		if known {
			lag = h.lag(Position(st.pos.Load()), now)
		}
		st.lag.Store(int64(lag))
		st.lagFresh.Store(fresh)
		v := lagView{i: i, lag: lag}
		if !fresh {
			switch r.cfg.unknown {
			case LagUnknownServes:
				lag = 0
			case LagUnknownEjects:
				v.unknown = true
			}
		}
		over := v.unknown || lag > r.cfg.maxLag
		st.lagging.Store(over)
		if over {
			lagging = append(lagging, v)
		}
	}
	if anyKnown {
		h.prune(minPos)
	}

	// The floor: keep the least lagging of the lagging replicas serving.
	keep := r.cfg.floor(len(s.replicas)) - (len(s.replicas) - len(lagging))
	if keep > 0 {
		slices.SortFunc(lagging, func(a, b lagView) int {
			if a.unknown != b.unknown {
				if a.unknown {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(a.lag, b.lag), cmp.Compare(a.i, b.i))
		})
	}
	out := make([]bool, len(s.replicas))
	kept := make([]bool, len(s.replicas))
	for k, v := range lagging {
		kept[v.i] = k < keep
		out[v.i] = k >= keep
	}
	until := time.Now().Add(4 * r.cfg.interval) // renewed every round; lapses if the loop stalls
	for i, st := range s.replicas {
		st.floorKept.Store(kept[i])
		switch {
		case out[i]:
			st.ejected.Store(true)
			r.picker.MarkUnavailable(st.node, until, errLagging)
		case st.ejected.Swap(false):
			r.picker.MarkUnavailable(st.node, time.Time{}, nil)
		}
	}
}
